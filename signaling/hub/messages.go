package hub

import (
	"encoding/json"
	"time"

	"github.com/switchboard-rtc/switchboard/signaling/broker"
)

func brokerUser(room, user, from, event string, data json.RawMessage, origin string) broker.Message {
	return broker.Message{Type: broker.TypeUser, Room: room, User: user, From: from, Event: event, Data: data, Origin: origin, SentAt: time.Now().UnixNano()}
}

func brokerReplace(room, user, session, origin string) broker.Message {
	return broker.Message{Type: broker.TypeReplace, Room: room, User: user, Session: session, Origin: origin}
}
