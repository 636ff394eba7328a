// WebRTC relay: webrtc_offer, webrtc_answer and webrtc_ice_candidate to one user, here or
// on another node.

package hub

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/switchboard-rtc/switchboard/signaling/vocab"
)

// relay builds the handler of one WebRTC relay event: {to, <field>} → the target gets
// {roomId, from, <field>}. The relayed value is opaque JSON.
func relay(event, field string) handlerFunc {
	return func(h *Hub, ctx context.Context, s *Session, payload json.RawMessage) (any, *vocab.Error) {
		var req map[string]json.RawMessage
		if err := decode(payload, &req); err != nil {
			return nil, err
		}
		var to string
		if raw, ok := req["to"]; !ok || json.Unmarshal(raw, &to) != nil || to == "" {
			return nil, vocab.Errorf(vocab.CodeInvalidPayload, "field \"to\" must be a non-empty string (a userId)")
		}
		value, ok := req[field]
		if !ok || string(value) == "null" {
			return nil, vocab.Errorf(vocab.CodeInvalidPayload, "field %q is required", field)
		}
		room := s.Room()
		if room == "" {
			return nil, vocab.Errorf(vocab.CodeNotInRoom, "join a room before sending %s", event)
		}
		if to == s.User.UserID {
			return nil, vocab.Errorf(vocab.CodeTargetNotFound, "cannot send %s to yourself", event)
		}
		data := relayPayload(room, s.User.UserID, field, value)
		if t := h.localMember(room, to); t != nil {
			if perr := h.allowRelayTo(s, to, event); perr != nil {
				return nil, perr
			}
			h.sendRecoverable(t, event, data, h.nextOffset())
			return nil, nil
		}
		now := time.Now()
		node, cached := h.routes.get(room, to, now)
		if !cached {
			m, err := h.opts.Presence.Get(ctx, room, to)
			if err != nil {
				return nil, vocab.Errorf(vocab.CodeInternal, "cannot reach user %q: cross-node delivery is unavailable (Redis unreachable); try again", to)
			}
			if m == nil || m.NodeID == h.opts.NodeID {
				// Absent, or recorded here but not connected (inside the reconnection window).
				return nil, vocab.Errorf(vocab.CodeTargetNotFound, "user %q is not connected to room %q", to, room)
			}
			node = m.NodeID
			h.routes.put(room, to, node, now)
		}
		// Checked once the target is known to exist, so that made-up targets add no buckets.
		if perr := h.allowRelayTo(s, to, event); perr != nil {
			return nil, perr
		}
		m := brokerUser(room, to, s.User.UserID, event, data, h.opts.NodeID)
		m.Offset = h.nextOffset()
		if err := h.opts.Broker.PublishNode(ctx, node, m); err != nil {
			h.routes.forget(room, to)
			return nil, vocab.Errorf(vocab.CodeInternal, "cannot reach user %q: cross-node delivery is unavailable (Redis unreachable); try again", to)
		}
		return nil, nil
	}
}

// relayPayload renders {"roomId":…,"from":…,"<field>":<value>} without re-encoding value.
func relayPayload(room, from, field string, value json.RawMessage) json.RawMessage {
	r, _ := json.Marshal(room)
	f, _ := json.Marshal(from)
	var b strings.Builder
	b.Grow(len(r) + len(f) + len(field) + len(value) + 32)
	b.WriteString(`{"roomId":`)
	b.Write(r)
	b.WriteString(`,"from":`)
	b.Write(f)
	b.WriteString(`,"`)
	b.WriteString(field)
	b.WriteString(`":`)
	b.Write(value)
	b.WriteByte('}')
	return json.RawMessage(b.String())
}
