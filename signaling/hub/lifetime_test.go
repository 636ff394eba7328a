package hub_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/signaling/auth"
	"github.com/switchboard-rtc/switchboard/signaling/hub"
	"github.com/switchboard-rtc/switchboard/signaling/vocab"
)

var lifetimeKeys = func() *auth.DevKeys {
	k, err := auth.NewDevKeys()
	if err != nil {
		panic(err)
	}
	return k
}()

func lifetimeChecker(t *testing.T) hub.TokenChecker {
	v, err := auth.NewVerifier(auth.Config{PublicKey: &lifetimeKeys.Private.PublicKey})
	if err != nil {
		t.Fatal(err)
	}
	return auth.Checker{Verifier: v}
}

// freshToken signs a one-hour token for user, with extra claims.
func freshToken(t *testing.T, user string, extra map[string]any) string {
	tok, err := lifetimeKeys.Token(user, "Name of "+user, time.Hour, extra)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// connectExpiring connects user with a token that expires in ttl.
func connectExpiring(t *testing.T, h *hub.Hub, user string, ttl time.Duration, rooms ...string) *client {
	id := auth.Identity{UserID: user, Name: "Name of " + user, ExpiresAt: time.Now().Add(ttl)}
	if rooms != nil {
		id.Rooms = auth.NewRoomGrant(rooms...)
	}
	return connectAs(t, h, id)
}

// waitClosedAfterDisconnect waits until c's connection is closed and checks that its last
// frame is the Socket.IO DISCONNECT packet, sent after `error {code:"token_expired"}`.
func waitClosedAfterDisconnect(t *testing.T, c *client) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c.conn.mu.Lock()
		closed, frames := c.conn.closed, append([][]byte(nil), c.conn.frames...)
		c.conn.mu.Unlock()
		if closed {
			if len(frames) < 2 || string(frames[len(frames)-1]) != "41" {
				t.Fatalf("frames at close end with %q, want the DISCONNECT packet 41", frames[max(0, len(frames)-2):])
			}
			p, _ := parseFrame(t, frames[len(frames)-2])
			name, args, err := p.Event()
			var e map[string]any
			if err == nil && len(args) == 1 {
				_ = json.Unmarshal(args[0], &e)
			}
			if name != "error" || e["code"] != vocab.CodeTokenExpired {
				t.Fatalf("frame before DISCONNECT = %s, want error token_expired", frames[len(frames)-2])
			}
			return
		}
		select {
		case <-c.conn.wake:
		case <-time.After(time.Until(deadline)):
			t.Fatal("the socket of an expired token was not closed")
		}
	}
}

func TestTokenExpiringThenExpiredEndsTheSession(t *testing.T) {
	h := startHub(t, hub.Options{TokenRefreshLead: 150 * time.Millisecond, ReconnectWindow: 200 * time.Millisecond})
	a := connectExpiring(t, h, "alice", 300*time.Millisecond)
	exp := a.s.User.ExpiresAt
	b := connect(t, h, "bob")
	join(t, a, "r1")
	join(t, b, "r1")

	n := expectEvent(t, a, "token_expiring")
	if int64(n["expiresAt"].(float64)) != exp.UnixMilli() {
		t.Fatalf("token_expiring.expiresAt = %v, want %d", n["expiresAt"], exp.UnixMilli())
	}
	if in := n["inMs"].(float64); in < 0 || in > 300 {
		t.Fatalf("token_expiring.inMs = %v, want within the token's remaining 300 ms", in)
	}
	waitClosedAfterDisconnect(t, a)
	// For the room it is a dropped connection: user_left once the window has passed.
	if l := expectEvent(t, b, "user_left"); l["userId"] != "alice" || l["reason"] != "disconnected" {
		t.Fatalf("user_left = %v", l)
	}
}

func TestRefreshTokenKeepsTheSessionAlive(t *testing.T) {
	h := startHub(t, hub.Options{TokenRefreshLead: 150 * time.Millisecond, Tokens: lifetimeChecker(t)})
	a := connectExpiring(t, h, "alice", 300*time.Millisecond)
	oldExp := a.s.User.ExpiresAt
	join(t, a, "r1")
	expectEvent(t, a, "token_expiring")

	tok := freshToken(t, "alice", nil)
	var ack struct {
		ExpiresAt int64 `json:"expiresAt"`
	}
	if err := a.call("refresh_token", map[string]string{"token": tok}, &ack); err != nil {
		t.Fatalf("refresh_token: %v", err)
	}
	if ack.ExpiresAt < time.Now().Add(50*time.Minute).UnixMilli() {
		t.Fatalf("ack expiresAt = %d, want the new token's exp (an hour away)", ack.ExpiresAt)
	}
	// Past the old token's exp the session goes on.
	time.Sleep(time.Until(oldExp) + 100*time.Millisecond)
	if err := a.call("heartbeat", nil, nil); err != nil {
		t.Fatalf("heartbeat after the old exp: %v", err)
	}
	if _, ok := a.next("error", 0); ok {
		t.Fatal("an error was sent after a successful refresh")
	}
	if a.s.Room() != "r1" {
		t.Fatalf("alice is in %q after the refresh, want r1", a.s.Room())
	}
}

func TestRefreshTokenMustVerifyAndNameTheSameUser(t *testing.T) {
	// The refused tokens are made first (a key pair takes a while on a busy machine), so
	// the session's own token is still valid while they are tried.
	other, err := auth.NewDevKeys()
	if err != nil {
		t.Fatal(err)
	}
	foreign, _ := other.Token("alice", "Alice", time.Hour, nil)
	expired, _ := lifetimeKeys.Token("alice", "Alice", -time.Minute, nil)
	refused := map[string]string{
		"another user's token":     freshToken(t, "mallory", nil),
		"a token of a foreign key": foreign,
		"an expired token":         expired,
		"garbage":                  "not.a.jwt",
	}
	h := startHub(t, hub.Options{TokenRefreshLead: time.Millisecond, Tokens: lifetimeChecker(t)})
	a := connectExpiring(t, h, "alice", 2*time.Second)
	join(t, a, "r1")
	for what, tok := range refused {
		if err := a.call("refresh_token", map[string]string{"token": tok}, nil); ackErrCode(err) != vocab.CodeForbidden {
			t.Fatalf("refresh with %s: %v, want forbidden", what, err)
		}
	}
	if err := a.call("refresh_token", map[string]any{"token": 7}, nil); ackErrCode(err) != vocab.CodeInvalidPayload {
		t.Fatalf("refresh with a number: %v, want invalid_payload", err)
	}
	if err := a.call("refresh_token", map[string]any{}, nil); ackErrCode(err) != vocab.CodeInvalidPayload {
		t.Fatalf("refresh without a token: %v, want invalid_payload", err)
	}
	// Nothing changed: the old token still runs out.
	waitClosedAfterDisconnect(t, a)
}

func TestRefreshedRoomsClaimReplacesTheOld(t *testing.T) {
	h := startHub(t, hub.Options{Tokens: lifetimeChecker(t)})
	a := connectGranted(t, h, "alice", "r1", "r2")
	b := connect(t, h, "bob")
	join(t, a, "r1")
	join(t, b, "r1")

	tok := freshToken(t, "alice", map[string]any{"rooms": []string{"r2"}})
	id := int64(900)
	h.HandleEvent(a.s, "refresh_token", eventArgs(map[string]string{"token": tok}), id)
	// The socket hears why it left, then the ack of the refresh.
	e := expectEvent(t, a, "error")
	if e["code"] != vocab.CodeForbidden || e["event"] != "refresh_token" {
		t.Fatalf("error = %v, want forbidden for refresh_token", e)
	}
	f, ok := a.conn.frame(a.read)
	if !ok {
		t.Fatal("no ack after the error")
	}
	p, isAck := parseFrame(t, f)
	var ack []struct {
		OK        bool  `json:"ok"`
		ExpiresAt int64 `json:"expiresAt"`
	}
	if !isAck || p.ID != id || json.Unmarshal(p.Data, &ack) != nil || len(ack) != 1 || !ack[0].OK || ack[0].ExpiresAt == 0 {
		t.Fatalf("frame after the error = %q, want the refresh ack {ok, expiresAt}", f)
	}
	if l := expectEvent(t, b, "user_left"); l["userId"] != "alice" || l["reason"] != "left" {
		t.Fatalf("user_left = %v", l)
	}
	if a.s.Room() != "" {
		t.Fatalf("alice still in %q", a.s.Room())
	}
	if err := joinErr(a, "r1"); ackErrCode(err) != vocab.CodeForbidden {
		t.Fatalf("join r1 after the refresh: %v, want forbidden", err)
	}
	join(t, a, "r2")
}

func TestRefreshWithoutARoomsClaimKeepsAnOpenRoom(t *testing.T) {
	h := startHub(t, hub.Options{Tokens: lifetimeChecker(t)})
	a := connect(t, h, "alice")
	join(t, a, "r1")
	if err := a.call("refresh_token", map[string]string{"token": freshToken(t, "alice", nil)}, nil); err != nil {
		t.Fatal(err)
	}
	if a.s.Room() != "r1" {
		t.Fatalf("alice left r1 on a refresh that does not restrict rooms")
	}
}
