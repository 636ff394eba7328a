// Package hub is the heart of a signaling node: it holds the node's sessions and local
// room membership, handles client events, and moves events to and from other nodes
// through the broker. The transport (WebSocket, Socket.IO framing) lives in package
// server; cluster-wide membership lives in package presence.
package hub

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-rtc/switchboard/signaling/broker"
	"github.com/switchboard-rtc/switchboard/signaling/metrics"
	"github.com/switchboard-rtc/switchboard/signaling/presence"
	"github.com/switchboard-rtc/switchboard/signaling/recovery"
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
	// JoinHistoryBytes caps the encoded chat history in one join_room ack (newest kept).
	JoinHistoryBytes int
	EventRate        float64 // events per second per socket
	EventBurst       int
	// Per-user limits (all the user's sockets on this node): join_room, relays, and relays
	// from one user to one target. A negative rate disables one.
	JoinRate         float64
	JoinBurst        int
	RelayRate        float64
	RelayBurst       int
	RelayTargetRate  float64
	RelayTargetBurst int
	NodeHeartbeat    time.Duration // node liveness refresh period (TTL is 3×)
	RedisTimeout     time.Duration // bound for one presence/broker call
	// RequireRoomGrant: a join needs a grant from the token's `rooms` claim or the Room
	// Service's member list (docs/security.md §Room grants).
	RequireRoomGrant bool
	// TokenRefreshLead: token_expiring goes out this long before the token's exp (0: no
	// notice). TokenExpiryGrace: the session ends this long after exp without a refresh.
	TokenRefreshLead time.Duration
	TokenExpiryGrace time.Duration
	// Tokens checks refresh_token tokens as CONNECT does; nil answers refresh_token with
	// internal.
	Tokens TokenChecker
	// RelayRouteTTL is how long the node holding a relay target is remembered
	// (see routeCache); negative disables the cache.
	RelayRouteTTL time.Duration
	// RecoveryWindow is how long a dropped session can be recovered on any node
	// (connection-state recovery; 0 turns it off). A recoverable session keeps its place in
	// its room for the longer of this and ReconnectWindow.
	RecoveryWindow time.Duration
	// RecoveryBuffer bounds the recoverable frames kept for a dropped session (its last ones
	// before the drop, then those missed while away); a client that missed more gets a
	// fresh session. A connected session keeps at most 64 of them (recentFrames).
	RecoveryBuffer int
	// Recovery is the log of parked sessions; nil with RecoveryWindow > 0 is the in-memory
	// log (one node).
	Recovery recovery.Log
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
	if o.RecoveryBuffer <= 0 {
		o.RecoveryBuffer = recovery.DefaultMax
	}
	if o.Recovery == nil {
		o.Recovery = recovery.NewMemory(o.RecoveryBuffer)
	}
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
	if o.JoinHistoryBytes <= 0 {
		o.JoinHistoryBytes = 64 << 10
	}
	defRate := func(r *float64, b *int, rate float64, burst int) {
		if *r == 0 {
			*r = rate
		}
		if *b <= 0 {
			*b = burst
		}
	}
	defRate(&o.JoinRate, &o.JoinBurst, 2, 10)
	defRate(&o.RelayRate, &o.RelayBurst, 50, 200)
	defRate(&o.RelayTargetRate, &o.RelayTargetBurst, 20, 50)
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
	// roomLocks orders each room's subscribe and unsubscribe calls (subscription.go).
	roomLocks *roomLocks

	controlHandlers []ControlHandler
	// transportHandler receives Engine.IO session traffic relayed by other nodes
	// (OnTransport); guarded by mu.
	transportHandler TransportHandler
	extraEvents      map[string]EventHandler
	memberGone       []MemberGoneFunc
	// modeOverride lets the SFU fallback report a room's effective mode.
	modeOverride func(room, mode string) string
	// joinExtra adds a feature's fields to join acks (the SFU proxy's producers).
	joinExtra JoinExtraFunc

	draining    atomic.Bool
	busDownAt   atomic.Int64 // Unix nanos when the broker was last seen not ready (or the start)
	drainJitter atomic.Int64 // DrainOptions.Jitter, in nanoseconds
	// keepRecent is how many recently sent recoverable frames each connected session
	// keeps (0 with recovery off).
	keepRecent int
	routes     routeCache
	limits     rateLimits
	// Connection-state recovery (parking.go): the log, and the offsets this node gives.
	recovery     recovery.Log
	offsetPrefix string
	offsetSeq    atomic.Uint64
	closing      atomic.Bool    // Close has begun: dropped sessions are not parked
	parkings     sync.WaitGroup // running recorders
	// handovers: recoveries waiting for the old node to finish passing frames on, by pid
	// (parking.go); guarded by mu.
	handovers map[string]chan struct{}

	resync chan struct{} // non-blocking signal: re-write local presence
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	closeOnce sync.Once
}

type roomUser struct{ room, user string }

// recentFrames bounds the recoverable frames a connected session keeps in case its
// connection drops: enough for the frames in flight to a socket that just died (queued,
// in kernel buffers), small enough that a busy node does not hold megabytes of old frames
// (each one a pointer the garbage collector follows).
const recentFrames = 64

func keepRecent(o Options) int {
	if o.RecoveryWindow <= 0 {
		return 0
	}
	return min(o.RecoveryBuffer, recentFrames)
}

type localRoom struct {
	members map[string]*Session // userID → session
	// subscribed is closed once the room's first local join has its broker subscription
	// (or gave up on it); later joiners wait for it before they read the chat history.
	subscribed chan struct{}
}

// New creates a hub; call Start before use.
func New(opts Options) *Hub {
	opts.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	return &Hub{
		opts:         opts,
		log:          opts.Logger.With("node", opts.NodeID),
		m:            opts.Metrics,
		sessions:     map[string]*Session{},
		rooms:        map[string]*localRoom{},
		pending:      map[roomUser]*window{},
		roomLocks:    newRoomLocks(),
		resync:       make(chan struct{}, 1),
		routes:       routeCache{ttl: opts.RelayRouteTTL},
		limits:       newRateLimits(opts),
		recovery:     opts.Recovery,
		keepRecent:   keepRecent(opts),
		offsetPrefix: newOffsetPrefix(),
		handovers:    map[string]chan struct{}{},
		ctx:          ctx,
		cancel:       cancel,
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
		h.closing.Store(true)
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
