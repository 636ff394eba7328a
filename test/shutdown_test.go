package test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/testutil/nodetest"
	"github.com/switchboard-rtc/switchboard/internal/testutil/redisserver"
	"github.com/switchboard-rtc/switchboard/signaling/sioclient"
)

// TestShutdownDuringARedisOutage: a node with no sessions left is stopped while Redis does
// not answer (paused with SIGSTOP: connections hang rather than fail). With nothing to hand
// over it must exit within seconds, not wait out its 60 s --drain-timeout retrying Redis,
// and the chat messages it acknowledged but could not deliver stay in the Redis buffer
// for another node.
func TestShutdownDuringARedisOutage(t *testing.T) {
	rs := redisserver.Start(t, redisserver.Options{})
	chat := newChatService(t)
	chat.down() // nothing gets delivered: the messages stay buffered
	bin := nodetest.BuildSignaling(t)
	keyFile := filepath.Join(t.TempDir(), "jwt.pem")
	if err := os.WriteFile(keyFile, nodetest.Keys().PublicPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	p := &procNode{id: "outage", addr: nodetest.FreeAddr(t), args: []string{
		"--redis-url", rs.URL(), "--jwt-public-key", keyFile, "--drain-timeout", "60s",
		"--chat-service-url", chat.URL, "--chat-flush-interval", "100ms",
	}}
	p.start(t, bin)

	c, err := sioclient.Dial(context.Background(), p.url(), sioclient.Options{Token: nodetest.Token(t, "alice")})
	if err != nil {
		t.Fatal(err)
	}
	join(t, c, "r")
	ids := sendN(t, c, "before the outage", 3)
	c.Disconnect() // the node has no sessions left
	waitUntil(t, 5*time.Second, "the Chat Service is tried", func() bool { _, _, posts := chat.counts(); return posts > 0 })

	rs.Pause()
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			rs.Resume()
		}
	}
	t.Cleanup(resume)
	time.Sleep(time.Second) // the node's Redis calls now hang
	start := time.Now()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		t.Fatal("the node did not exit within 20 s of SIGTERM during a Redis outage (its --drain-timeout is 60 s): a retry loop kept it alive")
	}
	t.Logf("exited %s after SIGTERM", p.exitAt.Sub(start).Round(time.Millisecond))
	if p.exitErr != nil {
		t.Fatalf("exit status %v, want 0", p.exitErr)
	}

	resume()
	entries, err := rs.Client().XRange(context.Background(), "chat:buffer:{r}", "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	buffered := map[string]bool{}
	for _, e := range entries {
		for _, v := range e.Values {
			if s, ok := v.(string); ok {
				for _, id := range ids {
					if strings.Contains(s, id) {
						buffered[id] = true
					}
				}
			}
		}
	}
	if len(buffered) != len(ids) {
		t.Fatalf("%d of the %d acknowledged messages are in the Redis buffer after the stop, want all (entries: %v)", len(buffered), len(ids), entries)
	}
}
