package chat

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/switchboard-rtc/switchboard/signaling/vocab"
)

// memoryStore buffers in this process: the node's only copy.
type memoryStore struct {
	keep     int
	maxTotal int

	mu       sync.Mutex
	history  *roomHistories
	seq      uint64
	pending  []memEntry // unflushed, in append order
	inflight map[string]bool
	perRoom  map[string]int
}

type memEntry struct {
	entry
	at time.Time
}

func newMemoryStore(keep, maxTotal, maxRooms int, ttl time.Duration) *memoryStore {
	return &memoryStore{keep: keep, maxTotal: maxTotal, history: newRoomHistories(keep, maxRooms, ttl),
		inflight: map[string]bool{}, perRoom: map[string]int{}}
}

func (s *memoryStore) append(_ context.Context, m vocab.ChatMessage, buffer bool, maxRoom int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if buffer {
		if s.perRoom[m.RoomID] >= maxRoom {
			return errRoomFull
		}
		if len(s.pending) >= s.maxTotal {
			return errTotalFull
		}
		s.seq++
		s.pending = append(s.pending, memEntry{entry{Room: m.RoomID, ID: strconv.FormatUint(s.seq, 10), Msg: m}, time.Now()})
		s.perRoom[m.RoomID]++
	}
	s.history.add(m, time.Now())
	return nil
}

func (s *memoryStore) recent(_ context.Context, room string, n int) ([]vocab.ChatMessage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.history.recent(room, n, time.Now()), nil
}

func (s *memoryStore) claim(_ context.Context, max int, _ bool) ([]entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []entry
	for _, e := range s.pending {
		if len(out) == max {
			break
		}
		if !s.inflight[e.ID] {
			s.inflight[e.ID] = true
			out = append(out, e.entry)
		}
	}
	return out, nil
}

func (s *memoryStore) remove(_ context.Context, es []entry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	gone := make(map[string]bool, len(es))
	for _, e := range es {
		gone[e.ID] = true
		delete(s.inflight, e.ID)
	}
	kept := s.pending[:0]
	for _, e := range s.pending {
		if gone[e.ID] {
			if s.perRoom[e.Room]--; s.perRoom[e.Room] <= 0 {
				delete(s.perRoom, e.Room)
			}
			continue
		}
		kept = append(kept, e)
	}
	clear(s.pending[len(kept):])
	s.pending = kept
	return nil
}

func (s *memoryStore) release(es []entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range es {
		delete(s.inflight, e.ID)
	}
}

func (s *memoryStore) outlivesNode() bool { return false }

func (s *memoryStore) census(context.Context) (int, time.Time, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.pending) == 0 {
		return 0, time.Time{}, nil
	}
	return len(s.pending), s.pending[0].at, nil
}
