package hub_test

import (
	"strings"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/signaling/hub"
	"github.com/switchboard-rtc/switchboard/signaling/vocab"
)

func TestChatMessage(t *testing.T) {
	h := startHub(t, hub.Options{MaxChatLength: 10})
	a := connect(t, h, "alice")
	b := connect(t, h, "bob")
	if err := a.call("chat_message", map[string]any{"content": "hi"}, nil); ackErrCode(err) != vocab.CodeNotInRoom {
		t.Fatalf("chat outside a room: %v", err)
	}
	join(t, a, "r1")
	join(t, b, "r1")
	var ack struct {
		ID        string `json:"id"`
		Timestamp int64  `json:"timestamp"`
	}
	if err := a.call("chat_message", map[string]any{"content": "héllo", "senderId": "mallory"}, &ack); err != nil {
		t.Fatal(err)
	}
	if len(ack.ID) != 36 || ack.Timestamp < time.Now().Add(-time.Minute).UnixMilli() {
		t.Fatalf("ack = %+v", ack)
	}
	for _, c := range []*client{a, b} {
		m := expectEvent(t, c, "chat_message")
		if m["id"] != ack.ID || m["senderId"] != "alice" || m["senderName"] != "Name of alice" || m["content"] != "héllo" || m["roomId"] != "r1" || m["timestamp"] != float64(ack.Timestamp) {
			t.Fatalf("chat_message = %v", m)
		}
	}
	var ack2 struct{ ID string }
	_ = a.call("chat_message", map[string]any{"content": "second"}, &ack2)
	if ack2.ID <= ack.ID {
		t.Fatalf("ids not increasing: %s then %s", ack.ID, ack2.ID)
	}
	for _, bad := range []any{"", "   ", strings.Repeat("é", 11), map[string]any{"x": 1}, nil} {
		if err := a.call("chat_message", map[string]any{"content": bad}, nil); ackErrCode(err) != vocab.CodeInvalidPayload {
			t.Errorf("content %v: %v", bad, err)
		}
	}
	// A late joiner gets the history, oldest first.
	c := connect(t, h, "carol")
	if h := join(t, c, "r1").Chat; len(h) != 2 || h[0].Content != "héllo" || h[1].Content != "second" {
		t.Fatalf("history = %+v", h)
	}
}
