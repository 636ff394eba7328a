package server

import (
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchboard-rtc/switchboard/signaling/protocol"
)

// wsConn is one WebSocket connection: the HTTP handler goroutine reads, one writer
// goroutine writes. Frames wait in a bounded queue; a client that cannot keep up is
// disconnected instead of slowing down the room.
type wsConn struct {
	ws           *websocket.Conn
	queue        chan []byte
	done         chan struct{}
	pingInterval time.Duration
	writeTimeout time.Duration
	onSlow       func()

	closeOnce sync.Once
	mu        sync.Mutex
	reason    string
}

func newWSConn(ws *websocket.Conn, queueSize int, pingInterval, writeTimeout time.Duration, onSlow func()) *wsConn {
	return &wsConn{
		ws:           ws,
		queue:        make(chan []byte, queueSize),
		done:         make(chan struct{}),
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
	select {
	case c.queue <- frame:
		return true
	case <-c.done:
		return false
	default:
		if c.onSlow != nil {
			c.onSlow()
		}
		c.Close("slow consumer")
		return false
	}
}

// Close ends the connection; the first reason wins. It does not block on the writer.
func (c *wsConn) Close(reason string) {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.reason = reason
		c.mu.Unlock()
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
	for {
		select {
		case <-c.done:
			// Send what is already queued (an error or CONNECT_ERROR), briefly.
			_ = c.ws.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
			for {
				select {
				case f := <-c.queue:
					if c.ws.WriteMessage(websocket.TextMessage, f) != nil {
						return
					}
				default:
					return
				}
			}
		case f := <-c.queue:
			if !c.write(f) {
				return
			}
		case <-ping.C:
			if !c.write([]byte{byte(protocol.EnginePing)}) {
				return
			}
		}
	}
}

func (c *wsConn) write(f []byte) bool {
	_ = c.ws.SetWriteDeadline(time.Now().Add(c.writeTimeout))
	if err := c.ws.WriteMessage(websocket.TextMessage, f); err != nil {
		c.Close("write error")
		return false
	}
	return true
}
