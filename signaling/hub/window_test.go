package hub_test

import (
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/signaling/hub"
)

// drop is a transport that ended (hub.DisconnectLost); disconnect is a Socket.IO DISCONNECT
// (hub.DisconnectClient). signaling/server maps its transport events onto these.
func TestReconnectionWindow(t *testing.T) {
	h := startHub(t, hub.Options{ReconnectWindow: 700 * time.Millisecond})
	a := connect(t, h, "alice")
	join(t, a, "r1")
	b := connect(t, h, "bob")
	join(t, b, "r1")
	expectEvent(t, a, "user_joined")

	// Drop and come back within the window: nobody sees churn.
	b.drop()
	time.Sleep(200 * time.Millisecond)
	b2 := connect(t, h, "bob")
	if ack := join(t, b2, "r1"); len(ack.Participants) != 1 {
		t.Fatalf("participants after rejoin = %+v", ack.Participants)
	}
	expectNoEvent(t, a, "user_left", time.Second)
	expectNoEvent(t, a, "user_joined", 10*time.Millisecond)

	// Drop and stay away: exactly one user_left, reason disconnected.
	b2.drop()
	if l := expectEvent(t, a, "user_left"); l["userId"] != "bob" || l["reason"] != "disconnected" {
		t.Fatalf("user_left = %v", l)
	}
	expectNoEvent(t, a, "user_left", time.Second)

	// A deliberate Socket.IO disconnect leaves at once.
	c := connect(t, h, "carol")
	join(t, c, "r1")
	expectEvent(t, a, "user_joined")
	c.disconnect()
	if l := expectEvent(t, a, "user_left"); l["userId"] != "carol" || l["reason"] != "left" {
		t.Fatalf("user_left = %v", l)
	}
}
