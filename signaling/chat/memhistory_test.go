package chat

import (
	"context"
	"testing"
	"time"
)

// TestInMemoryHistoryKeepsABoundedNumberOfRooms: without Redis, a node keeps the history
// of at most HistoryRooms rooms; the least recently active one goes first. (Before: one
// history per room id ever used, for the life of the process.)
func TestInMemoryHistoryKeepsABoundedNumberOfRooms(t *testing.T) {
	opts := fastOptions("")
	opts.HistoryRooms = 3
	l := NewMemory(opts)
	closeNow(t, l)
	ctx := context.Background()
	for i, room := range []string{"r1", "r2", "r3", "r1", "r4"} {
		if err := l.Append(ctx, msg(room, "alice", i)); err != nil {
			t.Fatal(err)
		}
	}
	for room, want := range map[string]int{"r1": 2, "r2": 0, "r3": 1, "r4": 1} {
		if got, err := l.Recent(ctx, room, 50); err != nil || len(got) != want {
			t.Errorf("history of %s: %d messages (%v), want %d", room, len(got), err, want)
		}
	}
}

// TestInMemoryHistoryExpiresIdleRooms: a room's in-memory history goes once the room has
// had no message for the history TTL.
func TestInMemoryHistoryExpiresIdleRooms(t *testing.T) {
	h := newRoomHistories(50, 100, time.Minute)
	t0 := time.Now()
	h.add(msg("idle", "alice", 1), t0)
	h.add(msg("busy", "alice", 2), t0.Add(30*time.Second))
	h.add(msg("busy", "alice", 3), t0.Add(59*time.Second))
	if got := h.recent("idle", 50, t0.Add(59*time.Second)); len(got) != 1 {
		t.Fatalf("idle room within the TTL: %d messages", len(got))
	}
	later := t0.Add(61 * time.Second)
	if got := h.recent("idle", 50, later); got != nil {
		t.Fatalf("idle room after the TTL: %d messages, want none", len(got))
	}
	if got := h.recent("busy", 50, later); len(got) != 2 {
		t.Fatalf("busy room: %d messages, want 2", len(got))
	}
	if len(h.rooms) != 1 {
		t.Fatalf("%d rooms kept, want 1", len(h.rooms))
	}
}
