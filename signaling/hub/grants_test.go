package hub_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/signaling/auth"
	"github.com/switchboard-rtc/switchboard/signaling/hub"
	"github.com/switchboard-rtc/switchboard/signaling/vocab"
)

// roomRecords is a Room Service stand-in: the rooms it knows, changeable mid-test.
type roomRecords struct {
	mu    sync.Mutex
	rooms map[string]vocab.RoomInfo
}

func (d *roomRecords) Lookup(_ context.Context, room string) (vocab.RoomInfo, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	info, ok := d.rooms[room]
	if !ok {
		return vocab.RoomInfo{}, vocab.ErrRoomNotFound
	}
	info.ID = room
	return info, nil
}

func (d *roomRecords) set(room string, members ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	info := vocab.RoomInfo{Mode: vocab.ModeP2P}
	if members != nil {
		info.Members = members
	}
	d.rooms[room] = info
}

func newRoomRecords() *roomRecords { return &roomRecords{rooms: map[string]vocab.RoomInfo{}} }

// connectGranted connects user with a token whose `rooms` claim is rooms.
func connectGranted(t *testing.T, h *hub.Hub, user string, rooms ...string) *client {
	return connectAs(t, h, auth.Identity{UserID: user, Name: "Name of " + user,
		ExpiresAt: time.Now().Add(time.Hour), Rooms: auth.NewRoomGrant(rooms...)})
}

// connectAs registers a session for the verified identity id.
func connectAs(t *testing.T, h *hub.Hub, id auth.Identity) *client {
	s := &hub.Session{ID: fmt.Sprintf("%s-%d", id.UserID, sessionSeq.Add(1)), User: id}
	c := &client{t: t, h: h, s: s, conn: &fakeConn{wake: make(chan struct{}, 1)}}
	h.Connect(s, c.conn)
	return c
}

func joinErr(c *client, room string) error {
	return c.call("join_room", map[string]string{"roomId": room}, nil)
}

func TestRoomsClaimLimitsJoinsWithoutRevealingRooms(t *testing.T) {
	dir := newRoomRecords()
	for _, r := range []string{"lobby", "team-42-standup", "team-7-standup", "elsewhere"} {
		dir.set(r)
	}
	h := startHub(t, hub.Options{Rooms: dir})
	a := connectGranted(t, h, "alice", "lobby", "team-42-*")

	join(t, a, "lobby")
	join(t, a, "team-42-standup")
	for _, room := range []string{"team-7-standup", "elsewhere", "no-such-room"} {
		if err := joinErr(a, room); ackErrCode(err) != vocab.CodeForbidden {
			t.Fatalf("join %s outside the claim: %v, want forbidden", room, err)
		}
	}
	// The refused joins left alice where she was.
	if a.s.Room() != "team-42-standup" {
		t.Fatalf("alice is in %q after refused joins", a.s.Room())
	}
	// A room the claim grants may be seen not to exist.
	if err := joinErr(a, "team-42-nothing"); ackErrCode(err) != vocab.CodeRoomNotFound {
		t.Fatalf("granted but missing room: %v, want room_not_found", err)
	}
	// An empty claim grants nothing.
	if err := joinErr(connectGranted(t, h, "bob"), "lobby"); ackErrCode(err) != vocab.CodeForbidden {
		t.Fatalf(`join with "rooms": []: %v, want forbidden`, err)
	}
	// "*" grants everything; no claim keeps the v1 behaviour.
	join(t, connectGranted(t, h, "carol", "*"), "elsewhere")
	join(t, connect(t, h, "dave"), "elsewhere")
}

func TestRoomServiceMembersLimitJoins(t *testing.T) {
	dir := newRoomRecords()
	dir.set("private", "alice", "bob")
	dir.set("nobody-yet", []string{}...)
	h := startHub(t, hub.Options{Rooms: dir})

	join(t, connect(t, h, "alice"), "private")
	if err := joinErr(connect(t, h, "mallory"), "private"); ackErrCode(err) != vocab.CodeForbidden {
		t.Fatalf("non-member join: %v, want forbidden", err)
	}
	// Both grants apply: a claim naming the room does not bypass the member list.
	if err := joinErr(connectGranted(t, h, "mallory", "*"), "private"); ackErrCode(err) != vocab.CodeForbidden {
		t.Fatalf(`non-member with rooms ["*"]: %v, want forbidden`, err)
	}
	if err := joinErr(connect(t, h, "alice"), "nobody-yet"); ackErrCode(err) != vocab.CodeForbidden {
		t.Fatalf(`join of a room with "members": []: %v, want forbidden`, err)
	}
}

func TestRequireRoomGrant(t *testing.T) {
	dir := newRoomRecords()
	dir.set("open")
	dir.set("private", "carol")
	h := startHub(t, hub.Options{Rooms: dir, RequireRoomGrant: true})
	carol := connect(t, h, "carol") // no rooms claim

	// Without a grant, an existing open room and a missing one answer alike.
	errOpen := joinErr(carol, "open")
	errMissing := joinErr(carol, "missing")
	if ackErrCode(errOpen) != vocab.CodeForbidden || ackErrCode(errMissing) != vocab.CodeForbidden {
		t.Fatalf("ungranted joins: open=%v missing=%v, want forbidden for both", errOpen, errMissing)
	}
	if errOpen.(*ackError).Message != fmt.Sprintf("you may not join room %q", "open") ||
		errMissing.(*ackError).Message != fmt.Sprintf("you may not join room %q", "missing") {
		t.Fatalf("messages differ beyond the room id: %q / %q", errOpen, errMissing)
	}
	join(t, carol, "private") // the member list grants it
	join(t, connectGranted(t, h, "dave", "open"), "open")
	if err := joinErr(connectGranted(t, h, "erin", "missing"), "missing"); ackErrCode(err) != vocab.CodeRoomNotFound {
		t.Fatalf("granted missing room: %v, want room_not_found", err)
	}
}

func TestRejoinWithinTheWindowIsCheckedAgain(t *testing.T) {
	dir := newRoomRecords()
	dir.set("private", "alice", "bob")
	h := startHub(t, hub.Options{Rooms: dir, ReconnectWindow: 300 * time.Millisecond})
	a := connect(t, h, "alice")
	b := connect(t, h, "bob")
	join(t, a, "private")
	join(t, b, "private")
	expectEvent(t, a, "user_joined")

	a.drop()
	dir.set("private", "bob") // alice is taken off the list while she is away
	if err := joinErr(connect(t, h, "alice"), "private"); ackErrCode(err) != vocab.CodeForbidden {
		t.Fatalf("rejoin after removal from the member list: %v, want forbidden", err)
	}
	if l := expectEvent(t, b, "user_left"); l["userId"] != "alice" || l["reason"] != "disconnected" {
		t.Fatalf("user_left = %v, want alice disconnected after the window", l)
	}
}
