// The chat history in a join_room ack, bounded in bytes.

package hub

import (
	"context"
	"encoding/json"

	"github.com/switchboard-rtc/switchboard/signaling/vocab"
)

// joinHistory returns the room's recent chat for a join ack: none when the socket was
// already in the room (a repeated join must not re-send it), otherwise the newest
// messages whose encoded size fits in JoinHistoryBytes, oldest first.
func (h *Hub) joinHistory(ctx context.Context, room string, again bool) []vocab.ChatMessage {
	if again {
		return []vocab.ChatMessage{}
	}
	history, err := h.opts.Chat.Recent(ctx, room, h.opts.ChatHistory)
	if err != nil {
		h.log.Warn("chat history unavailable", "room", room, "err", err)
	}
	return newestWithin(history, h.opts.JoinHistoryBytes)
}

// newestWithin keeps the newest messages of msgs (oldest first) whose JSON encodings,
// with their separating commas, add up to at most budget bytes.
func newestWithin(msgs []vocab.ChatMessage, budget int) []vocab.ChatMessage {
	used, first := 0, len(msgs)
	for i := len(msgs) - 1; i >= 0; i-- {
		b, err := json.Marshal(msgs[i])
		if err != nil || used+len(b)+1 > budget {
			break
		}
		used += len(b) + 1
		first = i
	}
	if first == len(msgs) {
		return []vocab.ChatMessage{}
	}
	return msgs[first:]
}
