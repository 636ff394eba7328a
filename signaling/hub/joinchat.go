// Chat around a join, each message once: the join ack carries the room's recent chat,
// read after the session became a member so that no message falls between that history
// and the live events (subscription.go). The price is overlap: a message stored before
// the history read can also arrive live — during the read, or later when its publish
// was slow — and a client that moved to this node may already have had it live on its
// old connection before it is delivered here again. So while a join reads the history
// the session's live chat waits; then the messages the history carries are dropped from
// what waited, and for historyEcho afterwards from the live stream too.

package hub

import (
	"encoding/json"
	"time"

	"github.com/switchboard-rtc/switchboard/signaling/vocab"
)

// historyEcho bounds how late a live copy of a message sent in a join's history can
// arrive: a publish queued behind a slow node or a Redis round trip, never minutes.
const historyEcho = 30 * time.Second

// maxHeldChat bounds what waits for one join (a join stuck on a slow Redis in a busy
// room): beyond it what waited and what follows go out at once, in order, and may repeat a
// message of the history.
const maxHeldChat = 256

// joinChat is a session's chat state around its latest join; guarded by outbox.mu.
type joinChat struct {
	holding bool
	held    []heldChat
	// given are the ids of the last join's history, until givenUntil.
	given      map[string]struct{}
	givenUntil time.Time
}

type heldChat struct {
	id, offset string
	frame      []byte
	keep       int
}

// chatID is the message id of a chat_message fan-out, read from its JSON only when a
// session needs it (one around a join): most fan-outs need none, and reading it for every
// message doubled the cost of a room fan-out. Used by one goroutine (deliverRoom).
type chatID struct {
	data json.RawMessage
	id   string
	read bool
}

func (c *chatID) get() string {
	if !c.read {
		var m struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(c.data, &m)
		c.id, c.read = m.ID, true
	}
	return c.id
}

// holdChat makes the session's live chat wait until releaseChat.
func (s *Session) holdChat() {
	s.out.mu.Lock()
	defer s.out.mu.Unlock()
	s.out.chat = joinChat{holding: true}
}

// releaseChat records the messages a join's history carried and sends the chat that
// waited meanwhile, except those messages.
func (s *Session) releaseChat(history []vocab.ChatMessage) {
	s.out.mu.Lock()
	defer s.out.mu.Unlock()
	jc := &s.out.chat
	held := jc.held
	*jc = joinChat{}
	if len(history) > 0 {
		jc.given = make(map[string]struct{}, len(history))
		for _, m := range history {
			jc.given[m.ID] = struct{}{}
		}
		jc.givenUntil = time.Now().Add(historyEcho)
	}
	for _, c := range held {
		if _, dup := jc.given[c.id]; !dup {
			s.pushLocked(c.frame, c.offset, c.keep)
		}
	}
}

// pushChat sends a live chat message, unless the session's join is reading the history
// (it waits) or that history already carried it.
func (s *Session) pushChat(frame []byte, offset string, id *chatID, keep int) bool {
	s.out.mu.Lock()
	defer s.out.mu.Unlock()
	jc := &s.out.chat
	if jc.holding {
		if len(jc.held) < maxHeldChat {
			jc.held = append(jc.held, heldChat{id: id.get(), offset: offset, frame: frame, keep: keep})
			return true
		}
		// Too much waits: send it all, in order, and wait no more for this join.
		for _, c := range jc.held {
			s.pushLocked(c.frame, c.offset, c.keep)
		}
		jc.holding, jc.held = false, nil
	}
	if jc.given != nil {
		if time.Now().After(jc.givenUntil) {
			jc.given = nil
		} else if _, dup := jc.given[id.get()]; dup {
			return true
		}
	}
	return s.pushLocked(frame, offset, keep)
}
