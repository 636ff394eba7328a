package server_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchboard-rtc/switchboard/internal/testutil/nodetest"
	"github.com/switchboard-rtc/switchboard/signaling/config"
)

// TestJoinHistoryAmplificationByANonReadingSocket: a socket that never reads sends
// 200 join_room requests with acks for a room with a large chat history. Each
// ack once carried the whole history (here 50 × 16 KB), so a few bytes in pinned
// hundreds of megabytes of acks until the frame bound tripped. Now the first ack's
// history is capped at --join-history-bytes, repeated joins of the same room carry none,
// and joins beyond the per-user burst are refused: what the socket is sent stays small,
// and it is not even a slow consumer.
func TestJoinHistoryAmplificationByANonReadingSocket(t *testing.T) {
	n := nodetest.Start(t, nodetest.Config{Node: config.Config{JoinRate: 2, JoinBurst: 10}})
	alice := nodetest.Connect(t, n, "alice")
	join(t, alice, "r1")
	big := strings.Repeat("😀", 4000) // 16,000 bytes encoded, within --max-chat-length
	for i := 0; i < 50; i++ {
		if err := alice.Call(nodetest.Ctx(t, 5*time.Second), "chat_message", map[string]any{"content": big}, nil); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}

	ws := dialRaw(t, n, nil)
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`40{"token":"`+nodetest.Token(t, "mallory")+`"}`)); err != nil {
		t.Fatal(err)
	}
	const joins = 200 // fewer than the 256 frames a send queue holds: no slow consumer by count
	for i := 0; i < joins; i++ {
		if err := ws.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf(`42%d["join_room",{"roomId":"r1"}]`, i))); err != nil {
			t.Fatalf("join %d: %v", i, err)
		}
	}
	// Only now read everything the node sent: the acks of all the joins.
	received, acks := 0, 0
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for acks < joins {
		_, frame, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("after %d acks and %d bytes: %v", acks, received, err)
		}
		received += len(frame)
		if strings.HasPrefix(string(frame), "43") {
			acks++
		}
	}
	if received > 512<<10 {
		t.Fatalf("%d joins were answered with %d bytes; want at most 512 KiB", joins, received)
	}
	if v := testutil.ToFloat64(n.Metrics.SlowConsumers); v != 0 {
		t.Fatalf("slow consumer disconnects = %v", v)
	}
	t.Logf("%d joins answered with %d bytes", joins, received)
}
