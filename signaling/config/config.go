// Package config defines the signaling node's flags. Every flag can also be set by an
// environment variable SIGNALING_<FLAG> (upper case, dashes as underscores), e.g.
// --redis-url / SIGNALING_REDIS_URL. A flag given on the command line wins.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Config is the node's configuration.
type Config struct {
	Listen        string
	MetricsListen string
	NodeID        string
	LogLevel      string
	Dev           bool
	DevUnsafe     bool
	Demo          bool

	JWTPublicKey   string
	JWKSURL        string
	JWKSRefresh    time.Duration
	JWTCookie      string
	JWTIssuer      string
	JWTAudience    string
	AllowedOrigins []string

	RequireRoomGrant bool
	TokenRefreshLead time.Duration
	TokenExpiryGrace time.Duration
	Revocation       bool

	RedisURL        string
	RedisMode       string
	RedisAddrs      []string
	RedisMasterName string
	RedisUsername   string
	RedisPassword   string
	RedisTLS        bool
	BusKeyFile      string

	RoomServiceURL     string
	RoomServiceTimeout time.Duration
	ChatServiceURL     string
	ChatServiceTimeout time.Duration
	MediaServiceURL    string
	MediaCreateTimeout time.Duration
	MediaCallTimeout   time.Duration
	DefaultRoomMode    string

	MediaBreakerThreshold      int
	MediaHealthInterval        time.Duration
	P2PFallbackMaxParticipants int

	MaxRoomSize     int
	MaxEventBytes   int
	MaxChatLength   int
	EventRate       float64
	EventBurst      int
	SendQueue       int
	ReconnectWindow time.Duration
	// RecoveryWindow: connection-state recovery keeps a dropped session recoverable on any
	// node this long (0 = off).
	RecoveryWindow time.Duration
	PresenceTTL    time.Duration
	PingInterval   time.Duration
	PingTimeout    time.Duration
	MaxPayload     int64

	ChatHistory       int
	ChatHistoryTTL    time.Duration
	ChatRate          float64
	ChatBurst         int
	ChatBufferRoom    int
	ChatBufferTotal   int
	ChatBatchSize     int
	ChatFlushInterval time.Duration
	ChatClaimIdle     time.Duration

	DrainTimeout           time.Duration
	DrainReconnectJitter   time.Duration
	DrainMaxReconnectShare float64

	MemoryLimitRatio float64

	// Byte budgets, rate limits and connection caps (docs/security.md).
	SendQueueBytes        int
	JoinHistoryBytes      int
	JoinRate              float64
	JoinBurst             int
	RelayRate             float64
	RelayBurst            int
	RelayTargetRate       float64
	RelayTargetBurst      int
	ChatHistoryRooms      int
	ConnectTimeout        time.Duration
	MaxConnections        int
	MaxConnectionsPerUser int
	MaxConnectionsPerIP   int
	TrustedProxies        []string
}

// EnvPrefix prefixes every flag's environment variable.
const EnvPrefix = "SIGNALING_"

// EnvName returns the environment variable of a flag.
func EnvName(flagName string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

type listFlag struct{ v *[]string }

func (l listFlag) String() string {
	if l.v == nil {
		return ""
	}
	return strings.Join(*l.v, ",")
}

func (l listFlag) Set(s string) error {
	*l.v = nil
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l.v = append(*l.v, p)
		}
	}
	return nil
}

// Parse reads flags from args and the environment. It returns flag.ErrHelp for --help
// after printing the usage to out.
func Parse(args []string, getenv func(string) string, out io.Writer) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("signaling", flag.ContinueOnError)
	fs.SetOutput(out)
	host, _ := os.Hostname()

	fs.StringVar(&c.Listen, "listen", defaultListen, "address for clients: Socket.IO (/socket.io/), /healthz, /readyz and, with --demo, /demo (with --dev: "+devListen+" unless given)")
	fs.StringVar(&c.MetricsListen, "metrics-listen", defaultMetricsListen, "address of the Prometheus /metrics listener, kept off the client port (with --dev: "+devMetricsListen+" unless given)")
	fs.StringVar(&c.NodeID, "node-id", host, "id of this node in the cluster (Kubernetes: the pod name); a random suffix is added at every start, so a restarted process is a new node to the cluster")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.BoolVar(&c.Dev, "dev", false, "development mode: text logs, a generated RSA key pair, printed dev tokens and /dev/token; loopback only, no Redis or backends (never in production)")
	fs.BoolVar(&c.DevUnsafe, "dev-unsafe", false, "let --dev listen on a non-loopback address or use Redis and backend services (anyone who reaches the node can mint tokens at /dev/token)")
	fs.BoolVar(&c.Demo, "demo", false, "serve the demo page at /demo (on by default with --dev)")

	fs.StringVar(&c.JWTPublicKey, "jwt-public-key", "", "path to the PEM RSA public key that verifies RS256 access tokens")
	fs.StringVar(&c.JWKSURL, "jwks-url", "", "optional JWKS URL (https:// outside --dev); keys are chosen by the token's kid, refreshed every --jwks-refresh and, at most every 30s, when a token names an unknown kid")
	fs.DurationVar(&c.JWKSRefresh, "jwks-refresh", 10*time.Minute, "how often the JWKS is fetched in the background; a failed fetch keeps the last good key set")
	fs.StringVar(&c.JWTCookie, "jwt-cookie", "access_token", "name of the cookie carrying the access token")
	fs.StringVar(&c.JWTIssuer, "jwt-issuer", "", "required iss claim (empty = not checked)")
	fs.StringVar(&c.JWTAudience, "jwt-audience", "", "required aud claim; required outside --dev (a token minted for another service must not open a socket here)")
	fs.Var(listFlag{&c.AllowedOrigins}, "allowed-origins", "comma-separated origins allowed to open WebSockets, e.g. https://app.example.com, or * for any; required outside --dev (cookie auth allows cross-site WebSocket hijacking otherwise). Empty (--dev only) = same origin only")

	fs.BoolVar(&c.RequireRoomGrant, "require-room-grant", false, "a join_room needs a grant: the token's rooms claim or the Room Service's members list must name the room or user (production: on; docs/security.md)")
	fs.DurationVar(&c.TokenRefreshLead, "token-refresh-lead", 60*time.Second, "the server sends token_expiring this long before the access token's exp, so the client can send refresh_token (0 = no notice)")
	fs.DurationVar(&c.TokenExpiryGrace, "token-expiry-grace", 0, "a socket whose token is past exp by this much without a refresh_token gets error token_expired and is disconnected")
	fs.BoolVar(&c.Revocation, "revocation", false, "refuse tokens whose jti has a Redis key revoked:{jti}, at CONNECT and refresh_token; tokens must carry jti (needs Redis; docs/security.md)")

	fs.StringVar(&c.RedisURL, "redis-url", "", "Redis URL (redis://, rediss://, redis-sentinel://); empty with no --redis-addrs = in-memory bus, single node")
	fs.StringVar(&c.RedisMode, "redis-mode", "standalone", "Redis deployment: standalone, sentinel or cluster")
	fs.Var(listFlag{&c.RedisAddrs}, "redis-addrs", "comma-separated Redis (or Sentinel) host:port addresses, instead of --redis-url")
	fs.StringVar(&c.RedisMasterName, "redis-master-name", "", "Sentinel master name (sentinel mode)")
	fs.StringVar(&c.RedisUsername, "redis-username", "", "Redis ACL user name")
	fs.StringVar(&c.RedisPassword, "redis-password", "", "Redis password (prefer the environment variable)")
	fs.BoolVar(&c.RedisTLS, "redis-tls", false, "connect to Redis over TLS")
	fs.StringVar(&c.BusKeyFile, "bus-key-file", "", "file with the shared key (32+ bytes, one per line: the first signs, all verify) that authenticates Redis bus messages with an HMAC; messages failing it are dropped (docs/redis.md)")

	fs.StringVar(&c.RoomServiceURL, "room-service-url", "", "Room Service base URL (empty = every room exists, in --default-room-mode)")
	fs.DurationVar(&c.RoomServiceTimeout, "room-service-timeout", 3*time.Second, "timeout of one Room Service call")
	fs.StringVar(&c.ChatServiceURL, "chat-service-url", "", "Chat Service base URL for message persistence (empty = history kept in memory only)")
	fs.DurationVar(&c.ChatServiceTimeout, "chat-service-timeout", 5*time.Second, "timeout of one Chat Service batch")
	fs.StringVar(&c.MediaServiceURL, "media-service-url", "", "Media Service (SFU) base URL (empty = sfu_* events answer media_unavailable)")
	fs.DurationVar(&c.MediaCreateTimeout, "media-create-timeout", 5*time.Second, "timeout of sfu_create_transport calls to the Media Service")
	fs.DurationVar(&c.MediaCallTimeout, "media-call-timeout", 3*time.Second, "timeout of other Media Service calls")
	fs.StringVar(&c.DefaultRoomMode, "default-room-mode", "p2p", "room mode when no Room Service is configured: p2p or sfu")
	fs.IntVar(&c.MediaBreakerThreshold, "media-breaker-threshold", 5, "consecutive Media Service failures (5xx, refused, timeout) that open the circuit breaker")
	fs.DurationVar(&c.MediaHealthInterval, "media-health-interval", 2*time.Second, "how often an open media circuit breaker polls the Media Service's GET /health")
	fs.IntVar(&c.P2PFallbackMaxParticipants, "p2p-fallback-max-participants", 3, "while the Media Service is unavailable, sfu rooms with at most this many participants switch to P2P (0 = never)")

	fs.IntVar(&c.MaxRoomSize, "max-room-size", 0, "most participants in one room (0 = only the Room Service's maxParticipants applies)")
	fs.IntVar(&c.MaxEventBytes, "max-event-bytes", 64<<10, "largest event payload; larger ones get payload_too_large")
	fs.IntVar(&c.MaxChatLength, "max-chat-length", 4000, "longest chat message in characters")
	fs.Float64Var(&c.EventRate, "event-rate", 100, "events per second one socket may send (token bucket); excess gets rate_limited")
	fs.IntVar(&c.EventBurst, "event-burst", 200, "burst size of the per-socket event rate limit")
	fs.IntVar(&c.SendQueue, "send-queue", 256, "frames queued per socket; a socket whose queue overflows is disconnected as a slow consumer")
	fs.DurationVar(&c.ReconnectWindow, "reconnect-window", 5*time.Second, "how long a dropped user keeps their place in the room")
	fs.DurationVar(&c.RecoveryWindow, "recovery-window", 2*time.Minute, "connection-state recovery: a dropped socket.io-client that reconnects within this time, to any node, gets its session back (same room, no join, every missed event once, in order); its place in the room is kept this long (0 = off: fresh sessions, places kept for --reconnect-window)")
	fs.DurationVar(&c.PresenceTTL, "presence-ttl", 30*time.Second, "a member that sends nothing (heartbeat or event) for this long leaves with reason timeout")
	fs.DurationVar(&c.PingInterval, "ping-interval", 25*time.Second, "Engine.IO ping interval")
	fs.DurationVar(&c.PingTimeout, "ping-timeout", 20*time.Second, "Engine.IO pong deadline; a client that misses it is disconnected")
	fs.Int64Var(&c.MaxPayload, "max-payload", 1_000_000, "largest WebSocket frame in bytes; a larger frame closes the connection")

	fs.IntVar(&c.ChatHistory, "chat-history", 50, "chat messages per room kept for, and sent in, the join_room ack (including ones already saved by the Chat Service)")
	fs.DurationVar(&c.ChatHistoryTTL, "chat-history-ttl", 24*time.Hour, "a room's chat history (in Redis, or in memory without Redis) expires after this long without messages")
	fs.Float64Var(&c.ChatRate, "chat-rate", 10, "chat messages per second one user may send (token bucket); excess gets rate_limited")
	fs.IntVar(&c.ChatBurst, "chat-burst", 20, "burst size of the per-user chat rate limit")
	fs.IntVar(&c.ChatBufferRoom, "chat-buffer-room", 10000, "unsaved chat messages one room may hold while the Chat Service is slow or down; beyond it senders get rate_limited")
	fs.IntVar(&c.ChatBufferTotal, "chat-buffer-total", 100000, "unsaved chat messages in total (all rooms; cluster-wide with Redis, approximately); beyond it senders get rate_limited")
	fs.IntVar(&c.ChatBatchSize, "chat-batch-size", 500, "chat messages per POST to the Chat Service")
	fs.DurationVar(&c.ChatFlushInterval, "chat-flush-interval", 100*time.Millisecond, "how often buffered chat messages are sent to the Chat Service (back to back while there is a backlog)")
	fs.DurationVar(&c.ChatClaimIdle, "chat-claim-idle", 0, "with Redis, chat messages another node has held unsaved this long are taken over (a dead node); 0 = 2x(--chat-service-timeout + 5s)")

	fs.DurationVar(&c.DrainTimeout, "drain-timeout", 30*time.Second, "on SIGTERM, time to move clients off this node before exiting")
	fs.DurationVar(&c.DrainReconnectJitter, "drain-reconnect-jitter", 5*time.Second, "upper bound of the random delay clients are told to wait before reconnecting during a drain")
	fs.Float64Var(&c.DrainMaxReconnectShare, "drain-max-reconnect-share", 0.1, "during a drain, at most this share of the node's sockets is closed (and reconnects elsewhere) per second")

	fs.IntVar(&c.SendQueueBytes, "send-queue-bytes", 4<<20, "bytes queued per socket; a socket whose queue holds more is disconnected as a slow consumer (on top of --send-queue frames)")
	fs.IntVar(&c.JoinHistoryBytes, "join-history-bytes", 64<<10, "most bytes of chat history in one join_room ack (the newest messages are kept)")
	fs.Float64Var(&c.JoinRate, "join-rate", 2, "join_room events per second one user may send on this node (token bucket, all the user's sockets); excess gets rate_limited")
	fs.IntVar(&c.JoinBurst, "join-burst", 10, "burst size of the per-user join_room rate limit")
	fs.Float64Var(&c.RelayRate, "relay-rate", 50, "webrtc_* relays per second one user may send on this node (token bucket, all targets); excess gets rate_limited")
	fs.IntVar(&c.RelayBurst, "relay-burst", 200, "burst size of the per-user relay rate limit")
	fs.Float64Var(&c.RelayTargetRate, "relay-target-rate", 20, "webrtc_* relays per second from one user to one target user (token bucket); excess gets rate_limited")
	fs.IntVar(&c.RelayTargetBurst, "relay-target-burst", 50, "burst size of the per-sender-and-target relay rate limit; keep it well below --send-queue")
	fs.IntVar(&c.ChatHistoryRooms, "chat-history-rooms", 10000, "without Redis, rooms whose chat history is kept in memory; the least recently active room's history goes first (idle rooms also expire after --chat-history-ttl)")
	fs.DurationVar(&c.ConnectTimeout, "connect-timeout", 10*time.Second, "a socket must authenticate (Socket.IO CONNECT) this long after the upgrade at the latest; pongs do not extend it")
	fs.IntVar(&c.MaxConnections, "max-connections", 0, "most WebSocket connections on this node; further upgrades get HTTP 503 (readiness is unaffected; 0 = unlimited)")
	fs.IntVar(&c.MaxConnectionsPerUser, "max-connections-per-user", 0, "most authenticated sockets of one user on this node; further CONNECTs get a connect_error (0 = unlimited)")
	fs.IntVar(&c.MaxConnectionsPerIP, "max-connections-per-ip", 0, "most WebSocket connections from one client IP on this node; further upgrades get HTTP 429 (0 = unlimited; see --trusted-proxies)")
	fs.Var(listFlag{&c.TrustedProxies}, "trusted-proxies", "comma-separated CIDRs of proxies (load balancers) whose X-Forwarded-For names the client IP for --max-connections-per-ip; other peers' headers are ignored")

	fs.Float64Var(&c.MemoryLimitRatio, "memory-limit-ratio", 0.9, "in a container with a memory limit (cgroup) and without GOMEMLIMIT, the Go runtime's soft memory limit is this share of it, so the GC works harder before the kernel kills the node (0 = leave the runtime alone)")

	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: signaling [flags]\n\nSwitchboard signaling node: Socket.IO v5 over WebSocket for WebRTC rooms.\nEvery flag can also be set as an environment variable SIGNALING_<FLAG>, e.g. --redis-url as SIGNALING_REDIS_URL.\n\nFlags:\n")
		fs.VisitAll(func(f *flag.Flag) {
			def := ""
			if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "0s" {
				def = fmt.Sprintf(" (default %s)", f.DefValue)
			}
			fmt.Fprintf(out, "  --%s  [%s]\n      %s%s\n", f.Name, EnvName(f.Name), f.Usage, def)
		})
	}

	// Environment first, so command-line flags override it.
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if v := getenv(EnvName(f.Name)); v != "" {
			if err := f.Value.Set(v); err != nil && envErr == nil {
				envErr = fmt.Errorf("%s=%q: %v", EnvName(f.Name), v, err)
			}
		}
	})
	if envErr != nil {
		return c, envErr
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	given := func(name string) bool { return getenv(EnvName(name)) != "" || flagGiven(fs, name) }
	if c.Dev && !given("demo") {
		c.Demo = true
	}
	// A dev node mints tokens for anyone who asks: unless told otherwise it listens on
	// loopback only.
	if c.Dev && !given("listen") {
		c.Listen = devListen
	}
	if c.Dev && !given("metrics-listen") {
		c.MetricsListen = devMetricsListen
	}
	return c, c.Validate()
}

const (
	defaultListen        = ":8080"
	devListen            = "127.0.0.1:8080"
	defaultMetricsListen = ":9090"
	devMetricsListen     = "127.0.0.1:9090"
)

func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == name {
			given = true
		}
	})
	return given
}

// Validate reports configuration mistakes with the flag to fix.
func (c Config) Validate() error {
	var errs []error
	if c.MetricsListen == "" {
		errs = append(errs, errors.New("--metrics-listen must not be empty"))
	}
	if c.NodeID == "" {
		errs = append(errs, errors.New("--node-id must not be empty"))
	}
	if strings.ContainsAny(c.NodeID, "{}") {
		errs = append(errs, errors.New("--node-id must not contain braces"))
	}
	if !c.Dev && c.JWTPublicKey == "" && c.JWKSURL == "" {
		errs = append(errs, errors.New("--jwt-public-key or --jwks-url is required (or use --dev for a generated key pair)"))
	}
	errs = append(errs, c.failClosed()...)
	switch c.RedisMode {
	case "standalone", "sentinel", "cluster":
	default:
		errs = append(errs, fmt.Errorf("--redis-mode must be standalone, sentinel or cluster, not %q", c.RedisMode))
	}
	if c.BusKeyFile != "" && !c.UsesRedis() {
		errs = append(errs, errors.New("--bus-key-file needs a Redis bus (--redis-url or --redis-addrs)"))
	}
	if c.RedisMode == "sentinel" && c.RedisMasterName == "" && len(c.RedisAddrs) > 0 {
		errs = append(errs, errors.New("--redis-mode=sentinel needs --redis-master-name"))
	}
	switch c.DefaultRoomMode {
	case "p2p", "sfu":
	default:
		errs = append(errs, fmt.Errorf("--default-room-mode must be p2p or sfu, not %q", c.DefaultRoomMode))
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("--log-level must be debug, info, warn or error, not %q", c.LogLevel))
	}
	pos := func(name string, d time.Duration) {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("--%s must be positive", name))
		}
	}
	pos("jwks-refresh", c.JWKSRefresh)
	pos("reconnect-window", c.ReconnectWindow)
	pos("presence-ttl", c.PresenceTTL)
	pos("ping-interval", c.PingInterval)
	pos("ping-timeout", c.PingTimeout)
	pos("drain-timeout", c.DrainTimeout)
	if c.DrainMaxReconnectShare <= 0 || c.DrainMaxReconnectShare > 1 {
		errs = append(errs, errors.New("--drain-max-reconnect-share must be in (0, 1]"))
	}
	if c.MemoryLimitRatio < 0 || c.MemoryLimitRatio > 1 {
		errs = append(errs, errors.New("--memory-limit-ratio must be in [0, 1]"))
	}
	if c.ChatHistory <= 0 || c.ChatBurst <= 0 || c.ChatRate <= 0 {
		errs = append(errs, errors.New("--chat-history, --chat-rate and --chat-burst must be positive"))
	}
	if c.ChatBufferRoom <= 0 || c.ChatBufferTotal < c.ChatBufferRoom {
		errs = append(errs, errors.New("--chat-buffer-room must be positive and at most --chat-buffer-total"))
	}
	if c.ChatBatchSize <= 0 || c.ChatBatchSize > 5000 {
		errs = append(errs, errors.New("--chat-batch-size must be between 1 and 5000"))
	}
	pos("chat-flush-interval", c.ChatFlushInterval)
	pos("chat-history-ttl", c.ChatHistoryTTL)
	if c.ChatClaimIdle < 0 {
		errs = append(errs, errors.New("--chat-claim-idle must not be negative"))
	}
	if c.RecoveryWindow < 0 {
		errs = append(errs, errors.New("--recovery-window must not be negative (0 turns recovery off)"))
	}
	if c.TokenRefreshLead < 0 || c.TokenExpiryGrace < 0 {
		errs = append(errs, errors.New("--token-refresh-lead and --token-expiry-grace must not be negative"))
	}
	if c.Revocation && !c.UsesRedis() {
		errs = append(errs, errors.New("--revocation needs Redis (--redis-url or --redis-addrs): the revocation list is kept there"))
	}
	if c.MaxRoomSize < 0 {
		errs = append(errs, errors.New("--max-room-size must not be negative"))
	}
	if c.MaxEventBytes <= 0 || int64(c.MaxEventBytes) > c.MaxPayload {
		errs = append(errs, errors.New("--max-event-bytes must be positive and at most --max-payload"))
	}
	if c.MediaBreakerThreshold <= 0 {
		errs = append(errs, errors.New("--media-breaker-threshold must be positive"))
	}
	pos("media-health-interval", c.MediaHealthInterval)
	pos("media-create-timeout", c.MediaCreateTimeout)
	pos("media-call-timeout", c.MediaCallTimeout)
	if c.P2PFallbackMaxParticipants < 0 {
		errs = append(errs, errors.New("--p2p-fallback-max-participants must not be negative"))
	}
	if c.SendQueue <= 0 {
		errs = append(errs, errors.New("--send-queue must be positive"))
	}
	errs = append(errs, c.validateBudgets()...)
	return errors.Join(errs...)
}

// UsesRedis reports whether the node runs with a Redis bus.
func (c Config) UsesRedis() bool { return c.RedisURL != "" || len(c.RedisAddrs) > 0 }

// Defaults is the configuration of a node started without flags or environment (it does not
// validate: a key source is still required to run one).
func Defaults() Config {
	c, _ := Parse(nil, func(string) string { return "" }, io.Discard)
	return c
}
