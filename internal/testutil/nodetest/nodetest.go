// Package nodetest starts real signaling nodes (hub + HTTP server on a loopback port)
// for tests, and connects clients to them.
package nodetest

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/signaling/auth"
	"github.com/switchboard-rtc/switchboard/signaling/broker"
	"github.com/switchboard-rtc/switchboard/signaling/config"
	"github.com/switchboard-rtc/switchboard/signaling/hub"
	"github.com/switchboard-rtc/switchboard/signaling/metrics"
	"github.com/switchboard-rtc/switchboard/signaling/node"
	"github.com/switchboard-rtc/switchboard/signaling/server"
	"github.com/switchboard-rtc/switchboard/signaling/sfu"
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

// Audience is the aud claim of every test token; nodes started as processes require it
// (ProcessFlags).
const Audience = "switchboard-test"

// ProcessFlags are the flags a signaling process started by a test needs besides its key
// and listen address: a production node refuses to start without an origin allow-list
// and an audience.
func ProcessFlags() []string {
	return []string{"--allowed-origins", "*", "--jwt-audience", Audience}
}

// Token signs a one-hour token for user (name = user when empty).
func Token(t testing.TB, user string) string {
	t.Helper()
	tok, err := Keys().Token(user, "Name of "+user, time.Hour, map[string]any{"aud": Audience})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Node is a running signaling node, assembled by node.New as in production.
type Node struct {
	URL        string
	MetricsURL string // the metrics listener (--metrics-listen): GET MetricsURL + "/metrics"
	Hub        *hub.Hub
	Server     *server.Server
	SFU        *sfu.Service
	Metrics    *metrics.Metrics
	Node       *node.Node
	http       *httptest.Server
	metrics    *httptest.Server
	closed     sync.Once
}

// Crash stops the node as a crash would, as far as the cluster can tell: its Redis
// connections die first, so it writes nothing more (no presence clean-up, no node key
// removal, no user_left), then its sockets drop.
func (n *Node) Crash() {
	n.Node.CutRedis()
	n.Close()
}

// Config tweaks a test node.
type Config struct {
	NodeID string
	// Node is the node's configuration; zero fields take config.Defaults (RedisURL, when set,
	// puts the node on the Redis broker and presence, with shortened watchdog timings).
	Node config.Config
	// Hub and Server override what the configuration gives (non-zero fields win).
	Hub      hub.Options
	Server   server.Options
	SFU      *sfu.Options   // replaces the SFU options derived from the configuration
	Verifier *auth.Verifier // default: Keys()' public key
	RedisURL string
}

// Start runs a node until the test ends.
func Start(t testing.TB, cfg Config) *Node {
	t.Helper()
	nc := config.Defaults()
	overlayConfig(&nc, cfg.Node)
	nc.NodeID = "node-1"
	if cfg.NodeID != "" {
		nc.NodeID = cfg.NodeID
	}
	// Tests send bursts no user would; the production limits have their own tests.
	nc.ChatRate, nc.ChatBurst = 1e6, 1e6
	if cfg.Node.ChatRate != 0 {
		nc.ChatRate, nc.ChatBurst = cfg.Node.ChatRate, cfg.Node.ChatBurst
	}
	// Connection-state recovery keeps a dropped user's place for minutes: tests of the
	// reconnection window and of departures run without it unless they set it (its own
	// tests do).
	nc.RecoveryWindow = cfg.Node.RecoveryWindow
	// Likewise the per-user join and relay limits, unless the test sets them.
	if cfg.Node.JoinRate == 0 {
		nc.JoinRate, nc.JoinBurst = 1e6, 1e6
	}
	if cfg.Node.RelayRate == 0 {
		nc.RelayRate, nc.RelayBurst = 1e6, 1e6
	}
	if cfg.Node.RelayTargetRate == 0 {
		nc.RelayTargetRate, nc.RelayTargetBurst = 1e6, 1e6
	}
	var bo broker.RedisOptions
	if cfg.RedisURL != "" {
		nc.RedisURL = cfg.RedisURL
		bo.ProbeInterval, bo.ProbeTimeout = 200*time.Millisecond, time.Second
		if cfg.Hub.NodeHeartbeat == 0 {
			cfg.Hub.NodeHeartbeat = 500 * time.Millisecond
		}
	}
	v := cfg.Verifier
	if v == nil {
		var err error
		v, err = auth.NewVerifier(auth.Config{PublicKey: &Keys().Private.PublicKey})
		if err != nil {
			t.Fatal(err)
		}
	}
	nd, err := node.New(context.Background(), node.Options{
		Config: nc, Verifier: v, Logger: Logger(),
		Hub: cfg.Hub, Server: cfg.Server, SFU: cfg.SFU, Broker: bo,
	})
	if err != nil {
		t.Fatalf("start node: %v", err)
	}
	hs := httptest.NewServer(nd.Handler())
	ms := httptest.NewServer(nd.MetricsHandler())
	n := &Node{URL: hs.URL, MetricsURL: ms.URL, Hub: nd.Hub, Server: nd.Server, SFU: nd.SFU, Metrics: nd.Metrics, Node: nd, http: hs, metrics: ms}
	t.Cleanup(n.Close)
	return n
}

// overlayConfig copies the non-zero fields of src onto dst.
func overlayConfig(dst *config.Config, src config.Config) {
	d, s := reflect.ValueOf(dst).Elem(), reflect.ValueOf(src)
	for i := range s.NumField() {
		if f := s.Field(i); !f.IsZero() {
			d.Field(i).Set(f)
		}
	}
}

// Close stops the node the clean way (sockets closed, presence removed).
func (n *Node) Close() {
	n.closed.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		n.http.Listener.Close()
		n.Node.Close(ctx)
		n.http.Close()
		n.metrics.Close()
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
