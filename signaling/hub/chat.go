package hub

import (
	"context"
	"sync"
)

// ChatMessage is a chat message as clients and the Chat Service see it.
type ChatMessage struct {
	ID         string `json:"id"`
	RoomID     string `json:"roomId"`
	SenderID   string `json:"senderId"`
	SenderName string `json:"senderName"`
	Content    string `json:"content"`
	Timestamp  int64  `json:"timestamp"` // Unix milliseconds
}

// ChatLog stores chat messages durably before they are broadcast, and serves the recent
// history a joining user receives.
type ChatLog interface {
	// Append stores m; the sender's ack is sent only after it returns nil.
	Append(ctx context.Context, m ChatMessage) error
	// Recent returns up to n of the room's latest messages, oldest first.
	Recent(ctx context.Context, roomID string, n int) ([]ChatMessage, error)
}

// MemoryChatLog keeps the latest Keep messages of each room in memory (history only; no
// persistence). It is the default when no Chat Service is configured.
type MemoryChatLog struct {
	Keep int

	mu    sync.Mutex
	rooms map[string][]ChatMessage
}

func (l *MemoryChatLog) Append(_ context.Context, m ChatMessage) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rooms == nil {
		l.rooms = map[string][]ChatMessage{}
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

func (l *MemoryChatLog) Recent(_ context.Context, roomID string, n int) ([]ChatMessage, error) {
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
	return append([]ChatMessage(nil), msgs...), nil
}
