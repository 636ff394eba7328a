package hub_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/signaling/auth"
	"github.com/switchboard-rtc/switchboard/signaling/hub"
	"github.com/switchboard-rtc/switchboard/signaling/protocol"
	"github.com/switchboard-rtc/switchboard/signaling/vocab"
)

// fakeConn stands in for the server's WebSocket connection: it records every frame the
// hub sends, so behaviour tests drive HandleEvent without a transport.
type fakeConn struct {
	mu     sync.Mutex
	frames [][]byte
	closed bool
	wake   chan struct{} // signalled on every frame and on close
}

func (c *fakeConn) Send(frame []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.frames = append(c.frames, append([]byte(nil), frame...))
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return true
}

func (c *fakeConn) Close(string) {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	// A reader waiting for the close wakes up (its last frame's signal may be consumed).
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *fakeConn) frame(i int) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i >= len(c.frames) {
		return nil, false
	}
	return c.frames[i], true
}

// startHub starts a hub on in-memory backends and closes it at test end.
func startHub(t *testing.T, opts hub.Options) *hub.Hub {
	t.Helper()
	if opts.NodeID == "" {
		opts.NodeID = "node-test"
	}
	h := hub.New(opts)
	if err := h.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close(context.Background()) })
	return h
}

var sessionSeq atomic.Int64

// client is one user's session on the hub, seen from the client side: it sends events
// through HandleEvent and reads the frames the hub queued on its fake connection.
type client struct {
	t      *testing.T
	h      *hub.Hub
	s      *hub.Session
	conn   *fakeConn
	nextID int64
	read   int // frames already consumed by next
}

// connect registers an authenticated session for user, named "Name of <user>".
func connect(t *testing.T, h *hub.Hub, user string) *client {
	s := &hub.Session{
		ID:   fmt.Sprintf("%s-%d", user, sessionSeq.Add(1)),
		User: auth.Identity{UserID: user, Name: "Name of " + user, ExpiresAt: time.Now().Add(time.Hour)},
	}
	c := &client{t: t, h: h, s: s, conn: &fakeConn{wake: make(chan struct{}, 1)}}
	h.Connect(s, c.conn)
	return c
}

func eventArgs(payload any) []json.RawMessage {
	if payload == nil {
		return nil
	}
	b, err := json.Marshal(payload)
	if err != nil {
		panic(err)
	}
	return []json.RawMessage{b}
}

// emit sends an event without an ack (the error mirrors a client's send; it is always nil).
func (c *client) emit(event string, payload any) error {
	c.h.HandleEvent(c.s, event, eventArgs(payload), protocol.NoAck)
	return nil
}

// drop ends the session as a lost transport does: the connection closes, the user keeps
// their place for the reconnection window.
func (c *client) drop() {
	c.conn.Close("lost")
	c.h.Disconnect(c.s, hub.DisconnectLost)
}

// disconnect ends the session as a Socket.IO DISCONNECT does: the user leaves.
func (c *client) disconnect() {
	c.conn.Close("client disconnect")
	c.h.Disconnect(c.s, hub.DisconnectClient)
}

// ackError is an {ok:false} ack.
type ackError struct{ Code, Message string }

func (e *ackError) Error() string { return e.Code + ": " + e.Message }

// call sends an event with an ack id and decodes the ack into out; {ok:false} becomes an
// *ackError. HandleEvent answers before it returns, so the ack is already queued.
func (c *client) call(event string, payload any, out any) error {
	id := c.nextID
	c.nextID++
	c.h.HandleEvent(c.s, event, eventArgs(payload), id)
	for i := 0; ; i++ {
		f, ok := c.conn.frame(i)
		if !ok {
			return fmt.Errorf("no ack for %s (id %d)", event, id)
		}
		p, isAck := parseFrame(c.t, f)
		if !isAck || p.ID != id {
			continue
		}
		var args []json.RawMessage
		if err := json.Unmarshal(p.Data, &args); err != nil || len(args) != 1 {
			return fmt.Errorf("ack %s: not one argument", p.Data)
		}
		var a struct {
			OK    bool         `json:"ok"`
			Error *vocab.Error `json:"error"`
		}
		if err := json.Unmarshal(args[0], &a); err != nil {
			return fmt.Errorf("decode ack %s: %w", args[0], err)
		}
		if !a.OK {
			if a.Error == nil {
				return fmt.Errorf("ack without ok: %s", args[0])
			}
			return &ackError{Code: a.Error.Code, Message: a.Error.Message}
		}
		if out != nil {
			return json.Unmarshal(args[0], out)
		}
		return nil
	}
}

func parseFrame(t *testing.T, f []byte) (p protocol.Packet, isAck bool) {
	t.Helper()
	typ, data, err := protocol.ParseEngine(f)
	if err != nil || typ != protocol.EngineMessage {
		t.Fatalf("frame %q is not an engine.io message: %v", f, err)
	}
	p, err = protocol.ParsePacket(data)
	if err != nil {
		t.Fatalf("frame %q: %v", f, err)
	}
	return p, p.Type == protocol.Ack
}

// next waits up to d for the next event named name, skipping (and consuming) other
// events, like a client reading its socket.
func (c *client) next(name string, d time.Duration) (json.RawMessage, bool) {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		if f, ok := c.conn.frame(c.read); ok {
			c.read++
			p, isAck := parseFrame(c.t, f)
			if isAck {
				continue
			}
			ev, args, err := p.Event()
			if err != nil {
				c.t.Fatalf("event frame %q: %v", f, err)
			}
			if ev != name {
				continue
			}
			if len(args) == 0 {
				return json.RawMessage("null"), true
			}
			return args[0], true
		}
		select {
		case <-c.conn.wake:
		case <-deadline.C:
			return nil, false
		}
	}
}

type joinAck struct {
	RoomID       string `json:"roomId"`
	Mode         string `json:"mode"`
	Self         struct{ UserID, Name string }
	Participants []struct {
		UserID string `json:"userId"`
		Name   string `json:"name"`
	} `json:"participants"`
	Chat []vocab.ChatMessage `json:"chat"`
}

func join(t *testing.T, c *client, room string) joinAck {
	t.Helper()
	var a joinAck
	if err := c.call("join_room", map[string]string{"roomId": room}, &a); err != nil {
		t.Fatalf("join_room %s: %v", room, err)
	}
	return a
}

func expectEvent(t *testing.T, c *client, name string) map[string]any {
	t.Helper()
	data, ok := c.next(name, 5*time.Second)
	if !ok {
		t.Fatalf("no %s event", name)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("%s payload %s: %v", name, data, err)
	}
	return m
}

// expectNoEvent fails if an event named name arrives within d.
func expectNoEvent(t *testing.T, c *client, name string, d time.Duration) {
	t.Helper()
	if data, ok := c.next(name, d); ok {
		t.Fatalf("unexpected %s event: %s", name, data)
	}
}

func ackErrCode(err error) string {
	var ae *ackError
	if errors.As(err, &ae) {
		return ae.Code
	}
	if err == nil {
		return "no ack error: <nil>"
	}
	return "no ack error: " + err.Error()
}

// count is the number of frames sent so far.
func (c *fakeConn) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.frames)
}
