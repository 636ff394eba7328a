package broker_test

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"

	"github.com/switchboard-rtc/switchboard/signaling/broker"
)

// BenchmarkMemoryPublishRoom: one node publishes room messages that two other nodes on
// the same in-process bus are subscribed to; it measures publish + delivery to both
// handlers (the single-node and test-cluster bus).
func BenchmarkMemoryPublishRoom(b *testing.B) {
	bus := broker.NewMemoryBus()
	ctx := context.Background()
	var got atomic.Int64
	pub := broker.NewMemory(bus)
	if err := pub.Start(ctx, "a", func(broker.Message) {}); err != nil {
		b.Fatal(err)
	}
	defer pub.Close()
	for _, id := range []string{"b", "c"} {
		sub := broker.NewMemory(bus)
		if err := sub.Start(ctx, id, func(broker.Message) { got.Add(1) }); err != nil {
			b.Fatal(err)
		}
		if err := sub.SubscribeRoom(ctx, "room-1"); err != nil {
			b.Fatal(err)
		}
		defer sub.Close()
	}
	m := broker.Message{Type: broker.TypeRoom, Room: "room-1", Event: "chat_message",
		Data: json.RawMessage(`{"id":"x","roomId":"room-1","senderId":"u1","senderName":"U","content":"hello","timestamp":1}`), Origin: "a"}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if err := pub.PublishRoom(ctx, "room-1", m); err != nil {
			b.Fatal(err)
		}
		n++
	}
	for got.Load() < int64(2*n) {
		// wait for the delivery goroutines to catch up
	}
}

// BenchmarkMemoryPublishNode: a relay to a user on another node.
func BenchmarkMemoryPublishNode(b *testing.B) {
	bus := broker.NewMemoryBus()
	ctx := context.Background()
	var got atomic.Int64
	pub := broker.NewMemory(bus)
	sub := broker.NewMemory(bus)
	if err := pub.Start(ctx, "a", func(broker.Message) {}); err != nil {
		b.Fatal(err)
	}
	if err := sub.Start(ctx, "b", func(broker.Message) { got.Add(1) }); err != nil {
		b.Fatal(err)
	}
	defer pub.Close()
	defer sub.Close()
	m := broker.Message{Type: broker.TypeUser, Room: "room-1", User: "u2", Event: "webrtc_offer",
		Data: json.RawMessage(`{"roomId":"room-1","from":"u1","sdp":{"type":"offer","sdp":"v=0"}}`), Origin: "a"}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if err := pub.PublishNode(ctx, "b", m); err != nil {
			b.Fatal(err)
		}
		n++
	}
	for got.Load() < int64(n) {
	}
}
