package test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/testutil/nodetest"
	"github.com/switchboard-rtc/switchboard/internal/testutil/redisserver"
	"github.com/switchboard-rtc/switchboard/signaling/hub"
	"github.com/switchboard-rtc/switchboard/signaling/sioclient"
	"github.com/switchboard-rtc/switchboard/signaling/vocab"
)

// cluster starts n nodes on one Redis.
func cluster(t *testing.T, redisURL string, n int, ho hub.Options) []*nodetest.Node {
	t.Helper()
	nodes := make([]*nodetest.Node, n)
	for i := range nodes {
		nodes[i] = nodetest.Start(t, nodetest.Config{NodeID: "node-" + string(rune('a'+i)), RedisURL: redisURL, Hub: ho})
	}
	for _, nd := range nodes {
		waitReady(t, nd, 10*time.Second)
	}
	return nodes
}

func waitReady(t *testing.T, n *nodetest.Node, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for n.Hub.Ready() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("node not ready after %s: %v", within, n.Hub.Ready())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// pairAcross puts alice on the first node and bob on the second, both in room r1 (alice
// joins first).
func pairAcross(t *testing.T, nodes []*nodetest.Node) (alice, bob *sioclient.Client) {
	t.Helper()
	alice = nodetest.Connect(t, nodes[0], "alice")
	bob = nodetest.Connect(t, nodes[1], "bob")
	join(t, alice, "r1")
	join(t, bob, "r1")
	return alice, bob
}

type joinAck struct {
	Participants []struct {
		UserID string `json:"userId"`
	} `json:"participants"`
}

func join(t *testing.T, c *sioclient.Client, room string) []string {
	t.Helper()
	var a joinAck
	if err := c.Call(nodetest.Ctx(t, 5*time.Second), "join_room", map[string]string{"roomId": room}, &a); err != nil {
		t.Fatalf("join_room: %v", err)
	}
	var ids []string
	for _, p := range a.Participants {
		ids = append(ids, p.UserID)
	}
	return ids
}

func next(t *testing.T, c *sioclient.Client, event string, within time.Duration) map[string]any {
	t.Helper()
	ev, ok := c.Next(nodetest.Ctx(t, within), event)
	if !ok {
		t.Fatalf("no %s within %s", event, within)
	}
	var m map[string]any
	_ = json.Unmarshal(ev.Data, &m)
	return m
}

func none(t *testing.T, c *sioclient.Client, event string, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if ev, ok := c.Next(ctx, event); ok {
		t.Fatalf("unexpected %s: %s", event, ev.Data)
	}
}

// count collects how many times event arrives at c during d.
func count(c *sioclient.Client, event string, d time.Duration) (n int, payloads []string) {
	return countUntil(c, event, -1, d, 0)
}

// countUntil collects event at c until want arrived (then keeps watching for settle, to
// catch duplicates) or until max passed.
func countUntil(c *sioclient.Client, event string, want int, max, settle time.Duration) (n int, payloads []string) {
	ctx, cancel := context.WithTimeout(context.Background(), max)
	defer cancel()
	for {
		if n == want {
			var cancelSettle context.CancelFunc
			ctx, cancelSettle = context.WithTimeout(ctx, settle)
			defer cancelSettle()
			want = -1
		}
		ev, ok := c.Next(ctx, event)
		if !ok {
			return n, payloads
		}
		n++
		payloads = append(payloads, string(ev.Data))
	}
}

func code(err error) string {
	var ae *sioclient.AckError
	if errors.As(err, &ae) {
		return ae.Code
	}
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

func TestCrossNodeRoomRelayAndChat(t *testing.T) {
	rs := redisserver.Start(t, redisserver.Options{})
	nodes := cluster(t, rs.URL(), 3, hub.Options{})
	alice := nodetest.Connect(t, nodes[0], "alice")
	bob := nodetest.Connect(t, nodes[1], "bob")
	carol := nodetest.Connect(t, nodes[2], "carol")
	ctx := nodetest.Ctx(t, 20*time.Second)

	if p := join(t, alice, "r1"); len(p) != 0 {
		t.Fatalf("alice sees %v", p)
	}
	if p := join(t, bob, "r1"); len(p) != 1 || p[0] != "alice" {
		t.Fatalf("bob sees %v", p)
	}
	if j := next(t, alice, "user_joined", 5*time.Second); j["userId"] != "bob" {
		t.Fatalf("alice got %v", j)
	}
	if p := join(t, carol, "r1"); len(p) != 2 {
		t.Fatalf("carol sees %v, want alice and bob from two other nodes", p)
	}
	next(t, alice, "user_joined", 5*time.Second)
	next(t, bob, "user_joined", 5*time.Second)

	// Offer, answer and ICE across nodes, to the named user only.
	if err := alice.Call(ctx, "webrtc_offer", map[string]any{"to": "bob", "from": "mallory", "sdp": map[string]any{"type": "offer", "sdp": "v=0"}}, nil); err != nil {
		t.Fatal(err)
	}
	if o := next(t, bob, "webrtc_offer", 5*time.Second); o["from"] != "alice" || o["roomId"] != "r1" || o["sdp"].(map[string]any)["sdp"] != "v=0" {
		t.Fatalf("offer = %v", o)
	}
	if err := bob.Call(ctx, "webrtc_answer", map[string]any{"to": "alice", "sdp": "ans"}, nil); err != nil {
		t.Fatal(err)
	}
	if a := next(t, alice, "webrtc_answer", 5*time.Second); a["from"] != "bob" {
		t.Fatalf("answer = %v", a)
	}
	if err := carol.Call(ctx, "webrtc_ice_candidate", map[string]any{"to": "alice", "candidate": map[string]any{"candidate": "c"}}, nil); err != nil {
		t.Fatal(err)
	}
	if c := next(t, alice, "webrtc_ice_candidate", 5*time.Second); c["from"] != "carol" {
		t.Fatalf("ice = %v", c)
	}
	none(t, carol, "webrtc_offer", 200*time.Millisecond)
	none(t, bob, "webrtc_ice_candidate", 10*time.Millisecond)
	if err := alice.Call(ctx, "webrtc_offer", map[string]any{"to": "nobody", "sdp": "x"}, nil); code(err) != vocab.CodeTargetNotFound {
		t.Fatalf("offer to absent user: %v", err)
	}

	// Chat reaches every member on every node once, sender included.
	var ack struct{ ID string }
	if err := bob.Call(ctx, "chat_message", map[string]any{"content": "hi all"}, &ack); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*sioclient.Client{alice, bob, carol} {
		if m := next(t, c, "chat_message", 5*time.Second); m["id"] != ack.ID || m["senderId"] != "bob" {
			t.Fatalf("chat = %v", m)
		}
	}
	for _, c := range []*sioclient.Client{alice, bob, carol} {
		none(t, c, "chat_message", 100*time.Millisecond)
	}

	// Leave is seen on the other nodes.
	if err := carol.Call(ctx, "leave_room", nil, nil); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*sioclient.Client{alice, bob} {
		if l := next(t, c, "user_left", 5*time.Second); l["userId"] != "carol" || l["reason"] != "left" {
			t.Fatalf("user_left = %v", l)
		}
	}
}

func TestReconnectWindowAcrossNodes(t *testing.T) {
	rs := redisserver.Start(t, redisserver.Options{})
	nodes := cluster(t, rs.URL(), 3, hub.Options{ReconnectWindow: 2 * time.Second})
	alice := nodetest.Connect(t, nodes[0], "alice")
	carol := nodetest.Connect(t, nodes[2], "carol")
	bob := nodetest.Connect(t, nodes[1], "bob")
	join(t, alice, "r1")
	join(t, carol, "r1")
	join(t, bob, "r1")
	next(t, alice, "user_joined", 5*time.Second) // carol
	next(t, alice, "user_joined", 5*time.Second) // bob
	next(t, carol, "user_joined", 5*time.Second) // bob

	// bob drops on node b and comes back through node c within the window: no churn.
	bob.Close()
	time.Sleep(300 * time.Millisecond)
	bob2 := nodetest.Connect(t, nodes[2], "bob")
	if p := join(t, bob2, "r1"); len(p) != 2 {
		t.Fatalf("bob after rejoin sees %v", p)
	}
	for _, c := range []*sioclient.Client{alice, carol} {
		if n, evs := count(c, "user_left", 3*time.Second); n != 0 {
			t.Fatalf("user_left after a rejoin within the window: %v", evs)
		}
	}
	none(t, alice, "user_joined", 10*time.Millisecond)
	// Relays now reach bob on node c.
	_ = alice.Call(nodetest.Ctx(t, 5*time.Second), "webrtc_offer", map[string]any{"to": "bob", "sdp": "x"}, nil)
	next(t, bob2, "webrtc_offer", 5*time.Second)

	// bob drops and stays away: each remaining member hears exactly one user_left.
	bob2.Close()
	var wg sync.WaitGroup
	for _, c := range []*sioclient.Client{alice, carol} {
		wg.Add(1)
		go func(c *sioclient.Client) {
			defer wg.Done()
			n, evs := countUntil(c, "user_left", 1, 6*time.Second, time.Second)
			if n != 1 {
				t.Errorf("user_left events = %d (%v), want exactly 1", n, evs)
				return
			}
			var l map[string]any
			_ = json.Unmarshal([]byte(evs[0]), &l)
			if l["userId"] != "bob" || l["reason"] != "disconnected" {
				t.Errorf("user_left = %v", l)
			}
		}(c)
	}
	wg.Wait()
}

func TestReplaceAcrossNodes(t *testing.T) {
	rs := redisserver.Start(t, redisserver.Options{})
	nodes := cluster(t, rs.URL(), 2, hub.Options{})
	alice := nodetest.Connect(t, nodes[0], "alice")
	bob1 := nodetest.Connect(t, nodes[0], "bob")
	join(t, alice, "r1")
	join(t, bob1, "r1")
	next(t, alice, "user_joined", 5*time.Second)
	bob2 := nodetest.Connect(t, nodes[1], "bob")
	join(t, bob2, "r1")
	if e := next(t, bob1, "error", 5*time.Second); e["code"] != vocab.CodeReplaced {
		t.Fatalf("old session got %v", e)
	}
	none(t, alice, "user_left", 500*time.Millisecond)
	none(t, alice, "user_joined", 10*time.Millisecond)
	_ = alice.Call(nodetest.Ctx(t, 5*time.Second), "webrtc_offer", map[string]any{"to": "bob", "sdp": "x"}, nil)
	next(t, bob2, "webrtc_offer", 5*time.Second)
	none(t, bob1, "webrtc_offer", 200*time.Millisecond)
}

func TestCrashedNodeUsersLeaveOnce(t *testing.T) {
	rs := redisserver.Start(t, redisserver.Options{})
	nodes := cluster(t, rs.URL(), 3, hub.Options{ReconnectWindow: time.Second})
	alice := nodetest.Connect(t, nodes[0], "alice")
	carol := nodetest.Connect(t, nodes[2], "carol")
	join(t, alice, "r1")
	join(t, carol, "r1")
	for _, u := range []string{"bob", "dave"} {
		join(t, nodetest.Connect(t, nodes[1], u), "r1")
	}
	time.Sleep(300 * time.Millisecond)
	count(alice, "user_joined", 200*time.Millisecond)
	count(carol, "user_joined", 10*time.Millisecond)

	start := time.Now()
	nodes[1].Crash()
	// Both survivors watch; each member still hears exactly one user_left per lost user.
	for _, c := range []*sioclient.Client{alice, carol} {
		n, evs := countUntil(c, "user_left", 2, 12*time.Second, time.Second)
		if n != 2 {
			t.Fatalf("user_left events = %d (%v), want one for bob and one for dave", n, evs)
		}
	}
	t.Logf("crashed node's users removed; checked for %s after the crash", time.Since(start))
	if p := join(t, nodetest.Connect(t, nodes[0], "erin"), "r1"); len(p) != 2 {
		t.Fatalf("presence after the crash = %v, want alice and carol", p)
	}
}

// TestSIGKILLedNodeProcess runs a real signaling binary, kills it with SIGKILL and
// measures how long the survivors take to announce its users' departure.
func TestSIGKILLedNodeProcess(t *testing.T) {
	rs := redisserver.Start(t, redisserver.Options{})
	survivors := cluster(t, rs.URL(), 2, hub.Options{NodeHeartbeat: time.Second})
	bin := nodetest.BuildSignaling(t)
	keyFile := filepath.Join(t.TempDir(), "jwt.pem")
	if err := os.WriteFile(keyFile, nodetest.Keys().PublicPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := nodetest.FreeAddr(t)
	proc := exec.Command(bin, append(nodetest.ProcessFlags(), "--listen", addr, "--metrics-listen", nodetest.FreeAddr(t), "--node-id", "victim", "--redis-url", rs.URL(), "--jwt-public-key", keyFile, "--reconnect-window", "1s", "--log-level", "warn")...)
	proc.Stderr = os.Stderr
	if err := proc.Start(); err != nil {
		t.Fatal(err)
	}
	defer proc.Process.Kill()
	victimURL := "http://" + addr
	waitHTTP(t, victimURL+"/readyz", 10*time.Second)

	alice := nodetest.Connect(t, survivors[0], "alice")
	carol := nodetest.Connect(t, survivors[1], "carol")
	join(t, alice, "r1")
	join(t, carol, "r1")
	bob, err := sioclient.Dial(context.Background(), victimURL, sioclient.Options{Token: nodetest.Token(t, "bob")})
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close()
	if p := join(t, bob, "r1"); len(p) != 2 {
		t.Fatalf("bob on the victim sees %v", p)
	}
	next(t, alice, "user_joined", 5*time.Second)
	next(t, carol, "user_joined", 5*time.Second)

	start := time.Now()
	_ = proc.Process.Signal(syscall.SIGKILL)
	_ = proc.Wait()
	l := next(t, alice, "user_left", 15*time.Second)
	took := time.Since(start)
	if l["userId"] != "bob" || l["reason"] != "disconnected" {
		t.Fatalf("user_left = %v", l)
	}
	t.Logf("SIGKILLed node detected and its user removed after %s (target ≤ 15 s)", took)
	if n, evs := countUntil(carol, "user_left", 1, 3*time.Second, time.Second); n != 1 {
		t.Fatalf("carol got %d user_left (%v), want exactly 1", n, evs)
	}
	none(t, alice, "user_left", 10*time.Millisecond)
}

func TestRedisOutageDegradedModeAndRecovery(t *testing.T) {
	rs := redisserver.Start(t, redisserver.Options{})
	nodes := cluster(t, rs.URL(), 2, hub.Options{})
	alice := nodetest.Connect(t, nodes[0], "alice")
	carol := nodetest.Connect(t, nodes[0], "carol")
	bob := nodetest.Connect(t, nodes[1], "bob")
	join(t, alice, "r1")
	join(t, carol, "r1")
	join(t, bob, "r1")
	ctx := nodetest.Ctx(t, 60*time.Second)

	rs.Kill()
	for _, n := range nodes {
		waitUntil(t, 10*time.Second, "readyz false while Redis is down", func() bool { return httpStatus(n.URL+"/readyz") == 503 })
		if s := httpStatus(n.URL + "/healthz"); s != 200 {
			t.Fatalf("/healthz = %d while Redis is down", s)
		}
	}
	// Same-node traffic keeps working; sockets stay open.
	if err := alice.Call(ctx, "webrtc_offer", map[string]any{"to": "carol", "sdp": "local"}, nil); err != nil {
		t.Fatalf("same-node relay during the outage: %v", err)
	}
	next(t, carol, "webrtc_offer", 5*time.Second)
	// Cross-node relay fails with a clear error instead of vanishing.
	err := alice.Call(ctx, "webrtc_offer", map[string]any{"to": "bob", "sdp": "remote"}, nil)
	if code(err) != vocab.CodeInternal {
		t.Fatalf("cross-node relay during the outage: %v", err)
	}
	// A newcomer on node a can still join with the local participants.
	dave := nodetest.Connect(t, nodes[0], "dave")
	if p := join(t, dave, "r1"); len(p) < 2 {
		t.Fatalf("degraded join lists %v, want at least the local members", p)
	}

	time.Sleep(2 * time.Second)
	rs.Restart() // same port; the data is gone (no persistence)
	restarted := time.Now()
	for _, n := range nodes {
		waitReady(t, n, 15*time.Second)
	}
	t.Logf("nodes ready %s after Redis came back (target ≤ 3 s)", time.Since(restarted))
	// Presence is rebuilt from the nodes' local state, and cross-node relay works again.
	waitUntil(t, 10*time.Second, "presence rebuilt", func() bool {
		var a joinAck
		err := bob.Call(ctx, "join_room", map[string]string{"roomId": "r1"}, &a)
		return err == nil && len(a.Participants) == 3
	})
	waitUntil(t, 10*time.Second, "cross-node relay after recovery", func() bool {
		return alice.Call(ctx, "webrtc_offer", map[string]any{"to": "bob", "sdp": "again"}, nil) == nil
	})
	next(t, bob, "webrtc_offer", 5*time.Second)
	for _, c := range []*sioclient.Client{alice, bob, carol, dave} {
		select {
		case <-c.Done():
			t.Fatal("a socket was closed by the Redis outage")
		default:
		}
	}
}

func TestPubSubConnectionKilledIsNoticedByTheWatchdog(t *testing.T) {
	rs := redisserver.Start(t, redisserver.Options{})
	nodes := cluster(t, rs.URL(), 2, hub.Options{})
	alice, bob := pairAcross(t, nodes)
	next(t, alice, "user_joined", 5*time.Second)

	rs.Do("CLIENT", "KILL", "TYPE", "pubsub")
	ctx := nodetest.Ctx(t, 20*time.Second)
	// Room events (pub/sub on the room channel) reach the other node again.
	waitUntil(t, 10*time.Second, "room chat crosses nodes after CLIENT KILL", func() bool {
		var ack struct{ ID string }
		if bob.Call(ctx, "chat_message", map[string]any{"content": "ping"}, &ack) != nil {
			return false
		}
		for {
			c, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
			ev, ok := alice.Next(c, "chat_message")
			cancel()
			if !ok {
				return false
			}
			var m map[string]any
			_ = json.Unmarshal(ev.Data, &m)
			if m["id"] == ack.ID {
				return true
			}
		}
	})
}

func TestSentinelFailoverCrossNodeRelay(t *testing.T) {
	st := redisserver.StartSentinel(t)
	nodes := cluster(t, st.URL(), 2, hub.Options{})
	alice, bob := pairAcross(t, nodes)
	ctx := nodetest.Ctx(t, 60*time.Second)
	if err := alice.Call(ctx, "webrtc_offer", map[string]any{"to": "bob", "sdp": "before"}, nil); err != nil {
		t.Fatal(err)
	}
	next(t, bob, "webrtc_offer", 5*time.Second)

	start := time.Now()
	st.Failover()
	waitUntil(t, 30*time.Second, "cross-node relay after the failover", func() bool {
		if alice.Call(ctx, "webrtc_offer", map[string]any{"to": "bob", "sdp": "after"}, nil) != nil {
			return false
		}
		c, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		for {
			ev, ok := bob.Next(c, "webrtc_offer")
			if !ok {
				return false
			}
			var m map[string]any
			_ = json.Unmarshal(ev.Data, &m)
			if m["sdp"] == "after" {
				return true
			}
		}
	})
	t.Logf("cross-node relay works again %s after SENTINEL FAILOVER", time.Since(start))
}

func waitUntil(t *testing.T, within time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func httpStatus(url string) int {
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func waitHTTP(t *testing.T, url string, within time.Duration) {
	t.Helper()
	waitUntil(t, within, url+" answers 200", func() bool { return httpStatus(url) == 200 })
}

func TestRelayToAUserInTheReconnectWindowIsReportedBack(t *testing.T) {
	rs := redisserver.Start(t, redisserver.Options{})
	nodes := cluster(t, rs.URL(), 2, hub.Options{ReconnectWindow: 5 * time.Second})
	alice, bob := pairAcross(t, nodes)
	next(t, alice, "user_joined", 5*time.Second)
	bob.Close()
	time.Sleep(300 * time.Millisecond) // node b has seen the drop; presence still lists bob
	if err := alice.Call(nodetest.Ctx(t, 5*time.Second), "webrtc_offer", map[string]any{"to": "bob", "sdp": "x"}, nil); err != nil {
		t.Fatalf("offer: %v", err)
	}
	e := next(t, alice, "error", 5*time.Second)
	if e["code"] != vocab.CodeTargetNotFound || e["event"] != "webrtc_offer" {
		t.Fatalf("error = %v, want target_not_found for webrtc_offer", e)
	}
}

// TestRelayFollowsAUserWhoMovedNodes: the sender's node remembers the target's node for
// a moment (relay bursts skip the presence lookup); when the target reconnected through a
// third node meanwhile, the stale node forwards the relay instead of losing it.
func TestRelayFollowsAUserWhoMovedNodes(t *testing.T) {
	rs := redisserver.Start(t, redisserver.Options{})
	nodes := cluster(t, rs.URL(), 3, hub.Options{RelayRouteTTL: time.Minute})
	alice, bob := pairAcross(t, nodes)
	ctx := nodetest.Ctx(t, 20*time.Second)
	if err := alice.Call(ctx, "webrtc_ice_candidate", map[string]any{"to": "bob", "candidate": "c1"}, nil); err != nil {
		t.Fatal(err)
	}
	next(t, bob, "webrtc_ice_candidate", 5*time.Second) // node a now remembers: bob is on node b

	bob.Close()
	bob2 := nodetest.Connect(t, nodes[2], "bob")
	join(t, bob2, "r1") // within the window: no user_joined, node a's route is stale
	if err := alice.Call(ctx, "webrtc_ice_candidate", map[string]any{"to": "bob", "candidate": "c2"}, nil); err != nil {
		t.Fatal(err)
	}
	if c := next(t, bob2, "webrtc_ice_candidate", 5*time.Second); c["candidate"] != "c2" || c["from"] != "alice" {
		t.Fatalf("candidate = %v", c)
	}
	none(t, alice, "error", 300*time.Millisecond)
}

// TestLeaveDuringARedisOutageIsCompletedAfterwards: a user who leaves while Redis is
// unreachable is removed from presence (and announced) once Redis answers again, instead
// of staying listed as a ghost.
func TestLeaveDuringARedisOutageIsCompletedAfterwards(t *testing.T) {
	rs := redisserver.Start(t, redisserver.Options{})
	nodes := cluster(t, rs.URL(), 2, hub.Options{})
	alice := nodetest.Connect(t, nodes[0], "alice")
	carol := nodetest.Connect(t, nodes[0], "carol")
	bob := nodetest.Connect(t, nodes[1], "bob")
	join(t, alice, "r1")
	join(t, carol, "r1")
	join(t, bob, "r1")
	count(bob, "user_joined", 300*time.Millisecond)

	rs.Pause() // Redis keeps its data but answers nothing
	if err := carol.Call(nodetest.Ctx(t, 10*time.Second), "leave_room", nil, nil); err != nil {
		t.Fatalf("leave during the outage: %v", err)
	}
	time.Sleep(3 * time.Second)
	rs.Resume()

	if l := next(t, bob, "user_left", 15*time.Second); l["userId"] != "carol" || l["reason"] != "left" {
		t.Fatalf("user_left = %v", l)
	}
	if p := join(t, nodetest.Connect(t, nodes[1], "dave"), "r1"); len(p) != 2 {
		t.Fatalf("participants after the outage = %v, want alice and bob", p)
	}
}
