// Dispatch: the client event table, rate limit and payload checks, acks and errors.

package hub

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/switchboard-rtc/switchboard/signaling/protocol"
	"github.com/switchboard-rtc/switchboard/signaling/vocab"
)

// handlerFunc handles one client event. It returns the ack payload on success (merged
// into {"ok":true,…}) or a protocol error.
type handlerFunc func(h *Hub, ctx context.Context, s *Session, payload json.RawMessage) (any, *vocab.Error)

// EventHandler lets other packages (SFU) add client events. It is registered by name
// with Hub.Handle before Start.
type EventHandler func(ctx context.Context, s *Session, payload json.RawMessage) (any, *vocab.Error)

var builtinEvents = map[string]handlerFunc{
	"join_room":            perUser(joinLimiter, "join_room events", (*Hub).onJoinRoom),
	"leave_room":           (*Hub).onLeaveRoom,
	"webrtc_offer":         perUser(relayLimiter, "relays", relay("webrtc_offer", "sdp")),
	"webrtc_answer":        perUser(relayLimiter, "relays", relay("webrtc_answer", "sdp")),
	"webrtc_ice_candidate": perUser(relayLimiter, "relays", relay("webrtc_ice_candidate", "candidate")),
	"chat_message":         (*Hub).onChatMessage,
	"heartbeat":            (*Hub).onHeartbeat,
	"refresh_token":        (*Hub).onRefreshToken,
}

// HandleEvent runs one client event. ackID is protocol.NoAck when the client wants no
// ack; then failures are sent as the `error` event. args are the event's arguments
// after its name (the first one is the payload).
func (h *Hub) HandleEvent(s *Session, name string, args []json.RawMessage, ackID int64) {
	now := time.Now()
	s.touch(now)
	f, known := builtinEvents[name]
	ext := h.extraEvents[name]
	label := name
	if !known && ext == nil {
		label = "unknown"
	}
	h.m.EventsIn.WithLabelValues(label).Inc()

	var payload json.RawMessage
	if len(args) > 0 {
		payload = args[0]
	}
	var result any
	var perr *vocab.Error
	switch {
	case !s.limiter.allow(now):
		perr = vocab.Errorf(vocab.CodeRateLimited, "too many events: at most %.0f per second", h.opts.EventRate)
	case !known && ext == nil:
		perr = vocab.Errorf(vocab.CodeUnknownEvent, "unknown event %q", truncate(name, 64))
	case len(payload) > h.opts.MaxEventBytes:
		perr = vocab.Errorf(vocab.CodePayloadTooLarge, "payload is %d bytes; the limit is %d", len(payload), h.opts.MaxEventBytes)
	default:
		ctx, cancel := context.WithTimeout(h.ctx, 15*time.Second)
		if known {
			result, perr = f(h, ctx, s, payload)
		} else {
			result, perr = ext(ctx, s, payload)
		}
		cancel()
	}
	if perr != nil {
		h.m.Errors.WithLabelValues(perr.Code).Inc()
		if ackID == protocol.NoAck {
			h.sendError(s, name, perr)
		} else {
			h.sendAck(s, ackID, map[string]any{"ok": false, "error": perr})
		}
		return
	}
	if ackID != protocol.NoAck {
		h.sendAck(s, ackID, okPayload(result))
	}
}

// Handle registers an extra client event (used by the SFU proxy).
func (h *Hub) Handle(name string, f EventHandler) {
	if h.extraEvents == nil {
		h.extraEvents = map[string]EventHandler{}
	}
	h.extraEvents[name] = f
}

func (h *Hub) sendAck(s *Session, id int64, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(`{"ok":false,"error":{"code":"internal","message":"could not encode the response"}}`)
	}
	s.push(protocol.AckFrame(id, b), "", 0)
}

func (h *Hub) sendError(s *Session, event string, e *vocab.Error) {
	b, _ := json.Marshal(struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Event   string `json:"event,omitempty"`
	}{e.Code, e.Message, event})
	h.send(s, protocol.EventFrame("error", b), "error")
}

// okPayload merges {"ok":true} into the handler's result object.
func okPayload(result any) any {
	if result == nil {
		return map[string]bool{"ok": true}
	}
	if m, ok := result.(map[string]any); ok {
		m["ok"] = true
		return m
	}
	b, err := json.Marshal(result)
	if err != nil || len(b) < 2 || b[0] != '{' {
		return map[string]any{"ok": true, "result": result}
	}
	if string(b) == "{}" {
		return json.RawMessage(`{"ok":true}`)
	}
	return json.RawMessage(append([]byte(`{"ok":true,`), b[1:]...))
}

// decode parses payload as a JSON object into v; a missing payload counts as {}.
func decode(payload json.RawMessage, v any) *vocab.Error {
	if len(payload) == 0 || string(payload) == "null" {
		payload = json.RawMessage("{}")
	}
	if payload[0] != '{' {
		return vocab.Errorf(vocab.CodeInvalidPayload, "payload must be a JSON object")
	}
	if err := json.Unmarshal(payload, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return vocab.Errorf(vocab.CodeInvalidPayload, "field %q must be a %s", te.Field, te.Type.String())
		}
		return vocab.Errorf(vocab.CodeInvalidPayload, "payload is not valid: %v", err)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
