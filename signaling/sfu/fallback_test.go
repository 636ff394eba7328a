package sfu

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/signaling/hub"
	"github.com/switchboard-rtc/switchboard/signaling/presence"
	"github.com/switchboard-rtc/switchboard/signaling/vocab"
)

// fakeHub is the SFU proxy's view of a hub with one room and a record of broadcasts.
type fakeHub struct {
	members []presence.Member
	rooms   []string

	mu         sync.Mutex
	broadcasts []string // "room event"
}

func (f *fakeHub) Handle(string, hub.EventHandler)             {}
func (f *fakeHub) OnMemberGone(hub.MemberGoneFunc)             {}
func (f *fakeHub) OnControl(hub.ControlHandler)                {}
func (f *fakeHub) SetModeOverride(func(string, string) string) {}
func (f *fakeHub) SetJoinExtra(hub.JoinExtraFunc)              {}
func (f *fakeHub) Members(context.Context, string) ([]presence.Member, error) {
	return f.members, nil
}
func (f *fakeHub) LocalRooms() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rooms
}
func (f *fakeHub) Broadcast(room, event string, _ any, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.broadcasts = append(f.broadcasts, room+" "+event)
	return nil
}
func (f *fakeHub) Send(*hub.Session, string, any) error         { return nil }
func (f *fakeHub) SendError(*hub.Session, string, *vocab.Error) {}

func (f *fakeHub) sent() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.broadcasts...)
}

// A join into a small sfu room while the Media Service is down is told "p2p" at once,
// but the room-wide room_mode_changed comes from the health loop, never from inside the
// join (which would make one user's join a cluster-wide broadcast).
func TestJoinDuringAnOutageReadsTheModeAndLeavesTheSwitchToTheLoop(t *testing.T) {
	down := httptest.NewServer(nil)
	down.Close() // every call fails: the Media Service is unreachable
	svc := New(Options{MediaURL: down.URL, HealthInterval: time.Hour})
	// No local rooms yet: nothing but the join itself could switch r1 while we look.
	h := &fakeHub{members: []presence.Member{{UserID: "alice"}, {UserID: "bob"}}}
	svc.Register(context.Background(), h)
	t.Cleanup(svc.Close)
	svc.openBreaker(causeHealthCheck, "test: media down")

	if mode := svc.effectiveMode("r1", vocab.ModeSFU); mode != vocab.ModeP2P {
		t.Fatalf("join ack mode = %q during an outage, want p2p", mode)
	}
	if got := h.sent(); len(got) != 0 {
		t.Fatalf("the join itself broadcast %v", got)
	}
	h.mu.Lock()
	h.rooms = []string{"r1"} // the joiner is now a local member
	h.mu.Unlock()
	svc.wake()
	deadline := time.Now().Add(5 * time.Second)
	for len(h.sent()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the health loop never announced the switch to p2p")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := h.sent(); len(got) != 1 || got[0] != "r1 room_mode_changed" {
		t.Fatalf("broadcasts = %v, want one room_mode_changed to r1", got)
	}
}
