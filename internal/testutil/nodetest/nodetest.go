// Package nodetest starts real signaling nodes (hub + HTTP server on a loopback port)
// for tests, and connects clients to them.
package nodetest

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/switchboard-rtc/switchboard/signaling/auth"
	"github.com/switchboard-rtc/switchboard/signaling/broker"
	"github.com/switchboard-rtc/switchboard/signaling/hub"
	"github.com/switchboard-rtc/switchboard/signaling/metrics"
	"github.com/switchboard-rtc/switchboard/signaling/presence"
	"github.com/switchboard-rtc/switchboard/signaling/redisconn"
	"github.com/switchboard-rtc/switchboard/signaling/server"
	"github.com/switchboard-rtc/switchboard/signaling/sioclient"
)

var (
	keysOnce sync.Once
	keys     *auth.DevKeys
)

// Keys is the RSA key pair every test node trusts.
func Keys() *auth.DevKeys {
	keysOnce.Do(func() {
		var err error
		if keys, err = auth.NewDevKeys(); err != nil {
			panic(err)
		}
	})
	return keys
}

// Token signs a one-hour token for user (name = user when empty).
func Token(t testing.TB, user string) string {
	t.Helper()
	tok, err := Keys().Token(user, "Name of "+user, time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Node is a running signaling node.
type Node struct {
	URL     string
	Hub     *hub.Hub
	Server  *server.Server
	Metrics *metrics.Metrics
	http    *httptest.Server
	redis   redis.UniversalClient
	closed  sync.Once
}

// Crash stops the node as a crash would, as far as the cluster can tell: its Redis
// connections die first, so it writes nothing more (no presence clean-up, no node key
// removal, no user_left), then its sockets drop.
func (n *Node) Crash() {
	if n.redis != nil {
		_ = n.redis.Close()
	}
	n.Close()
}

// Config tweaks a test node.
type Config struct {
	NodeID   string
	Hub      hub.Options    // Broker, Presence, Nodes, timings…; NodeID/Metrics/Logger filled in
	Server   server.Options // Hub/Verifier/Metrics/Logger filled in
	Verifier *auth.Verifier // default: Keys()' public key
	// RedisURL, when set, puts the node on the Redis broker and presence at that URL
	// (Hub.Broker/Presence/Nodes are then ignored). Watchdog timings are shortened.
	RedisURL string
	// Setup, when set, runs after the hub is built and before it starts: feature
	// packages register their events and hooks there (the SFU proxy).
	Setup func(*hub.Hub)
}

// Start runs a node until the test ends.
func Start(t testing.TB, cfg Config) *Node {
	t.Helper()
	if cfg.NodeID == "" {
		cfg.NodeID = "node-1"
	}
	m := metrics.New()
	log := Logger()
	ho := cfg.Hub
	ho.NodeID, ho.Metrics, ho.Logger = cfg.NodeID, m, log
	var rc redis.UniversalClient
	var h *hub.Hub
	if cfg.RedisURL != "" {
		var err error
		rc, err = redisconn.New(redisconn.Options{URL: cfg.RedisURL, ClientName: cfg.NodeID})
		if err != nil {
			t.Fatalf("redis client: %v", err)
		}
		store := presence.NewRedis(rc, presence.RedisOptions{Metrics: m.Redis})
		ho.Broker = broker.NewRedis(rc, broker.RedisOptions{NodeID: cfg.NodeID, Metrics: m.Redis, Logger: log,
			ProbeInterval: 200 * time.Millisecond, ProbeTimeout: time.Second,
			OnResubscribed: func() { h.RequestResync() }})
		ho.Presence, ho.Nodes = store, store
		if ho.NodeHeartbeat == 0 {
			ho.NodeHeartbeat = 500 * time.Millisecond
		}
	}
	h = hub.New(ho)
	if cfg.Setup != nil {
		cfg.Setup(h)
	}
	if err := h.Start(context.Background()); err != nil {
		t.Fatalf("start hub: %v", err)
	}
	v := cfg.Verifier
	if v == nil {
		var err error
		v, err = auth.NewVerifier(auth.Config{PublicKey: &Keys().Private.PublicKey})
		if err != nil {
			t.Fatal(err)
		}
	}
	so := cfg.Server
	so.Hub, so.Verifier, so.Metrics, so.Logger = h, v, m, log
	srv := server.New(so)
	hs := httptest.NewServer(srv)
	n := &Node{URL: hs.URL, Hub: h, Server: srv, Metrics: m, http: hs, redis: rc}
	t.Cleanup(n.Close)
	return n
}

// Close stops the node the clean way (sockets closed, presence removed).
func (n *Node) Close() {
	n.closed.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		n.http.Listener.Close()
		n.Hub.Close(ctx)
		_ = n.Server.Wait(ctx)
		n.http.Close()
		if n.redis != nil {
			_ = n.redis.Close()
		}
	})
}

// Logger is quiet unless SIGNALING_TEST_LOG=1.
func Logger() *slog.Logger {
	if os.Getenv("SIGNALING_TEST_LOG") == "1" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// Connect dials n as user (token in the CONNECT auth) and closes the client at test end.
func Connect(t testing.TB, n *Node, user string) *sioclient.Client {
	t.Helper()
	c, err := sioclient.Dial(context.Background(), n.URL, sioclient.Options{Token: Token(t, user)})
	if err != nil {
		t.Fatalf("connect %s: %v", user, err)
	}
	t.Cleanup(c.Close)
	return c
}

// Ctx is a context that ends with the test or after d.
func Ctx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
