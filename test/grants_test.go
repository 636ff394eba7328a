package test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/testutil/nodetest"
	"github.com/switchboard-rtc/switchboard/internal/testutil/redisserver"
	"github.com/switchboard-rtc/switchboard/signaling/config"
	"github.com/switchboard-rtc/switchboard/signaling/hub"
	"github.com/switchboard-rtc/switchboard/signaling/rooms"
	"github.com/switchboard-rtc/switchboard/signaling/sioclient"
	"github.com/switchboard-rtc/switchboard/signaling/vocab"
)

// dialGranted connects user to n with a token whose `rooms` claim is grant (no claim when
// grant is nil).
func dialGranted(t *testing.T, n *nodetest.Node, user string, grant []string) *sioclient.Client {
	t.Helper()
	extra := map[string]any{}
	if grant != nil {
		extra["rooms"] = grant
	}
	tok, err := nodetest.Keys().Token(user, "Name of "+user, time.Hour, extra)
	if err != nil {
		t.Fatal(err)
	}
	c, err := sioclient.Dial(nodetest.Ctx(t, 5*time.Second), n.URL, sioclient.Options{Token: tok})
	if err != nil {
		t.Fatalf("connect %s: %v", user, err)
	}
	t.Cleanup(c.Close)
	return c
}

func joinCode(t *testing.T, c *sioclient.Client, room string) string {
	t.Helper()
	err := c.Call(nodetest.Ctx(t, 5*time.Second), "join_room", map[string]string{"roomId": room}, nil)
	var ae *sioclient.AckError
	if errors.As(err, &ae) {
		return ae.Code
	}
	if err != nil {
		t.Fatalf("join_room %s: %v", room, err)
	}
	return "ok"
}

// TestRoomGrantsOnEveryNode: two nodes on one Redis with --require-room-grant and a Room
// Service whose records carry members. Each node refuses what the grants refuse (the member
// list cached in Redis by one node is honoured by the other), a missing room is refused as
// an existing one is, and a user removed from the member list who reconnects to the other
// node inside the reconnection window is refused there and leaves the room after it.
func TestRoomGrantsOnEveryNode(t *testing.T) {
	rs := redisserver.Start(t, redisserver.Options{})
	svc := newFakeRoomService(t,
		vocab.RoomInfo{ID: "private", Mode: vocab.ModeP2P, Members: []string{"alice", "bob"}},
		vocab.RoomInfo{ID: "open", Mode: vocab.ModeP2P},
	)
	nodes := make([]*nodetest.Node, 2)
	for i := range nodes {
		nodes[i] = nodetest.Start(t, nodetest.Config{
			NodeID: "grant-" + string(rune('a'+i)), RedisURL: rs.URL(),
			Node: config.Config{RoomServiceURL: svc.URL, RequireRoomGrant: true},
			Hub:  hub.Options{ReconnectWindow: time.Second},
		})
		waitReady(t, nodes[i], 10*time.Second)
	}

	alice := dialGranted(t, nodes[0], "alice", nil)
	bob := dialGranted(t, nodes[1], "bob", nil)
	if got := joinCode(t, alice, "private"); got != "ok" {
		t.Fatalf("alice (a member) joining private on node a: %s", got)
	}
	if got := joinCode(t, bob, "private"); got != "ok" {
		t.Fatalf("bob (a member) joining private on node b: %s", got)
	}
	if n := svc.callsFor("private"); n != 1 {
		t.Fatalf("Room Service calls for private = %d, want 1 (node b reads node a's cache entry)", n)
	}

	for i, nd := range nodes {
		mallory := dialGranted(t, nd, "mallory", nil)
		for _, room := range []string{"private", "open", "missing"} {
			if got := joinCode(t, mallory, room); got != vocab.CodeForbidden {
				t.Fatalf("mallory (no grant) joining %s on node %d: %s, want forbidden", room, i, got)
			}
		}
		claimed := dialGranted(t, nd, "mallory", []string{"open", "private"})
		if got := joinCode(t, claimed, "open"); got != "ok" {
			t.Fatalf("mallory with a claim for open on node %d: %s", i, got)
		}
		if got := joinCode(t, claimed, "private"); got != vocab.CodeForbidden {
			t.Fatalf("mallory's claim must not override the member list (node %d): %s", i, got)
		}
	}

	// alice is taken off the member list (the Room Service deletes its cache entry), drops,
	// and comes back through the other node inside her reconnection window.
	svc.mu.Lock()
	svc.rooms["private"] = vocab.RoomInfo{ID: "private", Mode: vocab.ModeP2P, Members: []string{"bob"}}
	svc.mu.Unlock()
	if err := rs.Client().Del(context.Background(), rooms.Key("private")).Err(); err != nil {
		t.Fatal(err)
	}
	alice.Close()
	back := dialGranted(t, nodes[1], "alice", nil)
	if got := joinCode(t, back, "private"); got != vocab.CodeForbidden {
		t.Fatalf("alice rejoining on node b after removal: %s, want forbidden", got)
	}
	ev, ok := bob.Next(nodetest.Ctx(t, 10*time.Second), "user_left")
	if !ok {
		t.Fatal("bob never heard that alice left")
	}
	if string(ev.Data) != `{"roomId":"private","userId":"alice","reason":"disconnected"}` {
		t.Fatalf("user_left = %s", ev.Data)
	}
}
