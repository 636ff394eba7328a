package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchboard-rtc/switchboard/internal/testutil/nodetest"
	"github.com/switchboard-rtc/switchboard/signaling/hub"
	"github.com/switchboard-rtc/switchboard/signaling/server"
	"github.com/switchboard-rtc/switchboard/signaling/sioclient"
)

// TestSendQueueByteBudgetDisconnectsASlowConsumer: a member that stops reading is
// disconnected once its queue holds more bytes than the budget, long before the frame
// count would catch it. (Before: only frames were counted, so with a large frame bound a
// non-reading socket pinned every large frame sent to it.)
func TestSendQueueByteBudgetDisconnectsASlowConsumer(t *testing.T) {
	n := nodetest.Start(t, nodetest.Config{
		Hub:    hub.Options{EventRate: 100000, EventBurst: 100000, MaxChatLength: 8000},
		Server: server.Options{SendQueue: 1 << 20, SendQueueBytes: 256 << 10},
	})
	sender, err := sioclient.Dial(context.Background(), n.URL, sioclient.Options{Token: nodetest.Token(t, "sender"), OnEvent: func(sioclient.Event) {}})
	if err != nil {
		t.Fatal(err)
	}
	defer sender.Close()
	slow := dialNonReading(t, n.URL, "slow")
	join(t, sender, "r1")
	join(t, slow, "r1")

	content := strings.Repeat("m", 7000)
	ctx := nodetest.Ctx(t, 60*time.Second)
	// 3,000 messages of 7 KB (21 MB) are far more than the socket buffers and the 256 KiB
	// budget hold, and far fewer frames than the frame bound.
	for i := 0; i < 3000 && testutil.ToFloat64(n.Metrics.SlowConsumers) == 0; i++ {
		if err := sender.Call(ctx, "chat_message", map[string]any{"content": content}, nil); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	if v := testutil.ToFloat64(n.Metrics.SlowConsumers); v != 1 {
		t.Fatalf("slow consumer disconnects = %v, want 1", v)
	}
	if v := testutil.ToFloat64(n.Metrics.Disconnects.WithLabelValues("slow_consumer")); v != 1 {
		t.Fatalf("slow_consumer disconnects = %v, want 1", v)
	}
	if err := sender.Call(ctx, "heartbeat", nil, nil); err != nil {
		t.Fatalf("the sender was affected: %v", err)
	}
}
