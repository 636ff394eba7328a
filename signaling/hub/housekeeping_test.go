package hub_test

import (
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/signaling/hub"
	"github.com/switchboard-rtc/switchboard/signaling/vocab"
)

func TestPresenceTimeout(t *testing.T) {
	h := startHub(t, hub.Options{PresenceTTL: 800 * time.Millisecond, NodeHeartbeat: 100 * time.Millisecond})
	a := connect(t, h, "alice")
	b := connect(t, h, "bob")
	join(t, a, "r1")
	join(t, b, "r1")
	// alice keeps sending heartbeats; bob falls silent.
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
				_ = a.emit("heartbeat", nil)
			}
		}
	}()
	defer close(stop)
	if l := expectEvent(t, a, "user_left"); l["userId"] != "bob" || l["reason"] != "timeout" {
		t.Fatalf("user_left = %v", l)
	}
	if e := expectEvent(t, b, "error"); e["code"] != vocab.CodeNotInRoom {
		t.Fatalf("bob got %v", e)
	}
	expectNoEvent(t, b, "user_left", 500*time.Millisecond) // alice stays
}
