package server

import (
	"bufio"
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

// written marks one taken frame of size bytes as leaving the queue (it is being written
// now).
func (c *wsConn) written(size int) {
	c.qmu.Lock()
	c.pending--
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
	_ = c.ws.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
	for _, f := range rest {
		if c.ws.WriteMessage(websocket.TextMessage, f) != nil {
			return
		}
	}
}

// writeBatch writes the frames taken from the queue. Several frames go out in one
// system call: the transport gathers them and sends them when the batch is done (under
// fan-out load the write syscall per frame was most of the node's CPU time).
func (c *wsConn) writeBatch(batch [][]byte) bool {
	held := len(batch) > 1 && c.cc != nil
	if held {
		c.cc.hold()
	}
	ok := true
	for i, f := range batch {
		batch[i] = nil
		if !ok {
			continue
		}
		c.written(len(f))
		ok = c.write(f)
	}
	if held {
		if err := c.cc.flush(); err != nil && ok {
			c.Close("write error")
			ok = false
		}
	}
	return ok
}

func (c *wsConn) write(f []byte) bool {
	_ = c.ws.SetWriteDeadline(time.Now().Add(c.writeTimeout))
	if err := c.ws.WriteMessage(websocket.TextMessage, f); err != nil {
		c.Close("write error")
		return false
	}
	return true
}

// coalescingConn is the WebSocket's network connection. Between hold and flush (the
// writer goroutine writing a batch of queued frames) writes are gathered in a pooled
// buffer and sent with one system call; otherwise they go straight through. Gorilla
// serialises its own writes, so frames are gathered whole and in order; a control frame
// written by another goroutine during a batch is sent with the batch.
type coalescingConn struct {
	net.Conn
	mu  sync.Mutex
	buf *[]byte // non-nil while holding

	// br is the reader the WebSocket library reads frames through (nil when the
	// handshake left bytes buffered in net/http's reader; then the library uses that).
	br   *bufio.Reader
	peek [1]byte // waitReadable's probe

	// Deadlines have their own lock, not mu: a Write may hold mu while blocked in the
	// kernel, and Close must be able to set a deadline then.
	readDeadline, writeDeadline coarseDeadline
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
	if c.br == nil || c.br.Buffered() > 0 {
		return nil
	}
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return nil // TLS or a test pipe: the frame reader waits itself
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc.Read(func(fd uintptr) bool { return !wouldBlock(fd, c.peek[:]) })
}

const maxBatchBytes = 64 << 10

var batchPool = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

func (c *coalescingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.buf == nil {
		return c.Conn.Write(p)
	}
	if len(*c.buf)+len(p) > maxBatchBytes {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
		if len(p) > maxBatchBytes {
			return c.Conn.Write(p)
		}
	}
	*c.buf = append(*c.buf, p...)
	return len(p), nil
}

func (c *coalescingConn) hold() {
	c.mu.Lock()
	if c.buf == nil {
		c.buf = batchPool.Get().(*[]byte)
	}
	c.mu.Unlock()
}

// flush sends what was gathered and stops holding.
func (c *coalescingConn) flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.buf == nil {
		return nil
	}
	err := c.flushLocked()
	if cap(*c.buf) <= maxBatchBytes {
		*c.buf = (*c.buf)[:0]
		batchPool.Put(c.buf)
	}
	c.buf = nil
	return err
}

func (c *coalescingConn) flushLocked() error {
	if len(*c.buf) == 0 {
		return nil
	}
	_, err := c.Conn.Write(*c.buf)
	*c.buf = (*c.buf)[:0]
	return err
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
	cc := &coalescingConn{Conn: nc}
	if brw.Reader.Buffered() == 0 {
		// With Upgrader.ReadBufferSize 0 the library reads through this reader, so the
		// read loop can tell whether a frame is already buffered (waitReadable).
		cc.br = bufio.NewReaderSize(cc, readBufferSize)
		brw = bufio.NewReadWriter(cc.br, brw.Writer)
	}
	return cc, brw, nil
}

// Unwrap lets http.ResponseController reach the underlying writer (flush, deadlines).
func (h coalescingHijacker) Unwrap() http.ResponseWriter { return h.ResponseWriter }
