//go:build browser

// Package browser drives the demo page in real Chromium through a peer-to-peer call across
// two signaling nodes on one real Redis.
//
// It runs only through `make test-browser` (build tag "browser"): the make target installs
// Debian's chromium when it is missing, runs npm ci here, and runs this test inside a new
// network namespace that has only loopback, so that Chromium's WebRTC (which gathers
// candidates on every interface) and everything it talks to stay on 127.0.0.1.
package browser

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/testutil/nodetest"
	"github.com/switchboard-rtc/switchboard/internal/testutil/redisserver"
	"github.com/switchboard-rtc/switchboard/signaling/broker"
	"github.com/switchboard-rtc/switchboard/signaling/demo"
	"github.com/switchboard-rtc/switchboard/signaling/hub"
	"github.com/switchboard-rtc/switchboard/signaling/presence"
	"github.com/switchboard-rtc/switchboard/signaling/redisconn"
)

const (
	chromiumPath    = "/usr/bin/chromium"
	reconnectWindow = 5 * time.Second
)

// requireLoopbackOnly fails unless every network interface that is up is a loopback one.
func requireLoopbackOnly(t *testing.T) {
	t.Helper()
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range ifs {
		if i.Flags&net.FlagUp != 0 && i.Flags&net.FlagLoopback == 0 {
			t.Fatalf("interface %s is up: this test must run in a loopback-only network namespace "+
				"(Chromium's WebRTC would use every interface). Run it with `make test-browser`.", i.Name)
		}
	}
}

// startNode runs one signaling node on the shared Redis with the demo page and /dev/token.
func startNode(t *testing.T, id, redisURL string) *nodetest.Node {
	t.Helper()
	client, err := redisconn.New(redisconn.Options{URL: redisURL, ClientName: id})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() }) // after the node's own clean-up (LIFO)
	store := presence.NewRedis(client, presence.RedisOptions{})
	n := nodetest.Start(t, nodetest.Config{
		NodeID: id,
		Hub: hub.Options{
			Broker:          broker.NewRedis(client, broker.RedisOptions{NodeID: id, Logger: nodetest.Logger()}),
			Presence:        store,
			Nodes:           store,
			ReconnectWindow: reconnectWindow,
		},
	})
	mux := n.Server.Mux()
	demo.Register(mux, demo.Options{DevTokens: true})
	// The same contract as the --dev node's /dev/token (cmd/signaling/dev.go).
	userRe := regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)
	mux.HandleFunc("/dev/token", func(w http.ResponseWriter, r *http.Request) {
		user, name := r.URL.Query().Get("user"), r.URL.Query().Get("name")
		if !userRe.MatchString(user) || len(name) > 64 {
			http.Error(w, "bad user or name", http.StatusBadRequest)
			return
		}
		tok, err := nodetest.Keys().Token(user, name, time.Hour, nil)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"token": tok, "userId": user})
	})
	return n
}

func TestDemoCallInChromium(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("Chromium is missing (%v): `make test-browser` installs Debian's chromium package (apt-get install -y chromium); this test never skips", err)
	}
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is not installed: the browser test drives Chromium with playwright-core (Node.js 20+)")
	}
	if _, err := os.Stat(filepath.Join("node_modules", "playwright-core")); err != nil {
		t.Fatal("test/browser/node_modules is missing: run `make test-browser` (it runs npm ci in test/browser)")
	}
	requireLoopbackOnly(t)

	artifacts, err := filepath.Abs(filepath.Join("..", "..", "bin", "artifacts", "browser"))
	if err != nil {
		t.Fatal(err)
	}
	_ = os.RemoveAll(artifacts)

	rs := redisserver.Start(t, redisserver.Options{})
	n1 := startNode(t, "node-1", rs.URL())
	n2 := startNode(t, "node-2", rs.URL())
	// Page URLs use 127.0.0.1 (httptest's address): a secure-enough origin for getUserMedia
	// would be localhost; 127.0.0.1 is treated as potentially trustworthy too.
	t.Logf("redis %s, node-1 %s, node-2 %s", rs.Addr(), n1.URL, n2.URL)

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodeBin, "call.mjs")
	cmd.Env = append(os.Environ(),
		"NODE1_URL="+n1.URL,
		"NODE2_URL="+n2.URL,
		"ROOM=browser-e2e-"+strconv.FormatInt(time.Now().UnixNano()%1e6, 10),
		"ARTIFACTS="+artifacts,
		"RECONNECT_WINDOW_MS="+strconv.FormatInt(reconnectWindow.Milliseconds(), 10),
		"CHROMIUM="+chromiumPath,
	)
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("call.mjs (%s):\n%s", time.Since(start).Round(100*time.Millisecond), out)
	if err != nil || !strings.Contains(string(out), "BROWSER TEST PASSED") {
		t.Fatalf("browser call test failed (%v); screenshots in %s", err, artifacts)
	}
	if _, err := os.Stat(filepath.Join(artifacts, "demo-call.png")); err != nil {
		t.Fatalf("no screenshot artifact: %v", err)
	}
	t.Logf("screenshot artifact: %s", filepath.Join(artifacts, "demo-call.png"))
}
