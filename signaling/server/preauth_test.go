package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchboard-rtc/switchboard/internal/testutil/nodetest"
	"github.com/switchboard-rtc/switchboard/signaling/server"
)

// websocketDial opens an Engine.IO WebSocket to n with extra request headers.
func websocketDial(n *nodetest.Node, header http.Header) (*websocket.Conn, *http.Response, error) {
	return websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(n.URL, "http")+"/socket.io/?EIO=4&transport=websocket", header)
}

// dialRaw opens a WebSocket without the Socket.IO handshake and reads the open packet.
func dialRaw(t *testing.T, n *nodetest.Node, header http.Header) *websocket.Conn {
	t.Helper()
	ws, _, err := websocketDial(n, header)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, open, err := ws.ReadMessage(); err != nil || open[0] != '0' {
		t.Fatalf("open packet %q, %v", open, err)
	}
	return ws
}

// readUntilClosed answers pings until the server closes the socket, and fails the test if
// that has not happened within limit.
func readUntilClosed(t *testing.T, ws *websocket.Conn, limit time.Duration) {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(limit))
	for {
		_, frame, err := ws.ReadMessage()
		if err != nil {
			if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() {
				t.Fatalf("socket still open after %v", limit)
			}
			return
		}
		if string(frame) == "2" {
			_ = ws.WriteMessage(websocket.TextMessage, []byte("3"))
		}
	}
}

// TestTokenlessSocketAnsweringPingsIsClosedAtTheConnectDeadline: a socket that answers
// every ping but never sends CONNECT is closed when the CONNECT deadline (counted from the
// upgrade) passes; pongs do not move it. (Before: each pong re-armed the deadline, so such
// sockets stayed open for ever.)
func TestTokenlessSocketAnsweringPingsIsClosedAtTheConnectDeadline(t *testing.T) {
	n := nodetest.Start(t, nodetest.Config{Server: server.Options{
		PingInterval: 40 * time.Millisecond, PingTimeout: time.Second, ConnectTimeout: 400 * time.Millisecond,
	}})
	ws := dialRaw(t, n, nil)
	readUntilClosed(t, ws, 5*time.Second)
	if got := testutil.ToFloat64(n.Metrics.Disconnects.WithLabelValues("connect_timeout")); got != 1 {
		t.Fatalf("connect_timeout disconnects = %v, want 1", got)
	}
}

// TestPacketsOtherThanConnectBeforeAuthCloseTheSocket: before authentication only a
// CONNECT packet is accepted; an ack, a CONNECT_ERROR, an event or a packet for another
// namespace closes the socket. (Before: acks and CONNECT_ERRORs were ignored and the socket
// stayed.)
func TestPacketsOtherThanConnectBeforeAuthCloseTheSocket(t *testing.T) {
	n := nodetest.Start(t, nodetest.Config{})
	for _, frame := range []string{`431[]`, `44{"message":"x"}`, `42["join_room",{"roomId":"r"}]`, `43/admin,1[]`, `42/admin,["x"]`} {
		ws := dialRaw(t, n, nil)
		if err := ws.WriteMessage(websocket.TextMessage, []byte(frame)); err != nil {
			t.Fatal(err)
		}
		readUntilClosed(t, ws, 5*time.Second)
	}
	if got := testutil.ToFloat64(n.Metrics.Disconnects.WithLabelValues("packet_before_connect")); got != 5 {
		t.Fatalf("packet_before_connect disconnects = %v, want 5", got)
	}
	// A CONNECT to an unknown namespace is still answered, and the socket stays.
	ws := dialRaw(t, n, nil)
	_ = ws.WriteMessage(websocket.TextMessage, []byte(`40/admin,`))
	_, frame, err := ws.ReadMessage()
	if err != nil || !strings.HasPrefix(string(frame), `44/admin,`) {
		t.Fatalf("CONNECT to /admin: %q, %v", frame, err)
	}
}
