package sfu_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/testutil/nodetest"
	"github.com/switchboard-rtc/switchboard/signaling/hub"
	"github.com/switchboard-rtc/switchboard/signaling/sfu"
	"github.com/switchboard-rtc/switchboard/signaling/vocab"
)

// TestSingleNodeWithoutRedis: the producer registry and the fallback flags work in
// memory: produce is announced, leaving closes the peer and announces the producer gone,
// and an outage switches a small room to P2P and back.
func TestSingleNodeWithoutRedis(t *testing.T) {
	var down atomic.Bool
	var deletes atomic.Int32
	media := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		switch {
		case r.URL.Path == "/health":
			_, _ = w.Write([]byte(`{"status":"ok"}`))
		case r.Method == http.MethodDelete:
			deletes.Add(1)
			_, _ = w.Write([]byte(`{}`))
		case strings.HasSuffix(r.URL.Path, "/transports"):
			_, _ = w.Write([]byte(`{"id":"t1","iceParameters":{},"iceCandidates":[],"dtlsParameters":{}}`))
		case strings.HasSuffix(r.URL.Path, "/producers"):
			_, _ = w.Write([]byte(`{"id":"p1"}`))
		default:
			_, _ = w.Write([]byte(`{}`))
		}
	}))
	defer media.Close()
	n := nodetest.Start(t, nodetest.Config{Hub: hub.Options{Rooms: vocab.StaticRooms{Mode: vocab.ModeSFU}},
		SFU: &sfu.Options{MediaURL: media.URL, BreakerThreshold: 1, HealthInterval: 50 * time.Millisecond}})
	alice, bob := nodetest.Connect(t, n, "alice"), nodetest.Connect(t, n, "bob")
	ctx := nodetest.Ctx(t, 20*time.Second)
	for _, c := range []interface {
		Call(context.Context, string, any, any) error
	}{alice, bob} {
		if err := c.Call(ctx, "join_room", map[string]string{"roomId": "r"}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := alice.Call(ctx, "sfu_create_transport", map[string]string{"direction": "send"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := alice.Call(ctx, "sfu_produce", map[string]any{"transportId": "t1", "kind": "audio", "rtpParameters": map[string]any{}}, nil); err != nil {
		t.Fatal(err)
	}
	if ev, ok := bob.Next(ctx, "sfu_new_producer"); !ok || !strings.Contains(string(ev.Data), `"producerId":"p1"`) {
		t.Fatalf("sfu_new_producer: %s %v", ev.Data, ok)
	}

	down.Store(true)
	_ = bob.Call(ctx, "sfu_get_router_capabilities", nil, nil)
	for _, want := range []string{"p2p", "sfu"} {
		ev, ok := alice.Next(ctx, "room_mode_changed")
		var m struct{ Mode string }
		if !ok || json.Unmarshal(ev.Data, &m) != nil || m.Mode != want {
			t.Fatalf("room_mode_changed = %s, want mode %s", ev.Data, want)
		}
		down.Store(false)
	}

	if err := alice.Call(ctx, "leave_room", map[string]any{}, nil); err != nil {
		t.Fatal(err)
	}
	if ev, ok := bob.Next(ctx, "sfu_producer_closed"); !ok || !strings.Contains(string(ev.Data), `"userId":"alice"`) {
		t.Fatalf("sfu_producer_closed: %s %v", ev.Data, ok)
	}
	if deletes.Load() != 1 {
		t.Fatalf("peer deletes = %d, want 1", deletes.Load())
	}
}
