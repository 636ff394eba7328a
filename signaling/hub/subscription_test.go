package hub_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/signaling/broker"
	"github.com/switchboard-rtc/switchboard/signaling/hub"
	"github.com/switchboard-rtc/switchboard/signaling/protocol"
)

// gatedBroker holds the room subscription calls the test gates until the test opens the
// gate: a Redis round trip still in flight while other sessions act.
type gatedBroker struct {
	*broker.MemoryBroker
	subscribeGate   chan struct{} // nil: SubscribeRoom passes at once
	unsubscribeGate chan struct{} // nil: UnsubscribeRoom passes at once
	entered         chan string   // the name of each gated call, when it starts waiting
}

func (b *gatedBroker) SubscribeRoom(ctx context.Context, room string) error {
	if b.subscribeGate != nil {
		b.entered <- "subscribe"
		<-b.subscribeGate
	}
	return b.MemoryBroker.SubscribeRoom(ctx, room)
}

func (b *gatedBroker) UnsubscribeRoom(ctx context.Context, room string) error {
	if b.unsubscribeGate != nil {
		b.entered <- "unsubscribe"
		<-b.unsubscribeGate
	}
	return b.MemoryBroker.UnsubscribeRoom(ctx, room)
}

// subscriptionRace is a hub whose broker shares a bus with a second node's broker, which
// the test uses to publish room events "from another node".
type subscriptionRace struct {
	t      *testing.T
	local  *gatedBroker
	remote *broker.MemoryBroker
	h      *hub.Hub
}

func newSubscriptionRace(t *testing.T, local *gatedBroker) *subscriptionRace {
	bus := broker.NewMemoryBus()
	local.MemoryBroker = broker.NewMemory(bus)
	local.entered = make(chan string, 4)
	remote := broker.NewMemory(bus)
	if err := remote.Start(context.Background(), "node-remote", func(broker.Message) {}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { remote.Close() })
	return &subscriptionRace{t: t, local: local, remote: remote, h: startHub(t, hub.Options{Broker: local})}
}

// joinInBackground starts c's join_room; the returned channel closes when it is answered.
func joinInBackground(c *client, room string) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.h.HandleEvent(c.s, "join_room", eventArgs(map[string]string{"roomId": room}), protocol.NoAck)
	}()
	return done
}

// answeredWhileGated reports whether done closed while the gate is still shut (the old,
// racy behaviour); a correct hub keeps the join waiting until the gate opens.
func answeredWhileGated(done <-chan struct{}) bool {
	select {
	case <-done:
		return true
	case <-time.After(300 * time.Millisecond):
		return false
	}
}

func (r *subscriptionRace) publishFromRemote(room, content string) {
	data, _ := json.Marshal(map[string]string{"roomId": room, "content": content})
	err := r.remote.PublishRoom(context.Background(), room, broker.Message{
		Type: broker.TypeRoom, Room: room, Event: "chat_message", Data: data, Origin: "node-remote",
	})
	if err != nil {
		r.t.Fatal(err)
	}
}

// A member whose join was answered hears every later event of the room from other nodes,
// even when another member's join made the room's subscription and its confirmation had
// not come back yet: the second join waits for it (before, it was answered at once, and
// events published before the subscription landed were in neither its history nor its
// live stream — acknowledged chat lost during rolling updates).
func TestJoinerWaitsForTheRoomSubscriptionBeforeItsHistory(t *testing.T) {
	r := newSubscriptionRace(t, &gatedBroker{subscribeGate: make(chan struct{})})
	alice, bob := connect(t, r.h, "alice"), connect(t, r.h, "bob")

	aliceDone := joinInBackground(alice, "r1")
	if got := <-r.local.entered; got != "subscribe" {
		t.Fatalf("gated call %q, want subscribe", got)
	}
	bobDone := joinInBackground(bob, "r1")
	early := answeredWhileGated(bobDone)
	if early {
		r.publishFromRemote("r1", "sent after bob's join was answered")
	}
	close(r.local.subscribeGate)
	<-aliceDone
	<-bobDone
	if !early {
		r.publishFromRemote("r1", "sent after bob's join was answered")
	}
	if _, ok := bob.next("chat_message", 2*time.Second); !ok {
		t.Fatalf("bob's join was answered (early=%v) but he missed the next room event from another node", early)
	}
}

// The last local member leaving unsubscribes the room; a join that arrives while that
// unsubscribe is in flight keeps the room subscribed (before, the unsubscribe undid the
// join's subscription and the new member heard nothing from other nodes).
func TestLastLeaveDoesNotUnsubscribeARoomSomeoneJustJoined(t *testing.T) {
	r := newSubscriptionRace(t, &gatedBroker{unsubscribeGate: make(chan struct{})})
	alice, bob := connect(t, r.h, "alice"), connect(t, r.h, "bob")
	join(t, alice, "r1")

	left := make(chan struct{})
	go func() { defer close(left); alice.disconnect() }()
	if got := <-r.local.entered; got != "unsubscribe" {
		t.Fatalf("gated call %q, want unsubscribe", got)
	}
	bobDone := joinInBackground(bob, "r1")
	early := answeredWhileGated(bobDone)
	close(r.local.unsubscribeGate)
	<-left
	<-bobDone
	if early {
		t.Logf("bob's join was answered while the unsubscribe was in flight")
	}
	r.publishFromRemote("r1", "after both")
	if _, ok := bob.next("chat_message", 2*time.Second); !ok {
		t.Fatal("bob joined while the room's last member left, and then missed the room's events from another node")
	}
}
