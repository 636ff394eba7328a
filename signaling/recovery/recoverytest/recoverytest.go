// Package recoverytest is the behavioural contract of recovery.Log, run against every
// implementation (in-memory and Redis).
package recoverytest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/signaling/recovery"
)

// NewLog returns a fresh log keeping at most max frames per session. Logs returned by one
// NewLog of a test share their backend (two nodes on one Redis).
type NewLog func(t *testing.T, max int) recovery.Log

func frames(from, to int) []recovery.Frame {
	var out []recovery.Frame
	for i := from; i <= to; i++ {
		out = append(out, recovery.Frame{Offset: fmt.Sprintf("n1-%d", i), Data: []byte(fmt.Sprintf(`42["chat_message",{"n":%d},"n1-%d"]`, i, i))})
	}
	return out
}

func offsets(fs []recovery.Frame) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Offset
	}
	return out
}

func sameOffsets(t *testing.T, what string, got, want []recovery.Frame) {
	t.Helper()
	g, w := offsets(got), offsets(want)
	if fmt.Sprint(g) != fmt.Sprint(w) {
		t.Fatalf("%s: offsets %v, want %v", what, g, w)
	}
	for i := range got {
		if string(got[i].Data) != string(want[i].Data) {
			t.Fatalf("%s: frame %d is %q, want %q", what, i, got[i].Data, want[i].Data)
		}
	}
}

func rec(pid, user string) recovery.Record {
	return recovery.Record{PID: pid, UserID: user, Room: "r1", Session: "s-" + pid, Node: "node-a", Complete: true}
}

// Run runs the contract.
func Run(t *testing.T, newLog NewLog) {
	ctx := context.Background()
	const ttl = time.Minute

	t.Run("TakeReturnsRecordAndFramesInOrderOnce", func(t *testing.T) {
		l := newLog(t, 16)
		if err := l.Park(ctx, rec("p1", "alice"), frames(1, 3), ttl); err != nil {
			t.Fatal(err)
		}
		if owner, ok, err := l.Append(ctx, "p1", "node-a", frames(4, 5)); err != nil || !ok || owner != "node-a" {
			t.Fatalf("append by the owner: %q %v %v", owner, ok, err)
		}
		got, err := l.Peek(ctx, "p1", "alice")
		if err != nil || got != rec("p1", "alice") {
			t.Fatalf("peek: %+v %v", got, err)
		}
		r, fs, err := l.Take(ctx, "p1", "alice", "node-b")
		if err != nil {
			t.Fatal(err)
		}
		if r != rec("p1", "alice") {
			t.Fatalf("record %+v", r)
		}
		sameOffsets(t, "taken", fs, frames(1, 5))
		if _, _, err := l.Take(ctx, "p1", "alice", "node-c"); !errors.Is(err, recovery.ErrNotParked) {
			t.Fatalf("second take: %v, want ErrNotParked", err)
		}
		if _, err := l.Peek(ctx, "p1", "alice"); !errors.Is(err, recovery.ErrNotParked) {
			t.Fatalf("peek after take: %v, want ErrNotParked", err)
		}
	})

	t.Run("AppendAfterTakeNamesTheTaker", func(t *testing.T) {
		l := newLog(t, 16)
		_ = l.Park(ctx, rec("p2", "alice"), nil, ttl)
		if _, _, err := l.Take(ctx, "p2", "alice", "node-b"); err != nil {
			t.Fatal(err)
		}
		owner, ok, err := l.Append(ctx, "p2", "node-a", frames(1, 1))
		if err != nil || ok || owner != "node-b" {
			t.Fatalf("append after take: %q %v %v; want node-b, refused", owner, ok, err)
		}
		// The taker parks the same pid again (the client dropped again): the old owner's
		// late appends still go nowhere but name the new owner.
		r := rec("p2", "alice")
		r.Node = "node-b"
		if err := l.Park(ctx, r, frames(7, 7), ttl); err != nil {
			t.Fatal(err)
		}
		if owner, ok, _ := l.Append(ctx, "p2", "node-a", frames(8, 8)); ok || owner != "node-b" {
			t.Fatalf("old owner's append after re-park: %q %v", owner, ok)
		}
		_ = l.Discard(ctx, "p2", "node-a") // not the owner: no effect
		_, fs, err := l.Take(ctx, "p2", "alice", "node-c")
		if err != nil {
			t.Fatal(err)
		}
		sameOffsets(t, "re-parked", fs, frames(7, 7))
	})

	t.Run("AnotherUsersPidIsNotParked", func(t *testing.T) {
		l := newLog(t, 16)
		_ = l.Park(ctx, rec("p3", "alice"), frames(1, 2), ttl)
		if _, err := l.Peek(ctx, "p3", "mallory"); !errors.Is(err, recovery.ErrNotParked) {
			t.Fatalf("peek by another user: %v", err)
		}
		if _, fs, err := l.Take(ctx, "p3", "mallory", "node-m"); !errors.Is(err, recovery.ErrNotParked) || len(fs) != 0 {
			t.Fatalf("take by another user: %d frames, %v", len(fs), err)
		}
		if _, _, err := l.Take(ctx, "unknown-pid", "alice", "node-b"); !errors.Is(err, recovery.ErrNotParked) {
			t.Fatalf("unknown pid: %v", err)
		}
		if owner, ok, err := l.Append(ctx, "unknown-pid", "node-a", frames(1, 1)); ok || owner != "" || err != nil {
			t.Fatalf("append to an unknown pid: %q %v %v", owner, ok, err)
		}
		// The owner still gets everything.
		_, fs, err := l.Take(ctx, "p3", "alice", "node-b")
		if err != nil {
			t.Fatal(err)
		}
		sameOffsets(t, "owner after a foreign attempt", fs, frames(1, 2))
	})

	t.Run("BoundKeepsTheNewestAndClearsComplete", func(t *testing.T) {
		l := newLog(t, 4)
		_ = l.Park(ctx, rec("p4", "alice"), frames(1, 6), ttl)
		r, fs, err := l.Take(ctx, "p4", "alice", "node-b")
		if err != nil {
			t.Fatal(err)
		}
		sameOffsets(t, "parked over the bound", fs, frames(3, 6))
		if r.Complete {
			t.Fatal("a log that dropped frames at park claims to be complete")
		}

		_ = l.Park(ctx, rec("p5", "alice"), frames(1, 3), ttl)
		if _, ok, _ := l.Append(ctx, "p5", "node-a", frames(4, 4)); !ok {
			t.Fatal("append refused")
		}
		if r, _ := l.Peek(ctx, "p5", "alice"); !r.Complete {
			t.Fatal("a log within its bound lost Complete")
		}
		_, _, _ = l.Append(ctx, "p5", "node-a", frames(5, 6))
		r, fs, err = l.Take(ctx, "p5", "alice", "node-b")
		if err != nil {
			t.Fatal(err)
		}
		sameOffsets(t, "appended over the bound", fs, frames(3, 6))
		if r.Complete {
			t.Fatal("a log that dropped frames on append claims to be complete")
		}
	})

	t.Run("DiscardByTheOwnerOnly", func(t *testing.T) {
		l := newLog(t, 16)
		_ = l.Park(ctx, rec("p6", "alice"), frames(1, 1), ttl)
		_ = l.Discard(ctx, "p6", "node-x")
		if _, err := l.Peek(ctx, "p6", "alice"); err != nil {
			t.Fatalf("discarded by a node that does not own it: %v", err)
		}
		if err := l.Discard(ctx, "p6", "node-a"); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Peek(ctx, "p6", "alice"); !errors.Is(err, recovery.ErrNotParked) {
			t.Fatalf("peek after discard: %v", err)
		}
		if owner, ok, _ := l.Append(ctx, "p6", "node-a", frames(2, 2)); ok || owner != "" {
			t.Fatalf("append after discard: %q %v; want refused, no owner", owner, ok)
		}
	})

	t.Run("RecordExpiresAfterTheWindow", func(t *testing.T) {
		l := newLog(t, 16)
		const short = 300 * time.Millisecond
		if err := l.Park(ctx, rec("p7", "alice"), frames(1, 2), short); err != nil {
			t.Fatal(err)
		}
		if _, err := l.Peek(ctx, "p7", "alice"); err != nil {
			t.Fatalf("just parked: %v", err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			_, err := l.Peek(ctx, "p7", "alice")
			if errors.Is(err, recovery.ErrNotParked) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("record still there long after its %v window: %v", short, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if owner, ok, _ := l.Append(ctx, "p7", "node-a", frames(3, 3)); ok || owner != "" {
			t.Fatalf("append after expiry: %q %v", owner, ok)
		}
	})
}
