// Package hub is the heart of a signaling node: it holds the node's sessions and local
// room membership, handles client events, and moves events to and from other nodes
// through the broker. The transport (WebSocket, Socket.IO framing) lives in package
// server; cluster-wide membership lives in package presence.
package hub

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-rtc/switchboard/signaling/broker"
	"github.com/switchboard-rtc/switchboard/signaling/metrics"
	"github.com/switchboard-rtc/switchboard/signaling/presence"
	"github.com/switchboard-rtc/switchboard/signaling/protocol"
	"github.com/switchboard-rtc/switchboard/signaling/vocab"
)

// Options configure a Hub. Zero values get the defaults in withDefaults.
type Options struct {
	NodeID          string
	Broker          broker.Broker
	Presence        presence.Store
	Nodes           presence.Nodes
	Rooms           vocab.RoomDirectory
	Chat            vocab.ChatLog
	Metrics         *metrics.Metrics
	Logger          *slog.Logger
	MaxRoomSize     int           // 0 = no limit beyond the room's own maxParticipants
	ReconnectWindow time.Duration // how long an ungracefully disconnected user stays in the room
	PresenceTTL     time.Duration // a member silent for this long is removed (reason "timeout")
	MaxEventBytes   int           // largest event payload accepted
	MaxChatLength   int           // in characters
	ChatHistory     int           // messages in the join_room ack
	EventRate       float64       // events per second per socket
	EventBurst      int
	NodeHeartbeat   time.Duration // node liveness refresh period (TTL is 3×)
	RedisTimeout    time.Duration // bound for one presence/broker call
	// RelayRouteTTL is how long the node holding a relay target is remembered
	// (see routeCache); negative disables the cache.
	RelayRouteTTL time.Duration
}

func (o *Options) withDefaults() {
	if o.Broker == nil {
		o.Broker = broker.NewMemory(nil)
	}
	if o.Presence == nil || o.Nodes == nil {
		mem := presence.NewMemory()
		if o.Presence == nil {
			o.Presence = mem
		}
		if o.Nodes == nil {
			o.Nodes = mem
		}
	}
	if o.Rooms == nil {
		o.Rooms = vocab.StaticRooms{Mode: vocab.ModeP2P}
	}
	if o.Chat == nil {
		o.Chat = &MemoryChatLog{Keep: 200}
	}
	if o.Metrics == nil {
		o.Metrics = metrics.New()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.ReconnectWindow, 5*time.Second)
	def(&o.PresenceTTL, 30*time.Second)
	def(&o.NodeHeartbeat, 2*time.Second)
	def(&o.RedisTimeout, 2*time.Second)
	if o.RelayRouteTTL == 0 {
		o.RelayRouteTTL = time.Second
	}
	if o.MaxEventBytes <= 0 {
		o.MaxEventBytes = 64 << 10
	}
	if o.MaxChatLength <= 0 {
		o.MaxChatLength = 4000
	}
	if o.ChatHistory <= 0 {
		o.ChatHistory = 50
	}
	if o.EventRate == 0 {
		o.EventRate = 100
	}
	if o.EventBurst <= 0 {
		o.EventBurst = 200
	}
}

// Hub is one node's session and room manager.
type Hub struct {
	opts Options
	log  *slog.Logger
	m    *metrics.Metrics

	mu       sync.RWMutex
	sessions map[string]*Session
	rooms    map[string]*localRoom // rooms with at least one local session
	// pending holds the reconnection windows of users who dropped, by room+user (window.go).
	pending map[roomUser]*window

	controlHandlers []ControlHandler
	extraEvents     map[string]EventHandler
	memberGone      []MemberGoneFunc
	// modeOverride lets the SFU fallback report a room's effective mode.
	modeOverride func(room, mode string) string

	draining    atomic.Bool
	busDownAt   atomic.Int64 // Unix nanos when the broker was last seen not ready (or the start)
	drainJitter atomic.Int64 // DrainOptions.Jitter, in nanoseconds
	routes      routeCache

	resync chan struct{} // non-blocking signal: re-write local presence
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	closeOnce sync.Once
}

type roomUser struct{ room, user string }

type localRoom struct {
	members map[string]*Session // userID → session
}

// New creates a hub; call Start before use.
func New(opts Options) *Hub {
	opts.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	return &Hub{
		opts:     opts,
		log:      opts.Logger.With("node", opts.NodeID),
		m:        opts.Metrics,
		sessions: map[string]*Session{},
		rooms:    map[string]*localRoom{},
		pending:  map[roomUser]*window{},
		resync:   make(chan struct{}, 1),
		routes:   routeCache{ttl: opts.RelayRouteTTL},
		ctx:      ctx,
		cancel:   cancel,
	}
}

// NodeID is this node's id.
func (h *Hub) NodeID() string { return h.opts.NodeID }

// Start connects the hub to the broker and starts its background loops.
func (h *Hub) Start(ctx context.Context) error {
	if err := h.opts.Broker.Start(ctx, h.opts.NodeID, h.onBrokerMessage); err != nil {
		return err
	}
	h.busDownAt.Store(time.Now().UnixNano())
	h.heartbeatNode(presence.NodeActive)
	h.wg.Add(2)
	go h.housekeeping()
	go h.watchBroker()
	return nil
}

// Ready reports whether the node can take new connections: cross-node delivery works.
func (h *Hub) Ready() error { return h.opts.Broker.Ready() }

// Close disconnects every session (no drain; see Drain), removes the node's presence and
// stops the loops. It is idempotent.
func (h *Hub) Close(ctx context.Context) {
	h.closeOnce.Do(func() {
		h.mu.RLock()
		sessions := make([]*Session, 0, len(h.sessions))
		for _, s := range h.sessions {
			sessions = append(sessions, s)
		}
		h.mu.RUnlock()
		// Only the memory side of each end: the node is going away, and the other nodes
		// clean up its presence once its key is gone (no Redis call per socket that could
		// hold the exit past the drain deadline).
		for _, s := range sessions {
			s.conn.Close("server shutdown")
			h.unregister(s, DisconnectServer)
		}
		h.cancel()
		h.wg.Wait()
		h.stopWindows()
		rctx, cancel := context.WithTimeout(ctx, h.opts.RedisTimeout)
		_ = h.opts.Nodes.Remove(rctx, h.opts.NodeID)
		cancel()
		_ = h.opts.Broker.Close()
	})
}

// Connect registers an authenticated session.
func (h *Hub) Connect(s *Session, conn Conn) {
	s.conn = conn
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
	h.m.Connections.Dec()

	room := s.Room()
	if room == "" {
		return nil
	}
	if why == DisconnectClient {
		return func() { h.leave(s, room, "left") }
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

func (h *Hub) announceLeft(room, user, reason string) {
	data, _ := json.Marshal(userLeft{RoomID: room, UserID: user, Reason: reason})
	h.broadcast(room, "user_left", data, "")
}

// broadcast delivers an event to the local members of room (except the user except)
// and publishes it for the other nodes.
func (h *Hub) broadcast(room, event string, data json.RawMessage, except string) {
	h.deliverRoom(room, protocol.EventFrame(event, data), event, except)
	ctx, cancel := context.WithTimeout(h.ctx, h.opts.RedisTimeout)
	defer cancel()
	err := h.opts.Broker.PublishRoom(ctx, room, broker.Message{
		Type: broker.TypeRoom, Room: room, Event: event, Data: data, Except: except,
		Origin: h.opts.NodeID, SentAt: time.Now().UnixNano(),
	})
	if err != nil {
		h.log.Warn("room publish failed; remote members miss this event", "room", room, "event", event, "err", err)
	}
}

// deliverRoom sends a ready frame to every local member of room except one user.
func (h *Hub) deliverRoom(room string, frame []byte, event, except string) {
	h.mu.RLock()
	lr := h.rooms[room]
	var targets []*Session
	if lr != nil {
		targets = make([]*Session, 0, len(lr.members))
		for uid, s := range lr.members {
			if uid != except {
				targets = append(targets, s)
			}
		}
	}
	h.mu.RUnlock()
	sent := 0
	for _, s := range targets {
		if s.conn.Send(frame) {
			sent++
		}
	}
	// One counter update per fan-out: a labelled lookup per delivery was measurable.
	if sent > 0 {
		h.m.EventsOut.WithLabelValues(event).Add(float64(sent))
	}
}

func (h *Hub) send(s *Session, frame []byte, event string) {
	if s.conn.Send(frame) {
		h.m.EventsOut.WithLabelValues(event).Inc()
	}
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

// addLocal puts s into room's local member set. It returns the local session of the
// same user it displaced (if any) and whether the room is new on this node.
func (h *Hub) addLocal(s *Session, room string) (displaced *Session, newRoom bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	lr := h.rooms[room]
	if lr == nil {
		lr = &localRoom{members: map[string]*Session{}}
		h.rooms[room] = lr
		newRoom = true
		h.m.Rooms.Inc()
	}
	if old := lr.members[s.User.UserID]; old != nil && old != s {
		displaced = old
	}
	lr.members[s.User.UserID] = s
	s.setRoom(room)
	return displaced, newRoom
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

// unsubscribeIfEmpty ends the broker subscription of a room that has no local member
// (one may have joined since the last one left: then the subscription stays).
func (h *Hub) unsubscribeIfEmpty(room string) {
	h.mu.RLock()
	inUse := h.rooms[room] != nil
	h.mu.RUnlock()
	if inUse {
		return
	}
	ctx, cancel := context.WithTimeout(h.ctx, h.opts.RedisTimeout)
	defer cancel()
	if err := h.opts.Broker.UnsubscribeRoom(ctx, room); err != nil {
		h.log.Warn("unsubscribe failed", "room", room, "err", err)
	}
}

// leave removes s from room on purpose and tells the others.
func (h *Hub) leave(s *Session, room, reason string) {
	if !h.removeLocal(s, room) {
		return
	}
	h.removeMember(room, s.User.UserID, s.ID, reason)
}

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
			if s.lastSeen.Load() < cutoff {
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
		if err := h.opts.Broker.SubscribeRoom(ctx, room); err != nil {
			h.log.Warn("resubscribe failed", "room", room, "err", err)
		}
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

func (h *Hub) member(s *Session) presence.Member {
	return presence.Member{UserID: s.User.UserID, Name: s.User.Name, NodeID: h.opts.NodeID, Session: s.ID, JoinedAt: s.joinedAt.Load()}
}

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
		h.deliverRoom(m.Room, protocol.EventFrame(m.Event, m.Data), m.Event, m.Except)
	case broker.TypeUser:
		if m.Event == "error" && m.From != "" {
			h.routes.forget(m.Room, m.From) // a relay to From bounced: look it up again
		}
		if s := h.localMember(m.Room, m.User); s != nil {
			h.send(s, protocol.EventFrame(m.Event, m.Data), m.Event)
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
		if s := h.localMember(m.Room, m.User); s != nil && s.ID == m.Session {
			h.replaced(s, m.Room)
		} else {
			h.windowHandedOver(m.Room, m.User, m.Session)
		}
	case broker.TypeControl:
		h.onControl(m)
	case broker.TypeResubscribed:
		h.requestResync()
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

// replaced removes a session whose user joined the same room from a newer session.
// The room sees no churn: presence already points at the new session.
func (h *Hub) replaced(s *Session, room string) {
	if h.removeLocal(s, room) {
		h.sendError(s, "join_room", vocab.Errorf(vocab.CodeReplaced, "you joined room %q from another connection", room))
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
