package hub

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/switchboard-rtc/switchboard/signaling/presence"
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
	"join_room":            (*Hub).onJoinRoom,
	"leave_room":           (*Hub).onLeaveRoom,
	"webrtc_offer":         relay("webrtc_offer", "sdp"),
	"webrtc_answer":        relay("webrtc_answer", "sdp"),
	"webrtc_ice_candidate": relay("webrtc_ice_candidate", "candidate"),
	"chat_message":         (*Hub).onChatMessage,
	"heartbeat":            (*Hub).onHeartbeat,
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
	s.conn.Send(protocol.AckFrame(id, b))
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

// validRoomID accepts 1–128 printable characters without braces (braces would break the
// Redis Cluster hash tag that keeps one room on one slot).
func validRoomID(id string) bool {
	if id == "" || len(id) > 128 || !utf8.ValidString(id) {
		return false
	}
	for _, r := range id {
		if r < 0x20 || r == 0x7f || r == '{' || r == '}' {
			return false
		}
	}
	return true
}

type participant struct {
	UserID string `json:"userId"`
	Name   string `json:"name"`
}

type userLeft struct {
	RoomID string `json:"roomId"`
	UserID string `json:"userId"`
	Reason string `json:"reason"`
}

func (h *Hub) onJoinRoom(ctx context.Context, s *Session, payload json.RawMessage) (any, *vocab.Error) {
	var req struct {
		RoomID string `json:"roomId"`
	}
	if err := decode(payload, &req); err != nil {
		return nil, err
	}
	if !validRoomID(req.RoomID) {
		return nil, vocab.Errorf(vocab.CodeInvalidPayload, "roomId must be a string of 1-128 printable characters without braces")
	}
	room := req.RoomID
	info, err := h.opts.Rooms.Lookup(ctx, room)
	if errors.Is(err, vocab.ErrRoomNotFound) {
		return nil, vocab.Errorf(vocab.CodeRoomNotFound, "room %q does not exist", room)
	}
	if err != nil {
		h.log.Warn("room lookup failed", "room", room, "err", err)
		return nil, vocab.Errorf(vocab.CodeInternal, "could not load room %q: the room service is unavailable; try again", room)
	}

	if cur := s.Room(); cur != "" && cur != room {
		h.leave(s, cur, "left")
	}

	members, err := h.opts.Presence.Members(ctx, room)
	degraded := err != nil
	if degraded {
		h.log.Warn("presence unavailable; joining with local participants only", "room", room, "err", err)
		members = h.localMembers(room)
	}
	if limit := roomLimit(info.MaxParticipants, h.opts.MaxRoomSize); limit > 0 {
		n := 0
		for _, m := range members {
			if m.UserID != s.User.UserID {
				n++
			}
		}
		if n >= limit {
			return nil, vocab.Errorf(vocab.CodeRoomFull, "room %q is full (%d participants)", room, limit)
		}
	}

	if s.Room() != room {
		s.joinedAt.Store(time.Now().UnixMilli())
	}
	var prev *presence.Member
	if !degraded {
		prev, err = h.opts.Presence.Join(ctx, room, h.member(s), h.opts.PresenceTTL)
		if err != nil {
			degraded = true
			h.log.Warn("presence join failed; continuing locally", "room", room, "err", err)
		}
	}
	if degraded {
		h.requestResyncLater()
	}
	h.cancelWindow(room, s.User.UserID)
	displaced, newRoom := h.addLocal(s, room)
	if newRoom {
		if err := h.opts.Broker.SubscribeRoom(ctx, room); err != nil {
			h.log.Warn("subscribe failed; cross-node events for this room are missed until Redis is back", "room", room, "err", err)
			h.requestResyncLater()
		}
	}
	if displaced != nil && displaced.Room() == room && displaced.clearRoomIf(room) {
		h.sendError(displaced, "join_room", vocab.Errorf(vocab.CodeReplaced, "you joined room %q from another connection", room))
	}
	if prev != nil && prev.Session != s.ID && prev.NodeID != h.opts.NodeID {
		h.publishReplace(ctx, room, s.User.UserID, prev)
	}
	// A user already present (another session or a reconnect within the window) is not
	// announced again: the room sees no churn.
	alreadyPresent := prev != nil || displaced != nil || (degraded && containsUser(members, s.User.UserID))
	if !alreadyPresent {
		data, _ := json.Marshal(struct {
			RoomID string `json:"roomId"`
			UserID string `json:"userId"`
			Name   string `json:"name"`
		}{room, s.User.UserID, s.User.Name})
		h.broadcast(room, "user_joined", data, s.User.UserID)
	}

	// Read the member list only now, after our own join and subscription: of two users
	// joining at the same moment on different nodes, at least one then lists the other,
	// and the other hears its user_joined.
	if !degraded {
		if fresh, err := h.opts.Presence.Members(ctx, room); err == nil {
			members = fresh
		}
	}
	others := make([]participant, 0, len(members))
	for _, m := range members {
		if m.UserID != s.User.UserID {
			others = append(others, participant{m.UserID, m.Name})
		}
	}
	history, err := h.opts.Chat.Recent(ctx, room, h.opts.ChatHistory)
	if err != nil {
		h.log.Warn("chat history unavailable", "room", room, "err", err)
	}
	if history == nil {
		history = []vocab.ChatMessage{}
	}
	mode := info.Mode
	if mode == "" {
		mode = vocab.ModeP2P
	}
	if h.modeOverride != nil {
		mode = h.modeOverride(room, mode)
	}
	return map[string]any{
		"roomId":       room,
		"mode":         mode,
		"self":         participant{s.User.UserID, s.User.Name},
		"participants": others,
		"chat":         history,
	}, nil
}

func (h *Hub) publishReplace(ctx context.Context, room, user string, prev *presence.Member) {
	err := h.opts.Broker.PublishNode(ctx, prev.NodeID, brokerReplace(room, user, prev.Session, h.opts.NodeID))
	if err != nil {
		h.log.Warn("could not tell the old node about a replaced session", "room", room, "user", user, "node", prev.NodeID, "err", err)
	}
}

func roomLimit(roomMax, nodeMax int) int {
	switch {
	case roomMax > 0 && nodeMax > 0:
		return min(roomMax, nodeMax)
	case roomMax > 0:
		return roomMax
	default:
		return nodeMax
	}
}

func containsUser(ms []presence.Member, user string) bool {
	for _, m := range ms {
		if m.UserID == user {
			return true
		}
	}
	return false
}

// localMembers lists the members this node holds (used when presence is unavailable).
func (h *Hub) localMembers(room string) []presence.Member {
	h.mu.RLock()
	defer h.mu.RUnlock()
	var out []presence.Member
	if lr := h.rooms[room]; lr != nil {
		for _, s := range lr.members {
			out = append(out, h.member(s))
		}
	}
	presence.SortByJoin(out)
	return out
}

func (h *Hub) requestResyncLater() {
	time.AfterFunc(500*time.Millisecond, h.requestResync)
}

func (h *Hub) onLeaveRoom(_ context.Context, s *Session, payload json.RawMessage) (any, *vocab.Error) {
	var req struct {
		RoomID *string `json:"roomId"`
	}
	if err := decode(payload, &req); err != nil {
		return nil, err
	}
	cur := s.Room()
	if cur == "" || (req.RoomID != nil && *req.RoomID != cur) {
		return nil, vocab.Errorf(vocab.CodeNotInRoom, "you are not in that room")
	}
	h.leave(s, cur, "left")
	return nil, nil
}

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
			h.send(t, protocol.EventFrame(event, data), event)
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
		if err := h.opts.Broker.PublishNode(ctx, node, brokerUser(room, to, s.User.UserID, event, data, h.opts.NodeID)); err != nil {
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

func (h *Hub) onHeartbeat(ctx context.Context, s *Session, _ json.RawMessage) (any, *vocab.Error) {
	if room := s.Room(); room != "" {
		if err := h.opts.Presence.Touch(ctx, room, s.User.UserID, h.opts.PresenceTTL); err != nil {
			h.log.Debug("presence touch failed", "err", err)
		}
	}
	return nil, nil
}
