// Package test holds end-to-end tests that drive signaling nodes with real clients.
package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/testutil/nodetest"
	"github.com/switchboard-rtc/switchboard/signaling/auth"
)

// TestStockSocketIOClient runs test/node/protocol.test.mjs, which uses the real
// socket.io-client 4.x from npm against a node started here. `make test` runs
// `npm ci` in test/node first.
func TestStockSocketIOClient(t *testing.T) {
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("node is not installed: the socket.io-client protocol test needs Node.js 18+")
	}
	if _, err := os.Stat(filepath.Join("node", "node_modules", "socket.io-client")); err != nil {
		t.Fatal("test/node/node_modules is missing: run `make test` (it runs npm ci in test/node)")
	}
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
