// chat_message.

package hub

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/switchboard-rtc/switchboard/signaling/vocab"
)

func (h *Hub) onChatMessage(ctx context.Context, s *Session, payload json.RawMessage) (any, *vocab.Error) {
	var req struct {
		Content json.RawMessage `json:"content"`
	}
	if err := decode(payload, &req); err != nil {
		return nil, err
	}
	var content string
	if len(req.Content) == 0 || req.Content[0] != '"' || json.Unmarshal(req.Content, &content) != nil {
		return nil, vocab.Errorf(vocab.CodeInvalidPayload, "field \"content\" must be a string")
	}
	if strings.TrimSpace(content) == "" {
		return nil, vocab.Errorf(vocab.CodeInvalidPayload, "field \"content\" must not be empty")
	}
	if n := utf8.RuneCountInString(content); n > h.opts.MaxChatLength {
		return nil, vocab.Errorf(vocab.CodeInvalidPayload, "message is %d characters; the limit is %d", n, h.opts.MaxChatLength)
	}
	// JSON escaping makes a character up to 6 bytes on the wire and in storage: the
	// encoded content is bounded too, at 4 bytes per allowed character (any emoji passes).
	if n := encodedLen(content); n > 4*h.opts.MaxChatLength {
		return nil, vocab.Errorf(vocab.CodeInvalidPayload, "message is %d bytes once encoded; the limit is %d", n, 4*h.opts.MaxChatLength)
	}
	room := s.Room()
	if room == "" {
		return nil, vocab.Errorf(vocab.CodeNotInRoom, "join a room before sending chat messages")
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, vocab.Errorf(vocab.CodeInternal, "could not create a message id")
	}
	msg := vocab.ChatMessage{ID: id.String(), RoomID: room, SenderID: s.User.UserID, SenderName: s.User.Name, Content: content, Timestamp: time.Now().UnixMilli()}
	if err := h.opts.Chat.Append(ctx, msg); err != nil {
		var perr *vocab.Error
		if errors.As(err, &perr) {
			return nil, perr
		}
		h.log.Warn("chat message not stored", "room", room, "err", err)
		return nil, vocab.Errorf(vocab.CodeInternal, "the message could not be stored; it was not sent")
	}
	data, _ := json.Marshal(msg)
	h.broadcast(room, "chat_message", data, "")
	return map[string]any{"id": msg.ID, "timestamp": msg.Timestamp}, nil
}

// encodedLen is the size of content as a JSON string, without its quotes.
func encodedLen(content string) int {
	b, _ := json.Marshal(content)
	return len(b) - 2
}
