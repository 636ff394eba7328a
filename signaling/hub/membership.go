// Local room membership: sessions connecting and leaving, this node's member sets, and
// the presence writes and user_left announcements that go with them.

package hub

import (
	"context"
	"encoding/json"
	"time"

	"github.com/switchboard-rtc/switchboard/signaling/presence"
	"github.com/switchboard-rtc/switchboard/signaling/vocab"
)

// Connect registers an authenticated session.
func (h *Hub) Connect(s *Session, conn Conn) {
	s.conn = conn
	s.mu.Lock()
	s.grants = s.User.Rooms
	s.mu.Unlock()
	h.armTokenLife(s, s.User.ExpiresAt)
	s.limiter = tokenBucket{rate: h.opts.EventRate, burst: float64(h.opts.EventBurst)}
	s.touch(time.Now())
	h.mu.Lock()
	h.sessions[s.ID] = s
	h.mu.Unlock()
	h.m.Connections.Inc()
	h.m.ConnectionsOpen.Inc()
}

// DisconnectReason says how a session ended.
type DisconnectReason int

const (
	// DisconnectLost: the transport dropped (network, ping timeout). The user keeps
	// their place for the reconnection window.
	DisconnectLost DisconnectReason = iota
	// DisconnectClient: the client sent a Socket.IO DISCONNECT: it left on purpose.
	DisconnectClient
	// DisconnectServer: the server closed the session (shutdown). Same as Lost for
	// the room: the user may come back through another node.
	DisconnectServer
)

// Disconnect unregisters a session whose transport is closed. It is idempotent: the
// transport's goroutine calls it when its connection ends, and Drain and Close record the
// session's end themselves right after closing a connection, so the user's reconnection
// window exists without waiting for that goroutine to run.
func (h *Hub) Disconnect(s *Session, why DisconnectReason) {
	if followUp := h.unregister(s, why); followUp != nil {
		followUp()
	}
}

// unregister ends s in memory at once (session table, local room, reconnection window)
// and returns the Redis part of its end (presence, subscription) for the caller to run,
// or nil. It is a no-op for a session already ended.
func (h *Hub) unregister(s *Session, why DisconnectReason) (followUp func()) {
	h.mu.Lock()
	if _, ok := h.sessions[s.ID]; !ok {
		h.mu.Unlock()
		return nil
	}
	delete(h.sessions, s.ID)
	h.mu.Unlock()
	stopTokenLife(s)
	h.m.Connections.Dec()

	room := s.Room()
	if why == DisconnectClient {
		if room == "" {
			return nil
		}
		return func() { h.leave(s, room, "left") }
	}
	if room == "" {
		return h.parkRoomless(s)
	}
	return h.holdPlace(s, room)
}

// removeMember removes a member (no longer connected here) from presence and, when this
// call was the one that removed it, tells the room.
func (h *Hub) removeMember(room, user, session, reason string) {
	h.removeMemberAttempt(room, user, session, reason, 1)
}

// removeMemberAttempt retries while presence is unreachable (a Redis outage), so a user
// who left meanwhile does not stay listed as a ghost once Redis is back.
func (h *Hub) removeMemberAttempt(room, user, session, reason string, attempt int) {
	ctx, cancel := context.WithTimeout(h.ctx, h.opts.RedisTimeout)
	defer cancel()
	removed, err := h.opts.Presence.Leave(ctx, room, user, session)
	if err != nil {
		if h.ctx.Err() != nil {
			return // shutting down: survivors reap this node's members
		}
		const maxAttempts = 600 // one per second: ten minutes of outage
		h.log.Warn("presence removal failed; will retry", "room", room, "user", user, "reason", reason, "attempt", attempt, "err", err)
		if attempt < maxAttempts {
			time.AfterFunc(time.Second, func() { h.removeMemberAttempt(room, user, session, reason, attempt+1) })
		}
		return
	}
	if removed {
		if reason != "left" {
			h.m.Redis.PresenceCleanups.WithLabelValues(reason).Inc()
		}
		h.announceLeft(room, user, reason)
		h.notifyMemberGone(room, user, reason)
	}
}

type userLeft struct {
	RoomID string `json:"roomId"`
	UserID string `json:"userId"`
	Reason string `json:"reason"`
}

func (h *Hub) announceLeft(room, user, reason string) {
	data, _ := json.Marshal(userLeft{RoomID: room, UserID: user, Reason: reason})
	h.broadcast(room, "user_left", data, "")
}

// localMember returns the local session of user in room.
func (h *Hub) localMember(room, user string) *Session {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if lr := h.rooms[room]; lr != nil {
		return lr.members[user]
	}
	return nil
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

// addLocal puts s into room's local member set. It returns the local session of the
// same user it displaced (if any), the room, and whether the room is new on this node
// (then the caller subscribes it and closes lr.subscribed).
func (h *Hub) addLocal(s *Session, room string) (displaced *Session, lr *localRoom, newRoom bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	lr = h.rooms[room]
	if lr == nil {
		lr = &localRoom{members: map[string]*Session{}, subscribed: make(chan struct{})}
		h.rooms[room] = lr
		newRoom = true
		h.m.Rooms.Inc()
	}
	if old := lr.members[s.User.UserID]; old != nil && old != s {
		displaced = old
	}
	lr.members[s.User.UserID] = s
	s.setRoom(room)
	return displaced, lr, newRoom
}

// removeLocal takes s out of room locally; it reports false when s was not there.
// The broker subscription ends with the last local member.
func (h *Hub) removeLocal(s *Session, room string) bool {
	if !s.clearRoomIf(room) {
		return false
	}
	if h.detachLocal(s, room) {
		h.unsubscribeIfEmpty(room)
	}
	return true
}

// detachLocal takes s, whose room was just cleared, out of room's local member set. It
// reports whether that left the room without local members. Memory only: no Redis call.
func (h *Hub) detachLocal(s *Session, room string) (last bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	lr := h.rooms[room]
	if lr != nil && lr.members[s.User.UserID] == s {
		delete(lr.members, s.User.UserID)
		if len(lr.members) == 0 {
			delete(h.rooms, room)
			h.m.Rooms.Dec()
			return true
		}
	}
	return false
}

// leave removes s from room on purpose and tells the others.
func (h *Hub) leave(s *Session, room, reason string) {
	if !h.removeLocal(s, room) {
		return
	}
	h.removeMember(room, s.User.UserID, s.ID, reason)
}

// replaced removes a session whose user joined the same room from a newer session.
// The room sees no churn: presence already points at the new session.
func (h *Hub) replaced(s *Session, room string) {
	if h.removeLocal(s, room) {
		h.sendError(s, "join_room", vocab.Errorf(vocab.CodeReplaced, "you joined room %q from another connection", room))
	}
}

func (h *Hub) member(s *Session) presence.Member {
	return presence.Member{UserID: s.User.UserID, Name: s.User.Name, NodeID: h.opts.NodeID, Session: s.ID, JoinedAt: s.joinedAt.Load()}
}
