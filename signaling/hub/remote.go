// Remote delivery: what other nodes send through the broker, forwarding or bouncing a
// relay whose target moved, and cluster-wide control notices.

package hub

import (
	"context"
	"encoding/json"

	"github.com/switchboard-rtc/switchboard/signaling/broker"
	"github.com/switchboard-rtc/switchboard/signaling/protocol"
	"github.com/switchboard-rtc/switchboard/signaling/recovery"
	"github.com/switchboard-rtc/switchboard/signaling/vocab"
)

// onBrokerMessage handles what other nodes sent.
func (h *Hub) onBrokerMessage(m broker.Message) {
	switch m.Type {
	case broker.TypeRoom:
		if m.Origin == h.opts.NodeID {
			return
		}
		if m.Event == "user_left" || m.Event == "user_joined" {
			h.forgetRouteOf(m)
		}
		h.deliverRoom(m.Room, protocol.EventFrameOffset(m.Event, m.Data, m.Offset), m.Offset, m.Event, m.Data, m.Except)
	case broker.TypeUser:
		if m.Event == "error" && m.From != "" {
			h.routes.forget(m.Room, m.From) // a relay to From bounced: look it up again
		}
		if s := h.localMember(m.Room, m.User); s != nil {
			if m.Offset != "" {
				h.sendRecoverable(s, m.Event, m.Data, m.Offset)
			} else {
				h.send(s, protocol.EventFrame(m.Event, m.Data), m.Event)
			}
			return
		}
		// The target is not here: it moved to another node after the sender looked it up
		// (forward it there), or it dropped and is inside its reconnection window (tell the
		// sender instead of losing the relay silently). Off the delivery goroutine: this
		// needs a presence lookup.
		if m.From != "" && m.Event != "error" {
			go h.forwardOrBounce(m)
		}
	case broker.TypeReplace:
		if s := h.localMember(m.Room, m.User); s != nil && s.ID == m.Session && !s.isParked() {
			h.replaced(s, m.Room)
		} else {
			// A dropped session (parked or not) came back through another node.
			h.windowHandedOver(m.Room, m.User, m.Session)
		}
	case broker.TypeFrame:
		switch {
		case m.Origin == h.opts.NodeID:
		case len(m.Data) == 0:
			h.handoverDone(m.Session)
		default:
			h.deliverFrame(m.Room, m.User, recovery.Frame{Offset: m.Offset, Data: append([]byte("42"), m.Data...)})
		}
	case broker.TypeControl:
		h.onControl(m)
	case broker.TypeResubscribed:
		h.requestResync()
	case broker.TypeTransport:
		h.mu.RLock()
		f := h.transportHandler
		h.mu.RUnlock()
		if f != nil {
			f(m.Origin, m.Event, m.Session, m.Data)
		}
	}
}

func (h *Hub) forwardOrBounce(m broker.Message) {
	ctx, cancel := context.WithTimeout(h.ctx, h.opts.RedisTimeout)
	defer cancel()
	if m.Hops == 0 {
		if cur, err := h.opts.Presence.Get(ctx, m.Room, m.User); err == nil && cur != nil && cur.NodeID != h.opts.NodeID {
			fwd := m
			fwd.Hops++ // forwarded once at most: no ping-pong between two stale views
			if h.opts.Broker.PublishNode(ctx, cur.NodeID, fwd) == nil {
				return
			}
		}
	}
	h.bounceUndeliverable(m)
}

func (h *Hub) bounceUndeliverable(m broker.Message) {
	data, _ := json.Marshal(map[string]string{
		"code":    vocab.CodeTargetNotFound,
		"message": "user " + m.User + " is not connected to room " + m.Room + " (reconnecting); the " + m.Event + " was not delivered",
		"event":   m.Event,
	})
	ctx, cancel := context.WithTimeout(h.ctx, h.opts.RedisTimeout)
	defer cancel()
	// From names the unreachable user, so the sender's node forgets its route.
	_ = h.opts.Broker.PublishNode(ctx, m.Origin, brokerUser(m.Room, m.From, m.User, "error", data, h.opts.NodeID))
}

func (h *Hub) forgetRouteOf(m broker.Message) {
	var who struct {
		UserID string `json:"userId"`
	}
	if json.Unmarshal(m.Data, &who) == nil && who.UserID != "" {
		h.routes.forget(m.Room, who.UserID)
	}
}

// ControlHandler receives cluster-wide control notices (see broker.TypeControl).
type ControlHandler func(event string, data json.RawMessage)

// OnControl registers f for control notices; call it before Start.
func (h *Hub) OnControl(f ControlHandler) {
	h.mu.Lock()
	h.controlHandlers = append(h.controlHandlers, f)
	h.mu.Unlock()
}

func (h *Hub) onControl(m broker.Message) {
	h.mu.RLock()
	handlers := h.controlHandlers
	h.mu.RUnlock()
	for _, f := range handlers {
		f(m.Event, m.Data)
	}
}
