package vocab

import "context"

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
