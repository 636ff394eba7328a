package hub_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/signaling/hub"
	"github.com/switchboard-rtc/switchboard/signaling/vocab"
)

// TestRepeatedJoinOfTheSameRoomSendsNoHistory: joining the room the socket is already in
// answers with the participants but without the chat history, so repeated joins cannot
// amplify a few bytes into the whole history. (Before: every join re-sent it.)
func TestRepeatedJoinOfTheSameRoomSendsNoHistory(t *testing.T) {
	h := startHub(t, hub.Options{})
	a := connect(t, h, "alice")
	b := connect(t, h, "bob")
	join(t, a, "r1")
	for i := 0; i < 3; i++ {
		if err := a.call("chat_message", map[string]any{"content": "hello"}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if got := join(t, b, "r1"); len(got.Chat) != 3 {
		t.Fatalf("first join: %d messages of history, want 3", len(got.Chat))
	}
	again := join(t, b, "r1")
	if again.Chat == nil || len(again.Chat) != 0 {
		t.Fatalf("repeated join: history %+v, want []", again.Chat)
	}
	if len(again.Participants) != 1 || again.Participants[0].UserID != "alice" {
		t.Fatalf("repeated join: participants %+v", again.Participants)
	}
	// Another room and back is a real join again: the history comes with it.
	join(t, b, "r2")
	if got := join(t, b, "r1"); len(got.Chat) != 3 {
		t.Fatalf("join after another room: %d messages, want 3", len(got.Chat))
	}
}

// TestJoinHistoryIsCappedInBytesNewestKept: the history in a join ack fits in
// JoinHistoryBytes; the newest messages are the ones kept, oldest first. (Before: the last
// ChatHistory messages whatever their size.)
func TestJoinHistoryIsCappedInBytesNewestKept(t *testing.T) {
	const budget = 4096
	h := startHub(t, hub.Options{JoinHistoryBytes: budget, MaxChatLength: 1000})
	a := connect(t, h, "alice")
	join(t, a, "r1")
	for i := 0; i < 20; i++ {
		content := strings.Repeat(string(rune('a'+i)), 500)
		if err := a.call("chat_message", map[string]any{"content": content}, nil); err != nil {
			t.Fatal(err)
		}
	}
	got := join(t, connect(t, h, "bob"), "r1").Chat
	encoded, _ := json.Marshal(got)
	if len(encoded) > budget || len(got) < 5 {
		t.Fatalf("history: %d messages in %d bytes, want at most %d bytes and at least 5 messages", len(got), len(encoded), budget)
	}
	for i, m := range got {
		want := string(rune('a' + 20 - len(got) + i))
		if m.Content[:1] != want {
			t.Fatalf("history[%d] starts with %q, want %q (the newest, oldest first)", i, m.Content[:1], want)
		}
	}
}

// TestChatContentIsBoundedInEncodedBytes: content within the character limit but
// several times larger once JSON-escaped is refused; 4-byte characters still pass.
// (Before: only code points were counted, so "<" or control characters multiplied by 6.)
func TestChatContentIsBoundedInEncodedBytes(t *testing.T) {
	h := startHub(t, hub.Options{MaxChatLength: 100})
	a := connect(t, h, "alice")
	join(t, a, "r1")
	for _, bad := range []string{strings.Repeat("<", 100), strings.Repeat("\x01", 100)} {
		if err := a.call("chat_message", map[string]any{"content": bad}, nil); ackErrCode(err) != vocab.CodeInvalidPayload {
			t.Errorf("content of %q×100: %v, want invalid_payload", bad[:1], err)
		}
	}
	if err := a.call("chat_message", map[string]any{"content": strings.Repeat("😀", 100)}, nil); err != nil {
		t.Fatalf("100 emoji: %v", err)
	}
}

// TestJoinRateLimitIsPerUser: join_room beyond the user's burst is rate_limited, on every
// socket of that user; other users are unaffected.
func TestJoinRateLimitIsPerUser(t *testing.T) {
	h := startHub(t, hub.Options{JoinRate: 0.001, JoinBurst: 3})
	a1 := connect(t, h, "alice")
	a2 := connect(t, h, "alice")
	b := connect(t, h, "bob")
	for i := 0; i < 3; i++ {
		join(t, a1, "r1")
	}
	if err := a1.call("join_room", map[string]string{"roomId": "r1"}, nil); ackErrCode(err) != vocab.CodeRateLimited {
		t.Fatalf("4th join: %v, want rate_limited", err)
	}
	if err := a2.call("join_room", map[string]string{"roomId": "r2"}, nil); ackErrCode(err) != vocab.CodeRateLimited {
		t.Fatalf("join from alice's second socket: %v, want rate_limited", err)
	}
	join(t, b, "r1")
}

// TestRelayFloodAtOneTargetIsRateLimited: an offer storm from one sender at one target
// is refused with rate_limited after the per-target burst, long before the target's send
// queue (256 frames by default) could fill and get it disconnected as a slow consumer;
// the sender can still reach others. (Before: every offer was queued to the target.)
func TestRelayFloodAtOneTargetIsRateLimited(t *testing.T) {
	// The socket's and the user's own limits are lifted: this is the per-target one.
	h := startHub(t, hub.Options{EventRate: 1e6, EventBurst: 1e6, RelayRate: 1e6, RelayBurst: 1e6})
	a := connect(t, h, "alice")
	b := connect(t, h, "bob")
	c := connect(t, h, "carol")
	for _, x := range []*client{a, b, c} {
		join(t, x, "r1")
	}
	sent, limited := 0, 0
	start := time.Now()
	for i := 0; i < 1000; i++ {
		err := a.call("webrtc_offer", map[string]any{"to": "bob", "sdp": strings.Repeat("s", 1000)}, nil)
		switch code := ackErrCode(err); {
		case err == nil:
			sent++
		case code == vocab.CodeRateLimited:
			limited++
		default:
			t.Fatalf("offer %d: %v", i, err)
		}
	}
	// The bucket refills while the storm runs (slowly under -race on a loaded machine),
	// so the bound is the default burst (50) plus the default rate (20/s) over the
	// storm's duration.
	allowed := 50 + int(20*time.Since(start).Seconds()) + 1
	if sent > allowed || sent+limited != 1000 {
		t.Fatalf("%d offers relayed and %d rate_limited; want at most %d relayed", sent, limited, allowed)
	}
	delivered := 0
	for {
		if _, ok := b.next("webrtc_offer", 0); !ok {
			break
		}
		delivered++
	}
	if delivered != sent {
		t.Fatalf("bob got %d offers, %d were acked", delivered, sent)
	}
	if err := a.call("webrtc_offer", map[string]any{"to": "carol", "sdp": "x"}, nil); err != nil {
		t.Fatalf("offer to another target: %v", err)
	}
}

// TestRelayRateLimitIsPerUserAcrossTargets: the sender's relays to all targets share one
// bucket.
func TestRelayRateLimitIsPerUserAcrossTargets(t *testing.T) {
	h := startHub(t, hub.Options{RelayRate: 0.001, RelayBurst: 5})
	a := connect(t, h, "alice")
	b := connect(t, h, "bob")
	c := connect(t, h, "carol")
	for _, x := range []*client{a, b, c} {
		join(t, x, "r1")
	}
	for i, to := range []string{"bob", "carol", "bob", "carol", "bob"} {
		if err := a.call("webrtc_ice_candidate", map[string]any{"to": to, "candidate": "c"}, nil); err != nil {
			t.Fatalf("relay %d: %v", i, err)
		}
	}
	if err := a.call("webrtc_answer", map[string]any{"to": "carol", "sdp": "x"}, nil); ackErrCode(err) != vocab.CodeRateLimited {
		t.Fatalf("6th relay: %v, want rate_limited", err)
	}
	if err := b.call("webrtc_answer", map[string]any{"to": "alice", "sdp": "x"}, nil); err != nil {
		t.Fatalf("bob's relay: %v", err)
	}
}
