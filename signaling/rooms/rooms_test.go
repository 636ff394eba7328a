package rooms

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchboard-rtc/switchboard/signaling/metrics"
	"github.com/switchboard-rtc/switchboard/signaling/vocab"
)

func roomService(t *testing.T, status *atomic.Int32, calls *atomic.Int32) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		time.Sleep(50 * time.Millisecond) // keep a call in flight while others arrive
		switch st := status.Load(); st {
		case 200:
			_, _ = w.Write([]byte(`{"id":"r1","mode":"sfu","maxParticipants":8}`))
		default:
			w.WriteHeader(int(st))
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestMemoryCacheSharesOneCallAndServesHits(t *testing.T) {
	var status, calls atomic.Int32
	status.Store(200)
	m := metrics.NewSFUMetrics(prometheus.NewRegistry())
	c := New(Options{ServiceURL: roomService(t, &status, &calls).URL, Metrics: m})
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			info, err := c.Lookup(context.Background(), "r1")
			if err != nil || !reflect.DeepEqual(info, vocab.RoomInfo{ID: "r1", Mode: "sfu", MaxParticipants: 8}) {
				t.Errorf("lookup = %+v, %v", info, err)
			}
		}()
	}
	wg.Wait()
	if calls.Load() != 1 {
		t.Fatalf("Room Service calls for 50 concurrent misses = %d, want 1", calls.Load())
	}
	status.Store(500) // a hit does not care
	if _, err := c.Lookup(context.Background(), "r1"); err != nil || calls.Load() != 1 {
		t.Fatalf("hit: err=%v calls=%d", err, calls.Load())
	}
	if hits := testutil.ToFloat64(m.RoomCache.WithLabelValues("hit")); hits < 1 {
		t.Fatalf("hits counted = %v", hits)
	}
}

func TestUpstreamErrors(t *testing.T) {
	var status, calls atomic.Int32
	url := roomService(t, &status, &calls).URL
	c := New(Options{ServiceURL: url})
	status.Store(404)
	if _, err := c.Lookup(context.Background(), "gone"); !errors.Is(err, vocab.ErrRoomNotFound) {
		t.Fatalf("404: %v, want ErrRoomNotFound", err)
	}
	status.Store(503)
	if _, err := c.Lookup(context.Background(), "x"); !errors.Is(err, ErrUpstream) {
		t.Fatalf("503: %v, want ErrUpstream", err)
	}
	status.Store(200) // but slower than a 20 ms timeout
	if _, err := New(Options{ServiceURL: url, Timeout: 20 * time.Millisecond}).Lookup(context.Background(), "x"); !errors.Is(err, ErrUpstream) {
		t.Fatalf("timeout: %v, want ErrUpstream", err)
	}
	down := New(Options{ServiceURL: "http://127.0.0.1:1"})
	if _, err := down.Lookup(context.Background(), "x"); !errors.Is(err, ErrUpstream) {
		t.Fatalf("refused: %v, want ErrUpstream", err)
	}
}

func TestExpiredMemoryEntryIsRefetched(t *testing.T) {
	var status, calls atomic.Int32
	status.Store(200)
	c := New(Options{ServiceURL: roomService(t, &status, &calls).URL, TTL: time.Millisecond})
	for range 2 {
		if _, err := c.Lookup(context.Background(), "r1"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if calls.Load() != 2 {
		t.Fatalf("calls = %d, want 2 (the entry expired)", calls.Load())
	}
}

// TestRoomServiceNotFoundIsCachedBriefly: joins of a room the Room Service does not know,
// in a loop, ask it once per NotFoundTTL, not once per join; after the TTL it is asked
// again (the room may exist by then). (Before: every lookup of a missing room was a call.)
func TestRoomServiceNotFoundIsCachedBriefly(t *testing.T) {
	var status, calls atomic.Int32
	status.Store(404)
	m := metrics.NewSFUMetrics(prometheus.NewRegistry())
	c := New(Options{ServiceURL: roomService(t, &status, &calls).URL, Metrics: m, NotFoundTTL: time.Hour})
	for i := 0; i < 20; i++ {
		if _, err := c.Lookup(context.Background(), "nope"); !errors.Is(err, vocab.ErrRoomNotFound) {
			t.Fatalf("lookup %d: %v", i, err)
		}
	}
	if calls.Load() != 1 {
		t.Fatalf("Room Service calls for 20 lookups of a missing room = %d, want 1", calls.Load())
	}
	if v := testutil.ToFloat64(m.RoomCache.WithLabelValues("not_found_hit")); v != 19 {
		t.Fatalf("not_found_hit = %v, want 19", v)
	}
	// Once the entry has expired, the Room Service is asked again.
	c.absent.add("nope", time.Now().Add(-2*time.Hour))
	status.Store(200)
	if _, err := c.Lookup(context.Background(), "nope"); err != nil || calls.Load() != 2 {
		t.Fatalf("after the TTL: err=%v calls=%d", err, calls.Load())
	}
}
