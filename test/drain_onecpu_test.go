package test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/testutil/nodetest"
	"github.com/switchboard-rtc/switchboard/internal/testutil/redisserver"
	"github.com/switchboard-rtc/switchboard/signaling/hub"
	"github.com/switchboard-rtc/switchboard/signaling/sioclient"
)

// watcher records the room events a client receives.
type watcher struct {
	mu       sync.Mutex
	churn    []string
	draining chan int64 // reconnectInMs of server_draining
}

func newWatcher() *watcher { return &watcher{draining: make(chan int64, 1)} }

func (w *watcher) onEvent(ev sioclient.Event) {
	switch ev.Name {
	case "user_joined", "user_left":
		w.mu.Lock()
		w.churn = append(w.churn, ev.Name+" "+string(ev.Data))
		w.mu.Unlock()
	case "server_draining":
		var d struct {
			ReconnectInMs int64 `json:"reconnectInMs"`
		}
		_ = json.Unmarshal(ev.Data, &d)
		select {
		case w.draining <- d.ReconnectInMs:
		default:
		}
	}
}

func (w *watcher) seen() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.churn...)
}

func (w *watcher) reset() {
	w.mu.Lock()
	w.churn = nil
	w.mu.Unlock()
}

// TestDrainOnOneCPUKeepsUsersInTheirRooms is a rolling update in pods with a CPU limit of
// one core or less (Go then runs with GOMAXPROCS=1): two nodes on one Redis, a user on
// each in one room. Node 1 gets SIGTERM; its user waits the reconnectInMs it was told, as
// a well-behaved client does, reconnects through node 2 and re-joins. The user on node 2
// must see neither user_left nor user_joined.
//
// A third, in-process node with a fast heartbeat cleans up after nodes that are gone
// within ~0.1 s instead of the production 2 s, so a node 1 that exits without holding
// alice's place is caught whatever delay alice drew.
func TestDrainOnOneCPUKeepsUsersInTheirRooms(t *testing.T) {
	rs := redisserver.Start(t, redisserver.Options{})
	cluster(t, rs.URL(), 1, hub.Options{NodeHeartbeat: 100 * time.Millisecond})
	bin := nodetest.BuildSignaling(t)
	keyFile := filepath.Join(t.TempDir(), "jwt.pem")
	if err := os.WriteFile(keyFile, nodetest.Keys().PublicPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	const window, jitter = 2 * time.Second, 3 * time.Second
	var nodes []*procNode
	for _, id := range []string{"onecpu-1", "onecpu-2"} {
		p := &procNode{id: id, addr: nodetest.FreeAddr(t), env: []string{"GOMAXPROCS=1"}, args: []string{
			"--redis-url", rs.URL(), "--jwt-public-key", keyFile, "--drain-timeout", "20s",
			"--reconnect-window", window.String(), "--drain-reconnect-jitter", jitter.String(),
		}}
		p.start(t, bin)
		nodes = append(nodes, p)
	}

	dial := func(url, user string, w *watcher) *sioclient.Client {
		t.Helper()
		c, err := sioclient.Dial(context.Background(), url, sioclient.Options{Token: nodetest.Token(t, user), OnEvent: w.onEvent})
		if err != nil {
			t.Fatalf("%s dialing %s: %v", user, url, err)
		}
		t.Cleanup(c.Close)
		return c
	}
	aliceW, bobW := newWatcher(), newWatcher()
	alice := dial(nodes[0].url(), "alice", aliceW)
	join(t, alice, "r")
	bob := dial(nodes[1].url(), "bob", bobW)
	if p := join(t, bob, "r"); len(p) != 1 || p[0] != "alice" {
		t.Fatalf("bob joined and sees %v, want alice", p)
	}
	waitUntil(t, 5*time.Second, "alice hears bob join", func() bool { return len(aliceW.seen()) == 1 })
	bobW.reset()

	start := time.Now()
	_ = nodes[0].cmd.Process.Signal(syscall.SIGTERM)
	var wait int64
	select {
	case wait = <-aliceW.draining:
	case <-time.After(10 * time.Second):
		t.Fatal("alice got no server_draining")
	}
	select {
	case <-alice.Done():
	case <-time.After(15 * time.Second):
		t.Fatal("node 1 did not close alice's connection")
	}
	time.Sleep(time.Duration(wait) * time.Millisecond)
	alice2 := dial(nodes[1].url(), "alice", aliceW)
	if p := join(t, alice2, "r"); len(p) != 1 || p[0] != "bob" {
		t.Fatalf("alice re-joined through node 2 and sees %v, want bob", p)
	}
	select {
	case <-nodes[0].exited:
	case <-time.After(25 * time.Second):
		t.Fatal("node 1 did not exit within its --drain-timeout")
	}
	if nodes[0].exitErr != nil {
		t.Fatalf("node 1 exited with %v, want status 0", nodes[0].exitErr)
	}
	t.Logf("node 1 exited %s after SIGTERM; alice waited %d ms before reconnecting", nodes[0].exitAt.Sub(start).Round(time.Millisecond), wait)
	// Past alice's window (with the jitter) and the clean-up after node 1: no
	// announcement may come.
	time.Sleep(window + jitter + time.Second)
	if churn := bobW.seen(); len(churn) > 0 {
		t.Fatalf("bob saw %v while alice moved from the draining node, want nothing", churn)
	}
	if p := join(t, dial(nodes[1].url(), "carol", newWatcher()), "r"); len(p) != 2 {
		t.Fatalf("room after the drain lists %v, want alice and bob", p)
	}
}
