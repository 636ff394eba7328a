// join_room and leave_room.

package hub

import (
	"context"
	"encoding/json"
	"time"
	"unicode/utf8"

	"github.com/switchboard-rtc/switchboard/signaling/presence"
	"github.com/switchboard-rtc/switchboard/signaling/vocab"
)

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
	// Every join is checked, a rejoin within the reconnection window and a join of the
	// room the socket is already in included: grants may have changed since.
	info, perr := h.lookupGranted(ctx, s, room)
	if perr != nil {
		return nil, perr
	}

	cur := s.Room()
	if cur != "" && cur != room {
		h.leave(s, cur, "left")
	}

	// The member list before the join is read only to enforce a size limit (a round trip
	// to Redis per join otherwise); the ack lists the members read after the join.
	var members []presence.Member
	var err error
	degraded := false
	if limit := roomLimit(info.MaxParticipants, h.opts.MaxRoomSize); limit > 0 {
		members, err = h.opts.Presence.Members(ctx, room)
		if degraded = err != nil; degraded {
			h.log.Warn("presence unavailable; joining with local participants only", "room", room, "err", err)
			members = h.localMembers(room)
		}
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
			members = h.localMembers(room)
		}
	}
	if degraded {
		h.requestResyncLater()
	}
	h.cancelWindow(room, s.User.UserID)
	// From membership until the history is read, live chat waits (joinchat.go).
	s.holdChat()
	displaced, lr, newRoom := h.addLocal(s, room)
	if newRoom {
		h.subscribeRoom(ctx, room, lr)
	} else {
		h.awaitSubscribed(ctx, lr)
	}
	if displaced != nil && displaced.Room() == room && displaced.clearRoomIf(room) {
		h.sendError(displaced, "join_room", vocab.Errorf(vocab.CodeReplaced, "you joined room %q from another connection", room))
	}
	if prev != nil && prev.Session != s.ID && prev.NodeID != h.opts.NodeID {
		h.publishReplace(ctx, room, s.User.UserID, prev)
	}
	// A user already present (another session or a reconnect within the window) is not
	// announced again: the room sees no churn.
	// (A parked session displaced here is not: presence says whether its place is still held.)
	alreadyPresent := prev != nil || (displaced != nil && !displaced.isParked()) || (degraded && containsUser(members, s.User.UserID))
	if !alreadyPresent {
		h.announceJoined(room, s)
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
	history := h.joinHistory(ctx, room, cur == room)
	s.releaseChat(history)
	mode := info.Mode
	if mode == "" {
		mode = vocab.ModeP2P
	}
	if h.modeOverride != nil {
		mode = h.modeOverride(room, mode)
	}
	ack := map[string]any{
		"roomId":       room,
		"mode":         mode,
		"self":         participant{s.User.UserID, s.User.Name},
		"participants": others,
		"chat":         history,
	}
	if h.joinExtra != nil {
		for k, v := range h.joinExtra(ctx, room, s.User.UserID, mode) {
			if _, taken := ack[k]; !taken {
				ack[k] = v
			}
		}
	}
	return ack, nil
}

func (h *Hub) announceJoined(room string, s *Session) {
	data, _ := json.Marshal(struct {
		RoomID string `json:"roomId"`
		UserID string `json:"userId"`
		Name   string `json:"name"`
	}{room, s.User.UserID, s.User.Name})
	h.broadcast(room, "user_joined", data, s.User.UserID)
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
