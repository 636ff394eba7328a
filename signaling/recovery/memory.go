package recovery

import (
	"context"
	"sync"
	"time"
)

// Memory is the Log of a single node (no Redis). Expired records are removed by a timer.
type Memory struct {
	max int

	mu      sync.Mutex
	entries map[string]*memEntry
}

type memEntry struct {
	rec    Record
	frames []Frame
	taken  bool
	timer  *time.Timer
}

var _ Log = (*Memory)(nil)

// NewMemory returns an in-memory log keeping at most max frames per session (DefaultMax
// when max <= 0).
func NewMemory(max int) *Memory {
	if max <= 0 {
		max = DefaultMax
	}
	return &Memory{max: max, entries: map[string]*memEntry{}}
}

func (m *Memory) Park(_ context.Context, rec Record, frames []Frame, ttl time.Duration) error {
	e := &memEntry{rec: rec}
	if len(frames) > m.max {
		frames = frames[len(frames)-m.max:]
		e.rec.Complete = false
	}
	e.frames = append([]Frame(nil), frames...)
	m.mu.Lock()
	defer m.mu.Unlock()
	if old := m.entries[rec.PID]; old != nil {
		old.timer.Stop()
	}
	m.entries[rec.PID] = e
	e.timer = time.AfterFunc(ttl, func() { m.expire(rec.PID, e) })
	return nil
}

func (m *Memory) expire(pid string, e *memEntry) {
	m.mu.Lock()
	if m.entries[pid] == e {
		delete(m.entries, pid)
	}
	m.mu.Unlock()
}

func (m *Memory) Append(_ context.Context, pid, node string, frames []Frame) (string, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.entries[pid]
	if e == nil {
		return "", false, nil
	}
	if e.taken || e.rec.Node != node {
		return e.rec.Node, false, nil
	}
	e.frames = append(e.frames, frames...)
	if over := len(e.frames) - m.max; over > 0 {
		e.frames = append(e.frames[:0:0], e.frames[over:]...)
		e.rec.Complete = false
	}
	return node, true, nil
}

func (m *Memory) Peek(_ context.Context, pid, user string) (Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.entries[pid]
	if e == nil || e.taken || e.rec.UserID != user {
		return Record{}, ErrNotParked
	}
	return e.rec, nil
}

func (m *Memory) Take(_ context.Context, pid, user, node string) (Record, []Frame, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.entries[pid]
	if e == nil || e.taken || e.rec.UserID != user {
		return Record{}, nil, ErrNotParked
	}
	rec, frames := e.rec, e.frames
	e.taken, e.rec.Node, e.frames = true, node, nil
	return rec, frames, nil
}

func (m *Memory) Discard(_ context.Context, pid, node string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e := m.entries[pid]; e != nil && e.rec.Node == node {
		e.timer.Stop()
		delete(m.entries, pid)
	}
	return nil
}
