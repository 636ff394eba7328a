package test

import (
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/switchboard-rtc/switchboard/internal/testutil/nodetest"
	"github.com/switchboard-rtc/switchboard/internal/testutil/redisserver"
	"github.com/switchboard-rtc/switchboard/signaling/hub"
)

// deliveries reads how many cross-node deliveries a node's histogram has observed.
func deliveries(t *testing.T, n *nodetest.Node) uint64 {
	t.Helper()
	var m dto.Metric
	if err := n.Metrics.Redis.DeliveryLatency.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount()
}

// The broker owns the Redis metrics: one relay that crosses nodes is one observation of
// switchboard_redis_delivery_seconds on the receiving node, not one per layer it passes.
func TestOneDeliveryObservationPerCrossNodeRelay(t *testing.T) {
	rs := redisserver.Start(t, redisserver.Options{})
	nodes := cluster(t, rs.URL(), 2, hub.Options{})
	alice, bob := pairAcross(t, nodes)
	next(t, alice, "user_joined", 5*time.Second)
	ctx := nodetest.Ctx(t, 10*time.Second)

	// Let the joins' own deliveries settle before counting.
	time.Sleep(300 * time.Millisecond)
	before := deliveries(t, nodes[1])
	if err := alice.Call(ctx, "webrtc_offer", map[string]any{"to": "bob", "sdp": "v=0"}, nil); err != nil {
		t.Fatal(err)
	}
	next(t, bob, "webrtc_offer", 5*time.Second)
	time.Sleep(300 * time.Millisecond)
	if got := deliveries(t, nodes[1]) - before; got != 1 {
		t.Fatalf("one cross-node relay observed %d times in switchboard_redis_delivery_seconds, want 1", got)
	}
}
