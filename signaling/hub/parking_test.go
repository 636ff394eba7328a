package hub_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/signaling/auth"
	"github.com/switchboard-rtc/switchboard/signaling/hub"
	"github.com/switchboard-rtc/switchboard/signaling/presence"
	"github.com/switchboard-rtc/switchboard/signaling/protocol"
)

// open connects user through Hub.Open (the server's CONNECT path) and returns the client
// and the pid of its CONNECT reply.
func open(t *testing.T, h *hub.Hub, user string, r hub.Resume) (*client, string, bool) {
	t.Helper()
	s := &hub.Session{
		ID:   fmt.Sprintf("%s-%d", user, sessionSeq.Add(1)),
		User: auth.Identity{UserID: user, Name: "Name of " + user, ExpiresAt: time.Now().Add(time.Hour)},
	}
	c := &client{t: t, h: h, s: s, conn: &fakeConn{wake: make(chan struct{}, 1)}}
	recovered := h.Open(s, c.conn, r)
	f, ok := c.conn.frame(0)
	if !ok {
		t.Fatal("no CONNECT reply")
	}
	p, _ := parseFrame(t, f)
	var reply struct{ SID, PID string }
	if p.Type != protocol.Connect || json.Unmarshal(p.Data, &reply) != nil || reply.SID != s.ID {
		t.Fatalf("first frame %q is not the CONNECT reply", f)
	}
	c.read = 1
	return c, reply.PID, recovered
}

type received struct {
	name, offset string
	payload      map[string]any
}

// recoverable reads every event frame queued so far and returns the recoverable ones
// (those with an offset as last argument).
func (c *client) recoverable() []received {
	var out []received
	for {
		f, ok := c.conn.frame(c.read)
		if !ok {
			return out
		}
		c.read++
		p, isAck := parseFrame(c.t, f)
		if isAck {
			continue
		}
		name, args, err := p.Event()
		if err != nil {
			c.t.Fatalf("frame %q: %v", f, err)
		}
		if len(args) < 2 {
			continue
		}
		var r received
		if json.Unmarshal(args[len(args)-1], &r.offset) != nil {
			continue
		}
		r.name = name
		_ = json.Unmarshal(args[0], &r.payload)
		out = append(out, r)
	}
}

func describe(rs []received) string {
	var b strings.Builder
	for _, r := range rs {
		switch r.name {
		case "chat_message":
			fmt.Fprintf(&b, "chat:%v ", r.payload["content"])
		case "webrtc_offer":
			fmt.Fprintf(&b, "offer:%v ", r.payload["sdp"])
		default:
			fmt.Fprintf(&b, "%s:%v ", r.name, r.payload["userId"])
		}
	}
	return strings.TrimSpace(b.String())
}

// waitFor polls until f holds (bounded by a generous deadline, not a timing assertion).
func waitFor(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRecoveredSessionGetsEveryMissedEventOnceWithoutChurn(t *testing.T) {
	h := startHub(t, hub.Options{ReconnectWindow: 100 * time.Millisecond, RecoveryWindow: 10 * time.Second})
	a, _, _ := open(t, h, "alice", hub.Resume{})
	join(t, a, "r1")
	b, pid, _ := open(t, h, "bob", hub.Resume{})
	if pid == "" {
		t.Fatal("the CONNECT reply has no pid")
	}
	join(t, b, "r1")
	expectEvent(t, a, "user_joined")
	must(t, a.call("chat_message", map[string]any{"content": "one"}, nil))
	got := b.recoverable()
	if describe(got) != "chat:one" {
		t.Fatalf("bob got %q", describe(got))
	}
	lastSeen := got[0].offset

	// The transport dies silently: "two" is sent into it but never arrives.
	b.conn.Close("lost")
	must(t, a.call("chat_message", map[string]any{"content": "two"}, nil))
	h.Disconnect(b.s, hub.DisconnectLost)
	// While bob is away (past the reconnection window): chat and an offer for him.
	must(t, a.call("chat_message", map[string]any{"content": "three"}, nil))
	must(t, a.call("webrtc_offer", map[string]any{"to": "bob", "sdp": "o1"}, nil))
	time.Sleep(300 * time.Millisecond)

	b2, pid2, recovered := open(t, h, "bob", hub.Resume{PID: pid, Offset: lastSeen, HasOffset: true})
	if !recovered || pid2 != pid {
		t.Fatalf("recovered %v, pid %q (was %q)", recovered, pid2, pid)
	}
	waitFor(t, "the missed events", func() bool { return b2.conn.count() >= 4 })
	if d := describe(b2.recoverable()); d != "chat:two chat:three offer:o1" {
		t.Fatalf("after recovery bob got %q, want the three missed events once, in order", d)
	}
	// In the room without join_room: live events reach him; alice saw no churn.
	must(t, a.call("webrtc_offer", map[string]any{"to": "bob", "sdp": "o2"}, nil))
	waitFor(t, "a live offer", func() bool { return b2.conn.count() >= 5 })
	if d := describe(b2.recoverable()); d != "offer:o2" {
		t.Fatalf("live after recovery: %q", d)
	}
	expectNoEvent(t, a, "user_left", 300*time.Millisecond)
	expectNoEvent(t, a, "user_joined", 10*time.Millisecond)

	// The pid is single-use per drop: presenting it again gives a fresh session.
	_, pid3, recovered := open(t, h, "bob", hub.Resume{PID: pid, Offset: lastSeen, HasOffset: true})
	if recovered || pid3 == pid {
		t.Fatalf("the same pid recovered twice (recovered %v, pid %q)", recovered, pid3)
	}
}

func TestAnotherUsersPidGivesAFreshSessionAndNothingOfTheirs(t *testing.T) {
	h := startHub(t, hub.Options{RecoveryWindow: 10 * time.Second})
	a, _, _ := open(t, h, "alice", hub.Resume{})
	join(t, a, "r1")
	b, pid, _ := open(t, h, "bob", hub.Resume{})
	join(t, b, "r1")
	b.drop()
	must(t, a.call("chat_message", map[string]any{"content": "for bob"}, nil))

	for _, r := range []hub.Resume{{PID: pid}, {PID: pid, Offset: "x", HasOffset: true}, {PID: "forged-pid"}} {
		m, mpid, recovered := open(t, h, "mallory", r)
		if recovered || mpid == pid || mpid == "" {
			t.Fatalf("mallory with %+v: recovered %v, pid %q", r, recovered, mpid)
		}
		time.Sleep(50 * time.Millisecond)
		if got := m.recoverable(); len(got) != 0 {
			t.Fatalf("mallory received %q", describe(got))
		}
	}
	// Bob's own session is still there for him.
	b2, _, recovered := open(t, h, "bob", hub.Resume{PID: pid})
	if !recovered {
		t.Fatal("bob could not recover after mallory's attempts")
	}
	waitFor(t, "bob's missed chat", func() bool { return b2.conn.count() >= 2 })
	if d := describe(b2.recoverable()); d != "chat:for bob" {
		t.Fatalf("bob got %q", d)
	}
}

func TestMoreMissedEventsThanTheBufferGiveAFreshSession(t *testing.T) {
	h := startHub(t, hub.Options{ReconnectWindow: 100 * time.Millisecond, RecoveryWindow: 10 * time.Second, RecoveryBuffer: 4})
	a, _, _ := open(t, h, "alice", hub.Resume{})
	join(t, a, "r1")
	b, pid, _ := open(t, h, "bob", hub.Resume{})
	join(t, b, "r1")
	expectEvent(t, a, "user_joined")
	must(t, a.call("chat_message", map[string]any{"content": "seen"}, nil))
	seen := b.recoverable()[0].offset
	b.drop()
	for i := range 6 {
		must(t, a.call("chat_message", map[string]any{"content": fmt.Sprint(i)}, nil))
	}
	time.Sleep(300 * time.Millisecond) // the recorder has logged them
	b2, pid2, recovered := open(t, h, "bob", hub.Resume{PID: pid, Offset: seen, HasOffset: true})
	if recovered || pid2 == pid {
		t.Fatalf("recovered %v with 6 missed events and a buffer of 4", recovered)
	}
	time.Sleep(50 * time.Millisecond)
	if got := b2.recoverable(); len(got) != 0 {
		t.Fatalf("a fresh session got %q", describe(got))
	}
	// Fresh, but the place is still held: a join within the window causes no churn.
	join(t, b2, "r1")
	expectNoEvent(t, a, "user_joined", 200*time.Millisecond)
	expectNoEvent(t, a, "user_left", 10*time.Millisecond)
}

func TestRecoveryWindowExpiryAnnouncesTheLeaveAndGivesAFreshSession(t *testing.T) {
	h := startHub(t, hub.Options{ReconnectWindow: 100 * time.Millisecond, RecoveryWindow: 500 * time.Millisecond})
	a, _, _ := open(t, h, "alice", hub.Resume{})
	join(t, a, "r1")
	b, pid, _ := open(t, h, "bob", hub.Resume{})
	join(t, b, "r1")
	b.drop()
	if l := expectEvent(t, a, "user_left"); l["userId"] != "bob" || l["reason"] != "disconnected" {
		t.Fatalf("user_left = %v", l)
	}
	if _, _, recovered := open(t, h, "bob", hub.Resume{PID: pid}); recovered {
		t.Fatal("recovered after the recovery window")
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// A recording node that crashed is reaped by the others (user_left); its record may
// outlive it, but what was sent after the crash was never recorded: no recovery then.
func TestRecoveryAfterThePlaceWasLostGivesAFreshSession(t *testing.T) {
	pres := presence.NewMemory()
	h := startHub(t, hub.Options{RecoveryWindow: 10 * time.Second, Presence: pres, Nodes: pres})
	a, _, _ := open(t, h, "alice", hub.Resume{})
	join(t, a, "r1")
	b, pid, _ := open(t, h, "bob", hub.Resume{})
	join(t, b, "r1")
	expectEvent(t, a, "user_joined")
	b.drop()
	// As the reaper of a dead node does: the member is removed from presence.
	if removed, err := pres.Leave(t.Context(), "r1", "bob", b.s.ID); err != nil || !removed {
		t.Fatalf("leave: %v %v", removed, err)
	}
	b2, pid2, recovered := open(t, h, "bob", hub.Resume{PID: pid})
	if recovered || pid2 == pid {
		t.Fatalf("recovered %v after the place was lost", recovered)
	}
	if m, _ := pres.Get(t.Context(), "r1", "bob"); m != nil {
		t.Fatalf("bob is in presence after a failed recovery: %+v", m)
	}
	expectNoEvent(t, a, "user_joined", 200*time.Millisecond)
	join(t, b2, "r1")
	if j := expectEvent(t, a, "user_joined"); j["userId"] != "bob" {
		t.Fatalf("user_joined = %v", j)
	}
}
