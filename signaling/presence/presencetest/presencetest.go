// Package presencetest is the behavioural contract of presence.Store and presence.Nodes,
// run against every implementation (in-memory, Redis standalone, Redis Cluster).
package presencetest

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/signaling/presence"
)

// Backend is what one node sees: its Store and Nodes view of the shared presence.
type Backend struct {
	presence.Store
	presence.Nodes
}

// Capabilities say which behaviours an implementation has. The in-memory store keeps no
// TTLs and has no other nodes to reap; Redis has both and is tested for both.
type Capabilities struct {
	// Expiry: node liveness and presence expire after their TTL, and ReapDead cleans up
	// after nodes whose liveness expired.
	Expiry bool
}

// Factory sets up a shared backend for one test and returns a constructor of per-node
// views of it (each call is a fresh client, as on a separate node).
type Factory func(t *testing.T) func() Backend

// Timeout bounds every wait.
var Timeout = 15 * time.Second

// Run runs the contract.
func Run(t *testing.T, caps Capabilities, f Factory) {
	tests := []struct {
		name   string
		expiry bool
		fn     func(*testing.T, func() Backend)
	}{
		{"FirstJoinHasNoPrevious", false, testFirstJoin},
		{"RejoinReturnsThePreviousRecord", false, testRejoin},
		{"MembersListsEveryNodeInJoinOrder", false, testMembersAcrossNodes},
		{"LeaveNeedsTheRecordedSession", false, testSessionGuard},
		{"LeaveHasExactlyOneWinnerUnderConcurrency", false, testLeaveExactlyOnce},
		{"RejoinWithinTheWindowDefeatsTheStaleTimer", false, testRejoinDefeatsTimer},
		{"RoomsAreIndependent", false, testRoomsIndependent},
		{"GetAndTouchOfAbsentMember", false, testAbsent},
		{"ReapDeadRemovesOnlyDeadNodesMembers", true, testReapOnlyDead},
		{"ReapDeadIsExactlyOnceWithSeveralReapers", true, testReapExactlyOnce},
		{"RemovedNodeIsReapedAndRejoinedUserIsNot", true, testRemoveThenReap},
		{"HeartbeatKeepsANodeAlive", true, testHeartbeatKeepsAlive},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.expiry && !caps.Expiry {
				t.Skip("implementation has no expiry (capability Expiry=false)")
			}
			tt.fn(t, f(t))
		})
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), Timeout)
	t.Cleanup(cancel)
	return c
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

var joinClock atomic.Int64

func member(user, node, session string) presence.Member {
	// Strictly increasing join times keep the expected order deterministic.
	return presence.Member{UserID: user, Name: "name-" + user, NodeID: node, Session: session, JoinedAt: 1_700_000_000_000 + joinClock.Add(1)}
}

const ttl = 30 * time.Second

func join(t *testing.T, b Backend, room string, m presence.Member) *presence.Member {
	t.Helper()
	prev, err := b.Join(ctx(t), room, m, ttl)
	must(t, err)
	return prev
}

func users(ms []presence.Member) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.UserID
	}
	return out
}

func testFirstJoin(t *testing.T, nb func() Backend) {
	b := nb()
	if prev := join(t, b, "r", member("u1", "n1", "s1")); prev != nil {
		t.Fatalf("first join returned previous %+v", prev)
	}
	got, err := b.Get(ctx(t), "r", "u1")
	must(t, err)
	if got == nil || got.UserID != "u1" || got.NodeID != "n1" || got.Session != "s1" || got.Name != "name-u1" || got.JoinedAt == 0 {
		t.Fatalf("Get = %+v", got)
	}
}

func testRejoin(t *testing.T, nb func() Backend) {
	n1, n2 := nb(), nb()
	first := member("u1", "n1", "s1")
	join(t, n1, "r", first)
	prev := join(t, n2, "r", member("u1", "n2", "s2"))
	if prev == nil || prev.Session != "s1" || prev.NodeID != "n1" || prev.UserID != "u1" || prev.Name != first.Name {
		t.Fatalf("previous = %+v, want the n1/s1 record", prev)
	}
	ms, err := n1.Members(ctx(t), "r")
	must(t, err)
	if len(ms) != 1 || ms[0].Session != "s2" || ms[0].NodeID != "n2" {
		t.Fatalf("members after rejoin = %+v, want one record n2/s2", ms)
	}
	// Same session joining again (e.g. a retried join) returns itself as previous.
	if prev := join(t, n2, "r", member("u1", "n2", "s2")); prev == nil || prev.Session != "s2" {
		t.Fatalf("retried join: previous = %+v", prev)
	}
}

func testMembersAcrossNodes(t *testing.T, nb func() Backend) {
	n1, n2, n3 := nb(), nb(), nb()
	join(t, n1, "r", member("alice", "n1", "sa"))
	join(t, n2, "r", member("bob", "n2", "sb"))
	join(t, n1, "r", member("carol", "n1", "sc"))
	join(t, n3, "other", member("dave", "n3", "sd"))
	for i, b := range []Backend{n1, n2, n3} {
		ms, err := b.Members(ctx(t), "r")
		must(t, err)
		if fmt.Sprint(users(ms)) != "[alice bob carol]" {
			t.Fatalf("view %d: members = %v, want [alice bob carol] in join order", i, users(ms))
		}
		if ms[1].NodeID != "n2" || ms[1].Name != "name-bob" || ms[1].Session != "sb" {
			t.Fatalf("bob's record = %+v", ms[1])
		}
	}
	ms, err := n1.Members(ctx(t), "empty")
	must(t, err)
	if len(ms) != 0 {
		t.Fatalf("empty room has %v", ms)
	}
}

func testSessionGuard(t *testing.T, nb func() Backend) {
	b := nb()
	join(t, b, "r", member("u1", "n1", "s1"))
	removed, err := b.Leave(ctx(t), "r", "u1", "other-session")
	must(t, err)
	if removed {
		t.Fatal("Leave with a foreign session removed the member")
	}
	if m, _ := b.Get(ctx(t), "r", "u1"); m == nil {
		t.Fatal("member gone after a refused Leave")
	}
	removed, err = b.Leave(ctx(t), "r", "u1", "s1")
	must(t, err)
	if !removed {
		t.Fatal("Leave with the recorded session did not remove")
	}
	removed, err = b.Leave(ctx(t), "r", "u1", "s1")
	must(t, err)
	if removed {
		t.Fatal("second Leave reported a removal")
	}
	if removed, _ := b.Leave(ctx(t), "nowhere", "nobody", "x"); removed {
		t.Fatal("Leave of an absent member reported a removal")
	}
}

func testLeaveExactlyOnce(t *testing.T, nb func() Backend) {
	const racers = 16
	views := make([]Backend, 4)
	for i := range views {
		views[i] = nb()
	}
	for round := 0; round < 5; round++ {
		user := fmt.Sprintf("u%d", round)
		join(t, views[0], "r", member(user, "n1", "s1"))
		var wins atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := 0; i < racers; i++ {
			wg.Add(1)
			go func(b Backend) {
				defer wg.Done()
				<-start
				ok, err := b.Leave(context.Background(), "r", user, "s1")
				if err != nil {
					t.Error(err)
				}
				if ok {
					wins.Add(1)
				}
			}(views[i%len(views)])
		}
		close(start)
		wg.Wait()
		if w := wins.Load(); w != 1 {
			t.Fatalf("round %d: %d Leave calls won, want exactly 1", round, w)
		}
	}
}

func testRejoinDefeatsTimer(t *testing.T, nb func() Backend) {
	n1, n2 := nb(), nb()
	join(t, n1, "r", member("u1", "n1", "old"))
	must(t, n1.MarkDisconnecting(ctx(t), "r", "u1", "old", 5*time.Second))
	prev := join(t, n2, "r", member("u1", "n2", "new"))
	if prev == nil || prev.Session != "old" {
		t.Fatalf("rejoin within the window: previous = %+v (the hub must see a replacement, not a new user)", prev)
	}
	// n1's window timer fires later and tries to remove the old session.
	removed, err := n1.Leave(ctx(t), "r", "u1", "old")
	must(t, err)
	if removed {
		t.Fatal("stale window timer removed a user who had come back")
	}
	if m, _ := n2.Get(ctx(t), "r", "u1"); m == nil || m.Session != "new" || m.NodeID != "n2" {
		t.Fatalf("member after the stale timer = %+v", m)
	}
	// Without a rejoin, the timer's Leave wins exactly once.
	join(t, n1, "r", member("u2", "n1", "s"))
	must(t, n1.MarkDisconnecting(ctx(t), "r", "u2", "s", 5*time.Second))
	if removed, _ := n1.Leave(ctx(t), "r", "u2", "s"); !removed {
		t.Fatal("window expiry did not remove the member")
	}
}

func testRoomsIndependent(t *testing.T, nb func() Backend) {
	b := nb()
	join(t, b, "r1", member("u1", "n1", "s1"))
	join(t, b, "r2", member("u1", "n1", "s2"))
	if removed, _ := b.Leave(ctx(t), "r1", "u1", "s1"); !removed {
		t.Fatal("leave r1")
	}
	if m, _ := b.Get(ctx(t), "r2", "u1"); m == nil {
		t.Fatal("leaving r1 removed the user from r2")
	}
}

func testAbsent(t *testing.T, nb func() Backend) {
	b := nb()
	m, err := b.Get(ctx(t), "r", "ghost")
	must(t, err)
	if m != nil {
		t.Fatalf("Get of absent member = %+v", m)
	}
	must(t, b.Touch(ctx(t), "r", "ghost", ttl))
	if m, _ := b.Get(ctx(t), "r", "ghost"); m != nil {
		t.Fatal("Touch created a member")
	}
	must(t, b.MarkDisconnecting(ctx(t), "r", "ghost", "s", time.Second))
}

// waitReap polls ReapDead until it returns something, then returns what it got.
func waitReap(t *testing.T, b Backend) []presence.RoomUser {
	t.Helper()
	deadline := time.Now().Add(Timeout)
	for time.Now().Before(deadline) {
		got, err := b.ReapDead(ctx(t))
		must(t, err)
		if len(got) > 0 {
			return got
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("nothing reaped within %s", Timeout)
	return nil
}

func sorted(rus []presence.RoomUser) string {
	s := make([]string, len(rus))
	for i, r := range rus {
		s[i] = r.RoomID + "/" + r.UserID
	}
	sort.Strings(s)
	return fmt.Sprint(s)
}

func testReapOnlyDead(t *testing.T, nb func() Backend) {
	alive, dead, reaper := nb(), nb(), nb()
	must(t, alive.Heartbeat(ctx(t), "alive", presence.NodeActive, time.Minute))
	must(t, dead.Heartbeat(ctx(t), "dead", presence.NodeActive, 300*time.Millisecond))
	join(t, alive, "r", member("a1", "alive", "s"))
	join(t, dead, "r", member("d1", "dead", "s"))
	join(t, dead, "r2", member("d2", "dead", "s"))
	got := waitReap(t, reaper)
	if sorted(got) != "[r/d1 r2/d2]" {
		t.Fatalf("reaped %s, want [r/d1 r2/d2]", sorted(got))
	}
	ms, err := reaper.Members(ctx(t), "r")
	must(t, err)
	if fmt.Sprint(users(ms)) != "[a1]" {
		t.Fatalf("members after reaping = %v, want [a1]", users(ms))
	}
	if again, _ := reaper.ReapDead(ctx(t)); len(again) != 0 {
		t.Fatalf("second ReapDead returned %v", again)
	}
}

func testReapExactlyOnce(t *testing.T, nb func() Backend) {
	dead := nb()
	must(t, dead.Heartbeat(ctx(t), "dead", presence.NodeActive, 400*time.Millisecond))
	want := map[string]bool{}
	for i := 0; i < 30; i++ {
		room := fmt.Sprintf("r%d", i%4)
		user := fmt.Sprintf("u%d", i)
		join(t, dead, room, member(user, "dead", "s"))
		want[room+"/"+user] = true
	}
	reapers := make([]Backend, 4)
	for i := range reapers {
		reapers[i] = nb()
		must(t, reapers[i].Heartbeat(ctx(t), fmt.Sprintf("reaper%d", i), presence.NodeActive, time.Minute))
	}
	var mu sync.Mutex
	seen := map[string]int{}
	deadline := time.Now().Add(Timeout)
	for len(seen) < len(want) && time.Now().Before(deadline) {
		var wg sync.WaitGroup
		for _, r := range reapers {
			wg.Add(1)
			go func(r Backend) {
				defer wg.Done()
				got, err := r.ReapDead(context.Background())
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				for _, ru := range got {
					seen[ru.RoomID+"/"+ru.UserID]++
				}
				mu.Unlock()
			}(r)
		}
		wg.Wait()
		time.Sleep(50 * time.Millisecond)
	}
	for k := range want {
		if seen[k] != 1 {
			t.Errorf("%s reaped %d times, want exactly once", k, seen[k])
		}
	}
	if len(seen) != len(want) {
		t.Errorf("reaped %d members, want %d", len(seen), len(want))
	}
}

func testRemoveThenReap(t *testing.T, nb func() Backend) {
	n1, n2 := nb(), nb()
	must(t, n1.Heartbeat(ctx(t), "n1", presence.NodeActive, time.Minute))
	must(t, n2.Heartbeat(ctx(t), "n2", presence.NodeActive, time.Minute))
	join(t, n1, "r", member("stays", "n1", "s"))
	join(t, n1, "r", member("moves", "n1", "s1"))
	join(t, n2, "r", member("moves", "n2", "s2")) // came back on n2 before n1 went away
	must(t, n1.Remove(ctx(t), "n1"))
	got := waitReap(t, n2)
	if sorted(got) != "[r/stays]" {
		t.Fatalf("reaped %s, want only [r/stays]: the user who moved to n2 must stay", sorted(got))
	}
	if m, _ := n2.Get(ctx(t), "r", "moves"); m == nil || m.NodeID != "n2" {
		t.Fatalf("moved user = %+v", m)
	}
}

func testHeartbeatKeepsAlive(t *testing.T, nb func() Backend) {
	n1, reaper := nb(), nb()
	join(t, n1, "r", member("u", "n1", "s"))
	stop := time.Now().Add(1500 * time.Millisecond)
	for time.Now().Before(stop) {
		must(t, n1.Heartbeat(ctx(t), "n1", presence.NodeDraining, 400*time.Millisecond))
		if got, err := reaper.ReapDead(ctx(t)); err != nil || len(got) != 0 {
			t.Fatalf("reaped a heartbeating node: %v %v", got, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := waitReap(t, reaper); sorted(got) != "[r/u]" {
		t.Fatalf("after heartbeats stopped: reaped %s", sorted(got))
	}
}
