package server

import (
	"bufio"
	"encoding/binary"
	"errors"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchboard-rtc/switchboard/signaling/protocol"
)

// wsConn is one WebSocket connection. Its serveConn goroutine reads; frames to send
// wait in a bounded queue, and a writer goroutine exists only while there is something to
// write: Send starts one when the queue was idle, and it exits once the queue is empty.
// An idle connection therefore holds one goroutine, not two (the second goroutine's stack
// was a quarter of an idle connection's memory). A client that cannot keep up is
// disconnected instead of slowing down the room: its queue is bounded both in frames and
// in bytes (a few large frames, such as relayed SDPs or join acks, would otherwise pin
// megabytes per non-reading socket).
//
// The queue is a slice that grows with use (an idle connection holds none) rather than a
// channel allocated at full capacity: a 256-slot channel alone cost 6 KiB per connection.
type wsConn struct {
	ws           *websocket.Conn
	cc           *coalescingConn // ws's transport; nil when not wrapped (tests)
	pingInterval time.Duration
	writeTimeout time.Duration
	pingTimer    *time.Timer // Engine.IO pings; nil until startPings
	onSlow       func()
	// onClose, when set, runs once with the first close reason, before the writer can
	// close the socket (so the disconnect metric is counted before the client sees it).
	onClose func(reason string)

	closeOnce sync.Once

	qmu     sync.Mutex
	queue   [][]byte // frames not yet taken by the writer
	spare   [][]byte // a drained batch slice, reused by the next batch
	pending int      // queued frames, plus those taken but not yet being written
	qmax    int
	// pendingBytes is the size of the pending frames; over qmaxBytes the client is slow.
	pendingBytes int
	qmaxBytes    int
	writing      bool   // a writer goroutine runs (after close: the socket is being or was closed)
	closed       bool   // Close was called; Send refuses frames
	reason       string // the first close reason
}

func newWSConn(ws *websocket.Conn, queueSize, queueBytes int, pingInterval, writeTimeout time.Duration, onSlow func()) *wsConn {
	cc, _ := ws.UnderlyingConn().(*coalescingConn)
	return &wsConn{
		ws:           ws,
		cc:           cc,
		qmax:         queueSize,
		qmaxBytes:    queueBytes,
		pingInterval: pingInterval,
		writeTimeout: writeTimeout,
		onSlow:       onSlow,
	}
}

var pingFrame = []byte{byte(protocol.EnginePing)}

// startPings queues an Engine.IO ping every pingInterval until the connection closes.
// A timer callback, not a goroutine, waits for the next one.
func (c *wsConn) startPings() {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	if c.closed || c.pingTimer != nil {
		return
	}
	c.pingTimer = time.AfterFunc(c.pingInterval, c.ping)
}

func (c *wsConn) ping() {
	if !c.Send(pingFrame) {
		return
	}
	c.qmu.Lock()
	if !c.closed {
		c.pingTimer.Reset(c.pingInterval)
	}
	c.qmu.Unlock()
}

// Send queues a frame without blocking. A full queue (frames or bytes) closes the
// connection.
func (c *wsConn) Send(frame []byte) bool {
	c.qmu.Lock()
	if c.closed {
		c.qmu.Unlock()
		return false
	}
	if c.pending >= c.qmax || c.pendingBytes+len(frame) > c.qmaxBytes {
		c.qmu.Unlock()
		if c.onSlow != nil {
			c.onSlow()
		}
		c.Close("slow consumer")
		return false
	}
	c.queue = append(c.queue, frame)
	c.pending++
	c.pendingBytes += len(frame)
	startWriter := !c.writing
	c.writing = true
	c.qmu.Unlock()
	if startWriter {
		go c.writeQueued()
	}
	return true
}

// takeLocked hands the writer every queued frame. Called with qmu held.
func (c *wsConn) takeLocked() [][]byte {
	batch := c.queue
	c.queue, c.spare = c.spare[:0], nil
	return batch
}

// returnLocked keeps a small drained batch slice for the next frames; big bursts'
// arrays go. Called with qmu held.
func (c *wsConn) returnLocked(batch [][]byte) {
	if cap(batch) > 0 && cap(batch) <= 16 {
		c.spare = batch[:0]
	}
}

// written marks n taken frames of size bytes in all as leaving the queue (they are being
// written now).
func (c *wsConn) written(n, size int) {
	c.qmu.Lock()
	c.pending -= n
	c.pendingBytes -= size
	c.qmu.Unlock()
}

// Close ends the connection; the first reason wins. It does not block on the writer.
func (c *wsConn) Close(reason string) {
	c.closeOnce.Do(func() {
		c.qmu.Lock()
		c.reason = reason
		c.qmu.Unlock()
		if c.onClose != nil {
			c.onClose(reason)
		}
		c.qmu.Lock()
		c.closed = true
		startCloser := !c.writing
		c.writing = true // from now on no writer starts; the running one (or ours) closes
		if c.pingTimer != nil {
			c.pingTimer.Stop()
		}
		c.qmu.Unlock()
		// Unblock the reader and any write in progress.
		// net.Conn deadlines are safe to set from any goroutine.
		_ = c.ws.UnderlyingConn().SetDeadline(time.Now())
		if startCloser {
			go c.finish()
		}
	})
}

// waitReadable: see coalescingConn.waitReadable.
func (c *wsConn) waitReadable() error {
	if c.cc == nil {
		return nil
	}
	return c.cc.waitReadable()
}

// Reason returns why the connection was closed ("" while open).
func (c *wsConn) Reason() string {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	return c.reason
}

// writeQueued is the writer goroutine: it writes batches until the queue is empty and
// then exits, or, once the connection is closed, finishes it.
func (c *wsConn) writeQueued() {
	var batch [][]byte
	for {
		c.qmu.Lock()
		if batch != nil {
			c.returnLocked(batch)
			batch = nil
		}
		if c.closed {
			c.qmu.Unlock()
			c.finish()
			return
		}
		if len(c.queue) == 0 {
			c.writing = false
			c.qmu.Unlock()
			return
		}
		batch = c.takeLocked()
		c.qmu.Unlock()
		c.writeBatch(batch) // a failed write closes the connection; the loop then finishes
	}
}

// finish sends what is already queued (an error or CONNECT_ERROR), briefly, and closes
// the socket. It runs once, on the last writer goroutine.
func (c *wsConn) finish() {
	defer c.ws.Close()
	c.qmu.Lock()
	rest := c.takeLocked()
	c.qmu.Unlock()
	if c.cc != nil {
		_ = c.cc.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		_ = c.cc.writeFrames(rest, nil)
		return
	}
	_ = c.ws.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	for _, f := range rest {
		if c.ws.WriteMessage(websocket.TextMessage, f) != nil {
			return
		}
	}
}

// writeBatch writes the frames taken from the queue. They go out together, framed into
// one buffer and sent with one system call per maxBatchBytes (under fan-out load the
// write per frame was most of the node's CPU time).
func (c *wsConn) writeBatch(batch [][]byte) bool {
	if c.cc == nil {
		for i, f := range batch {
			batch[i] = nil
			c.written(1, len(f))
			if !c.write(f) {
				return false
			}
		}
		return true
	}
	_ = c.cc.SetWriteDeadline(time.Now().Add(c.writeTimeout))
	err := c.cc.writeFrames(batch, c.written)
	clear(batch)
	if err != nil {
		c.Close("write error")
		return false
	}
	return true
}

func (c *wsConn) write(f []byte) bool {
	_ = c.ws.SetWriteDeadline(time.Now().Add(c.writeTimeout))
	if err := c.ws.WriteMessage(websocket.TextMessage, f); err != nil {
		c.Close("write error")
		return false
	}
	return true
}

// coalescingConn is the WebSocket's network connection. The server writes its text
// frames itself (unmasked, so one header in front of the payload): the writer goroutine
// gathers the queued frames into one buffer per system call (writeFrames). The WebSocket
// library writes only control frames (pong, close), each with one Write. mu serialises
// them, so frames never interleave.
type coalescingConn struct {
	net.Conn
	rc syscall.RawConn // for waitReadable; nil when the connection has none (TLS, tests)

	mu sync.Mutex

	// br is the reader the WebSocket library reads frames through (nil when the
	// handshake left bytes buffered in net/http's reader; then the library uses that).
	// Its buffer is lent by lender, a pooled reader, and given back while the connection
	// waits in waitReadable: an idle connection holds no read buffer.
	br     *bufio.Reader
	lender *bufio.Reader
	peek   [1]byte // waitReadable's probe

	// Deadlines have their own lock, not mu: a Write may hold mu while blocked in the
	// kernel, and Close must be able to set a deadline then.
	readDeadline, writeDeadline coarseDeadline
}

func newCoalescingConn(nc net.Conn) *coalescingConn {
	cc := &coalescingConn{Conn: nc}
	if sc, ok := nc.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			cc.rc = rc
		}
	}
	return cc
}

// deadlineSlack: a new deadline at most this much later than the one in force is not set
// while that one is still at least a second away. The WebSocket library sets a write
// deadline per frame and the read loop a read deadline per frame, a runtime timer update
// each (~4 % of a node's CPU in fan-out for the writes). A read or write may thus time out
// up to this much earlier than asked; an earlier deadline, and any deadline when the one
// in force is near or past, is always set.
const deadlineSlack = 250 * time.Millisecond

// coarseDeadline is the deadline last set in one direction.
type coarseDeadline struct {
	mu  sync.Mutex
	cur time.Time
}

// set applies t through apply unless the deadline in force is no later than t, within
// deadlineSlack of it, and at least a second away. force applies it always.
func (d *coarseDeadline) set(t time.Time, force bool, apply func(time.Time) error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	cur := d.cur
	if !force && !t.IsZero() && !cur.IsZero() && !t.Before(cur) && t.Sub(cur) <= deadlineSlack &&
		time.Until(cur) >= time.Second {
		return nil
	}
	d.cur = t
	return apply(t)
}

func (c *coalescingConn) SetWriteDeadline(t time.Time) error {
	return c.writeDeadline.set(t, false, c.Conn.SetWriteDeadline)
}

func (c *coalescingConn) SetReadDeadline(t time.Time) error {
	return c.readDeadline.set(t, false, c.Conn.SetReadDeadline)
}

// SetDeadline sets both deadlines as asked (Close uses it to interrupt reads and writes).
func (c *coalescingConn) SetDeadline(t time.Time) error {
	werr := c.writeDeadline.set(t, true, c.Conn.SetWriteDeadline)
	rerr := c.readDeadline.set(t, true, c.Conn.SetReadDeadline)
	return errors.Join(werr, rerr)
}

// readBufferSize is the per-connection read buffer: signaling frames are small, and a
// bigger SDP just takes a few reads.
const readBufferSize = 1024

// waitReadable returns once a frame can be read without waiting: bytes are buffered, the
// socket has data (or EOF, or an error), or the read deadline passed (its error).
//
// The read loop waits here, on a shallow stack, instead of deep inside the WebSocket
// library's frame reader: the runtime shrinks an idle goroutine's stack only when its
// waiting frames fill less than a quarter of it, and the library's read path kept every
// idle connection's reader at 8 KiB instead of 4 KiB.
func (c *coalescingConn) waitReadable() error {
	if c.br == nil || c.br.Buffered() > 0 || c.rc == nil {
		return nil // nothing to wait for, or TLS or a test pipe: the frame reader waits itself
	}
	c.returnReadBuffer()
	defer c.borrowReadBuffer() // before anything reads again, whatever the wait returned
	return c.rc.Read(func(fd uintptr) bool { return !wouldBlock(fd, c.peek[:]) })
}

// maxBatchBytes bounds the bytes gathered for one system call.
const maxBatchBytes = 64 << 10

var batchPool = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

// appendTextFrame appends payload as one unmasked, final WebSocket text frame (a server
// never masks: RFC 6455 §5.1).
func appendTextFrame(b, payload []byte) []byte {
	const finText = 0x81
	switch n := len(payload); {
	case n < 126:
		b = append(b, finText, byte(n))
	case n <= 0xffff:
		b = append(b, finText, 126, byte(n>>8), byte(n))
	default:
		b = append(b, finText, 127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	return append(b, payload...)
}

// writeFrames writes frames, gathered into one system call per maxBatchBytes; it blocks
// until they are written or the write deadline passes. Before each system call, leaving
// (if not nil) is told how many frames of how many payload bytes leave the queue with it.
func (c *coalescingConn) writeFrames(frames [][]byte, leaving func(n, size int)) error {
	bp := batchPool.Get().(*[]byte)
	buf := (*bp)[:0]
	defer func() { putBatch(bp, buf) }()
	n, size := 0, 0
	send := func() error {
		if leaving != nil && n > 0 {
			leaving(n, size)
		}
		n, size = 0, 0
		c.mu.Lock()
		defer c.mu.Unlock()
		_, err := c.Conn.Write(buf)
		buf = buf[:0]
		return err
	}
	for _, f := range frames {
		if len(buf) > 0 && len(buf)+len(f)+10 > maxBatchBytes {
			if err := send(); err != nil {
				return err
			}
		}
		buf = appendTextFrame(buf, f)
		n, size = n+1, size+len(f)
	}
	if n == 0 {
		return nil
	}
	return send()
}

// putBatch returns a gathering buffer to the pool unless a big frame grew it.
func putBatch(bp *[]byte, b []byte) {
	if cap(b) <= maxBatchBytes+16 {
		*bp = b[:0]
		batchPool.Put(bp)
	}
}

// Write is the WebSocket library's (control frames), whole between the server's frames.
func (c *coalescingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.Conn.Write(p)
}

var readBuffers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, readBufferSize) }}

// borrowReadBuffer gives br a pooled buffer. br must hold nothing (a new or a waiting
// connection): a bufio.Reader with nothing buffered carries no state but its source.
func (c *coalescingConn) borrowReadBuffer() {
	c.lender = readBuffers.Get().(*bufio.Reader)
	c.lender.Reset(c)
	*c.br = *c.lender
}

// returnReadBuffer takes br's buffer back to the pool while nothing is buffered; br must
// not be read until borrowReadBuffer.
func (c *coalescingConn) returnReadBuffer() {
	*c.br = bufio.Reader{}
	c.lender.Reset(nil)
	readBuffers.Put(c.lender)
	c.lender = nil
}

// coalescingHijacker hands the WebSocket upgrader a coalescingConn instead of the raw
// connection.
type coalescingHijacker struct {
	http.ResponseWriter
}

func (h coalescingHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	cc := newCoalescingConn(nc)
	if brw.Reader.Buffered() == 0 {
		// With Upgrader.ReadBufferSize 0 the library reads through this reader, so the
		// read loop can tell whether a frame is already buffered (waitReadable).
		cc.br = new(bufio.Reader)
		cc.borrowReadBuffer()
		brw = bufio.NewReadWriter(cc.br, brw.Writer)
	}
	return cc, brw, nil
}

// Unwrap lets http.ResponseController reach the underlying writer (flush, deadlines).
func (h coalescingHijacker) Unwrap() http.ResponseWriter { return h.ResponseWriter }
