// A room's broker subscription follows its local members: the first local join
// subscribes, the last local member's departure unsubscribes. Both are Redis round trips
// made outside the hub's lock, so two rules keep a member from sitting in a room this
// node no longer hears:
//   - subscribe and unsubscribe of one room never overlap, and an unsubscribe decides that
//     the room is empty under the same room lock (roomLocks), so it cannot undo the
//     subscription of a join that came in meanwhile;
//   - a join that finds the room already local waits until the first join's subscription
//     is confirmed before it reads the chat history, so no message falls between the
//     history it is given and the live events it hears.

package hub

import (
	"context"
	"hash/maphash"
	"sync"
)

// roomLockStripes bounds the locks kept for subscription changes; rooms share a stripe
// by hash, so unrelated rooms rarely wait for each other's round trip.
const roomLockStripes = 64

type roomLocks struct {
	hashSeed maphash.Seed
	stripes  [roomLockStripes]sync.Mutex
}

func newRoomLocks() *roomLocks { return &roomLocks{hashSeed: maphash.MakeSeed()} }

func (l *roomLocks) of(room string) *sync.Mutex {
	return &l.stripes[maphash.String(l.hashSeed, room)%roomLockStripes]
}

// subscribeRoom subscribes room for the join that created lr, then lets the room's other
// joiners go on. A failure is logged and retried by the resync loop.
func (h *Hub) subscribeRoom(ctx context.Context, room string, lr *localRoom) {
	defer close(lr.subscribed)
	mu := h.roomLocks.of(room)
	mu.Lock()
	defer mu.Unlock()
	if err := h.opts.Broker.SubscribeRoom(ctx, room); err != nil {
		h.log.Warn("subscribe failed; cross-node events for this room are missed until Redis is back", "room", room, "err", err)
		h.requestResyncLater()
	}
}

// awaitSubscribed waits until the room's subscription is in place (or ctx ends: the join
// goes on, as it would after a failed subscribe).
func (h *Hub) awaitSubscribed(ctx context.Context, lr *localRoom) {
	select {
	case <-lr.subscribed:
	case <-ctx.Done():
	}
}

// unsubscribeIfEmpty ends the broker subscription of a room that has no local member
// (one may have joined since the last one left: then the subscription stays).
func (h *Hub) unsubscribeIfEmpty(room string) {
	mu := h.roomLocks.of(room)
	mu.Lock()
	defer mu.Unlock()
	if h.roomInUse(room) {
		return
	}
	ctx, cancel := context.WithTimeout(h.ctx, h.opts.RedisTimeout)
	defer cancel()
	if err := h.opts.Broker.UnsubscribeRoom(ctx, room); err != nil {
		h.log.Warn("unsubscribe failed", "room", room, "err", err)
	}
}

// resubscribeIfInUse renews the subscription of a room that still has local members
// (after Redis came back); an emptied room is left unsubscribed.
func (h *Hub) resubscribeIfInUse(ctx context.Context, room string) {
	mu := h.roomLocks.of(room)
	mu.Lock()
	defer mu.Unlock()
	if !h.roomInUse(room) {
		return
	}
	if err := h.opts.Broker.SubscribeRoom(ctx, room); err != nil {
		h.log.Warn("resubscribe failed", "room", room, "err", err)
	}
}

func (h *Hub) roomInUse(room string) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.rooms[room] != nil
}
