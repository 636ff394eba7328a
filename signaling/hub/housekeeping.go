// Housekeeping: node liveness, reaping crashed nodes, expiring silent members, and
// re-writing local presence after Redis comes back.

package hub

import (
	"context"
	"encoding/json"
	"time"

	"github.com/switchboard-rtc/switchboard/signaling/presence"
	"github.com/switchboard-rtc/switchboard/signaling/vocab"
)

// heartbeatNode refreshes this node's liveness record.
func (h *Hub) heartbeatNode(state presence.NodeState) {
	ctx, cancel := context.WithTimeout(h.ctx, h.opts.RedisTimeout)
	defer cancel()
	if err := h.opts.Nodes.Heartbeat(ctx, h.opts.NodeID, state, 3*h.opts.NodeHeartbeat); err != nil {
		h.log.Debug("node heartbeat failed", "err", err)
	}
}

// housekeeping keeps the node alive in Redis, reaps crashed nodes, expires silent members
// and re-writes local presence when asked.
func (h *Hub) housekeeping() {
	defer h.wg.Done()
	tick := time.NewTicker(h.opts.NodeHeartbeat)
	defer tick.Stop()
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-h.resync:
			h.resyncPresence()
		case <-tick.C:
			state := presence.NodeActive
			if h.draining.Load() {
				state = presence.NodeDraining
			}
			h.heartbeatNode(state)
			h.reapDeadNodes()
			h.expireSilentMembers(time.Now())
			h.limits.forgetIdle(time.Now())
		}
	}
}

func (h *Hub) reapDeadNodes() {
	// After an outage (or at start) every node's liveness key may have lapsed while Redis
	// was unreachable — a paused or failed-over Redis keeps the keys and lets their TTLs
	// run out. Reap only once every live node has had time to heartbeat again.
	grace := 4 * h.opts.NodeHeartbeat
	if h.opts.Broker.Ready() != nil || time.Since(time.Unix(0, h.busDownAt.Load())) < grace {
		return
	}
	ctx, cancel := context.WithTimeout(h.ctx, 2*h.opts.RedisTimeout)
	defer cancel()
	gone, err := h.opts.Nodes.ReapDead(ctx)
	if err != nil {
		h.log.Debug("reap dead nodes failed", "err", err)
		return
	}
	for _, ru := range gone {
		h.m.Redis.PresenceCleanups.WithLabelValues("dead_node").Inc()
		h.log.Info("removed member of a dead node", "room", ru.RoomID, "user", ru.UserID)
		h.announceLeft(ru.RoomID, ru.UserID, "disconnected")
		h.notifyMemberGone(ru.RoomID, ru.UserID, "disconnected")
	}
}

// expireSilentMembers removes local members that sent nothing for the presence TTL.
func (h *Hub) expireSilentMembers(now time.Time) {
	cutoff := now.Add(-h.opts.PresenceTTL).UnixNano()
	h.mu.RLock()
	var silent []*Session
	for _, lr := range h.rooms {
		for _, s := range lr.members {
			if s.lastSeen.Load() < cutoff && !s.isParked() { // parked: its window decides
				silent = append(silent, s)
			}
		}
	}
	h.mu.RUnlock()
	for _, s := range silent {
		room := s.Room()
		if room == "" {
			continue
		}
		h.log.Info("presence expired", "room", room, "user", s.User.UserID)
		h.leave(s, room, "timeout")
		h.sendError(s, "heartbeat", vocab.Errorf(vocab.CodeNotInRoom, "you were removed from room %q: no heartbeat for %s", room, h.opts.PresenceTTL))
	}
}

// watchBroker asks for a presence re-write whenever cross-node delivery comes back.
func (h *Hub) watchBroker() {
	defer h.wg.Done()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	wasReady := true
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-tick.C:
			ready := h.opts.Broker.Ready() == nil
			if !ready {
				h.busDownAt.Store(time.Now().UnixNano())
			}
			if ready && !wasReady {
				h.requestResync()
			}
			wasReady = ready
		}
	}
}

func (h *Hub) requestResync() {
	select {
	case h.resync <- struct{}{}:
	default:
	}
}

func (h *Hub) requestResyncLater() {
	time.AfterFunc(500*time.Millisecond, h.requestResync)
}

// resyncPresence re-writes every local member into presence, after Redis was
// unreachable or lost its data. Joins with the same session are no-ops for the room.
func (h *Hub) resyncPresence() {
	h.mu.RLock()
	type entry struct {
		room string
		s    *Session
	}
	var all []entry
	rooms := make([]string, 0, len(h.rooms))
	for id, lr := range h.rooms {
		rooms = append(rooms, id)
		for _, s := range lr.members {
			all = append(all, entry{id, s})
		}
	}
	h.mu.RUnlock()
	ctx, cancel := context.WithTimeout(h.ctx, 10*h.opts.RedisTimeout)
	defer cancel()
	for _, room := range rooms {
		h.resubscribeIfInUse(ctx, room)
	}
	for _, e := range all {
		if _, err := h.opts.Presence.Join(ctx, e.room, h.member(e.s), h.opts.PresenceTTL); err != nil {
			h.log.Warn("presence resync failed; will retry", "err", err)
			time.AfterFunc(time.Second, h.requestResync)
			return
		}
	}
	h.m.Redis.Resyncs.Inc()
	h.log.Info("local presence re-written", "members", len(all), "rooms", len(rooms))
}

func (h *Hub) onHeartbeat(ctx context.Context, s *Session, _ json.RawMessage) (any, *vocab.Error) {
	if room := s.Room(); room != "" {
		if err := h.opts.Presence.Touch(ctx, room, s.User.UserID, h.opts.PresenceTTL); err != nil {
			h.log.Debug("presence touch failed", "err", err)
		}
	}
	return nil, nil
}
