package hub

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/signaling/auth"
	"github.com/switchboard-rtc/switchboard/signaling/protocol"
)

// reportCPU adds the process's CPU time per operation (user + system, all threads: the
// garbage collector's share included) to a benchmark: on a shared machine the wall-clock
// ns/op moves with the other load, the CPU time much less.
func reportCPU(b *testing.B) func() {
	var start syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &start)
	return func() {
		var end syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &end)
		cpu := time.Duration(end.Utime.Nano() + end.Stime.Nano() - start.Utime.Nano() - start.Stime.Nano())
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

// countConn is a Conn that only counts frames (the transport is not measured here).
type countConn struct{ n atomic.Int64 }

func (c *countConn) Send([]byte) bool { c.n.Add(1); return true }
func (c *countConn) Close(string)     {}

// benchRoom starts a hub on the in-memory bus with size sessions joined to one room;
// recovery is its RecoveryWindow (0: connection-state recovery off, the hub's default).
func benchRoom(b *testing.B, size int, recovery time.Duration) (*Hub, []*Session, *countConn) {
	b.Helper()
	h := New(Options{NodeID: "bench", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), EventRate: -1, RecoveryWindow: recovery})
	if err := h.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { h.Close(context.Background()) })
	conn := &countConn{}
	var sessions []*Session
	for i := 0; i < size; i++ {
		s := &Session{ID: fmt.Sprintf("s%d", i), User: auth.Identity{UserID: fmt.Sprintf("u%d", i), Name: "User"}}
		h.Connect(s, conn)
		h.HandleEvent(s, "join_room", []json.RawMessage{json.RawMessage(`{"roomId":"room-1"}`)}, 1)
		if s.Room() != "room-1" {
			b.Fatalf("session %d did not join", i)
		}
		sessions = append(sessions, s)
	}
	return h, sessions, conn
}

// BenchmarkRoomFanOut10 is the room broadcast primitive: one event to 10 local members
// (frame built once) plus the publish for other nodes. Deliveries/s = 10 × ops/s.
func BenchmarkRoomFanOut10(b *testing.B) { benchRoomFanOut10(b, 0) }

// BenchmarkRoomFanOut10Recovery is BenchmarkRoomFanOut10 with connection-state recovery on:
// an offset per event and each member's recent-frames log (docs/benchmarks.md).
func BenchmarkRoomFanOut10Recovery(b *testing.B) { benchRoomFanOut10(b, time.Minute) }

func benchRoomFanOut10(b *testing.B, recovery time.Duration) {
	h, _, conn := benchRoom(b, 10, recovery)
	data := json.RawMessage(`{"id":"0190d2a4-7b7e-7c3a-9a57-3e1f2b4c5d6e","roomId":"room-1","senderId":"u1","senderName":"User","content":"hello everyone","timestamp":1720000000000}`)
	conn.n.Store(0)
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		h.broadcast("room-1", "chat_message", data, "")
	}
	b.ReportMetric(float64(conn.n.Load())/b.Elapsed().Seconds(), "deliveries/s")
}

// BenchmarkChatMessage10 is the whole chat path: a member's chat_message event (decode,
// validate, id, chat log, encode) delivered to the 10 members and acked.
func BenchmarkChatMessage10(b *testing.B) { benchChatMessage10(b, 0) }

// BenchmarkChatMessage10Recovery is BenchmarkChatMessage10 with connection-state recovery on.
func BenchmarkChatMessage10Recovery(b *testing.B) { benchChatMessage10(b, time.Minute) }

func benchChatMessage10(b *testing.B, recovery time.Duration) {
	h, sessions, conn := benchRoom(b, 10, recovery)
	args := []json.RawMessage{json.RawMessage(`{"content":"hello everyone, this is a chat message of typical length"}`)}
	conn.n.Store(0)
	b.ReportAllocs()
	defer reportCPU(b)()
	i := 0
	for b.Loop() {
		h.HandleEvent(sessions[i%len(sessions)], "chat_message", args, int64(i))
		i++
	}
	b.ReportMetric(float64(conn.n.Load())/b.Elapsed().Seconds(), "frames/s")
}

// BenchmarkRelayOffer is a local webrtc_offer relay: decode, look up the target, frame.
func BenchmarkRelayOffer(b *testing.B) { benchRelayOffer(b, 0) }

// BenchmarkRelayOfferRecovery is BenchmarkRelayOffer with connection-state recovery on.
func BenchmarkRelayOfferRecovery(b *testing.B) { benchRelayOffer(b, time.Minute) }

func benchRelayOffer(b *testing.B, recovery time.Duration) {
	h, sessions, _ := benchRoom(b, 2, recovery)
	args := []json.RawMessage{json.RawMessage(`{"to":"u1","sdp":{"type":"offer","sdp":"v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0 1\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"}}`)}
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		h.HandleEvent(sessions[0], "webrtc_offer", args, protocol.NoAck)
	}
}
