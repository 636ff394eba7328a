package test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/switchboard-rtc/switchboard/internal/testutil/nodetest"
	"github.com/switchboard-rtc/switchboard/internal/testutil/redisserver"
	"github.com/switchboard-rtc/switchboard/signaling/broker"
	"github.com/switchboard-rtc/switchboard/signaling/config"
)

// Anyone who can PUBLISH on the Redis used to be able to forge a relayed offer "from"
// another user. With --bus-key-file, nodes sharing the key still relay to each other, and
// a forged message — unsigned, or signed with another key — is dropped and counted.
func TestForgedBusMessagesAreDroppedWithABusKey(t *testing.T) {
	rs := redisserver.Start(t, redisserver.Options{})
	keyFile := filepath.Join(t.TempDir(), "bus.key")
	if err := os.WriteFile(keyFile, append(bytes.Repeat([]byte("k"), 48), '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	var nodes []*nodetest.Node
	for _, id := range []string{"node-a", "node-b"} {
		n := nodetest.Start(t, nodetest.Config{NodeID: id, RedisURL: rs.URL(), Node: config.Config{BusKeyFile: keyFile}})
		waitReady(t, n, 10*time.Second) // its own signed watchdog probes come back
		nodes = append(nodes, n)
	}
	alice, bob := pairAcross(t, nodes)
	next(t, alice, "user_joined", 5*time.Second)
	ctx := nodetest.Ctx(t, 20*time.Second)

	// The attacker publishes what node-a would send for a relay from carol.
	forged, _ := json.Marshal(broker.Message{Type: broker.TypeUser, Room: "r1", Event: "webrtc_offer", User: "bob", From: "carol", Origin: "node-a",
		Data: json.RawMessage(`{"roomId":"r1","from":"carol","sdp":{"type":"offer","sdp":"forged"}}`)})
	otherKey, err := broker.NewBusKey(bytes.Repeat([]byte("x"), 32))
	if err != nil {
		t.Fatal(err)
	}
	rc := redis.NewClient(&redis.Options{Addr: rs.Addr()})
	defer rc.Close()
	channel := broker.NodeChannel("node-b")
	for _, payload := range [][]byte{forged, otherKey.Seal(channel, forged)} {
		if err := rc.Publish(ctx, channel, payload).Err(); err != nil {
			t.Fatal(err)
		}
	}
	rejected := nodes[1].Metrics.Redis.BusRejected
	deadline := time.Now().Add(10 * time.Second)
	for testutil.ToFloat64(rejected.WithLabelValues("unsigned")) < 1 || testutil.ToFloat64(rejected.WithLabelValues("bad_mac")) < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("forged messages not counted: unsigned=%v bad_mac=%v", testutil.ToFloat64(rejected.WithLabelValues("unsigned")), testutil.ToFloat64(rejected.WithLabelValues("bad_mac")))
		}
		time.Sleep(20 * time.Millisecond)
	}

	// A real relay across the two nodes arrives, and it is the first offer bob sees: the
	// forged ones, published before it on the same channel, were dropped.
	if err := alice.Call(ctx, "webrtc_offer", map[string]any{"to": "bob", "sdp": map[string]any{"type": "offer", "sdp": "v=0"}}, nil); err != nil {
		t.Fatal(err)
	}
	if o := next(t, bob, "webrtc_offer", 5*time.Second); o["from"] != "alice" {
		t.Fatalf("bob's first offer = %v, want the real one from alice", o)
	}
	// Chat fans out across the nodes too (room channel, signed).
	if err := bob.Call(ctx, "chat_message", map[string]any{"content": "signed"}, nil); err != nil {
		t.Fatal(err)
	}
	if m := next(t, alice, "chat_message", 5*time.Second); m["content"] != "signed" {
		t.Fatalf("chat = %v", m)
	}
}
