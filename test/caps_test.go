package test

import (
	"os"
	"os/exec"
	"testing"

	"github.com/switchboard-rtc/switchboard/internal/testutil/nodetest"
	"github.com/switchboard-rtc/switchboard/signaling/config"
	"github.com/switchboard-rtc/switchboard/signaling/server"
)

// TestStockSocketIOClientSeesTheCaps runs test/node/caps.test.mjs: the real
// socket.io-client 4.x gets rate_limited acks for an offer storm at one target, and a
// connect_error from the HTTP 503 of a node at --max-connections.
func TestStockSocketIOClientSeesTheCaps(t *testing.T) {
	nodeBin := requireNodeModules(t)
	n := nodetest.Start(t, nodetest.Config{
		Node:   config.Config{RelayTargetRate: 0.001, RelayTargetBurst: 3},
		Server: server.Options{MaxConnections: 2},
	})
	cmd := exec.Command(nodeBin, "--test", "--test-reporter=spec", "caps.test.mjs")
	cmd.Dir = "node"
	cmd.Env = append(os.Environ(),
		"SIGNALING_URL="+n.URL,
		"TOKEN_ALICE="+nodetest.Token(t, "alice"),
		"TOKEN_BOB="+nodetest.Token(t, "bob"),
		"TOKEN_CAROL="+nodetest.Token(t, "carol"),
	)
	out, err := cmd.CombinedOutput()
	t.Logf("node --test output:\n%s", out)
	if err != nil {
		t.Fatalf("socket.io-client caps tests failed: %v", err)
	}
}
