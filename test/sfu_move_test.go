package test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/testutil/nodetest"
	"github.com/switchboard-rtc/switchboard/signaling/hub"
	"github.com/switchboard-rtc/switchboard/signaling/sfu"
	"github.com/switchboard-rtc/switchboard/signaling/sioclient"
	"github.com/switchboard-rtc/switchboard/signaling/vocab"
)

// TestSFUSessionMovesWithDrain: alice negotiates on node-a, node-a drains, alice
// reconnects through node-b and rejoins within the reconnection window; there she keeps
// using her send and receive transports, her producer and her consumer. Another user's
// ids are still refused, on both nodes, and never reach the Media Service. Her record
// is bounded by a TTL and deleted when she leaves.
func TestSFUSessionMovesWithDrain(t *testing.T) {
	e := newSFUEnv(t, vocab.RoomInfo{ID: "conf", Mode: vocab.ModeSFU})
	na, _ := e.node(t, "node-a", nil)
	nb, _ := e.node(t, "node-b", nil)
	alice, err := sioclient.Dial(context.Background(), na.URL, sioclient.Options{Token: nodetest.Token(t, "alice")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(alice.Close)
	bob := nodetest.Connect(t, nb, "bob")
	joinProducers(t, alice, "conf")
	joinProducers(t, bob, "conf")

	bobSend := createTransport(t, bob, "send")
	bobProducer := produce(t, bob, bobSend, "video")
	aliceSend := createTransport(t, alice, "send")
	mustCall(t, alice, "sfu_connect_transport", map[string]any{"transportId": aliceSend, "dtlsParameters": map[string]any{"role": "client"}}, nil)
	aliceProducer := produce(t, alice, aliceSend, "audio")
	aliceRecv := createTransport(t, alice, "recv")
	var cons struct {
		Consumer struct {
			ID string `json:"id"`
		} `json:"consumer"`
	}
	mustCall(t, alice, "sfu_consume", map[string]any{"transportId": aliceRecv, "producerId": bobProducer, "rtpCapabilities": json.RawMessage(fakeCaps)}, &cons)
	ttl := e.rdb.TTL(context.Background(), sfu.OwnedKey("conf", "alice")).Val()
	if ttl <= 0 || ttl > 24*time.Hour {
		t.Fatalf("TTL of %s = %s, want a bounded lifetime (at most 24h)", sfu.OwnedKey("conf", "alice"), ttl)
	}

	// node-a drains: alice's socket is closed and she comes back through node-b.
	go na.Hub.Drain(context.Background(), hub.DrainOptions{MaxShare: 1, Spread: time.Millisecond})
	next(t, alice, "server_draining", 5*time.Second)
	<-alice.Done()
	alice2 := nodetest.Connect(t, nb, "alice")
	if ps := joinProducers(t, alice2, "conf"); len(ps) != 1 || ps[0].ProducerID != bobProducer {
		t.Fatalf("alice's rejoin on node-b lists %+v, want bob's %s", ps, bobProducer)
	}

	start := e.media.count()
	mustCall(t, alice2, "sfu_restart_ice", map[string]any{"transportId": aliceSend}, nil)
	mustCall(t, alice2, "sfu_connect_transport", map[string]any{"transportId": aliceRecv, "dtlsParameters": map[string]any{"role": "client"}}, nil)
	second := produce(t, alice2, aliceSend, "video")
	mustCall(t, alice2, "sfu_resume_consumer", map[string]any{"consumerId": cons.Consumer.ID}, nil)
	mustCall(t, alice2, "sfu_pause_producer", map[string]any{"producerId": aliceProducer}, nil)
	if np := next(t, bob, "sfu_new_producer", 5*time.Second); np["producerId"] != aliceProducer {
		t.Fatalf("bob's first sfu_new_producer = %v, want %s", np, aliceProducer)
	}
	if np := next(t, bob, "sfu_new_producer", 5*time.Second); np["producerId"] != second {
		t.Fatalf("bob's sfu_new_producer after the move = %v, want %s", np, second)
	}
	if pp := next(t, bob, "sfu_producer_paused", 5*time.Second); pp["producerId"] != aliceProducer || pp["userId"] != "alice" {
		t.Fatalf("sfu_producer_paused = %v", pp)
	}
	if got := e.media.since(start); len(got) != 5 {
		t.Fatalf("media calls after the move = %v, want 5", got)
	}

	// Someone else's ids stay refused, on the node alice moved to and on another one.
	carol := nodetest.Connect(t, nb, "carol")
	joinProducers(t, carol, "conf")
	before := e.media.count()
	for _, c := range []*sioclient.Client{bob, carol} {
		for _, try := range []struct {
			event   string
			payload any
		}{
			{"sfu_connect_transport", map[string]any{"transportId": aliceSend, "dtlsParameters": map[string]any{"role": "client"}}},
			{"sfu_produce", map[string]any{"transportId": aliceSend, "kind": "video", "rtpParameters": rtpParams}},
			{"sfu_consume", map[string]any{"transportId": aliceRecv, "producerId": bobProducer, "rtpCapabilities": json.RawMessage(fakeCaps)}},
			{"sfu_resume_consumer", map[string]any{"consumerId": cons.Consumer.ID}},
			{"sfu_restart_ice", map[string]any{"transportId": aliceRecv}},
			{"sfu_pause_producer", map[string]any{"producerId": aliceProducer}},
			{"sfu_resume_producer", map[string]any{"producerId": aliceProducer}},
			{"sfu_close_producer", map[string]any{"producerId": second}},
		} {
			if err := call(t, c, try.event, try.payload, nil); code(err) != "forbidden" {
				t.Errorf("%s on alice's ids: %v, want forbidden", try.event, err)
			}
		}
	}
	if got := e.media.since(before); len(got) != 0 {
		t.Fatalf("forbidden calls reached the Media Service: %v", got)
	}

	// Leaving deletes alice's record; her old ids are then refused to her too.
	mustCall(t, alice2, "leave_room", map[string]any{}, nil)
	waitFor(t, 5*time.Second, "alice's ownership record deleted", func() bool {
		return e.rdb.Exists(context.Background(), sfu.OwnedKey("conf", "alice")).Val() == 0
	})
	joinProducers(t, alice2, "conf")
	if err := call(t, alice2, "sfu_connect_transport", map[string]any{"transportId": aliceSend, "dtlsParameters": map[string]any{}}, nil); code(err) != "forbidden" {
		t.Fatalf("alice's transport after she left the room: %v, want forbidden", err)
	}
}
