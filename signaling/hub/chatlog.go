package hub

import (
	"context"
	"sync"

	"github.com/switchboard-rtc/switchboard/signaling/vocab"
)

// MemoryChatLog keeps the latest Keep messages of each room in memory (history only; no
// persistence). It is the default when no Chat Service is configured.
type MemoryChatLog struct {
	Keep int

	mu    sync.Mutex
	rooms map[string][]vocab.ChatMessage
}

func (l *MemoryChatLog) Append(_ context.Context, m vocab.ChatMessage) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rooms == nil {
		l.rooms = map[string][]vocab.ChatMessage{}
	}
	keep := l.Keep
	if keep <= 0 {
		keep = 50
	}
	msgs := append(l.rooms[m.RoomID], m)
	// Trim only when twice the limit is reached: copying the whole history on every
	// message made each chat message cost O(Keep). Recent never returns more than Keep.
	if len(msgs) > 2*keep {
		msgs = append(msgs[:0:0], msgs[len(msgs)-keep:]...)
	}
	l.rooms[m.RoomID] = msgs
	return nil
}

func (l *MemoryChatLog) Recent(_ context.Context, roomID string, n int) ([]vocab.ChatMessage, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	msgs := l.rooms[roomID]
	keep := l.Keep
	if keep <= 0 {
		keep = 50
	}
	n = min(n, keep)
	if len(msgs) > n {
		msgs = msgs[len(msgs)-n:]
	}
	return append([]vocab.ChatMessage(nil), msgs...), nil
}
