package hub

import (
	"context"
	"encoding/json"

	"github.com/switchboard-rtc/switchboard/signaling/broker"
	"github.com/switchboard-rtc/switchboard/signaling/presence"
	"github.com/switchboard-rtc/switchboard/signaling/protocol"
	"github.com/switchboard-rtc/switchboard/signaling/vocab"
)

// This file is the hub's surface for feature packages (SFU proxy, chat): they register
// events and hooks before Start and use these calls to reach clients.

// MemberGoneFunc is told, exactly once cluster-wide, that a user finally left a room
// (reason "left", "disconnected" or "timeout"). It is not called while the user is inside
// the reconnection window.
type MemberGoneFunc func(ctx context.Context, roomID, userID, reason string)

// OnMemberGone registers f; call it before Start.
func (h *Hub) OnMemberGone(f MemberGoneFunc) {
	h.mu.Lock()
	h.memberGone = append(h.memberGone, f)
	h.mu.Unlock()
}

func (h *Hub) notifyMemberGone(room, user, reason string) {
	h.mu.RLock()
	fs := h.memberGone
	h.mu.RUnlock()
	if len(fs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(h.ctx, 10*h.opts.RedisTimeout)
	defer cancel()
	for _, f := range fs {
		f(ctx, room, user, reason)
	}
}

// SetModeOverride lets a feature report a room's effective mode in join acks (the SFU
// fallback turns an sfu room into p2p while the media service is down).
func (h *Hub) SetModeOverride(f func(roomID, mode string) string) { h.modeOverride = f }

// JoinExtraFunc returns fields to add to a join_room ack (nil for none). It runs after
// the user joined the room, with the mode the ack reports.
type JoinExtraFunc func(ctx context.Context, roomID, userID, mode string) map[string]any

// SetJoinExtra lets a feature add fields to join acks (the SFU proxy lists the room's
// producers there); call it before Start. Fields the hub sets itself are not replaced.
func (h *Hub) SetJoinExtra(f JoinExtraFunc) { h.joinExtra = f }

// Broadcast sends event to every member of room on every node, except the user except
// ("" for nobody).
func (h *Hub) Broadcast(room, event string, payload any, except string) error {
	data, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	h.broadcast(room, event, data, except)
	return nil
}

// Send sends event to one session.
func (h *Hub) Send(s *Session, event string, payload any) error {
	data, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	h.send(s, protocol.EventFrame(event, data), event)
	return nil
}

// SendError sends the `error` event to one session.
func (h *Hub) SendError(s *Session, event string, e *vocab.Error) { h.sendError(s, event, e) }

// Members lists room's members on every node (local ones only while Redis is down).
func (h *Hub) Members(ctx context.Context, room string) ([]presence.Member, error) {
	ms, err := h.opts.Presence.Members(ctx, room)
	if err != nil {
		return h.localMembers(room), err
	}
	return ms, nil
}

// LocalRooms lists the rooms with members on this node.
func (h *Hub) LocalRooms() []string {
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := make([]string, 0, len(h.rooms))
	for id := range h.rooms {
		out = append(out, id)
	}
	return out
}

// PublishControl sends a control notice to every node (this one included).
func (h *Hub) PublishControl(ctx context.Context, event string, payload any) error {
	data, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	return h.opts.Broker.PublishControl(ctx, broker.Message{Type: broker.TypeControl, Event: event, Data: data, Origin: h.opts.NodeID})
}

// TransportHandler receives one step of an Engine.IO session relayed between nodes: from
// is the sending node, event the step, sid the Engine.IO session. It runs on the bus's
// delivery goroutine and must not block.
type TransportHandler func(from, event, sid string, data json.RawMessage)

// OnTransport registers the server's handler of relayed session traffic (messages that
// arrive before it is registered are dropped).
func (h *Hub) OnTransport(f TransportHandler) {
	h.mu.Lock()
	h.transportHandler = f
	h.mu.Unlock()
}

// PublishTransport sends one step of an Engine.IO session to the node nodeID.
func (h *Hub) PublishTransport(ctx context.Context, nodeID, event, sid string, data json.RawMessage) error {
	return h.opts.Broker.PublishNode(ctx, nodeID, broker.Message{Type: broker.TypeTransport, Event: event, Session: sid, Data: data, Origin: h.opts.NodeID})
}
