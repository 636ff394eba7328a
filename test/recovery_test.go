package test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchboard-rtc/switchboard/internal/testutil/nodetest"
	"github.com/switchboard-rtc/switchboard/internal/testutil/redisserver"
	"github.com/switchboard-rtc/switchboard/signaling/hub"
)

// recoveryRig is two nodes on one redis-server, a cuttable TCP proxy in front of node A
// and the control endpoint test/node/recovery.test.mjs drives it with.
type recoveryRig struct {
	nodes   []*nodetest.Node
	proxy   *cutProxy
	control *httptest.Server
	drained chan hub.DrainResult
}

func startRecoveryRig(t *testing.T, ho hub.Options) *recoveryRig {
	rs := redisserver.Start(t, redisserver.Options{})
	ho.EventRate, ho.EventBurst = 1e4, 1e4 // bob sends three events every 40 ms
	r := &recoveryRig{nodes: cluster(t, rs.URL(), 2, ho), drained: make(chan hub.DrainResult, 1)}
	hostOf := func(n *nodetest.Node) string { return strings.TrimPrefix(n.URL, "http://") }
	r.proxy = startCutProxy(t, hostOf(r.nodes[0]))
	target := func(req *http.Request) string {
		if req.URL.Query().Get("to") == "b" {
			return hostOf(r.nodes[1])
		}
		return hostOf(r.nodes[0])
	}
	r.control = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		switch req.URL.Path {
		case "/cut":
			r.proxy.switchTo(target(req))
			r.proxy.cut()
		case "/switch":
			r.proxy.switchTo(target(req))
		case "/block":
			ms, _ := strconv.Atoi(req.URL.Query().Get("ms"))
			r.proxy.block(time.Duration(ms) * time.Millisecond)
		case "/drain":
			r.proxy.switchTo(hostOf(r.nodes[1]))
			r.nodes[0].Server.SetDraining(time.Second)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				r.drained <- r.nodes[0].Hub.Drain(ctx, hub.DrainOptions{MaxShare: 1, Jitter: 100 * time.Millisecond})
			}()
		default:
			http.NotFound(w, req)
		}
	}))
	t.Cleanup(r.control.Close)
	return r
}

func (r *recoveryRig) run(t *testing.T, nodeBin, pattern string, window time.Duration) {
	cmd := exec.Command(nodeBin, "--test", "--test-reporter=spec", "--test-name-pattern="+pattern, "recovery.test.mjs")
	cmd.Dir = "node"
	cmd.Env = append(os.Environ(), "PROXY_URL="+r.proxy.URL(), "NODE_B_URL="+r.nodes[1].URL, "CONTROL_URL="+r.control.URL,
		"RECOVERY_WINDOW_MS="+strconv.FormatInt(window.Milliseconds(), 10),
		"TOKEN_ALICE="+nodetest.Token(t, "alice"), "TOKEN_BOB="+nodetest.Token(t, "bob"), "TOKEN_MALLORY="+nodetest.Token(t, "mallory"))
	out, err := cmd.CombinedOutput()
	t.Logf("node --test output:\n%s", out)
	if err != nil {
		t.Fatalf("socket.io-client recovery tests failed: %v", err)
	}
	if !strings.Contains(string(out), "pass ") || strings.Contains(string(out), "pass 0") {
		t.Fatalf("no test matched %q", pattern)
	}
}

func (r *recoveryRig) attempts(result string) float64 {
	var n float64
	for _, nd := range r.nodes {
		n += testutil.ToFloat64(nd.Metrics.Recovery.Attempts.WithLabelValues(result))
	}
	return n
}

// TestStockSocketIOClientRecoversAcrossNodes runs test/node/recovery.test.mjs against two
// nodes on redis-server: a network drop (the proxy closes the client's TCP connection)
// and a reconnect ~1 s later through node B while bob keeps sending chat, offers and ICE
// candidates (over WebSocket, and with the default transports: polling, then the upgrade);
// another user's and a forged pid; a drain of node A.
func TestStockSocketIOClientRecoversAcrossNodes(t *testing.T) {
	nodeBin := requireNodeModules(t)
	r := startRecoveryRig(t, hub.Options{RecoveryWindow: time.Minute})
	r.run(t, nodeBin, "network drop|pid|drain", time.Minute)
	if got := r.attempts("recovered"); got != 4 {
		t.Fatalf("%v recoveries, want 4 (two drops, pid test, drain)", got)
	}
	if got := r.attempts("unknown"); got != 2 {
		t.Fatalf("%v refused recoveries, want 2 (another user's pid, a forged one)", got)
	}
	select {
	case res := <-r.drained:
		if res.Closed != 1 || res.WindowsLeft != 0 {
			t.Fatalf("drain %+v: want the one client closed and its window handed over", res)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the drain did not finish")
	}
}

// TestStockSocketIOClientAfterTheRecoveryWindow: a client that comes back after the
// recovery window gets a fresh session and the room heard it leave.
func TestStockSocketIOClientAfterTheRecoveryWindow(t *testing.T) {
	nodeBin := requireNodeModules(t)
	const window = 1500 * time.Millisecond
	r := startRecoveryRig(t, hub.Options{RecoveryWindow: window, ReconnectWindow: 300 * time.Millisecond})
	r.run(t, nodeBin, "after the recovery window", window)
	if got := r.attempts("unknown"); got != 1 {
		t.Fatalf("%v refused recoveries, want 1", got)
	}
}
