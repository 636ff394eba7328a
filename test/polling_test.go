package test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchboard-rtc/switchboard/internal/testutil/nodetest"
	"github.com/switchboard-rtc/switchboard/internal/testutil/redisserver"
	"github.com/switchboard-rtc/switchboard/signaling/hub"
	"github.com/switchboard-rtc/switchboard/signaling/server"
)

// TestStockSocketIOClientWithoutStickySessions runs test/node/polling.test.mjs: the real
// socket.io-client with default options (long-polling, then the upgrade), with
// transports:["polling"] and with upgrade:false, through a round-robin HTTP proxy in front
// of three nodes on one redis-server, so that the requests of every session land on
// different nodes; then a node that owns a polling session is killed and the client gets
// a new session on another node.
func TestStockSocketIOClientWithoutStickySessions(t *testing.T) {
	nodeBin := requireNodeModules(t)
	rs := redisserver.Start(t, redisserver.Options{})
	ids := []string{"node-a", "node-b", "node-c"}
	var urls []string
	nodes := map[string]*nodetest.Node{}
	for _, id := range ids {
		n := nodetest.Start(t, nodetest.Config{NodeID: id, RedisURL: rs.URL(),
			Hub:    hub.Options{ReconnectWindow: 10 * time.Second},
			Server: server.Options{PingInterval: time.Second, PingTimeout: time.Second}})
		waitReady(t, n, 10*time.Second)
		nodes[id] = n
		urls = append(urls, n.URL)
	}
	lb := startRRProxy(t, ids, urls)
	kill := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.URL.Query().Get("node")
		n := nodes[id]
		if n == nil {
			http.Error(w, "no such node", http.StatusNotFound)
			return
		}
		lb.kill(id)
		n.Crash()
	}))
	defer kill.Close()

	cmd := exec.Command(nodeBin, "--test", "--test-reporter=spec", "polling.test.mjs")
	cmd.Dir = "node"
	cmd.Env = append(os.Environ(), "LB_URL="+lb.srv.URL, "KILL_URL="+kill.URL)
	for _, u := range []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"} {
		cmd.Env = append(cmd.Env, "TOKEN_"+u+"="+nodetest.Token(t, u))
	}
	out, err := cmd.CombinedOutput()
	t.Logf("node --test output:\n%s", out)
	if err != nil {
		t.Fatalf("socket.io-client polling tests failed: %v", err)
	}
	sessions, multi := lb.spread()
	if sessions == 0 || multi != sessions {
		t.Fatalf("%d of %d sessions had requests on more than one node; want all", multi, sessions)
	}
	var relayed, bridged float64
	for _, n := range nodes {
		relayed += testutil.ToFloat64(n.Metrics.SessionRelays.WithLabelValues("post", "ok"))
		bridged += testutil.ToFloat64(n.Metrics.SessionRelays.WithLabelValues("websocket", "ok"))
	}
	t.Logf("relayed POSTs %v, bridged WebSockets %v, sessions %d", relayed, bridged, sessions)
	if relayed == 0 || bridged == 0 {
		t.Fatalf("relayed POSTs %v, bridged WebSockets %v; want both > 0", relayed, bridged)
	}
}
