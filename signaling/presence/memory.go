package presence

import (
	"context"
	"sort"
	"sync"
	"time"
)

// Memory is the in-process Store and Nodes for a single node (or several nodes in one
// test process). TTLs are not enforced here: a single process learns about its own
// disconnects and timeouts directly, so nothing can be left behind by a crash.
type Memory struct {
	mu    sync.Mutex
	rooms map[string]map[string]Member // roomID → userID → member
}

var (
	_ Store = (*Memory)(nil)
	_ Nodes = (*Memory)(nil)
)

// NewMemory returns an empty store.
func NewMemory() *Memory { return &Memory{rooms: map[string]map[string]Member{}} }

func (s *Memory) Join(_ context.Context, roomID string, m Member, _ time.Duration) (*Member, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	room := s.rooms[roomID]
	if room == nil {
		room = map[string]Member{}
		s.rooms[roomID] = room
	}
	var prev *Member
	if old, ok := room[m.UserID]; ok {
		prev = &old
	}
	room[m.UserID] = m
	return prev, nil
}

func (s *Memory) Leave(_ context.Context, roomID, userID, session string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	room := s.rooms[roomID]
	m, ok := room[userID]
	if !ok || m.Session != session {
		return false, nil
	}
	delete(room, userID)
	if len(room) == 0 {
		delete(s.rooms, roomID)
	}
	return true, nil
}

func (s *Memory) Members(_ context.Context, roomID string) ([]Member, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Member, 0, len(s.rooms[roomID]))
	for id, m := range s.rooms[roomID] {
		m.UserID = id
		out = append(out, m)
	}
	SortByJoin(out)
	return out, nil
}

func (s *Memory) Get(_ context.Context, roomID, userID string) (*Member, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.rooms[roomID][userID]
	if !ok {
		return nil, nil
	}
	m.UserID = userID
	return &m, nil
}

func (s *Memory) Touch(context.Context, string, string, time.Duration) error { return nil }

func (s *Memory) MarkDisconnecting(context.Context, string, string, string, time.Duration) error {
	return nil
}

func (s *Memory) Heartbeat(context.Context, string, NodeState, time.Duration) error { return nil }
func (s *Memory) Remove(context.Context, string) error                              { return nil }
func (s *Memory) ReapDead(context.Context) ([]RoomUser, error)                      { return nil, nil }

// SortByJoin orders members by join time, then user id, so participant lists are stable.
func SortByJoin(ms []Member) {
	sort.Slice(ms, func(i, j int) bool {
		if ms[i].JoinedAt != ms[j].JoinedAt {
			return ms[i].JoinedAt < ms[j].JoinedAt
		}
		return ms[i].UserID < ms[j].UserID
	})
}
