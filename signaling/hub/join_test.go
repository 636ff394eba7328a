package hub_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/signaling/hub"
	"github.com/switchboard-rtc/switchboard/signaling/vocab"
)

func TestJoinRelayLeave(t *testing.T) {
	h := startHub(t, hub.Options{})
	a := connect(t, h, "alice")
	b := connect(t, h, "bob")

	ackA := join(t, a, "r1")
	if ackA.RoomID != "r1" || ackA.Mode != "p2p" || ackA.Self.UserID != "alice" || len(ackA.Participants) != 0 || ackA.Chat == nil {
		t.Fatalf("alice's join ack = %+v", ackA)
	}
	ackB := join(t, b, "r1")
	if len(ackB.Participants) != 1 || ackB.Participants[0].UserID != "alice" || ackB.Participants[0].Name != "Name of alice" {
		t.Fatalf("bob's join ack = %+v", ackB)
	}
	if j := expectEvent(t, a, "user_joined"); j["userId"] != "bob" || j["roomId"] != "r1" || j["name"] != "Name of bob" {
		t.Fatalf("user_joined = %v", j)
	}

	sdp := map[string]any{"type": "offer", "sdp": "v=0\r\n…", "nested": []any{1.5, "x", nil}}
	// A spoofed "from" is ignored: the sender comes from the token.
	if err := a.call("webrtc_offer", map[string]any{"to": "bob", "from": "mallory", "sdp": sdp}, nil); err != nil {
		t.Fatal(err)
	}
	offer := expectEvent(t, b, "webrtc_offer")
	if offer["from"] != "alice" || offer["roomId"] != "r1" {
		t.Fatalf("offer = %v", offer)
	}
	gotSDP, _ := json.Marshal(offer["sdp"])
	wantSDP, _ := json.Marshal(sdp)
	if string(gotSDP) != string(wantSDP) {
		t.Fatalf("sdp relayed as %s, want %s", gotSDP, wantSDP)
	}
	if err := b.call("webrtc_answer", map[string]any{"to": "alice", "sdp": "answer-sdp"}, nil); err != nil {
		t.Fatal(err)
	}
	if ans := expectEvent(t, a, "webrtc_answer"); ans["from"] != "bob" || ans["sdp"] != "answer-sdp" {
		t.Fatalf("answer = %v", ans)
	}
	if err := a.call("webrtc_ice_candidate", map[string]any{"to": "bob", "candidate": map[string]any{"candidate": "candidate:1 1 udp 1 127.0.0.1 5000 typ host", "sdpMid": "0"}}, nil); err != nil {
		t.Fatal(err)
	}
	if ice := expectEvent(t, b, "webrtc_ice_candidate"); ice["from"] != "alice" || ice["candidate"].(map[string]any)["sdpMid"] != "0" {
		t.Fatalf("ice = %v", ice)
	}

	// Targeted delivery: a third member does not see the offer.
	c := connect(t, h, "carol")
	join(t, c, "r1")
	_ = a.call("webrtc_offer", map[string]any{"to": "bob", "sdp": "2"}, nil)
	expectEvent(t, b, "webrtc_offer")
	expectNoEvent(t, c, "webrtc_offer", 200*time.Millisecond)

	// Target not in the room.
	if err := a.call("webrtc_offer", map[string]any{"to": "nobody", "sdp": "x"}, nil); ackErrCode(err) != vocab.CodeTargetNotFound {
		t.Fatalf("offer to absent user: %v", err)
	}
	d := connect(t, h, "dave")
	join(t, d, "other-room")
	if err := a.call("webrtc_offer", map[string]any{"to": "dave", "sdp": "x"}, nil); ackErrCode(err) != vocab.CodeTargetNotFound {
		t.Fatalf("offer to a user in another room: %v", err)
	}

	if err := b.call("leave_room", map[string]any{}, nil); err != nil {
		t.Fatal(err)
	}
	if l := expectEvent(t, a, "user_left"); l["userId"] != "bob" || l["reason"] != "left" {
		t.Fatalf("user_left = %v", l)
	}
	if err := b.call("leave_room", map[string]any{}, nil); ackErrCode(err) != vocab.CodeNotInRoom {
		t.Fatalf("second leave: %v", err)
	}
	if err := b.call("webrtc_offer", map[string]any{"to": "alice", "sdp": "x"}, nil); ackErrCode(err) != vocab.CodeNotInRoom {
		t.Fatalf("offer outside a room: %v", err)
	}
}

func TestJoiningAnotherRoomLeavesTheFirst(t *testing.T) {
	h := startHub(t, hub.Options{})
	a := connect(t, h, "alice")
	b := connect(t, h, "bob")
	join(t, a, "r1")
	join(t, b, "r1")
	join(t, b, "r2")
	if l := expectEvent(t, a, "user_left"); l["userId"] != "bob" || l["reason"] != "left" {
		t.Fatalf("user_left = %v", l)
	}
	if ack := join(t, a, "r2"); len(ack.Participants) != 1 || ack.Participants[0].UserID != "bob" {
		t.Fatalf("r2 participants = %+v", ack.Participants)
	}
}

func TestReplaceOnDuplicateJoin(t *testing.T) {
	h := startHub(t, hub.Options{})
	a := connect(t, h, "alice")
	b1 := connect(t, h, "bob")
	join(t, a, "r1")
	join(t, b1, "r1")
	expectEvent(t, a, "user_joined")

	b2 := connect(t, h, "bob")
	ack := join(t, b2, "r1")
	if len(ack.Participants) != 1 || ack.Participants[0].UserID != "alice" {
		t.Fatalf("participants = %+v", ack.Participants)
	}
	if e := expectEvent(t, b1, "error"); e["code"] != vocab.CodeReplaced {
		t.Fatalf("old socket got %v, want error replaced", e)
	}
	// The room sees no churn, and relays now reach the new socket only.
	expectNoEvent(t, a, "user_left", 300*time.Millisecond)
	_ = a.call("webrtc_offer", map[string]any{"to": "bob", "sdp": "x"}, nil)
	expectEvent(t, b2, "webrtc_offer")
	expectNoEvent(t, b1, "webrtc_offer", 200*time.Millisecond)
	// The old socket stays connected, outside the room.
	if err := b1.call("heartbeat", nil, nil); err != nil {
		t.Fatalf("old socket closed: %v", err)
	}
	if err := b1.call("chat_message", map[string]any{"content": "hi"}, nil); ackErrCode(err) != vocab.CodeNotInRoom {
		t.Fatalf("old socket chat: %v", err)
	}
	expectNoEvent(t, a, "user_joined", 100*time.Millisecond)
}

func TestRoomFull(t *testing.T) {
	h := startHub(t, hub.Options{MaxRoomSize: 2})
	join(t, connect(t, h, "a"), "r1")
	b := connect(t, h, "b")
	join(t, b, "r1")
	err := connect(t, h, "c").call("join_room", map[string]string{"roomId": "r1"}, nil)
	if ackErrCode(err) != vocab.CodeRoomFull {
		t.Fatalf("third join: %v", err)
	}
	// A member re-joining (e.g. a second tab of b) is not counted twice.
	join(t, connect(t, h, "b"), "r1")
}
