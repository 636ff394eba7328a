// Package test holds end-to-end tests that drive signaling nodes with real clients.
package test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/testutil/nodetest"
	"github.com/switchboard-rtc/switchboard/internal/testutil/redisserver"
	"github.com/switchboard-rtc/switchboard/signaling/auth"
	"github.com/switchboard-rtc/switchboard/signaling/config"
	"github.com/switchboard-rtc/switchboard/signaling/hub"
)

// TestStockSocketIOClient runs test/node/protocol.test.mjs, which uses the real
// socket.io-client 4.x from npm against a node started here. `make test` runs
// `npm ci` in test/node first.
func TestStockSocketIOClient(t *testing.T) {
	nodeBin := requireNodeModules(t)
	n := nodetest.Start(t, nodetest.Config{})
	keys := nodetest.Keys()
	tok := func(user, name string) string {
		s, err := keys.Token(user, name, time.Hour, nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	other, _ := auth.NewDevKeys()
	bad, _ := other.Token("alice", "Alice", time.Hour, nil)

	cmd := exec.Command(nodeBin, "--test", "--test-reporter=spec", "protocol.test.mjs")
	cmd.Dir = "node"
	cmd.Env = append(os.Environ(),
		"SIGNALING_URL="+n.URL,
		"TOKEN_ALICE="+tok("alice", "Alice"),
		"TOKEN_BOB="+tok("bob", "Bob"),
		"TOKEN_BAD="+bad,
	)
	out, err := cmd.CombinedOutput()
	t.Logf("node --test output:\n%s", out)
	if err != nil {
		t.Fatalf("socket.io-client tests failed: %v", err)
	}
}

// TestStockSocketIOClientGrantsAndTokenLifetime runs test/node/lifetime.test.mjs: room
// grants under --require-room-grant, then token_expiring → refresh_token → token_expired and
// the Socket.IO DISCONNECT, as the stock client sees them.
func TestStockSocketIOClientGrantsAndTokenLifetime(t *testing.T) {
	nodeBin := requireNodeModules(t)
	n := nodetest.Start(t, nodetest.Config{
		Node: config.Config{RequireRoomGrant: true, TokenRefreshLead: 8 * time.Second},
		Hub:  hub.Options{ReconnectWindow: time.Second},
	})
	keys := nodetest.Keys()
	team := map[string]any{"rooms": []string{"team-1-*"}}
	tok := func(user string, ttl time.Duration, extra map[string]any) string {
		s, err := keys.Token(user, "Name of "+user, ttl, extra)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	cmd := exec.Command(nodeBin, "--test", "--test-reporter=spec", "lifetime.test.mjs")
	cmd.Dir = "node"
	cmd.Env = append(os.Environ(),
		"SIGNALING_URL="+n.URL,
		// Inside the refresh lead from the start: token_expiring comes at once.
		"TOKEN_ALICE="+tok("alice", 10*time.Second, team),
		"TOKEN_ALICE_REFRESH="+tok("alice", 13*time.Second, team),
		"TOKEN_MALLORY_REFRESH="+tok("mallory", time.Hour, team),
		"TOKEN_BOB="+tok("bob", time.Hour, team),
		"TOKEN_CAROL="+tok("carol", time.Hour, nil),
	)
	out, err := cmd.CombinedOutput()
	t.Logf("node --test output:\n%s", out)
	if err != nil {
		t.Fatalf("socket.io-client grant and token lifetime tests failed: %v", err)
	}
}

// TestStockSocketIOClientReconnectsOffADrainingNode: two nodes on Redis behind a
// readiness-aware load balancer; draining node 1 moves a real socket.io-client to node 2.
func TestStockSocketIOClientReconnectsOffADrainingNode(t *testing.T) {
	nodeBin := requireNodeModules(t)
	rs := redisserver.Start(t, redisserver.Options{})
	nodes := cluster(t, rs.URL(), 2, hub.Options{ReconnectWindow: 4 * time.Second})
	lb := startLB(t, strings.TrimPrefix(nodes[0].URL, "http://"), strings.TrimPrefix(nodes[1].URL, "http://"))
	drained := make(chan hub.DrainResult, 1)
	trigger := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nodes[0].Server.SetDraining(time.Second)
		go func() {
			drained <- nodes[0].Hub.Drain(context.Background(), hub.DrainOptions{MaxShare: 1, Jitter: 200 * time.Millisecond})
		}()
	}))
	defer trigger.Close()

	cmd := exec.Command(nodeBin, "--test", "--test-reporter=spec", "drain.test.mjs")
	cmd.Dir = "node"
	cmd.Env = append(os.Environ(),
		"LB_URL="+lb.URL(), "NODE2_URL="+nodes[1].URL, "TRIGGER_URL="+trigger.URL,
		"TOKEN_ALICE="+nodetest.Token(t, "alice"), "TOKEN_BOB="+nodetest.Token(t, "bob"))
	out, err := cmd.CombinedOutput()
	t.Logf("node --test output:\n%s", out)
	if err != nil {
		t.Fatalf("socket.io-client drain test failed: %v", err)
	}
	select {
	case res := <-drained:
		if res.Sessions != 1 || res.Closed != 1 {
			t.Fatalf("drain result %+v, want the one client closed", res)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("drain did not finish")
	}
}

func requireNodeModules(t *testing.T) string {
	t.Helper()
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is not installed: the socket.io-client tests need Node.js 18+")
	}
	if _, err := os.Stat(filepath.Join("node", "node_modules", "socket.io-client")); err != nil {
		t.Fatal("test/node/node_modules is missing: run `make test` (it runs npm ci in test/node)")
	}
	return nodeBin
}
