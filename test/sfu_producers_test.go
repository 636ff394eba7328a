package test

import (
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/testutil/nodetest"
	"github.com/switchboard-rtc/switchboard/signaling/sioclient"
	"github.com/switchboard-rtc/switchboard/signaling/vocab"
)

// listedProducer is one entry of an sfu room's join ack `producers`.
type listedProducer struct {
	ProducerID string `json:"producerId"`
	UserID     string `json:"userId"`
	Kind       string `json:"kind"`
	Paused     bool   `json:"paused"`
}

// joinProducers joins room and returns the join ack's producers (nil when absent).
func joinProducers(t *testing.T, c *sioclient.Client, room string) []listedProducer {
	t.Helper()
	var a struct {
		Mode      string           `json:"mode"`
		Producers []listedProducer `json:"producers"`
	}
	mustCall(t, c, "join_room", map[string]string{"roomId": room}, &a)
	if a.Mode != "sfu" {
		t.Fatalf("join mode = %q, want sfu", a.Mode)
	}
	if a.Producers == nil {
		t.Fatal("sfu join ack without producers")
	}
	return a.Producers
}

func produce(t *testing.T, c *sioclient.Client, transport, kind string) string {
	t.Helper()
	var a struct {
		ProducerID string `json:"producerId"`
	}
	mustCall(t, c, "sfu_produce", map[string]any{"transportId": transport, "kind": kind, "rtpParameters": rtpParams}, &a)
	if a.ProducerID == "" {
		t.Fatal("sfu_produce ack without producerId")
	}
	return a.ProducerID
}

// TestSFUNewProducerExactlyOnce: a member present when a producer appears hears
// sfu_new_producer once, and not again when it opens a receive transport later; a late
// joiner learns the producers from its join ack and gets no sfu_new_producer for them.
func TestSFUNewProducerExactlyOnce(t *testing.T) {
	e := newSFUEnv(t, vocab.RoomInfo{ID: "conf", Mode: vocab.ModeSFU})
	na, _ := e.node(t, "node-a", nil)
	nb, _ := e.node(t, "node-b", nil)
	alice := nodetest.Connect(t, na, "alice")
	bob := nodetest.Connect(t, nb, "bob")
	if ps := joinProducers(t, alice, "conf"); len(ps) != 0 {
		t.Fatalf("empty room's producers = %+v", ps)
	}
	joinProducers(t, bob, "conf")
	send := createTransport(t, alice, "send")
	first := produce(t, alice, send, "video")
	if np := next(t, bob, "sfu_new_producer", 5*time.Second); np["producerId"] != first {
		t.Fatalf("sfu_new_producer = %v, want %s", np, first)
	}

	// Bob opens a receive transport now; then alice adds a second producer. The next
	// sfu_new_producer bob sees must be the second one: a repeat of the first would have
	// been sent before the transport's ack, so it would come first.
	createTransport(t, bob, "recv")
	carol := nodetest.Connect(t, na, "carol")
	if ps := joinProducers(t, carol, "conf"); len(ps) != 1 || ps[0].ProducerID != first || ps[0].UserID != "alice" {
		t.Fatalf("carol's join ack producers = %+v, want [%s of alice]", ps, first)
	}
	createTransport(t, carol, "recv")
	second := produce(t, alice, send, "audio")
	if np := next(t, bob, "sfu_new_producer", 5*time.Second); np["producerId"] != second {
		t.Fatalf("bob's next sfu_new_producer = %v, want only the new %s (the first was announced already)", np, second)
	}
	if np := next(t, carol, "sfu_new_producer", 5*time.Second); np["producerId"] != second || np["kind"] != "audio" {
		t.Fatalf("carol's first sfu_new_producer = %v, want %s (the first came in the join ack)", np, second)
	}
	// The producer does not hear of its own producers, in events or in its own join ack.
	if ps := joinProducers(t, alice, "conf"); len(ps) != 0 {
		t.Fatalf("alice's own rejoin lists %+v", ps)
	}
}
