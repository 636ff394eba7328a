package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/switchboard-rtc/switchboard/internal/testutil/nodetest"
	"github.com/switchboard-rtc/switchboard/internal/testutil/redisserver"
	"github.com/switchboard-rtc/switchboard/signaling/server"
)

// quietPings: no ping ends a poll during these tests, so an answered poll was answered by
// the upgrade logic (or by data).
var quietPings = server.Options{PingInterval: time.Minute, PingTimeout: time.Minute}

// probe opens the WebSocket of sid on wsBase and exchanges 2probe/3probe, with a poll
// pending on pollBase that must end with the noop; it does not send 5.
func probe(t *testing.T, p poller, pollBase, wsBase, sid string) *websocket.Conn {
	t.Helper()
	pending := make(chan reply, 1)
	go func() { pending <- p.do(http.MethodGet, pollURL(pollBase, sid), "") }()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(wsBase, "http")+"/socket.io/?EIO=4&transport=websocket&sid="+sid, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	_ = ws.WriteMessage(websocket.TextMessage, []byte("2probe"))
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, m, err := ws.ReadMessage(); err != nil || string(m) != "3probe" {
		t.Fatalf("probe answer %q %v", m, err)
	}
	if r := <-pending; r.status != 200 || r.body != "6" {
		t.Fatalf("the pending poll answered %d %q, want the noop 6", r.status, r.body)
	}
	return ws
}

// startPoll sends one poll; its answer arrives on the channel.
func startPoll(p poller, base, sid string) <-chan reply {
	got := make(chan reply, 1)
	go func() { got <- p.do(http.MethodGet, pollURL(base, sid), "") }()
	return got
}

// pollWithin polls once and reports the answer, or false when none came within d.
func pollWithin(p poller, base, sid string, d time.Duration) (reply, bool) {
	select {
	case r := <-startPoll(p, base, sid):
		return r, true
	case <-time.After(d):
		return reply{}, false
	}
}

// The reference client may poll again before it has read 3probe; it then holds what it
// sends until that poll ends. So until 5 arrives every poll is answered soon (a noop when
// nothing is queued), not held until the next ping. Before, the second poll waited a ping
// interval and the client's events with it (a demo call's heartbeat went unanswered).
func TestPollingUpgradeAnswersEveryPollUntilTheClientSends5(t *testing.T) {
	n := nodetest.Start(t, nodetest.Config{Server: quietPings})
	p := poller{t: t}
	sid := p.handshake(n.URL)
	p.connect(n.URL, sid, "alice")
	ws := probe(t, p, n.URL, n.URL, sid)

	for i := range 3 {
		r, ok := pollWithin(p, n.URL, sid, 5*time.Second)
		if !ok {
			t.Fatalf("poll %d during the upgrade was held (ping interval 1 min), want a noop within 100 ms", i+1)
		}
		if r.status != 200 || r.body != "6" {
			t.Fatalf("poll %d during the upgrade: %d %q, want the noop 6", i+1, r.status, r.body)
		}
	}
	// Data queued meanwhile still goes out on the poll.
	p.do(http.MethodPost, pollURL(n.URL, sid), `421["heartbeat"]`)
	if ack := p.pollUntil(n.URL, sid, "431"); ack != `431[{"ok":true}]` {
		t.Fatalf("ack during the upgrade = %q", ack)
	}

	_ = ws.WriteMessage(websocket.TextMessage, []byte("5"))
	_ = ws.WriteMessage(websocket.TextMessage, []byte(`422["heartbeat"]`))
	if got := readUntil(t, ws, "432"); got != `432[{"ok":true}]` {
		t.Fatalf("ack over the upgraded WebSocket = %q", got)
	}
}

// A probe whose WebSocket closes before 5 ends the upgrade: polls are long again (not a
// noop every 100 ms for the rest of the session), and the session goes on. Locally and
// with the WebSocket bridged by another node.
func TestPollingFailedUpgradeGoesBackToLongPolls(t *testing.T) {
	rs := redisserver.Start(t, redisserver.Options{})
	a := nodetest.Start(t, nodetest.Config{NodeID: "node-a", RedisURL: rs.URL(), Server: quietPings})
	b := nodetest.Start(t, nodetest.Config{NodeID: "node-b", RedisURL: rs.URL(), Server: quietPings})
	for _, nd := range []*nodetest.Node{a, b} {
		for nd.Hub.Ready() != nil {
			time.Sleep(20 * time.Millisecond)
		}
	}
	for _, tc := range []struct{ name, wsBase string }{{"local", a.URL}, {"bridged", b.URL}} {
		t.Run(tc.name, func(t *testing.T) {
			p := poller{t: t}
			sid := p.handshake(a.URL)
			p.connect(a.URL, sid, "alice-"+tc.name)
			ws := probe(t, p, a.URL, tc.wsBase, sid)
			ws.Close()

			var held <-chan reply
			for deadline := time.Now().Add(10 * time.Second); held == nil; {
				poll := startPoll(p, a.URL, sid)
				select {
				case r := <-poll:
					if r.status != 200 || r.body != "6" {
						t.Fatalf("poll after the failed probe: %d %q", r.status, r.body)
					}
					if time.Now().After(deadline) {
						t.Fatal("polls still answer noop 10 s after the probe's WebSocket closed: the upgrade never ended")
					}
				case <-time.After(time.Second):
					held = poll // a long poll: the upgrade is over
				}
			}
			// The session goes on over polling: the held poll carries the next ack.
			if r := p.do(http.MethodPost, pollURL(a.URL, sid), `423["heartbeat"]`); r.status != 200 {
				t.Fatalf("POST after the failed probe: %d %q", r.status, r.body)
			}
			if r := <-held; r.status != 200 || r.body != `433[{"ok":true}]` {
				t.Fatalf("the held poll after the failed probe answered %d %q, want the ack", r.status, r.body)
			}
		})
	}
}
