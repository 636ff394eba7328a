package server

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// pairWSConn connects a WebSocket client to a server-side wsConn (on the coalescing
// transport, as the server builds it); serve runs in the server's handler.
func pairWSConn(t *testing.T, queue int, pingInterval time.Duration, serve func(*wsConn)) (*wsConn, *websocket.Conn) {
	t.Helper()
	conns := make(chan *wsConn, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := (&websocket.Upgrader{}).Upgrade(coalescingHijacker{w}, r, nil)
		if err != nil {
			return
		}
		c := newWSConn(ws, queue, 64<<20, pingInterval, 5*time.Second, nil)
		conns <- c
		serve(c)
	}))
	t.Cleanup(srv.Close)
	cl, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return <-conns, cl
}

// TestQueuedFramesArriveWholeAndInOrder: frames queued faster than the writer sends
// them go out in coalesced batches; the client sees every frame, intact and in order.
func TestQueuedFramesArriveWholeAndInOrder(t *testing.T) {
	const n = 2000
	c, cl := pairWSConn(t, n, time.Hour, func(c *wsConn) {
		if c.cc == nil {
			t.Error("transport is not coalescing")
		}
		for i := 0; i < n; i++ {
			// Frames of varied sizes, some above the batch limit.
			size := 10 + i%7*1000
			if i%500 == 0 {
				size = maxBatchBytes + 10
			}
			if !c.Send([]byte(fmt.Sprintf("%d:%s", i, strings.Repeat("x", size)))) {
				t.Errorf("send %d refused", i)
				return
			}
		}
	})
	defer c.Close("test over")
	_ = cl.SetReadDeadline(time.Now().Add(20 * time.Second))
	for i := 0; i < n; i++ {
		_, msg, err := cl.ReadMessage()
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		prefix := fmt.Sprintf("%d:", i)
		if !strings.HasPrefix(string(msg), prefix) {
			t.Fatalf("frame %d arrived as %.20q", i, msg)
		}
		size := 10 + i%7*1000
		if i%500 == 0 {
			size = maxBatchBytes + 10
		}
		if len(msg) != len(prefix)+size {
			t.Fatalf("frame %d: %d bytes, want %d", i, len(msg), len(prefix)+size)
		}
	}
}

// TestSlowConsumerBoundHolds: the queue bound is unchanged by the slice queue.
func TestSlowConsumerBoundHolds(t *testing.T) {
	// writing: a writer is busy (and never takes anything here), so frames stay queued.
	c := &wsConn{qmax: 3, qmaxBytes: 1 << 20, writing: true}
	slow := 0
	c.onSlow = func() { slow++ }
	c.ws = nil
	for i := 0; i < 3; i++ {
		if !c.Send([]byte("x")) {
			t.Fatalf("send %d refused below the bound", i)
		}
	}
	// The 4th frame overflows: Close needs a transport, so check the bound directly.
	c.qmu.Lock()
	full := c.pending >= c.qmax
	c.qmu.Unlock()
	if !full || slow != 0 {
		t.Fatalf("pending %d of %d, slow %d", c.pending, c.qmax, slow)
	}
	c.qmu.Lock()
	b := c.takeLocked()
	c.qmu.Unlock()
	if len(b) != 3 {
		t.Fatalf("took %d frames", len(b))
	}
	c.written(1, 1)
	if c.pending != 2 {
		t.Fatalf("pending after one write = %d", c.pending)
	}
}

// TestWriterRunsOnlyWhileThereIsSomethingToSend: an idle connection keeps no writer
// goroutine, pings still go out on time, and Close on an idle connection sends what was
// queued and closes the socket.
func TestWriterRunsOnlyWhileThereIsSomethingToSend(t *testing.T) {
	c, cl := pairWSConn(t, 16, 30*time.Millisecond, func(c *wsConn) { c.startPings() })
	writerRunning := func() bool {
		c.qmu.Lock()
		defer c.qmu.Unlock()
		return c.writing
	}

	if !c.Send([]byte("4hello")) {
		t.Fatal("send refused")
	}
	_ = cl.SetReadDeadline(time.Now().Add(5 * time.Second))
	pings := 0
	for pings < 3 {
		_, msg, err := cl.ReadMessage()
		if err != nil {
			t.Fatalf("after %d pings: %v", pings, err)
		}
		if string(msg) == "2" {
			pings++
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for writerRunning() {
		if time.Now().After(deadline) {
			t.Fatal("the writer goroutine is still running with nothing queued")
		}
		time.Sleep(time.Millisecond)
	}

	c.pingTimer.Stop() // no ping may slip in between the error frame and the close
	c.qmu.Lock()
	c.queue = append(c.queue, []byte("44{\"message\":\"bye\"}"))
	c.pending++
	c.qmu.Unlock()
	c.Close("test over")
	if c.Send([]byte("4late")) {
		t.Fatal("send accepted after close")
	}
	for {
		_, msg, err := cl.ReadMessage()
		if err != nil {
			t.Fatal("the frame queued before close never arrived:", err)
		}
		if string(msg) == "44{\"message\":\"bye\"}" {
			break
		}
	}
	if _, msg, err := cl.ReadMessage(); err == nil {
		t.Fatalf("socket still open after close; got %q", msg)
	}
	if got := c.Reason(); got != "test over" {
		t.Fatalf("reason %q", got)
	}
}

// TestWaitReadable: the read loop's shallow wait returns when data arrives, when bytes are
// already buffered, on EOF, and with a timeout error at the read deadline — and consumes
// nothing.
func TestWaitReadable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	cc := newCoalescingConn(sc)
	cc.br = new(bufio.Reader)
	cc.borrowReadBuffer()

	// Nothing to read: the deadline ends the wait with a timeout.
	_ = sc.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if err := cc.waitReadable(); !isTimeout(err) {
		t.Fatalf("wait with nothing to read = %v, want a timeout", err)
	}
	// Data arriving during the wait ends it; the data is still there to read.
	_ = sc.SetReadDeadline(time.Now().Add(5 * time.Second))
	go func() { time.Sleep(20 * time.Millisecond); _, _ = client.Write([]byte("ab")) }()
	if err := cc.waitReadable(); err != nil {
		t.Fatal(err)
	}
	if b, err := cc.br.ReadByte(); err != nil || b != 'a' {
		t.Fatalf("read %q, %v after the wait", b, err)
	}
	// One byte still buffered: no wait at all, even with a deadline in the past.
	_ = sc.SetReadDeadline(time.Now().Add(-time.Second))
	if err := cc.waitReadable(); err != nil {
		t.Fatalf("wait with a buffered byte = %v", err)
	}
	_ = sc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if b, _ := cc.br.ReadByte(); b != 'b' {
		t.Fatalf("read %q", b)
	}
	// The peer closing ends the wait; the reader then sees EOF.
	client.Close()
	if err := cc.waitReadable(); err != nil {
		t.Fatal(err)
	}
	if _, err := cc.br.ReadByte(); err == nil {
		t.Fatal("read after the peer closed succeeded")
	}
}

// deadlineRecorder records the deadlines that reach the network connection.
type deadlineRecorder struct {
	net.Conn
	read, write []time.Time
}

func (d *deadlineRecorder) SetWriteDeadline(t time.Time) error {
	d.write = append(d.write, t)
	return nil
}

func (d *deadlineRecorder) SetReadDeadline(t time.Time) error {
	d.read = append(d.read, t)
	return nil
}

func (d *deadlineRecorder) SetDeadline(t time.Time) error {
	_ = d.SetWriteDeadline(t)
	return d.SetReadDeadline(t)
}

// TestDeadlinesAreCoarse: per-frame deadlines a little later than the one in force are
// skipped; later ones beyond the slack, earlier ones, clearing, and any when the one in
// force is less than a second away are always set — for reads and writes alike.
func TestDeadlinesAreCoarse(t *testing.T) {
	for _, dir := range []string{"read", "write"} {
		t.Run(dir, func(t *testing.T) {
			rec := &deadlineRecorder{}
			cc := &coalescingConn{Conn: rec}
			set, seen := cc.SetWriteDeadline, &rec.write
			if dir == "read" {
				set, seen = cc.SetReadDeadline, &rec.read
			}
			base := time.Now().Add(10 * time.Second)
			steps := []struct {
				t    time.Time
				sets bool
			}{
				{base, true},
				{base.Add(time.Millisecond), false},
				{base.Add(deadlineSlack), false},
				{base.Add(deadlineSlack + time.Millisecond), true},
				{base, true}, // earlier than the one in force
				{time.Time{}, true},
				{base, true},
				{time.Now().Add(500 * time.Millisecond), true},
				{time.Now().Add(600 * time.Millisecond), true},
			}
			for i, st := range steps {
				before := len(*seen)
				_ = set(st.t)
				if got := len(*seen) > before; got != st.sets {
					t.Fatalf("step %d: deadline set = %v, want %v", i, got, st.sets)
				}
			}
			// SetDeadline (Close's "now") always goes through and becomes the one in force.
			now := time.Now()
			_ = cc.SetDeadline(now)
			_ = set(now.Add(time.Millisecond))
			if n := len(*seen); !(*seen)[n-2].Equal(now) || !(*seen)[n-1].Equal(now.Add(time.Millisecond)) {
				t.Fatalf("after SetDeadline: %v", (*seen)[n-2:])
			}
		})
	}
}

// TestFramesAreWholeAtEveryLengthEncoding: the server's own framing is what a WebSocket
// client reads at every length encoding (7-bit, 16-bit, 64-bit).
func TestFramesAreWholeAtEveryLengthEncoding(t *testing.T) {
	sizes := []int{0, 1, 125, 126, 127, 0xffff, 0x10000, 70000}
	frames := make(chan *wsConn, 1)
	_, cl := pairWSConn(t, 16, time.Hour, func(c *wsConn) { frames <- c })
	c := <-frames
	defer c.Close("test over")
	_ = cl.SetReadDeadline(time.Now().Add(10 * time.Second))
	for _, size := range sizes {
		payload := strings.Repeat(string(rune('a'+size%26)), size)
		if !c.Send([]byte(payload)) {
			t.Fatalf("send of %d bytes refused", size)
		}
		_, msg, err := cl.ReadMessage()
		if err != nil {
			t.Fatalf("%d bytes: %v", size, err)
		}
		if string(msg) != payload {
			t.Fatalf("%d bytes sent, %d arrived (or different bytes)", size, len(msg))
		}
	}
}

// TestFramesAndControlFramesDoNotInterleave: frames queued while the client reads
// nothing (so the socket is full and the writer blocks) arrive whole and in order, and a
// pong the library writes meanwhile lands between frames, not inside one.
func TestFramesAndControlFramesDoNotInterleave(t *testing.T) {
	const size, queued = 32 << 10, 300 // ~10 MB: far more than the socket buffers hold
	frames := make(chan *wsConn, 1)
	_, cl := pairWSConn(t, 1<<16, time.Hour, func(c *wsConn) { frames <- c })
	c := <-frames
	defer c.Close("test over")
	payload := func(i int) []byte {
		return []byte(fmt.Sprintf("%06d:%s", i, strings.Repeat(string(rune('a'+i%26)), size)))
	}
	sent := 0
	for ; sent < queued/2; sent++ {
		if !c.Send(payload(sent)) {
			t.Fatalf("send %d refused", sent)
		}
	}
	// A ping from the client makes the library write a pong on its own, while frames are
	// still unsent. The server handles it inside its next read, which returns the text
	// message sent after the ping: by then the pong has been written.
	if err := cl.WriteControl(websocket.PingMessage, []byte("p"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := cl.WriteMessage(websocket.TextMessage, []byte("after the ping")); err != nil {
		t.Fatal(err)
	}
	pongWritten := make(chan struct{})
	go func() { _, _, _ = c.ws.ReadMessage(); close(pongWritten) }()
	for ; sent < queued; sent++ {
		if !c.Send(payload(sent)) {
			t.Fatalf("send %d refused", sent)
		}
	}
	pongs := 0
	cl.SetPongHandler(func(string) error { pongs++; return nil })
	_ = cl.SetReadDeadline(time.Now().Add(30 * time.Second))
	read := func(i int) {
		_, msg, err := cl.ReadMessage()
		if err != nil {
			t.Fatalf("frame %d of %d: %v", i, sent, err)
		}
		if want := payload(i); string(msg) != string(want) {
			t.Fatalf("frame %d arrived as %.20q (%d bytes), want %.20q (%d bytes)", i, msg, len(msg), want, len(want))
		}
	}
	for i := 0; i < sent; i++ {
		read(i)
	}
	<-pongWritten
	if !c.Send(payload(sent)) {
		t.Fatal("last send refused")
	}
	read(sent)
	if pongs != 1 {
		t.Fatalf("%d pongs arrived before the last frame, want 1", pongs)
	}
}
