package hub

import (
	"context"
	"time"
)

// A reconnection window is the time a user whose connection dropped keeps their place in
// their room (docs/protocol.md, reconnection). This file owns the windows this node holds.

// window is one dropped user's place, held by this node until the user is back (here or
// through another node) or the window ends.
type window struct {
	session  string
	deadline time.Time
	timer    *time.Timer
	park     *parking // the recorder of a recoverable session (parking.go); nil otherwise
}

// end stops what w holds on to besides its timer.
func (w *window) end() {
	if w.park != nil {
		w.park.stop()
	}
}

// reconnectWindow is how long a dropped user keeps their place. During a drain it also
// covers the random wait the user was told (server_draining.reconnectInMs includes it).
func (h *Hub) reconnectWindow() time.Duration {
	if h.draining.Load() {
		return h.opts.ReconnectWindow + time.Duration(h.drainJitter.Load())
	}
	return h.opts.ReconnectWindow
}

// holdPlace keeps s's user in room for the reconnection window. The window is recorded
// in memory, on the caller's goroutine, before anything else: a drain that has just closed
// the connection counts on it being there (whatever the scheduler ran since). It returns
// the Redis part (the presence mark, the subscription of a room left without local
// members) for the caller to run, or nil when s was no longer in room.
func (h *Hub) holdPlace(s *Session, room string) (followUp func()) {
	if !s.clearRoomIf(room) {
		return nil // replaced or left meanwhile
	}
	d := h.reconnectWindow()
	if h.recoveryOn() {
		d = max(d, h.recoveryWindow())
	}
	// A recoverable session stays the room's local member, recording what it is sent.
	p := h.park(s, room, d)
	if p == nil {
		d = h.reconnectWindow()
	}
	h.openWindow(room, s.User.UserID, s.ID, d, p)
	last := false
	if p == nil {
		last = h.detachLocal(s, room)
	}
	return func() {
		if last {
			h.unsubscribeIfEmpty(room)
		}
		ctx, cancel := context.WithTimeout(h.ctx, h.opts.RedisTimeout)
		defer cancel()
		if err := h.opts.Presence.MarkDisconnecting(ctx, room, s.User.UserID, s.ID, d); err != nil {
			h.log.Warn("mark disconnecting failed", "room", room, "user", s.User.UserID, "err", err)
		}
	}
}

// openWindow starts the timer that removes the user when the window passes without a
// rejoin. The presence store's session guard makes the removal exactly-once cluster-wide.
// The window stays open until that removal (and its user_left) is done, so a drain that
// waits for the windows never cuts an announcement short.
func (h *Hub) openWindow(room, user, session string, d time.Duration, p *parking) {
	key := roomUser{room, user}
	w := &window{session: session, deadline: time.Now().Add(d), park: p}
	h.mu.Lock()
	defer h.mu.Unlock()
	if old := h.pending[key]; old != nil {
		old.timer.Stop()
		old.end()
	}
	h.pending[key] = w
	w.timer = time.AfterFunc(d, func() {
		if p != nil {
			// No recovery once the others are told the user left: the record goes first.
			p.stop()
			<-p.done
		}
		h.removeMember(room, user, session, "disconnected")
		h.closeWindow(key, w)
	})
}

// closeWindow forgets w if it is still the window of key.
func (h *Hub) closeWindow(key roomUser, w *window) {
	h.mu.Lock()
	if h.pending[key] == w {
		delete(h.pending, key)
	}
	h.mu.Unlock()
}

// cancelWindow ends user's window in room: the user is back on this node.
func (h *Hub) cancelWindow(room, user string) {
	key := roomUser{room, user}
	h.mu.Lock()
	if w := h.pending[key]; w != nil {
		w.timer.Stop()
		w.end()
		delete(h.pending, key)
	}
	h.mu.Unlock()
}

// windowHandedOver ends the window of session when its user came back through another
// node (which took over the presence record): nothing is left for this node to do.
func (h *Hub) windowHandedOver(room, user, session string) {
	key := roomUser{room, user}
	h.mu.Lock()
	if w := h.pending[key]; w != nil && w.session == session {
		w.timer.Stop()
		w.end()
		delete(h.pending, key)
	}
	h.mu.Unlock()
}

// openWindows is the number of windows this node still holds.
func (h *Hub) openWindows() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.pending)
}

// stopWindows drops every window without removing its user (shutdown: the other nodes
// clean up after this one) and ends every parking.
func (h *Hub) stopWindows() {
	h.mu.Lock()
	for k, w := range h.pending {
		w.timer.Stop()
		w.end()
		delete(h.pending, k)
	}
	h.mu.Unlock()
	// The recorders delete their records (each call bounded): a record left behind would
	// let a client recover without what reached it after this node went away.
	done := make(chan struct{})
	go func() { h.parkings.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(2 * h.opts.RedisTimeout):
	}
}
