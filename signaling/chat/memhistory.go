package chat

import (
	"container/list"
	"time"

	"github.com/switchboard-rtc/switchboard/signaling/vocab"
)

// roomHistories is the in-memory chat history (no Redis): the recent messages of at most
// maxRooms rooms. A room's history goes when the room has had no message for ttl, or, at
// the bound, when it is the least recently active one, so random room ids cannot grow
// the node's memory without limit. Not safe for concurrent use (memoryStore locks).
type roomHistories struct {
	keep     int
	maxRooms int
	ttl      time.Duration

	rooms map[string]*list.Element // → *roomHistory
	lru   list.List                // most recently active first
}

type roomHistory struct {
	room string
	msgs []vocab.ChatMessage
	last time.Time // the latest message
}

func newRoomHistories(keep, maxRooms int, ttl time.Duration) *roomHistories {
	return &roomHistories{keep: keep, maxRooms: maxRooms, ttl: ttl, rooms: map[string]*list.Element{}}
}

func (h *roomHistories) add(m vocab.ChatMessage, now time.Time) {
	h.expire(now)
	e := h.rooms[m.RoomID]
	if e == nil {
		e = h.lru.PushFront(&roomHistory{room: m.RoomID})
		h.rooms[m.RoomID] = e
		for h.lru.Len() > h.maxRooms {
			h.remove(h.lru.Back())
		}
	} else {
		h.lru.MoveToFront(e)
	}
	r := e.Value.(*roomHistory)
	r.last = now
	msgs := append(r.msgs, m)
	// Trim only at twice the limit: copying the kept history on every message made each
	// message cost O(keep) (recent never returns more than keep).
	if len(msgs) > 2*h.keep {
		msgs = append(msgs[:0:0], msgs[len(msgs)-h.keep:]...)
	}
	r.msgs = msgs
}

// recent returns a copy of the room's last n messages (at most keep).
func (h *roomHistories) recent(room string, n int, now time.Time) []vocab.ChatMessage {
	h.expire(now)
	e := h.rooms[room]
	if e == nil {
		return nil
	}
	msgs := e.Value.(*roomHistory).msgs
	if n = min(n, h.keep); len(msgs) > n {
		msgs = msgs[len(msgs)-n:]
	}
	return append([]vocab.ChatMessage(nil), msgs...)
}

// expire drops the histories idle for longer than ttl (the oldest are at the back).
func (h *roomHistories) expire(now time.Time) {
	for e := h.lru.Back(); e != nil && now.Sub(e.Value.(*roomHistory).last) > h.ttl; e = h.lru.Back() {
		h.remove(e)
	}
}

func (h *roomHistories) remove(e *list.Element) {
	delete(h.rooms, e.Value.(*roomHistory).room)
	h.lru.Remove(e)
}
