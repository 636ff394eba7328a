package sfu

import (
	"context"
	"errors"
	"strconv"
	"testing"

	"github.com/switchboard-rtc/switchboard/internal/testutil/redisserver"
)

// TestOwnershipIsPerUserAndBounded: both implementations keep one record per room and
// user, refuse other users' ids, cap a record at MaxOwnedPerUser ids and forget it whole.
func TestOwnershipIsPerUserAndBounded(t *testing.T) {
	srv := redisserver.Start(t, redisserver.Options{})
	for name, o := range map[string]ownership{"redis": redisOwnership{srv.Client()}, "memory": newMemoryOwnership()} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			alice, bob := owner{"r", "alice"}, owner{"r", "bob"}
			if err := o.add(ctx, alice, kindTransport, "t1"); err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				w        owner
				kind, id string
				want     bool
			}{
				{alice, kindTransport, "t1", true},
				{bob, kindTransport, "t1", false},
				{owner{"other-room", "alice"}, kindTransport, "t1", false},
				{alice, kindConsumer, "t1", false}, // a transport id is not a consumer id
			} {
				if got, err := o.owns(ctx, c.w, c.kind, c.id); err != nil || got != c.want {
					t.Errorf("owns(%v, %s, %s) = %v, %v; want %v", c.w, c.kind, c.id, got, err, c.want)
				}
			}
			for i := 1; i < MaxOwnedPerUser; i++ {
				if err := o.add(ctx, alice, kindConsumer, "c"+strconv.Itoa(i)); err != nil {
					t.Fatalf("add #%d: %v", i, err)
				}
			}
			if err := o.add(ctx, alice, kindConsumer, "one-too-many"); !errors.Is(err, errTooMany) {
				t.Fatalf("add past the cap: %v, want errTooMany", err)
			}
			if err := o.add(ctx, alice, kindConsumer, "c1"); err != nil {
				t.Fatalf("re-adding a known id at the cap: %v", err)
			}
			if err := o.drop(ctx, alice, kindConsumer, "c1"); err != nil {
				t.Fatal(err)
			}
			if err := o.add(ctx, alice, kindProducer, "p1"); err != nil {
				t.Fatalf("add after drop freed a place: %v", err)
			}
			if err := o.add(ctx, bob, kindTransport, "t2"); err != nil {
				t.Fatalf("another user is not affected by alice's cap: %v", err)
			}
			if err := o.forget(ctx, alice); err != nil {
				t.Fatal(err)
			}
			if got, _ := o.owns(ctx, alice, kindTransport, "t1"); got {
				t.Fatal("alice still owns t1 after forget")
			}
			if got, _ := o.owns(ctx, bob, kindTransport, "t2"); !got {
				t.Fatal("forgetting alice dropped bob's record")
			}
		})
	}
}
