package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/signaling/auth"
	"github.com/switchboard-rtc/switchboard/signaling/broker"
	"github.com/switchboard-rtc/switchboard/signaling/presence"
)

// scriptedConn is a transport whose goroutine never runs: closing it does not call
// Hub.Disconnect, as on a node whose only CPU is busy with the drain itself.
type scriptedConn struct {
	mu     sync.Mutex
	frames [][]byte
	closed chan struct{}
	once   sync.Once
}

func newScriptedConn() *scriptedConn { return &scriptedConn{closed: make(chan struct{})} }

func (c *scriptedConn) Send(frame []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.frames = append(c.frames, append([]byte(nil), frame...))
	return true
}

func (c *scriptedConn) Close(string) { c.once.Do(func() { close(c.closed) }) }

// events counts the frames that carry the given event name.
func (c *scriptedConn) events(name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, f := range c.frames {
		if bytes.Contains(f, []byte(`["`+name+`"`)) {
			n++
		}
	}
	return n
}

// twoNodes starts two hubs on one in-memory bus and one presence store.
func twoNodes(t *testing.T, window time.Duration) (*Hub, *Hub, *presence.Memory) {
	t.Helper()
	bus, pres := broker.NewMemoryBus(), presence.NewMemory()
	var hubs []*Hub
	for _, id := range []string{"n1", "n2"} {
		h := New(Options{NodeID: id, Broker: broker.NewMemory(bus), Presence: pres, Nodes: pres, ReconnectWindow: window})
		if err := h.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close(context.Background()) })
		hubs = append(hubs, h)
	}
	return hubs[0], hubs[1], pres
}

func joinAs(t *testing.T, h *Hub, sessionID, user, room string) *scriptedConn {
	t.Helper()
	s := &Session{ID: sessionID, User: auth.Identity{UserID: user, Name: user}}
	c := newScriptedConn()
	h.Connect(s, c)
	h.HandleEvent(s, "join_room", []json.RawMessage{json.RawMessage(`{"roomId":"` + room + `"}`)}, 1)
	if c.events("error") > 0 || !bytes.Contains(c.frames[len(c.frames)-1], []byte(`"ok":true`)) {
		t.Fatalf("%s could not join %s: %q", user, room, c.frames)
	}
	return c
}

func startDrain(h *Hub, o DrainOptions) <-chan DrainResult {
	done := make(chan DrainResult, 1)
	go func() { done <- h.Drain(context.Background(), o) }()
	return done
}

func TestDrainHoldsTheWindowOfAUserWhoseTransportNeverRan(t *testing.T) {
	n1, n2, pres := twoNodes(t, time.Minute)
	alice := joinAs(t, n1, "alice-1", "alice", "r")
	bob := joinAs(t, n2, "bob-1", "bob", "r")
	bob.mu.Lock()
	bob.frames = nil // bob joined last: nothing about alice is still on its way to him
	bob.mu.Unlock()

	done := startDrain(n1, DrainOptions{MaxShare: 1})
	select {
	case <-alice.closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the drain did not close alice's connection")
	}
	// alice's transport never reported the close; her place must be held anyway, and the
	// node must stay up to hold it.
	select {
	case res := <-done:
		t.Fatalf("Drain returned %+v while alice's reconnection window was open and not handed over", res)
	case <-time.After(500 * time.Millisecond):
	}
	if m, err := pres.Get(context.Background(), "r", "alice"); err != nil || m == nil {
		t.Fatalf("alice left presence during her reconnection window: %v %v", m, err)
	}

	// alice comes back through n2: the window is handed over and the drain ends.
	joinAs(t, n2, "alice-2", "alice", "r")
	select {
	case res := <-done:
		if res.Sessions != 1 || res.Closed != 1 {
			t.Fatalf("drain result %+v, want alice's one session closed", res)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Drain did not return after alice came back through another node")
	}
	if m, _ := pres.Get(context.Background(), "r", "alice"); m == nil || m.NodeID != "n2" || m.Session != "alice-2" {
		t.Fatalf("alice's presence after the hand-over = %+v, want her n2 session", m)
	}
	if l, j := bob.events("user_left"), bob.events("user_joined"); l+j != 0 {
		t.Fatalf("bob saw %d user_left and %d user_joined for alice's move, want none", l, j)
	}
}

func TestDrainWindowEndsWithOneUserLeftWhenTheUserDoesNotComeBack(t *testing.T) {
	n1, n2, pres := twoNodes(t, 300*time.Millisecond)
	alice := joinAs(t, n1, "alice-1", "alice", "r")
	bob := joinAs(t, n2, "bob-1", "bob", "r")

	done := startDrain(n1, DrainOptions{MaxShare: 1, Jitter: 200 * time.Millisecond})
	<-alice.closed
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Drain did not return after the window ended")
	}
	// Drain returned only after the removal was announced.
	if m, _ := pres.Get(context.Background(), "r", "alice"); m != nil {
		t.Fatalf("alice still in presence after her window: %+v", m)
	}
	deadline := time.Now().Add(5 * time.Second)
	for bob.events("user_left") == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := bob.events("user_left"); n != 1 {
		t.Fatalf("bob saw %d user_left, want 1", n)
	}
}

func TestDrainAloneDoesNotWaitForWindows(t *testing.T) {
	h := New(Options{NodeID: "solo", ReconnectWindow: time.Hour})
	if err := h.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer h.Close(context.Background())
	alice := joinAs(t, h, "alice-1", "alice", "r")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res := h.Drain(ctx, DrainOptions{MaxShare: 1, Alone: true})
	<-alice.closed
	if res.Closed != 1 || ctx.Err() != nil {
		t.Fatalf("alone drain %+v (ctx %v): want alice closed and no wait for her hour-long window", res, ctx.Err())
	}
}
