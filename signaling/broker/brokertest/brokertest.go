// Package brokertest is the behavioural contract of broker.Broker. Every implementation
// (in-memory, Redis) runs the same suite:
//
//	brokertest.Run(t, func(t *testing.T) brokertest.NewBroker { ... })
package brokertest

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/signaling/broker"
)

// NewBroker returns a fresh, unstarted broker attached to the backend of one test.
type NewBroker func() broker.Broker

// Factory sets up a backend (a memory bus, a redis-server) for one test; every broker
// its NewBroker returns reaches the others.
type Factory func(t *testing.T) NewBroker

// Timeout bounds every wait for a delivery. It is generous: these are behaviour tests,
// not latency tests.
var Timeout = 10 * time.Second

// Run runs the contract.
func Run(t *testing.T, f Factory) {
	tests := []struct {
		name string
		fn   func(*testing.T, NewBroker)
	}{
		{"StartThenReady", testReady},
		{"RoomMessageReachesOnlySubscribedNodes", testRoomScope},
		{"NodeMessageReachesOnlyTheTargetNode", testNodeTargeting},
		{"ControlMessageReachesEveryNode", testControlFanout},
		{"UnsubscribeStopsDelivery", testUnsubscribe},
		{"ResubscribeAfterUnsubscribe", testResubscribe},
		{"MessageFieldsSurviveTheTrip", testFields},
		{"PerPublisherOrderIsKeptAcrossChannels", testOrdering},
		{"ConcurrentPublishersKeepTheirOwnOrder", testConcurrentPublishers},
		{"HandlerIsNeverCalledConcurrently", testSerialHandler},
		{"CloseIsIdempotent", testCloseIdempotent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, f(t)) })
	}
}

// Node is a started broker and what it received.
type Node struct {
	ID string
	B  broker.Broker

	mu   sync.Mutex
	msgs []broker.Message
	wake chan struct{}

	inHandler  atomic.Int32
	overlapped atomic.Bool
}

// StartNode starts a broker as node id and closes it at cleanup.
func StartNode(t *testing.T, nb NewBroker, id string) *Node {
	t.Helper()
	n := &Node{ID: id, B: nb(), wake: make(chan struct{}, 1)}
	if err := n.B.Start(context.Background(), id, n.handle); err != nil {
		t.Fatalf("Start(%s): %v", id, err)
	}
	t.Cleanup(func() { _ = n.B.Close() })
	return n
}

func (n *Node) handle(m broker.Message) {
	if n.inHandler.Add(1) > 1 {
		n.overlapped.Store(true)
	}
	n.mu.Lock()
	n.msgs = append(n.msgs, m)
	n.mu.Unlock()
	n.inHandler.Add(-1)
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// Messages returns a copy of everything received so far.
func (n *Node) Messages() []broker.Message {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]broker.Message(nil), n.msgs...)
}

// WaitFor waits until pred holds for the received messages.
func (n *Node) WaitFor(t *testing.T, what string, pred func([]broker.Message) bool) []broker.Message {
	t.Helper()
	deadline := time.NewTimer(Timeout)
	defer deadline.Stop()
	for {
		ms := n.Messages()
		if pred(ms) {
			return ms
		}
		select {
		case <-n.wake:
		case <-time.After(50 * time.Millisecond):
		case <-deadline.C:
			t.Fatalf("node %s: %s not received within %s; got %d messages: %+v", n.ID, what, Timeout, len(ms), tail(ms))
		}
	}
}

// WaitEvent waits for a message whose Event is ev and returns it.
func (n *Node) WaitEvent(t *testing.T, ev string) broker.Message {
	t.Helper()
	var got broker.Message
	n.WaitFor(t, "event "+ev, func(ms []broker.Message) bool {
		for _, m := range ms {
			if m.Event == ev {
				got = m
				return true
			}
		}
		return false
	})
	return got
}

// Has reports whether an event named ev was received.
func (n *Node) Has(ev string) bool {
	for _, m := range n.Messages() {
		if m.Event == ev {
			return true
		}
	}
	return false
}

func tail(ms []broker.Message) []broker.Message {
	if len(ms) > 5 {
		return ms[len(ms)-5:]
	}
	return ms
}

// WaitReady waits until b.Ready() is nil.
func WaitReady(t *testing.T, b broker.Broker) {
	t.Helper()
	deadline := time.Now().Add(Timeout)
	for {
		err := b.Ready()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("broker not ready within %s: %v", Timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), Timeout)
	t.Cleanup(cancel)
	return c
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// roomMsg is a room event named ev published by origin.
func roomMsg(origin, room, ev string) broker.Message {
	return broker.Message{Type: broker.TypeRoom, Room: room, Event: ev, Origin: origin}
}

// fence publishes a marker from `from` to node `to` and waits for it: every message `from`
// published to `to`'s subscriptions before the marker has then been delivered.
func fence(t *testing.T, from, to *Node, name string) {
	t.Helper()
	must(t, from.B.PublishNode(ctx(t), to.ID, broker.Message{Type: broker.TypeUser, Event: name, Origin: from.ID}))
	to.WaitEvent(t, name)
}

func testReady(t *testing.T, nb NewBroker) {
	a := StartNode(t, nb, "a")
	WaitReady(t, a.B)
}

func testRoomScope(t *testing.T, nb NewBroker) {
	a, b, c := StartNode(t, nb, "a"), StartNode(t, nb, "b"), StartNode(t, nb, "c")
	must(t, b.B.SubscribeRoom(ctx(t), "r1"))
	must(t, c.B.SubscribeRoom(ctx(t), "r2"))
	must(t, a.B.PublishRoom(ctx(t), "r1", roomMsg("a", "r1", "for-r1")))
	got := b.WaitEvent(t, "for-r1")
	if got.Room != "r1" || got.Origin != "a" {
		t.Fatalf("b got %+v", got)
	}
	fence(t, a, c, "fence")
	if c.Has("for-r1") {
		t.Fatal("node c, not subscribed to r1, received its message")
	}
}

func testNodeTargeting(t *testing.T, nb NewBroker) {
	a, b, c := StartNode(t, nb, "a"), StartNode(t, nb, "b"), StartNode(t, nb, "c")
	for _, n := range []*Node{b, c} {
		must(t, n.B.SubscribeRoom(ctx(t), "r")) // room membership must not widen node targeting
	}
	must(t, a.B.PublishNode(ctx(t), "b", broker.Message{Type: broker.TypeUser, Room: "r", User: "u1", Event: "offer", Origin: "a"}))
	got := b.WaitEvent(t, "offer")
	if got.User != "u1" || got.Type != broker.TypeUser {
		t.Fatalf("b got %+v", got)
	}
	fence(t, a, c, "fence")
	if c.Has("offer") {
		t.Fatal("node c received a message targeted at node b")
	}
}

func testControlFanout(t *testing.T, nb NewBroker) {
	a, b, c := StartNode(t, nb, "a"), StartNode(t, nb, "b"), StartNode(t, nb, "c")
	must(t, a.B.PublishControl(ctx(t), broker.Message{Type: broker.TypeControl, Event: "media_health", Data: json.RawMessage(`{"healthy":false}`), Origin: "a"}))
	for _, n := range []*Node{b, c} {
		got := n.WaitEvent(t, "media_health")
		if string(got.Data) != `{"healthy":false}` {
			t.Fatalf("node %s got data %s", n.ID, got.Data)
		}
	}
}

func testUnsubscribe(t *testing.T, nb NewBroker) {
	a, b := StartNode(t, nb, "a"), StartNode(t, nb, "b")
	must(t, b.B.SubscribeRoom(ctx(t), "r"))
	must(t, a.B.PublishRoom(ctx(t), "r", roomMsg("a", "r", "before")))
	b.WaitEvent(t, "before")
	must(t, b.B.UnsubscribeRoom(ctx(t), "r"))
	must(t, a.B.PublishRoom(ctx(t), "r", roomMsg("a", "r", "after")))
	fence(t, a, b, "fence")
	if b.Has("after") {
		t.Fatal("room message delivered after UnsubscribeRoom returned")
	}
	// Unsubscribing a room that is not subscribed is harmless.
	must(t, b.B.UnsubscribeRoom(ctx(t), "never"))
}

func testResubscribe(t *testing.T, nb NewBroker) {
	a, b := StartNode(t, nb, "a"), StartNode(t, nb, "b")
	must(t, b.B.SubscribeRoom(ctx(t), "r"))
	must(t, b.B.UnsubscribeRoom(ctx(t), "r"))
	must(t, b.B.SubscribeRoom(ctx(t), "r"))
	must(t, a.B.PublishRoom(ctx(t), "r", roomMsg("a", "r", "again")))
	b.WaitEvent(t, "again")
}

func testFields(t *testing.T, nb NewBroker) {
	a, b := StartNode(t, nb, "a"), StartNode(t, nb, "b")
	must(t, b.B.SubscribeRoom(ctx(t), "room-1"))
	sent := broker.Message{
		Type: broker.TypeRoom, Room: "room-1", Event: "chat_message",
		Data: json.RawMessage(`{"content":"héllo \u2603","n":[1,2]}`),
		User: "u1", Except: "u2", Session: "s9", Origin: "a", SentAt: time.Now().UnixNano(),
	}
	must(t, a.B.PublishRoom(ctx(t), "room-1", sent))
	got := b.WaitEvent(t, "chat_message")
	var gd, sd any
	must(t, json.Unmarshal(got.Data, &gd))
	must(t, json.Unmarshal(sent.Data, &sd))
	got.Data, sent.Data = nil, nil
	if fmt.Sprint(gd) != fmt.Sprint(sd) {
		t.Fatalf("data changed: got %v want %v", gd, sd)
	}
	if got.Type != sent.Type || got.Room != sent.Room || got.User != sent.User || got.Except != sent.Except ||
		got.Session != sent.Session || got.Origin != sent.Origin || got.SentAt != sent.SentAt {
		t.Fatalf("fields changed:\n got %+v\nwant %+v", got, sent)
	}
	// A TypeReplace to a node carries the session it is about.
	must(t, a.B.PublishNode(ctx(t), "b", broker.Message{Type: broker.TypeReplace, Room: "room-1", User: "u1", Session: "old", Event: "replace", Origin: "a"}))
	if r := b.WaitEvent(t, "replace"); r.Type != broker.TypeReplace || r.Session != "old" {
		t.Fatalf("replace: %+v", r)
	}
}

// seqOf reads the sequence number a test put in Event ("<prefix><n>").
func seqOf(m broker.Message, prefix string) (int, bool) {
	if len(m.Event) <= len(prefix) || m.Event[:len(prefix)] != prefix {
		return 0, false
	}
	n, err := strconv.Atoi(m.Event[len(prefix):])
	return n, err == nil
}

func testOrdering(t *testing.T, nb NewBroker) {
	a, b := StartNode(t, nb, "a"), StartNode(t, nb, "b")
	must(t, b.B.SubscribeRoom(ctx(t), "r"))
	const n = 300
	for i := 0; i < n; i++ {
		ev := "m" + strconv.Itoa(i)
		switch i % 3 {
		case 0:
			must(t, a.B.PublishRoom(ctx(t), "r", roomMsg("a", "r", ev)))
		case 1:
			must(t, a.B.PublishNode(ctx(t), "b", broker.Message{Type: broker.TypeUser, Event: ev, Origin: "a"}))
		default:
			must(t, a.B.PublishControl(ctx(t), broker.Message{Type: broker.TypeControl, Event: ev, Origin: "a"}))
		}
	}
	ms := b.WaitFor(t, "all messages", func(ms []broker.Message) bool { return count(ms, "m") >= n })
	next := 0
	for _, m := range ms {
		if s, ok := seqOf(m, "m"); ok {
			if s != next {
				t.Fatalf("out of order: got m%d, want m%d", s, next)
			}
			next++
		}
	}
}

func count(ms []broker.Message, prefix string) int {
	c := 0
	for _, m := range ms {
		if _, ok := seqOf(m, prefix); ok {
			c++
		}
	}
	return c
}

func testConcurrentPublishers(t *testing.T, nb NewBroker) {
	a, b, c := StartNode(t, nb, "a"), StartNode(t, nb, "b"), StartNode(t, nb, "c")
	must(t, b.B.SubscribeRoom(ctx(t), "r"))
	const n = 200
	var wg sync.WaitGroup
	for _, p := range []*Node{a, c} {
		wg.Add(1)
		go func(p *Node) {
			defer wg.Done()
			for i := 0; i < n; i++ {
				if err := p.B.PublishRoom(context.Background(), "r", roomMsg(p.ID, "r", p.ID+strconv.Itoa(i))); err != nil {
					t.Error(err)
					return
				}
			}
		}(p)
	}
	wg.Wait()
	ms := b.WaitFor(t, "both streams", func(ms []broker.Message) bool { return count(ms, "a")+count(ms, "c") >= 2*n })
	for _, p := range []string{"a", "c"} {
		next := 0
		for _, m := range ms {
			if s, ok := seqOf(m, p); ok {
				if s != next {
					t.Fatalf("publisher %s: got %d, want %d", p, s, next)
				}
				next++
			}
		}
		if next != n {
			t.Fatalf("publisher %s: %d of %d delivered", p, next, n)
		}
	}
}

func testSerialHandler(t *testing.T, nb NewBroker) {
	a, b := StartNode(t, nb, "a"), StartNode(t, nb, "b")
	must(t, b.B.SubscribeRoom(ctx(t), "r"))
	const n = 200
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < n/4; i++ {
				_ = a.B.PublishRoom(context.Background(), "r", roomMsg("a", "r", fmt.Sprintf("w%d-%d", w, i)))
				_ = a.B.PublishNode(context.Background(), "b", broker.Message{Type: broker.TypeUser, Event: fmt.Sprintf("n%d-%d", w, i), Origin: "a"})
			}
		}(w)
	}
	wg.Wait()
	b.WaitFor(t, "all messages", func(ms []broker.Message) bool { return len(ms) >= 2*n })
	if b.overlapped.Load() {
		t.Fatal("handler was called concurrently")
	}
}

func testCloseIdempotent(t *testing.T, nb NewBroker) {
	a := StartNode(t, nb, "a")
	must(t, a.B.Close())
	must(t, a.B.Close())
}
