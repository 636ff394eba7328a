package hub_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/signaling/broker"
	"github.com/switchboard-rtc/switchboard/signaling/hub"
	"github.com/switchboard-rtc/switchboard/signaling/vocab"
)

// gatedChatLog is a MemoryChatLog whose Recent, once gated, waits until the test opens
// the gate: a history read still in flight while other nodes' messages arrive.
type gatedChatLog struct {
	hub.MemoryChatLog
	gate    atomic.Pointer[chan struct{}]
	entered chan struct{}
}

func (l *gatedChatLog) Recent(ctx context.Context, room string, n int) ([]vocab.ChatMessage, error) {
	if g := l.gate.Load(); g != nil {
		l.entered <- struct{}{}
		<-*g
	}
	return l.MemoryChatLog.Recent(ctx, room, n)
}

// chatRoom is a hub on a bus shared with a second node, which the test uses to store and
// publish chat "from another node".
type chatRoom struct {
	t      *testing.T
	log    *gatedChatLog
	remote *broker.MemoryBroker
	h      *hub.Hub
}

// newChatRoom returns the hub with alice in room r1 and bob connected.
func newChatRoom(t *testing.T) (r *chatRoom, alice, bob *client) {
	bus := broker.NewMemoryBus()
	remote := broker.NewMemory(bus)
	if err := remote.Start(context.Background(), "node-remote", func(broker.Message) {}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { remote.Close() })
	log := &gatedChatLog{MemoryChatLog: hub.MemoryChatLog{Keep: 50}, entered: make(chan struct{}, 1)}
	r = &chatRoom{t: t, log: log, remote: remote, h: startHub(t, hub.Options{Broker: broker.NewMemory(bus), Chat: log})}
	alice, bob = connect(t, r.h, "alice"), connect(t, r.h, "bob")
	join(t, alice, "r1")
	return r, alice, bob
}

// joinWithHistoryHeld starts c's join of room and returns once c is a member and its
// history read waits; open lets the read go on, and the ack then arrives on acked.
func (r *chatRoom) joinWithHistoryHeld(c *client, room string) (acked <-chan joinAck, open func()) {
	gate := make(chan struct{})
	r.log.gate.Store(&gate)
	ch := make(chan joinAck, 1)
	go func() {
		var a joinAck
		if err := c.call("join_room", map[string]string{"roomId": room}, &a); err != nil {
			r.t.Errorf("%s's join: %v", c.s.User.UserID, err)
		}
		ch <- a
	}()
	<-r.log.entered
	return ch, func() {
		r.log.gate.Store(nil)
		close(gate)
	}
}

// message is a chat message of room from a user of the other node.
func message(room, id string) vocab.ChatMessage {
	return vocab.ChatMessage{ID: id, RoomID: room, SenderID: "carol", SenderName: "Carol", Content: "message " + id, Timestamp: time.Now().UnixMilli()}
}

// store appends m to the room's history as the other node does before it publishes.
func (r *chatRoom) store(m vocab.ChatMessage) {
	if err := r.log.Append(context.Background(), m); err != nil {
		r.t.Fatal(err)
	}
}

// publish sends m live from the other node.
func (r *chatRoom) publish(m vocab.ChatMessage) {
	data, _ := json.Marshal(m)
	err := r.remote.PublishRoom(context.Background(), m.RoomID, broker.Message{
		Type: broker.TypeRoom, Room: m.RoomID, Event: "chat_message", Data: data, Origin: "node-remote",
	})
	if err != nil {
		r.t.Fatal(err)
	}
}

// nextChatID is the id of c's next live chat_message.
func nextChatID(t *testing.T, c *client) string {
	t.Helper()
	data, ok := c.next("chat_message", 5*time.Second)
	if !ok {
		t.Fatal("no chat_message")
	}
	var m vocab.ChatMessage
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m.ID
}

// expectChat fails unless c's next live chat message is want (why: the reason, if any).
func expectChat(t *testing.T, c *client, want, why string) {
	t.Helper()
	if got := nextChatID(t, c); got != want {
		t.Fatalf("%s's next live chat message is %q, want %q %s", c.s.User.UserID, got, want, why)
	}
}

func historyIDs(a joinAck) []string {
	ids := []string{}
	for _, m := range a.Chat {
		ids = append(ids, m.ID)
	}
	return ids
}

// A message stored before a join's history read but published after the join was
// answered (a slow node, or a client that already had it on the node it left) reaches the
// joiner once, in the history; members whose join did not carry it hear it live.
// Before, it came live as well: a rolling restart counted a duplicated delivery.
func TestALateLiveCopyOfAMessageInTheJoinHistoryIsNotDelivered(t *testing.T) {
	r, alice, bob := newChatRoom(t)

	late := message("r1", "late")
	r.store(late)
	if got := historyIDs(join(t, bob, "r1")); len(got) != 1 || got[0] != "late" {
		t.Fatalf("bob's join history %v, want [late]", got)
	}
	r.publish(late)
	r.publish(message("r1", "next"))

	expectChat(t, alice, "late", "(her join did not carry it)")
	expectChat(t, bob, "next", "(late was in his join history)")
}

// Chat that arrives while a join reads the history waits for it: what the history holds
// is not sent again live, what it does not hold is delivered.
func TestChatArrivingDuringTheHistoryReadIsDeliveredOnce(t *testing.T) {
	r, alice, bob := newChatRoom(t)

	acked, open := r.joinWithHistoryHeld(bob, "r1")

	stored := message("r1", "stored")
	r.store(stored)
	r.publish(stored)
	r.publish(message("r1", "unstored")) // e.g. its node's store finished after our read
	expectChat(t, alice, "stored", "")
	expectChat(t, alice, "unstored", "")
	open()

	if got := historyIDs(<-acked); len(got) != 1 || got[0] != "stored" {
		t.Fatalf("bob's join history %v, want [stored]", got)
	}
	expectChat(t, bob, "unstored", "(stored was in his join history)")
	r.publish(message("r1", "after"))
	expectChat(t, bob, "after", "")
}

// A join whose history read is slow in a busy room holds at most 256 chat messages; the
// rest are not held back, and everything arrives once, in order.
func TestChatHeldForASlowHistoryReadIsBoundedAndKeepsItsOrder(t *testing.T) {
	r, _, bob := newChatRoom(t)

	acked, open := r.joinWithHistoryHeld(bob, "r1")
	const sent = 300
	for i := range sent {
		r.publish(message("r1", fmt.Sprint(i)))
	}
	// Beyond the bound nothing waits for the history: bob hears the first messages now.
	for i := range sent {
		expectChat(t, bob, fmt.Sprint(i), "(in order, before the join's history read ends)")
	}
	open()
	<-acked
	r.publish(message("r1", "after"))
	expectChat(t, bob, "after", "(each message once)")
}
