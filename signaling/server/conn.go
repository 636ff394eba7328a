package server

import (
	"bufio"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchboard-rtc/switchboard/signaling/protocol"
)

// wsConn is one WebSocket connection: the HTTP handler goroutine reads, one writer
// goroutine writes. Frames wait in a bounded queue; a client that cannot keep up is
// disconnected instead of slowing down the room.
//
// The queue is a slice that grows with use (an idle connection holds none) rather than a
// channel allocated at full capacity: a 256-slot channel alone cost 6 KiB per connection.
type wsConn struct {
	ws           *websocket.Conn
	cc           *coalescingConn // ws's transport; nil when not wrapped (tests)
	wake         chan struct{}   // capacity 1: "the queue is not empty"
	done         chan struct{}
	pingInterval time.Duration
	writeTimeout time.Duration
	onSlow       func()
	// onClose, when set, runs once with the first close reason, before the writer can
	// close the socket (so the disconnect metric is counted before the client sees it).
	onClose func(reason string)

	qmu     sync.Mutex
	queue   [][]byte // frames not yet taken by the writer
	pending int      // queued frames, plus those taken but not yet being written
	qmax    int

	closeOnce sync.Once
	mu        sync.Mutex
	reason    string
}

func newWSConn(ws *websocket.Conn, queueSize int, pingInterval, writeTimeout time.Duration, onSlow func()) *wsConn {
	cc, _ := ws.UnderlyingConn().(*coalescingConn)
	return &wsConn{
		ws:           ws,
		cc:           cc,
		wake:         make(chan struct{}, 1),
		done:         make(chan struct{}),
		qmax:         queueSize,
		pingInterval: pingInterval,
		writeTimeout: writeTimeout,
		onSlow:       onSlow,
	}
}

// Send queues a frame without blocking. A full queue closes the connection.
func (c *wsConn) Send(frame []byte) bool {
	select {
	case <-c.done:
		return false
	default:
	}
	c.qmu.Lock()
	if c.pending >= c.qmax {
		c.qmu.Unlock()
		if c.onSlow != nil {
			c.onSlow()
		}
		c.Close("slow consumer")
		return false
	}
	c.queue = append(c.queue, frame)
	c.pending++
	c.qmu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return true
}

// take hands the writer every queued frame; spare is a drained batch to reuse.
func (c *wsConn) take(spare [][]byte) [][]byte {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	batch := c.queue
	// Keep a small drained slice for the next frames; let big bursts' arrays go.
	if cap(spare) > 0 && cap(spare) <= 16 {
		c.queue = spare[:0]
	} else {
		c.queue = nil
	}
	return batch
}

// written marks one taken frame as leaving the queue (it is being written now).
func (c *wsConn) written() {
	c.qmu.Lock()
	c.pending--
	c.qmu.Unlock()
}

// Close ends the connection; the first reason wins. It does not block on the writer.
func (c *wsConn) Close(reason string) {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.reason = reason
		c.mu.Unlock()
		if c.onClose != nil {
			c.onClose(reason)
		}
		close(c.done)
		// Unblock the reader and any write in progress.
		// net.Conn deadlines are safe to set from any goroutine.
		_ = c.ws.UnderlyingConn().SetDeadline(time.Now())
	})
}

// Reason returns why the connection was closed ("" while open).
func (c *wsConn) Reason() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reason
}

// writeLoop sends queued frames and Engine.IO pings until the connection closes.
func (c *wsConn) writeLoop() {
	ping := time.NewTicker(c.pingInterval)
	defer ping.Stop()
	defer c.ws.Close()
	var batch [][]byte
	for {
		select {
		case <-c.done:
			// Send what is already queued (an error or CONNECT_ERROR), briefly.
			_ = c.ws.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
			for _, f := range c.take(nil) {
				if c.ws.WriteMessage(websocket.TextMessage, f) != nil {
					return
				}
			}
			return
		case <-c.wake:
			batch = c.take(batch)
			if !c.writeBatch(batch) {
				return
			}
		case <-ping.C:
			if !c.write([]byte{byte(protocol.EnginePing)}) {
				return
			}
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
		c.written()
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
	return &coalescingConn{Conn: nc}, brw, nil
}

// Unwrap lets http.ResponseController reach the underlying writer (flush, deadlines).
func (h coalescingHijacker) Unwrap() http.ResponseWriter { return h.ResponseWriter }
