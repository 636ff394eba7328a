package hub_test

import (
	"strings"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/signaling/hub"
	"github.com/switchboard-rtc/switchboard/signaling/vocab"
)

func TestInvalidPayloadsKeepTheSocket(t *testing.T) {
	h := startHub(t, hub.Options{})
	a := connect(t, h, "alice")
	cases := []struct {
		event   string
		payload any
		code    string
	}{
		{"join_room", nil, vocab.CodeInvalidPayload},
		{"join_room", "r1", vocab.CodeInvalidPayload},
		{"join_room", map[string]any{"roomId": 7}, vocab.CodeInvalidPayload},
		{"join_room", map[string]any{"roomId": ""}, vocab.CodeInvalidPayload},
		{"join_room", map[string]any{"roomId": "a{b}"}, vocab.CodeInvalidPayload},
		{"join_room", map[string]any{"roomId": strings.Repeat("x", 129)}, vocab.CodeInvalidPayload},
		{"join_room", []any{1, 2}, vocab.CodeInvalidPayload},
		{"webrtc_offer", map[string]any{"sdp": "x"}, vocab.CodeInvalidPayload},
		{"webrtc_offer", map[string]any{"to": 5, "sdp": "x"}, vocab.CodeInvalidPayload},
		{"webrtc_offer", map[string]any{"to": "bob"}, vocab.CodeInvalidPayload},
		{"webrtc_ice_candidate", map[string]any{"to": "bob", "candidate": nil}, vocab.CodeInvalidPayload},
		{"chat_message", map[string]any{"content": 5}, vocab.CodeInvalidPayload},
		{"no_such_event", map[string]any{}, vocab.CodeUnknownEvent},
	}
	for _, tc := range cases {
		if err := a.call(tc.event, tc.payload, nil); ackErrCode(err) != tc.code {
			t.Errorf("%s %v: got %v, want %s", tc.event, tc.payload, err, tc.code)
		}
	}
	// Without an ack, the failure arrives as the `error` event naming the event.
	if err := a.emit("no_such_event", nil); err != nil {
		t.Fatal(err)
	}
	if e := expectEvent(t, a, "error"); e["code"] != vocab.CodeUnknownEvent || e["event"] != "no_such_event" || e["message"] == "" {
		t.Fatalf("error event = %v", e)
	}
	if err := a.emit("join_room", map[string]any{"roomId": 1}); err != nil {
		t.Fatal(err)
	}
	if e := expectEvent(t, a, "error"); e["code"] != vocab.CodeInvalidPayload || e["event"] != "join_room" {
		t.Fatalf("error event = %v", e)
	}
	// Still connected and working.
	join(t, a, "r1")
	if err := a.call("heartbeat", nil, nil); err != nil {
		t.Fatalf("heartbeat: %v", err)
	}
}

func TestRateLimit(t *testing.T) {
	h := startHub(t, hub.Options{EventRate: 1, EventBurst: 5})
	a := connect(t, h, "alice")
	limited := 0
	for i := 0; i < 10; i++ {
		if err := a.call("heartbeat", nil, nil); err != nil {
			if ackErrCode(err) != vocab.CodeRateLimited {
				t.Fatalf("heartbeat %d: %v", i, err)
			}
			limited++
		}
	}
	if limited < 4 || limited > 5 {
		t.Fatalf("rate limited %d of 10 (burst 5, 1/s)", limited)
	}
	time.Sleep(1100 * time.Millisecond) // one token refills
	if err := a.call("heartbeat", nil, nil); err != nil {
		t.Fatalf("after refill: %v", err)
	}
}

func TestEventPayloadLimit(t *testing.T) {
	h := startHub(t, hub.Options{MaxEventBytes: 1024})
	a := connect(t, h, "alice")
	join(t, a, "r1")
	err := a.call("webrtc_offer", map[string]any{"to": "bob", "sdp": strings.Repeat("x", 2000)}, nil)
	if ackErrCode(err) != vocab.CodePayloadTooLarge {
		t.Fatalf("2 KB event: %v", err)
	}
	if err := a.call("heartbeat", nil, nil); err != nil {
		t.Fatalf("session unusable after payload_too_large: %v", err)
	}
}
