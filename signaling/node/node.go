// Package node assembles one signaling node from its configuration: metrics, the Redis
// clients, broker and presence (or the in-memory bus), the chat buffer, the room
// directory, the hub, the SFU proxy and the HTTP server. cmd/signaling adds flags,
// signals and the listener; the end-to-end tests (internal/testutil/nodetest) call the
// same New, so they exercise the production wiring.
package node

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/switchboard-rtc/switchboard/signaling/auth"
	"github.com/switchboard-rtc/switchboard/signaling/broker"
	"github.com/switchboard-rtc/switchboard/signaling/chat"
	"github.com/switchboard-rtc/switchboard/signaling/config"
	"github.com/switchboard-rtc/switchboard/signaling/hub"
	"github.com/switchboard-rtc/switchboard/signaling/metrics"
	"github.com/switchboard-rtc/switchboard/signaling/presence"
	"github.com/switchboard-rtc/switchboard/signaling/recovery"
	"github.com/switchboard-rtc/switchboard/signaling/redisconn"
	"github.com/switchboard-rtc/switchboard/signaling/rooms"
	"github.com/switchboard-rtc/switchboard/signaling/server"
	"github.com/switchboard-rtc/switchboard/signaling/sfu"
	"github.com/switchboard-rtc/switchboard/signaling/vocab"
)

// Options build a Node. Config is the node's configuration (config.Parse); the other fields
// are for tests and embedders.
type Options struct {
	Config   config.Config
	Verifier *auth.Verifier // required: checks the tokens of connecting clients
	Logger   *slog.Logger   // default: discard

	// Hub and Server override what Config gives: every non-zero field replaces the derived
	// one (tests shorten timings, or bring their own chat log or room directory).
	Hub    hub.Options
	Server server.Options
	// SFU, when set, replaces the SFU options derived from Config; its Rooms, Redis, Metrics
	// and Logger are filled in when nil.
	SFU *sfu.Options
	// Broker overrides the Redis broker's watchdog timings (zero = its defaults).
	Broker broker.RedisOptions
}

// Node is one assembled signaling node. Serve Handler; on SIGTERM call Drain, then Close.
type Node struct {
	Config  config.Config
	Metrics *metrics.Metrics
	Hub     *hub.Hub
	Server  *server.Server
	SFU     *sfu.Service

	log       *slog.Logger
	redis     redis.UniversalClient // presence, pub/sub, room cache, SFU state; nil in memory
	chatRedis redis.UniversalClient // the chat buffer's own pool; nil in memory
	chat      *chat.Log             // nil when Options.Hub.Chat replaced it
	closeOnce sync.Once
}

// New builds the node and starts its hub (and with it the Redis subscription, heartbeats
// and the SFU health loop). A node starts even when Redis is down: it runs degraded and
// reports not ready until Redis answers.
func New(ctx context.Context, opts Options) (*Node, error) {
	cfg := opts.Config
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.Verifier == nil {
		return nil, fmt.Errorf("node: a token verifier is required")
	}
	n := &Node{Config: cfg, Metrics: metrics.New(), log: log}
	if cfg.Dev {
		n.Metrics.DevMode.Set(1)
	}
	ok := false
	defer func() {
		if !ok {
			n.closeClients()
		}
	}()

	ho := hub.Options{
		NodeID:          cfg.NodeID,
		Metrics:         n.Metrics,
		Logger:          log,
		MaxRoomSize:     cfg.MaxRoomSize,
		ReconnectWindow: cfg.ReconnectWindow,
		RecoveryWindow:  cfg.RecoveryWindow,
		PresenceTTL:     cfg.PresenceTTL,
		MaxEventBytes:   cfg.MaxEventBytes,
		MaxChatLength:   cfg.MaxChatLength,
		ChatHistory:     cfg.ChatHistory,
		EventRate:       cfg.EventRate,
		EventBurst:      cfg.EventBurst,

		RequireRoomGrant: cfg.RequireRoomGrant,
		TokenRefreshLead: cfg.TokenRefreshLead,
		TokenExpiryGrace: cfg.TokenExpiryGrace,
		JoinHistoryBytes: cfg.JoinHistoryBytes,
		JoinRate:         cfg.JoinRate,
		JoinBurst:        cfg.JoinBurst,
		RelayRate:        cfg.RelayRate,
		RelayBurst:       cfg.RelayBurst,
		RelayTargetRate:  cfg.RelayTargetRate,
		RelayTargetBurst: cfg.RelayTargetBurst,
	}
	if err := n.connectBus(ctx, &ho, opts.Broker); err != nil {
		return nil, err
	}
	var revocations auth.RevocationList
	if cfg.Revocation && n.redis != nil {
		revocations = auth.RedisRevocations{Client: n.redis}
	}
	ho.Tokens = auth.Checker{Verifier: opts.Verifier, Revocations: revocations}
	if opts.Hub.Chat == nil {
		if err := n.newChat(&ho); err != nil {
			return nil, err
		}
	}
	if opts.Hub.Rooms == nil {
		ho.Rooms = n.roomDirectory()
	}
	overlay(&ho, opts.Hub)
	n.Hub = hub.New(ho)

	n.SFU = sfu.New(n.sfuOptions(opts.SFU, ho.Rooms))
	n.SFU.Register(ctx, n.Hub)
	if cfg.MediaServiceURL == "" && opts.SFU == nil {
		log.Info("no Media Service configured: sfu_* events answer media_unavailable")
	}
	if err := n.Hub.Start(ctx); err != nil {
		n.SFU.Close()
		return nil, fmt.Errorf("start hub: %w", err)
	}

	so := server.Options{
		Hub: n.Hub, Verifier: opts.Verifier, Revocations: revocations, Metrics: n.Metrics, Logger: log,
		CookieName: cfg.JWTCookie, AllowedOrigins: cfg.AllowedOrigins,
		PingInterval: cfg.PingInterval, PingTimeout: cfg.PingTimeout, MaxPayload: cfg.MaxPayload,
		SendQueue: cfg.SendQueue, SendQueueBytes: cfg.SendQueueBytes, ConnectTimeout: cfg.ConnectTimeout,
		MaxConnections: cfg.MaxConnections, MaxConnectionsPerIP: cfg.MaxConnectionsPerIP,
		MaxConnectionsPerUser: cfg.MaxConnectionsPerUser,
	}
	// Validated by config.Parse; a hand-built Config with a bad entry trusts no proxy.
	so.TrustedProxies, _ = config.ParseCIDRs(cfg.TrustedProxies)
	overlay(&so, opts.Server)
	n.Server = server.New(so)
	ok = true
	return n, nil
}

// Handler serves the client port: Socket.IO, /healthz and /readyz; add routes on
// Server.Mux().
func (n *Node) Handler() http.Handler { return n.Server }

// MetricsHandler serves /metrics, for the --metrics-listen listener.
func (n *Node) MetricsHandler() http.Handler { return server.MetricsHandler(n.Metrics) }

// Drain is the SIGTERM sequence's middle (docs/operations.md §Draining): /readyz fails and
// new upgrades are refused, the node is marked draining, and its sockets are closed on a
// spread-out schedule while every user keeps their place for the reconnection window.
// It returns when the windows are handed over or ctx ends.
func (n *Node) Drain(ctx context.Context, spread time.Duration) hub.DrainResult {
	cfg := n.Config
	n.Server.SetDraining(cfg.DrainReconnectJitter + time.Second)
	return n.Hub.Drain(ctx, hub.DrainOptions{
		MaxShare: cfg.DrainMaxReconnectShare,
		Spread:   spread,
		Jitter:   cfg.DrainReconnectJitter,
		// Without Redis no other node can take the users over: holding their places would
		// only delay the exit.
		Alone: !cfg.UsesRedis(),
	})
}

// Close stops the node: the chat buffer delivers what it holds until ctx ends (the rest
// stays in Redis for the other nodes), the hub removes this node's presence, the
// remaining sockets close, the SFU health loop stops and the Redis clients close.
func (n *Node) Close(ctx context.Context) {
	n.closeOnce.Do(func() {
		// The chat flusher and the hub's clean-up use separate Redis connections and do not
		// depend on each other: side by side, their timeouts do not add up in an outage.
		var wg sync.WaitGroup
		if n.chat != nil {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_ = n.chat.Close(ctx)
			}()
		}
		n.Hub.Close(ctx)
		n.Server.CloseBridges()
		wg.Wait()
		_ = n.Server.Wait(ctx)
		n.SFU.Close()
		n.closeClients()
	})
}

// CutRedis closes the node's Redis connections without any clean-up, as a crash looks to
// the rest of the cluster (tests of crash recovery use it).
func (n *Node) CutRedis() { n.closeClients() }

func (n *Node) closeClients() {
	for _, c := range []redis.UniversalClient{n.redis, n.chatRedis} {
		if c != nil {
			_ = c.Close()
		}
	}
}

// connectBus puts the hub on Redis (broker and presence) or, without Redis, on the
// in-memory bus of a node that runs alone.
func (n *Node) connectBus(ctx context.Context, ho *hub.Options, bo broker.RedisOptions) error {
	cfg := n.Config
	if !cfg.UsesRedis() {
		n.log.Info("no Redis configured: in-memory bus, this node runs alone")
		mem := presence.NewMemory()
		ho.Broker, ho.Presence, ho.Nodes = broker.NewMemory(nil), mem, mem
		return nil
	}
	client, err := redisconn.New(redisOptions(cfg, ""))
	if err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	n.redis = client
	pingCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := client.Ping(pingCtx).Err(); err != nil {
		n.log.Warn("Redis is not reachable yet; starting degraded (local users only, not ready)", "err", err)
	}
	if cfg.BusKeyFile != "" && bo.BusKey == nil {
		if bo.BusKey, err = broker.LoadBusKey(cfg.BusKeyFile); err != nil {
			return err
		}
	}
	store := presence.NewRedis(client, presence.RedisOptions{Metrics: n.Metrics.Redis})
	bo.NodeID, bo.Metrics, bo.Logger = cfg.NodeID, n.Metrics.Redis, n.log
	ho.Broker, ho.Presence, ho.Nodes = broker.NewRedis(client, bo), store, store
	ho.Recovery = recovery.NewRedis(client, 0)
	return nil
}

// newChat builds the chat buffer and flusher (docs/chat.md): in Redis Streams when the
// node has Redis, in memory otherwise. It has its own Redis connection pool so chat
// traffic never queues behind (or in front of) presence and pub/sub.
func (n *Node) newChat(ho *hub.Options) error {
	cfg := n.Config
	opts := chat.Options{
		NodeID:         cfg.NodeID,
		ServiceURL:     cfg.ChatServiceURL,
		ServiceTimeout: cfg.ChatServiceTimeout,
		History:        cfg.ChatHistory,
		HistoryTTL:     cfg.ChatHistoryTTL,
		HistoryRooms:   cfg.ChatHistoryRooms,
		MaxRoomBuffer:  cfg.ChatBufferRoom,
		MaxTotalBuffer: cfg.ChatBufferTotal,
		Rate:           cfg.ChatRate,
		Burst:          cfg.ChatBurst,
		BatchSize:      cfg.ChatBatchSize,
		FlushInterval:  cfg.ChatFlushInterval,
		ClaimIdle:      cfg.ChatClaimIdle,
		Metrics:        n.Metrics.Chat,
		Logger:         n.log,
	}
	if cfg.ChatServiceURL == "" {
		n.log.Info("no --chat-service-url: chat history only, messages are not persisted")
	}
	if !cfg.UsesRedis() {
		n.chat = chat.NewMemory(opts)
		ho.Chat = n.chat
		return nil
	}
	client, err := redisconn.New(redisOptions(cfg, "chat"))
	if err != nil {
		return fmt.Errorf("redis (chat): %w", err)
	}
	n.chatRedis = client
	n.chat = chat.NewRedis(client, opts)
	ho.Chat = n.chat
	return nil
}

// roomDirectory is the Room Service behind its cache (in Redis when the node has Redis),
// or every room in --default-room-mode without a Room Service.
func (n *Node) roomDirectory() vocab.RoomDirectory {
	cfg := n.Config
	if cfg.RoomServiceURL == "" {
		return vocab.StaticRooms{Mode: cfg.DefaultRoomMode}
	}
	return rooms.New(rooms.Options{
		ServiceURL: cfg.RoomServiceURL, Timeout: cfg.RoomServiceTimeout,
		Redis: n.redis, Metrics: n.Metrics.SFU, Logger: n.log,
	})
}

func (n *Node) sfuOptions(override *sfu.Options, dir vocab.RoomDirectory) sfu.Options {
	cfg := n.Config
	o := sfu.Options{
		MediaURL:                cfg.MediaServiceURL,
		CreateTimeout:           cfg.MediaCreateTimeout,
		CallTimeout:             cfg.MediaCallTimeout,
		BreakerThreshold:        cfg.MediaBreakerThreshold,
		HealthInterval:          cfg.MediaHealthInterval,
		FallbackMaxParticipants: cfg.P2PFallbackMaxParticipants,
		DisableFallback:         cfg.P2PFallbackMaxParticipants == 0,
	}
	if override != nil {
		o = *override
	}
	if o.Rooms == nil {
		o.Rooms = dir
	}
	if o.Redis == nil {
		o.Redis = n.redis
	}
	if o.Metrics == nil {
		o.Metrics = n.Metrics.SFU
	}
	if o.Logger == nil {
		o.Logger = n.log
	}
	return o
}

// redisOptions turns the --redis-* flags into client options; purpose ("", "chat") names
// the connection pool in CLIENT LIST.
func redisOptions(cfg config.Config, purpose string) redisconn.Options {
	name := "switchboard-" + cfg.NodeID
	if purpose != "" {
		name += "-" + purpose
	}
	o := redisconn.Options{
		URL: cfg.RedisURL, Addrs: cfg.RedisAddrs, MasterName: cfg.RedisMasterName,
		Username: cfg.RedisUsername, Password: cfg.RedisPassword, TLS: cfg.RedisTLS,
		ClientName: name,
	}
	if cfg.RedisURL == "" {
		// With a URL the scheme names the mode; --redis-mode applies to --redis-addrs.
		o.Mode = redisconn.Mode(cfg.RedisMode)
	}
	return o
}
