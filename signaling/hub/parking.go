// Connection-state recovery (docs/protocol.md §Connection-state recovery): a session that
// dropped is parked for the recovery window; its node keeps it as the room's member and
// records what it is sent in the recovery log; a client that comes back with its pid, on
// any node, takes the record over and gets its place and its missed frames back.
//
// Parking reuses the reconnection window (window.go): a parked session's window lasts
// the recovery window, and whatever ends the window (expiry, a rejoin, a hand-over to
// another node, shutdown) also ends the parking.

package hub

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/switchboard-rtc/switchboard/signaling/broker"
	"github.com/switchboard-rtc/switchboard/signaling/protocol"
	"github.com/switchboard-rtc/switchboard/signaling/recovery"
)

// recoveredDedupFor is how long a recovered session drops events it already has: the
// node that recorded it may pass on, for a moment after the hand-over, events that also
// reached the new node directly.
const recoveredDedupFor = 10 * time.Second

// Resume is what a reconnecting client's CONNECT auth carried for recovery.
type Resume struct {
	PID       string
	Offset    string
	HasOffset bool // the client had seen at least one recoverable event
}

func (h *Hub) recoveryOn() bool { return h.opts.RecoveryWindow > 0 }

// newPID is a session's private recovery id: 128 random bits, so it cannot be guessed;
// it is also bound to the user, so another user's pid recovers nothing.
func newPID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func newOffsetPrefix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:]) + "-"
}

// nextOffset names one recoverable event; "" when recovery is off. Offsets are given once,
// where the event originates, and travel with it, so every node sends the same one.
func (h *Hub) nextOffset() string {
	if !h.recoveryOn() {
		return ""
	}
	return h.offsetPrefix + strconv.FormatUint(h.offsetSeq.Add(1), 36)
}

// Open registers an authenticated session and answers its CONNECT through it, before
// anything else the session is sent. A client naming a pid of its own user parked within
// the recovery window gets the session back: the same pid, its room membership without a
// join, and every recoverable frame it missed after its offset, in order, before new ones.
// Otherwise (or with recovery off) it gets a fresh session. It reports whether it recovered.
func (h *Hub) Open(s *Session, conn Conn, r Resume) bool {
	if !h.recoveryOn() {
		h.Connect(s, conn)
		s.push(protocol.ConnectFrame(s.ID), "", 0)
		return false
	}
	s.out.holding = true // nothing reaches the client before the CONNECT reply
	s.setPID(r.PID)
	h.Connect(s, conn)
	var res recovered
	if r.PID != "" {
		var why string
		res, why = h.recover(s, r)
		h.m.Recovery.Attempts.WithLabelValues(why).Inc()
		if res.ok {
			h.log.Info("session recovered", "user", s.User.UserID, "room", res.room, "missed", len(res.replay))
		} else {
			h.log.Info("session not recovered; fresh session", "user", s.User.UserID, "reason", why)
		}
	}
	if !res.ok {
		s.setPID(newPID())
	}
	h.release(s, res)
	return res.ok
}

type recovered struct {
	ok     bool
	room   string
	anchor *recovery.Frame  // the last frame the client had (kept, not sent again)
	replay []recovery.Frame // the frames it missed
}

// recover takes pid's record over for s. It returns why it did not recover otherwise
// (the metric's result label).
func (h *Hub) recover(s *Session, r Resume) (recovered, string) {
	ctx, cancel := context.WithTimeout(h.ctx, 2*h.opts.RedisTimeout)
	defer cancel()
	user := s.User.UserID
	rec, err := h.recovery.Peek(ctx, r.PID, user)
	if err != nil {
		return recovered{}, failure(err)
	}
	room := rec.Room
	var displaced *Session
	if room != "" {
		// Grants may have changed since (a new token): checked as a join would be.
		if _, perr := h.lookupGranted(ctx, s, room); perr != nil {
			return recovered{}, "forbidden"
		}
		// Local member first, so that what the old node passes on after the take-over
		// finds the session here (held until the missed frames are out).
		s.joinedAt.Store(time.Now().UnixMilli())
		var lr *localRoom
		var newRoom bool
		displaced, lr, newRoom = h.addLocal(s, room)
		if newRoom {
			h.subscribeRoom(ctx, room, lr)
		} else {
			h.awaitSubscribed(ctx, lr)
		}
	}
	undo := func() {
		switch {
		case room == "":
		case displaced != nil && displaced.isParked():
			h.swapBack(s, displaced, room)
		default:
			h.removeLocal(s, room)
		}
	}
	rec, frames, err := h.recovery.Take(ctx, r.PID, user, h.opts.NodeID)
	if err != nil {
		undo()
		return recovered{}, failure(err)
	}
	from := -1
	if r.HasOffset {
		for i := range frames {
			if frames[i].Offset == r.Offset {
				from = i
			}
		}
	}
	if (r.HasOffset && from < 0) || (!r.HasOffset && !rec.Complete) {
		// The client missed more than the log holds: a fresh session, never a partial one.
		_ = h.recovery.Discard(ctx, r.PID, h.opts.NodeID)
		undo()
		return recovered{}, "overflow"
	}
	res := recovered{ok: true, room: room, replay: frames[from+1:]}
	if from >= 0 {
		res.anchor = &frames[from]
	}
	if room == "" {
		return res, "recovered"
	}
	// The old node passes on what reaches it after the take-over, then says it is done;
	// the session is held until then (bounded), so those frames come before newer ones.
	handedOver, forget := h.expectHandover(r.PID)
	defer forget()
	prev, err := h.opts.Presence.Join(ctx, room, h.member(s), h.opts.PresenceTTL)
	wait := err == nil && prev != nil && prev.Session == rec.Session
	switch {
	case err != nil:
		h.log.Warn("presence join failed while recovering; continuing locally", "room", room, "err", err)
		h.requestResyncLater()
	case prev == nil:
		// The place is gone: the window ended meanwhile, or the recording node crashed and
		// was reaped. The others heard user_left, and what was sent since may be missing:
		// a fresh session (it joins again and the others hear it come back).
		if _, err := h.opts.Presence.Leave(ctx, room, user, s.ID); err != nil {
			h.log.Warn("could not undo the presence of a recovery that failed", "room", room, "user", user, "err", err)
		}
		_ = h.recovery.Discard(ctx, r.PID, h.opts.NodeID)
		undo()
		return recovered{}, "unknown"
	case prev.Session != s.ID && prev.NodeID != h.opts.NodeID:
		h.publishReplace(ctx, room, user, prev)
	case prev.Session != s.ID:
		h.windowHandedOver(room, user, prev.Session)
	}
	if displaced != nil && !displaced.isParked() && displaced.clearRoomIf(room) {
		h.replaced(displaced, room)
	}
	if wait {
		select {
		case <-handedOver:
		case <-time.After(h.opts.RedisTimeout):
			h.log.Warn("the node that recorded the session did not confirm the hand-over; going on", "node", rec.Node, "user", user)
		}
	}
	return res, "recovered"
}

func failure(err error) string {
	if errors.Is(err, recovery.ErrNotParked) {
		return "unknown"
	}
	return "error"
}

// release sends the CONNECT reply, then the missed frames, then what arrived while the
// session was held, and lets live frames through.
func (h *Hub) release(s *Session, res recovered) {
	o := &s.out
	o.mu.Lock()
	defer o.mu.Unlock()
	s.conn.Send(protocol.ConnectFramePID(s.ID, s.PID()))
	keep := h.keepRecent
	if res.ok {
		o.seen = make(map[string]struct{}, len(res.replay)+len(o.held)+len(o.handed))
		o.seenUntil = time.Now().Add(recoveredDedupFor)
		if res.anchor != nil {
			// Kept so that a second drop before any new event still finds the offset.
			o.sent.add(*res.anchor, keep)
			o.seen[res.anchor.Offset] = struct{}{}
		}
		for _, f := range res.replay {
			o.seen[f.Offset] = struct{}{}
			o.sent.add(f, keep)
			s.conn.Send(f.Data)
		}
		h.m.Recovery.Replayed.Add(float64(len(res.replay)))
	}
	// What the old node passed on was sent before what reached this node directly.
	for _, f := range append(o.handed, o.held...) {
		if f.Offset != "" {
			if o.seen != nil {
				if _, dup := o.seen[f.Offset]; dup {
					continue
				}
				o.seen[f.Offset] = struct{}{}
			}
			o.sent.add(f, keep)
		}
		s.conn.Send(f.Data)
	}
	o.held, o.handed, o.holding = nil, nil, false
}

// parking records the frames of one dropped session into the recovery log, from its own
// goroutine, and once another node took the record over, passes them on to that node.
type parking struct {
	h    *Hub
	s    *Session
	rec  recovery.Record
	ttl  time.Duration
	wake chan struct{}
	done chan struct{} // closed when the recorder has finished

	mu      sync.Mutex
	queue   []recovery.Frame
	lost    bool // the queue overflowed: the log has a hole
	stopped bool
}

// park turns s, dropped from room, into a recorder for the window d (already the
// recovery window). nil when s cannot be recovered.
func (h *Hub) park(s *Session, room string, d time.Duration) *parking {
	pid := s.PID()
	if !h.recoveryOn() || pid == "" || h.closing.Load() {
		return nil
	}
	p := &parking{h: h, s: s, ttl: d, wake: make(chan struct{}, 1), done: make(chan struct{}),
		rec: recovery.Record{PID: pid, UserID: s.User.UserID, Room: room, Session: s.ID, Node: h.opts.NodeID}}
	o := &s.out
	o.mu.Lock()
	initial := o.sent.frames()
	p.rec.Complete = !o.sent.dropped
	for _, f := range append(o.handed, o.held...) { // dropped while being recovered: what it never got
		if f.Offset != "" {
			initial = append(initial, f)
		}
	}
	o.sent, o.held, o.handed, o.holding, o.park = sentLog{}, nil, nil, false, p
	o.mu.Unlock()
	h.m.Recovery.Parked.Inc()
	h.parkings.Add(1)
	go p.run(initial)
	return p
}

// parkRoomless records a dropped session that was in no room: nothing can reach it, so
// the record alone (with the frames it may not have had) is enough.
func (h *Hub) parkRoomless(s *Session) func() {
	pid := s.PID()
	if !h.recoveryOn() || pid == "" || h.closing.Load() {
		return nil
	}
	o := &s.out
	o.mu.Lock()
	frames, complete := o.sent.frames(), !o.sent.dropped
	o.mu.Unlock()
	rec := recovery.Record{PID: pid, UserID: s.User.UserID, Session: s.ID, Node: h.opts.NodeID, Complete: complete}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), h.opts.RedisTimeout)
		defer cancel()
		if err := h.recovery.Park(ctx, rec, frames, h.recoveryWindow()); err != nil {
			h.log.Warn("could not park the session for recovery", "user", rec.UserID, "err", err)
		}
	}
}

// recoveryWindow is how long a parked session can be recovered; during a drain it also
// covers the random wait the client was told.
func (h *Hub) recoveryWindow() time.Duration {
	d := h.opts.RecoveryWindow
	if h.draining.Load() {
		d += time.Duration(h.drainJitter.Load())
	}
	return d
}

func (s *Session) isParked() bool {
	s.out.mu.Lock()
	defer s.out.mu.Unlock()
	return s.out.park != nil
}

func (p *parking) add(f recovery.Frame) {
	p.mu.Lock()
	if len(p.queue) >= 4*p.h.opts.RecoveryBuffer {
		p.lost = true
	} else {
		p.queue = append(p.queue, f)
	}
	p.mu.Unlock()
	p.signal()
}

func (p *parking) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// stop ends the parking (its window ended). The recorder detaches the session from its
// room, passes on or records what is still queued, and deletes the record unless another
// node took it.
func (p *parking) stop() {
	p.mu.Lock()
	p.stopped = true
	p.mu.Unlock()
	p.signal()
}

func (p *parking) run(initial []recovery.Frame) {
	h := p.h
	defer close(p.done)
	defer h.parkings.Done()
	defer h.m.Recovery.Parked.Dec()
	call := func(f func(ctx context.Context) error) error {
		ctx, cancel := context.WithTimeout(context.Background(), h.opts.RedisTimeout)
		defer cancel()
		return f(ctx)
	}
	log := h.log.With("user", p.rec.UserID, "room", p.rec.Room)
	recording := true
	owner := "" // the node that took the record over
	if err := call(func(ctx context.Context) error { return h.recovery.Park(ctx, p.rec, initial, p.ttl) }); err != nil {
		log.Warn("could not park the session for recovery; it will get a fresh session", "err", err)
		recording = false
	}
	// giveUp stops recording for good: the log cannot be complete any more, so it must
	// not be used (the user keeps their place until the window ends, as without recovery).
	giveUp := func(why string) {
		log.Warn("recovery log abandoned; the client will get a fresh session", "why", why)
		recording = false
		_ = call(func(ctx context.Context) error { return h.recovery.Discard(ctx, p.rec.PID, h.opts.NodeID) })
	}
	detached := false
	for range p.wake {
		p.mu.Lock()
		stopped, lost := p.stopped, p.lost
		p.mu.Unlock()
		if stopped && !detached {
			detached = true
			h.detachParked(p)
		}
		p.mu.Lock()
		batch := p.queue
		p.queue = nil
		p.mu.Unlock()
		if lost && recording {
			giveUp("too many events queued for Redis")
		}
		if len(batch) > 0 && recording {
			var o string
			var ok bool
			err := call(func(ctx context.Context) (err error) {
				o, ok, err = h.recovery.Append(ctx, p.rec.PID, h.opts.NodeID, batch)
				return err
			})
			switch {
			case err != nil:
				giveUp(err.Error())
			case !ok:
				recording, owner = false, o
			}
		}
		if !recording && len(batch) > 0 && owner != "" {
			p.passOn(owner, batch)
		}
		if !recording && owner == "" && !detached {
			detached = true // nothing to record for and nobody to pass on to
			h.detachParked(p)
		}
		if stopped {
			if recording {
				// Taken over without a frame since? An empty append tells (and by whom).
				var o string
				var ok bool
				err := call(func(ctx context.Context) (err error) {
					o, ok, err = h.recovery.Append(ctx, p.rec.PID, h.opts.NodeID, nil)
					return err
				})
				if err != nil || ok {
					_ = call(func(ctx context.Context) error { return h.recovery.Discard(ctx, p.rec.PID, h.opts.NodeID) })
				} else {
					owner = o
				}
			}
			if owner != "" {
				p.handedOver(owner)
			}
			return
		}
	}
}

// handedOver tells the node that took the session over that everything this node had
// for it has been passed on (the recovering session is held until then).
func (p *parking) handedOver(owner string) {
	h := p.h
	if owner == h.opts.NodeID {
		h.handoverDone(p.rec.PID)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.opts.RedisTimeout)
	defer cancel()
	if err := h.opts.Broker.PublishNode(ctx, owner, broker.Message{Type: broker.TypeFrame, Room: p.rec.Room, User: p.rec.UserID,
		Session: p.rec.PID, Origin: h.opts.NodeID}); err != nil {
		h.log.Warn("could not tell the recovering node the hand-over is done", "node", owner, "err", err)
	}
}

// expectHandover returns a channel closed when the node that recorded pid has passed
// everything on (handoverDone); forget removes it.
func (h *Hub) expectHandover(pid string) (done <-chan struct{}, forget func()) {
	ch := make(chan struct{})
	h.mu.Lock()
	h.handovers[pid] = ch
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		if h.handovers[pid] == ch {
			delete(h.handovers, pid)
		}
		h.mu.Unlock()
	}
}

func (h *Hub) handoverDone(pid string) {
	h.mu.Lock()
	ch := h.handovers[pid]
	delete(h.handovers, pid)
	h.mu.Unlock()
	if ch != nil {
		close(ch)
	}
}

// passOn sends frames that reached this node after the hand-over to the node that took
// the session over; it drops those it already has.
func (p *parking) passOn(owner string, frames []recovery.Frame) {
	h := p.h
	if owner == h.opts.NodeID {
		for _, f := range frames {
			h.deliverFrame(p.rec.Room, p.rec.UserID, f)
		}
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.opts.RedisTimeout)
	defer cancel()
	for _, f := range frames {
		err := h.opts.Broker.PublishNode(ctx, owner, broker.Message{Type: broker.TypeFrame, Room: p.rec.Room, User: p.rec.UserID,
			Data: f.Data[2:], Offset: f.Offset, Origin: h.opts.NodeID})
		if err != nil {
			h.log.Warn("could not pass a missed event on to the recovering node", "node", owner, "err", err)
			return
		}
	}
}

// deliverFrame sends a passed-on frame to user's local session in room.
func (h *Hub) deliverFrame(room, user string, f recovery.Frame) {
	if s := h.localMember(room, user); s != nil && !s.isParked() {
		s.pushHandedOver(f, h.keepRecent)
	}
}

// detachParked takes the parked session out of its room's local members, so that
// nothing more is sent to it.
func (h *Hub) detachParked(p *parking) {
	room := p.rec.Room
	h.mu.Lock()
	lr := h.rooms[room]
	last := false
	if lr != nil && lr.members[p.s.User.UserID] == p.s {
		delete(lr.members, p.s.User.UserID)
		if len(lr.members) == 0 {
			delete(h.rooms, room)
			h.m.Rooms.Dec()
			last = true
		}
	}
	h.mu.Unlock()
	if last {
		h.unsubscribeIfEmpty(room)
	}
}

// swapBack puts the parked session back as room's local member in place of s, after a
// recovery attempt on this node that displaced it failed.
func (h *Hub) swapBack(s, parked *Session, room string) {
	s.clearRoomIf(room)
	h.mu.Lock()
	defer h.mu.Unlock()
	if lr := h.rooms[room]; lr != nil && lr.members[s.User.UserID] == s {
		lr.members[s.User.UserID] = parked
	}
}
