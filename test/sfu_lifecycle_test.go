package test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/testutil/nodetest"
	"github.com/switchboard-rtc/switchboard/signaling/sfu"
	"github.com/switchboard-rtc/switchboard/signaling/vocab"
)

// TestSFUProducerLifecycle: pause, resume and close of a producer and an ICE restart go
// to the Media Service; the room's other members, on both nodes, hear
// sfu_producer_paused, sfu_producer_resumed and sfu_producer_closed, and a late
// joiner's ack carries the paused state.
func TestSFUProducerLifecycle(t *testing.T) {
	e := newSFUEnv(t, vocab.RoomInfo{ID: "conf", Mode: vocab.ModeSFU})
	na, _ := e.node(t, "node-a", nil)
	nb, _ := e.node(t, "node-b", nil)
	alice := nodetest.Connect(t, na, "alice")
	bob := nodetest.Connect(t, nb, "bob")
	joinProducers(t, alice, "conf")
	joinProducers(t, bob, "conf")
	send := createTransport(t, alice, "send")
	p := produce(t, alice, send, "video")
	next(t, bob, "sfu_new_producer", 5*time.Second)
	start := e.media.count()

	mustCall(t, alice, "sfu_pause_producer", map[string]any{"producerId": p}, nil)
	if ev := next(t, bob, "sfu_producer_paused", 5*time.Second); ev["roomId"] != "conf" || ev["producerId"] != p || ev["userId"] != "alice" {
		t.Fatalf("sfu_producer_paused = %v", ev)
	}
	if st := e.media.producerState(p); st != "paused" {
		t.Fatalf("media producer state after pause = %q", st)
	}
	carol := nodetest.Connect(t, na, "carol")
	if ps := joinProducers(t, carol, "conf"); len(ps) != 1 || ps[0].ProducerID != p || !ps[0].Paused {
		t.Fatalf("late joiner's producers while paused = %+v, want %s paused", ps, p)
	}

	mustCall(t, alice, "sfu_resume_producer", map[string]any{"producerId": p}, nil)
	if ev := next(t, bob, "sfu_producer_resumed", 5*time.Second); ev["producerId"] != p || ev["userId"] != "alice" {
		t.Fatalf("bob's sfu_producer_resumed = %v", ev)
	}
	if ev := next(t, carol, "sfu_producer_resumed", 5*time.Second); ev["producerId"] != p {
		t.Fatalf("carol's sfu_producer_resumed = %v", ev)
	}
	if st := e.media.producerState(p); st != "live" {
		t.Fatalf("media producer state after resume = %q", st)
	}

	var ice struct {
		ICEParameters json.RawMessage `json:"iceParameters"`
	}
	mustCall(t, alice, "sfu_restart_ice", map[string]any{"transportId": send}, &ice)
	var params struct {
		UsernameFragment string `json:"usernameFragment"`
	}
	if json.Unmarshal(ice.ICEParameters, &params) != nil || !strings.HasPrefix(params.UsernameFragment, "restarted") {
		t.Fatalf("sfu_restart_ice ack iceParameters = %s", ice.ICEParameters)
	}

	mustCall(t, alice, "sfu_close_producer", map[string]any{"producerId": p}, nil)
	if ev := next(t, bob, "sfu_producer_closed", 5*time.Second); ev["roomId"] != "conf" || ev["producerId"] != p || ev["userId"] != "alice" {
		t.Fatalf("bob's sfu_producer_closed = %v", ev)
	}
	if ev := next(t, carol, "sfu_producer_closed", 5*time.Second); ev["producerId"] != p {
		t.Fatalf("carol's sfu_producer_closed = %v", ev)
	}
	if st := e.media.producerState(p); st != "" {
		t.Fatalf("media producer state after close = %q", st)
	}
	if n := e.rdb.HLen(context.Background(), sfu.ProducersKey("conf")).Val(); n != 0 {
		t.Fatalf("registry still holds %d producers after the close", n)
	}
	want := []string{
		"POST /rooms/conf/producers/" + p + "/pause",
		"POST /rooms/conf/producers/" + p + "/resume",
		"POST /rooms/conf/transports/" + send + "/restart-ice",
		"DELETE /rooms/conf/producers/" + p,
	}
	got := e.media.since(start)
	if len(got) != len(want) {
		t.Fatalf("media calls = %v, want %v", got, want)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Fatalf("media call %d = %s, want %s", i, got[i], want[i])
		}
	}

	// The closed producer is gone: its id is refused now, and leaving announces nothing
	// more for it.
	if err := call(t, alice, "sfu_pause_producer", map[string]any{"producerId": p}, nil); code(err) != "forbidden" {
		t.Fatalf("pause of a closed producer: %v, want forbidden", err)
	}
}

// TestSFULifecycleErrors: payload checks, rooms and the breaker, as for every sfu_* event.
func TestSFULifecycleErrors(t *testing.T) {
	e := newSFUEnv(t, vocab.RoomInfo{ID: "conf", Mode: vocab.ModeSFU})
	n, _ := e.node(t, "node-a", func(o *sfu.Options) { o.DisableFallback = true })
	alice := nodetest.Connect(t, n, "alice")
	for _, ev := range []string{"sfu_close_producer", "sfu_pause_producer", "sfu_resume_producer", "sfu_restart_ice"} {
		if err := call(t, alice, ev, map[string]any{"producerId": "p1", "transportId": "t1"}, nil); code(err) != "not_in_room" {
			t.Errorf("%s outside a room: %v, want not_in_room", ev, err)
		}
	}
	join(t, alice, "p2p-room")
	if err := call(t, alice, "sfu_pause_producer", map[string]any{"producerId": "p1"}, nil); code(err) != "not_sfu_room" {
		t.Errorf("sfu_pause_producer in a p2p room: %v, want not_sfu_room", err)
	}
	joinProducers(t, alice, "conf")
	for _, try := range []struct {
		event   string
		payload any
	}{
		{"sfu_close_producer", map[string]any{}},
		{"sfu_pause_producer", map[string]any{"producerId": 5}},
		{"sfu_resume_producer", map[string]any{"producerId": ""}},
		{"sfu_restart_ice", map[string]any{"transportId": nil}},
		{"sfu_restart_ice", []any{1}},
	} {
		if err := call(t, alice, try.event, try.payload, nil); code(err) != "invalid_payload" {
			t.Errorf("%s %v: %v, want invalid_payload", try.event, try.payload, err)
		}
	}
	send := createTransport(t, alice, "send")
	p := produce(t, alice, send, "audio")
	e.media.down.Store(true)
	if err := call(t, alice, "sfu_pause_producer", map[string]any{"producerId": p}, nil); code(err) != "media_unavailable" {
		t.Errorf("sfu_pause_producer while the Media Service fails: %v, want media_unavailable", err)
	}
	if err := call(t, alice, "sfu_restart_ice", map[string]any{"transportId": send}, nil); code(err) != "media_unavailable" {
		t.Errorf("sfu_restart_ice while the Media Service fails: %v, want media_unavailable", err)
	}
	if err := call(t, alice, "sfu_close_producer", map[string]any{"producerId": p}, nil); code(err) != "media_unavailable" {
		t.Errorf("sfu_close_producer while the Media Service fails: %v, want media_unavailable", err)
	}
	// A failed close leaves the producer registered (it still exists on the media side).
	if ok := e.rdb.HExists(context.Background(), sfu.ProducersKey("conf"), p).Val(); !ok {
		t.Fatal("a failed close removed the producer from the registry")
	}
}

// TestSFUCloseProducerGoneOnTheMediaSide: a producer the Media Service no longer knows
// (404) is closed for the room all the same: announced and removed from the registry.
func TestSFUCloseProducerGoneOnTheMediaSide(t *testing.T) {
	e := newSFUEnv(t, vocab.RoomInfo{ID: "conf", Mode: vocab.ModeSFU})
	n, _ := e.node(t, "node-a", nil)
	alice := nodetest.Connect(t, n, "alice")
	bob := nodetest.Connect(t, n, "bob")
	joinProducers(t, alice, "conf")
	joinProducers(t, bob, "conf")
	p := produce(t, alice, createTransport(t, alice, "send"), "audio")
	e.media.remember(func() { delete(e.media.producers, p) })
	mustCall(t, alice, "sfu_close_producer", map[string]any{"producerId": p}, nil)
	if ev := next(t, bob, "sfu_producer_closed", 5*time.Second); ev["producerId"] != p {
		t.Fatalf("sfu_producer_closed = %v", ev)
	}
	if e.rdb.HExists(context.Background(), sfu.ProducersKey("conf"), p).Val() {
		t.Fatal("the producer stayed in the registry")
	}
	// Pausing a producer the Media Service lost is the client's error, passed back.
	p2 := produce(t, alice, createTransport(t, alice, "send"), "video")
	e.media.remember(func() { delete(e.media.producers, p2) })
	if err := call(t, alice, "sfu_pause_producer", map[string]any{"producerId": p2}, nil); code(err) != "invalid_payload" {
		t.Fatalf("pause of a producer unknown to the Media Service: %v, want invalid_payload", err)
	}
}
