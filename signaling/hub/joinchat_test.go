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

func newChatRoom(t *testing.T) *chatRoom {
	bus := broker.NewMemoryBus()
	remote := broker.NewMemory(bus)
	if err := remote.Start(context.Background(), "node-remote", func(broker.Message) {}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { remote.Close() })
	log := &gatedChatLog{MemoryChatLog: hub.MemoryChatLog{Keep: 50}, entered: make(chan struct{}, 1)}
	return &chatRoom{t: t, log: log, remote: remote, h: startHub(t, hub.Options{Broker: broker.NewMemory(bus), Chat: log})}
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
	r := newChatRoom(t)
	alice, bob := connect(t, r.h, "alice"), connect(t, r.h, "bob")
	join(t, alice, "r1")

	late := message("r1", "late")
	r.store(late)
	if got := historyIDs(join(t, bob, "r1")); len(got) != 1 || got[0] != "late" {
		t.Fatalf("bob's join history %v, want [late]", got)
	}
	r.publish(late)
	r.publish(message("r1", "next"))

	if got := nextChatID(t, alice); got != "late" {
		t.Fatalf("alice's first live chat message %q, want late (her join did not carry it)", got)
	}
	if got := nextChatID(t, bob); got != "next" {
		t.Fatalf("bob's first live chat message %q, want next: late was in his join history", got)
	}
}

// Chat that arrives while a join reads the history waits for it: what the history holds
// is not sent again live, what it does not hold is delivered.
func TestChatArrivingDuringTheHistoryReadIsDeliveredOnce(t *testing.T) {
	r := newChatRoom(t)
	alice, bob := connect(t, r.h, "alice"), connect(t, r.h, "bob")
	join(t, alice, "r1")

	gate := make(chan struct{})
	r.log.gate.Store(&gate)
	acked := make(chan joinAck, 1)
	go func() {
		var a joinAck
		if err := bob.call("join_room", map[string]string{"roomId": "r1"}, &a); err != nil {
			t.Errorf("bob's join: %v", err)
		}
		acked <- a
	}()
	<-r.log.entered // bob is a member and his history read waits

	stored := message("r1", "stored")
	r.store(stored)
	r.publish(stored)
	r.publish(message("r1", "unstored")) // e.g. its node's store finished after our read
	if got := nextChatID(t, alice); got != "stored" {
		t.Fatalf("alice got %q, want stored", got)
	}
	if got := nextChatID(t, alice); got != "unstored" {
		t.Fatalf("alice got %q, want unstored", got)
	}
	r.log.gate.Store(nil)
	close(gate)

	if got := historyIDs(<-acked); len(got) != 1 || got[0] != "stored" {
		t.Fatalf("bob's join history %v, want [stored]", got)
	}
	if got := nextChatID(t, bob); got != "unstored" {
		t.Fatalf("bob's first live chat message %q, want unstored: stored was in his join history", got)
	}
	r.publish(message("r1", "after"))
	if got := nextChatID(t, bob); got != "after" {
		t.Fatalf("bob's next live chat message %q, want after", got)
	}
}

// A join whose history read is slow in a busy room holds at most 256 chat messages; the
// rest are not held back, and everything arrives once, in order.
func TestChatHeldForASlowHistoryReadIsBoundedAndKeepsItsOrder(t *testing.T) {
	r := newChatRoom(t)
	alice, bob := connect(t, r.h, "alice"), connect(t, r.h, "bob")
	join(t, alice, "r1")

	gate := make(chan struct{})
	r.log.gate.Store(&gate)
	acked := make(chan struct{})
	go func() {
		defer close(acked)
		if err := bob.call("join_room", map[string]string{"roomId": "r1"}, nil); err != nil {
			t.Errorf("bob's join: %v", err)
		}
	}()
	<-r.log.entered
	const sent = 300
	for i := range sent {
		r.publish(message("r1", fmt.Sprint(i)))
	}
	// Beyond the bound nothing waits for the history: bob hears the first messages now.
	for i := range sent {
		if got := nextChatID(t, bob); got != fmt.Sprint(i) {
			t.Fatalf("bob's live chat message %d is %q, want %d", i, got, i)
		}
	}
	r.log.gate.Store(nil)
	close(gate)
	<-acked
	r.publish(message("r1", "after"))
	if got := nextChatID(t, bob); got != "after" {
		t.Fatalf("after the join bob got %q, want after (each message once)", got)
	}
}
