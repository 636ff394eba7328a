package test

import (
	"os"
	"os/exec"
	"testing"

	"github.com/switchboard-rtc/switchboard/internal/testutil/nodetest"
	"github.com/switchboard-rtc/switchboard/signaling/vocab"
)

// TestStockClientMediaLifecycle runs test/node/sfu.test.mjs: the stock socket.io-client
// (default transports) through the producer lifecycle against a node with the test Media
// Service. Not named *SFU* so that it runs in test-e2e, after `npm ci`.
func TestStockClientMediaLifecycle(t *testing.T) {
	nodeBin := requireNodeModules(t)
	e := newSFUEnv(t, vocab.RoomInfo{ID: "conf", Mode: vocab.ModeSFU})
	n, _ := e.node(t, "node-a", nil)
	cmd := exec.Command(nodeBin, "--test", "--test-reporter=spec", "sfu.test.mjs")
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
		t.Fatalf("socket.io-client SFU tests failed: %v", err)
	}
}
