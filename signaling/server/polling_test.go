package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchboard-rtc/switchboard/internal/testutil/nodetest"
	"github.com/switchboard-rtc/switchboard/internal/testutil/redisserver"
	"github.com/switchboard-rtc/switchboard/signaling/config"
	"github.com/switchboard-rtc/switchboard/signaling/server"
)

// poller speaks Engine.IO long-polling by hand.
type poller struct {
	t      *testing.T
	origin string
}

type reply struct {
	status int
	body   string
	h      http.Header
}

func (p poller) do(method, url, body string) reply {
	p.t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		p.t.Fatal(err)
	}
	if p.origin != "" {
		req.Header.Set("Origin", p.origin)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, string(b), resp.Header}
}

func pollURL(base, sid string) string {
	u := base + "/socket.io/?EIO=4&transport=polling"
	if sid != "" {
		u += "&sid=" + sid
	}
	return u
}

// handshake opens a polling session and returns its sid.
func (p poller) handshake(base string) string {
	p.t.Helper()
	r := p.do(http.MethodGet, pollURL(base, ""), "")
	if r.status != 200 || !strings.HasPrefix(r.body, "0{") {
		p.t.Fatalf("handshake: %d %q", r.status, r.body)
	}
	var open struct {
		SID      string   `json:"sid"`
		Upgrades []string `json:"upgrades"`
	}
	if err := json.Unmarshal([]byte(r.body[1:]), &open); err != nil {
		p.t.Fatal(err)
	}
	if len(open.Upgrades) != 1 || open.Upgrades[0] != "websocket" {
		p.t.Fatalf("open packet over polling: %s, want upgrades [websocket]", r.body)
	}
	return open.SID
}

// connect sends the Socket.IO CONNECT and returns the packets of the poll answering it.
func (p poller) connect(base, sid, user string) []string {
	p.t.Helper()
	tok, _ := json.Marshal(map[string]string{"token": nodetest.Token(p.t, user)})
	if r := p.do(http.MethodPost, pollURL(base, sid), "40"+string(tok)); r.status != 200 || r.body != "ok" {
		p.t.Fatalf("POST CONNECT: %d %q", r.status, r.body)
	}
	pkts := p.poll(base, sid)
	if !strings.HasPrefix(pkts[0], "40{") {
		p.t.Fatalf("after CONNECT the poll gave %q", pkts)
	}
	return pkts
}

// poll GETs once and splits the payload at the record separator.
func (p poller) poll(base, sid string) []string {
	p.t.Helper()
	r := p.do(http.MethodGet, pollURL(base, sid), "")
	if r.status != 200 {
		p.t.Fatalf("poll: %d %q", r.status, r.body)
	}
	return strings.Split(r.body, "\x1e")
}

// pollUntil polls until a packet with prefix arrives (pings are answered).
func (p poller) pollUntil(base, sid, prefix string) string {
	p.t.Helper()
	for range 20 {
		for _, pkt := range p.poll(base, sid) {
			if strings.HasPrefix(pkt, prefix) {
				return pkt
			}
			if pkt == "2" {
				p.do(http.MethodPost, pollURL(base, sid), "3")
			}
		}
	}
	p.t.Fatalf("no packet %q", prefix)
	return ""
}

func wantEngineError(t *testing.T, what string, r reply, status, code int, msg string) {
	t.Helper()
	var body struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal([]byte(r.body), &body); err != nil || r.status != status || body.Code != code || body.Message != msg {
		t.Fatalf("%s: %d %q, want %d {code:%d, message:%q}", what, r.status, r.body, status, code, msg)
	}
}

func TestPollingSessionConnectsAndBatchesWithTheRecordSeparator(t *testing.T) {
	n := nodetest.Start(t, nodetest.Config{})
	p := poller{t: t}
	sid := p.handshake(n.URL)
	p.connect(n.URL, sid, "alice")
	// Two packets in one POST, answered in one poll joined by \x1e.
	if r := p.do(http.MethodPost, pollURL(n.URL, sid), `421["join_room",{"roomId":"r1"}]`+"\x1e"+`422["heartbeat"]`); r.body != "ok" {
		t.Fatalf("POST: %d %q", r.status, r.body)
	}
	// Both acks were queued before the POST was answered: one poll carries both.
	got := p.poll(n.URL, sid)
	if len(got) != 2 || !strings.HasPrefix(got[0], `431[{`) || !strings.Contains(got[0], `"ok":true`) || got[1] != `432[{"ok":true}]` {
		t.Fatalf("poll = %q, want the two acks joined by \x1e", got)
	}
	if g := testutilGauge(n, "polling"); g != 1 {
		t.Fatalf("polling sessions gauge = %v, want 1", g)
	}
	// Close packet: the session ends and its sid is unknown afterwards.
	p.do(http.MethodPost, pollURL(n.URL, sid), "1")
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := p.do(http.MethodPost, pollURL(n.URL, sid), "3")
		if r.status == 400 {
			wantEngineError(t, "POST after close", r, 400, 1, "Session ID unknown")
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("session not closed by the close packet")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func testutilGauge(n *nodetest.Node, _ string) float64 {
	return testutil.ToFloat64(n.Metrics.PollingSessions)
}

func TestPollingErrorCodesAndBodies(t *testing.T) {
	n := nodetest.Start(t, nodetest.Config{Server: server.Options{MaxPayload: 1000}})
	p := poller{t: t}
	wantEngineError(t, "unknown sid", p.do(http.MethodGet, pollURL(n.URL, "nope.bm9kZS0x"), ""), 400, 1, "Session ID unknown")
	wantEngineError(t, "unknown transport", p.do(http.MethodGet, n.URL+"/socket.io/?EIO=4&transport=flash", ""), 400, 0, "Transport unknown")
	wantEngineError(t, "POST handshake", p.do(http.MethodPost, pollURL(n.URL, ""), "40"), 400, 2, "Bad handshake method")
	wantEngineError(t, "EIO=3", p.do(http.MethodGet, n.URL+"/socket.io/?EIO=3&transport=polling", ""), 400, 5, "Unsupported protocol version")

	// maxHttpBufferSize: a POST over the node's max payload is 413 and closes the session.
	sid := p.handshake(n.URL)
	if r := p.do(http.MethodPost, pollURL(n.URL, sid), "4"+strings.Repeat("x", 1000)); r.status != 413 {
		t.Fatalf("large POST: %d %q, want 413", r.status, r.body)
	}
	if pkts := p.poll(n.URL, sid); pkts[len(pkts)-1] != "1" {
		t.Fatalf("poll after 413 = %q, want the close packet", pkts)
	}

	// A second GET while one waits: 400, and the session closes (the first gets "1").
	sid = p.handshake(n.URL)
	first := make(chan reply, 1)
	go func() { first <- p.do(http.MethodGet, pollURL(n.URL, sid), "") }()
	time.Sleep(200 * time.Millisecond) // the first poll is waiting (nothing queued)
	if r := p.do(http.MethodGet, pollURL(n.URL, sid), ""); r.status != 400 {
		t.Fatalf("overlapping GET: %d %q, want 400", r.status, r.body)
	}
	if r := <-first; r.status != 200 || r.body != "1" {
		t.Fatalf("first GET after the overlap: %d %q, want 200 \"1\"", r.status, r.body)
	}

	// A packet other than CONNECT before authenticating closes the session, as over WebSocket.
	sid = p.handshake(n.URL)
	p.do(http.MethodPost, pollURL(n.URL, sid), `42["heartbeat"]`)
	if pkts := p.poll(n.URL, sid); pkts[len(pkts)-1] != "1" {
		t.Fatalf("poll after an event before CONNECT = %q, want the close packet", pkts)
	}
}

func TestPollingCORSFollowsAllowedOrigins(t *testing.T) {
	n := nodetest.Start(t, nodetest.Config{Server: server.Options{AllowedOrigins: []string{"https://app.example"}}})
	listed := poller{t: t, origin: "https://app.example"}
	r := listed.do(http.MethodGet, pollURL(n.URL, ""), "")
	if r.status != 200 || r.h.Get("Access-Control-Allow-Origin") != "https://app.example" || r.h.Get("Access-Control-Allow-Credentials") != "true" {
		t.Fatalf("listed origin: %d headers %v", r.status, r.h)
	}
	pre := listed.do(http.MethodOptions, pollURL(n.URL, ""), "")
	if pre.status != 204 || pre.h.Get("Access-Control-Allow-Origin") != "https://app.example" || !strings.Contains(pre.h.Get("Access-Control-Allow-Methods"), "POST") {
		t.Fatalf("preflight: %d headers %v", pre.status, pre.h)
	}
	foreign := poller{t: t, origin: "https://evil.example"}
	wantEngineError(t, "foreign origin", foreign.do(http.MethodGet, pollURL(n.URL, ""), ""), 403, 4, "Forbidden")
	wantEngineError(t, "foreign preflight", foreign.do(http.MethodOptions, pollURL(n.URL, ""), ""), 403, 4, "Forbidden")

	anyNode := nodetest.Start(t, nodetest.Config{NodeID: "node-any", Server: server.Options{AllowedOrigins: []string{"*"}}})
	r = foreign.do(http.MethodGet, pollURL(anyNode.URL, ""), "")
	if r.status != 200 || r.h.Get("Access-Control-Allow-Origin") != "*" || r.h.Get("Access-Control-Allow-Credentials") != "" {
		t.Fatalf(`"*": %d headers %v, want ACAO * without credentials`, r.status, r.h)
	}
}

// upgrade runs the probe sequence (probe, upgrade_test.go) and sends 5.
func upgrade(t *testing.T, p poller, pollBase, wsBase, sid string) *websocket.Conn {
	t.Helper()
	ws := probe(t, p, pollBase, wsBase, sid)
	_ = ws.WriteMessage(websocket.TextMessage, []byte("5"))
	return ws
}

func readUntil(t *testing.T, ws *websocket.Conn, prefix string) string {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, m, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("reading for %q: %v", prefix, err)
		}
		if string(m) == "2" {
			_ = ws.WriteMessage(websocket.TextMessage, []byte("3"))
		}
		if strings.HasPrefix(string(m), prefix) {
			return string(m)
		}
	}
}

func TestPollingUpgradesToWebSocket(t *testing.T) {
	n := nodetest.Start(t, nodetest.Config{})
	p := poller{t: t}
	sid := p.handshake(n.URL)
	p.connect(n.URL, sid, "alice")
	ws := upgrade(t, p, n.URL, n.URL, sid)
	_ = ws.WriteMessage(websocket.TextMessage, []byte(`427["heartbeat"]`))
	if got := readUntil(t, ws, "437"); got != `437[{"ok":true}]` {
		t.Fatalf("ack over the upgraded WebSocket = %q", got)
	}
	wantEngineError(t, "poll after upgrade", p.do(http.MethodGet, pollURL(n.URL, sid), ""), 400, 3, "Bad request")
	if g := testutilGauge(n, "polling"); g != 0 {
		t.Fatalf("polling sessions after the upgrade = %v, want 0", g)
	}
}

// TestPollingWithoutStickySessions: the handshake on one node, polls and POSTs on the
// other (relayed to the owner over Redis), the upgrade on the other too (bridged).
func TestPollingWithoutStickySessions(t *testing.T) {
	rs := redisserver.Start(t, redisserver.Options{})
	a := nodetest.Start(t, nodetest.Config{NodeID: "node-a", RedisURL: rs.URL()})
	b := nodetest.Start(t, nodetest.Config{NodeID: "node-b", RedisURL: rs.URL()})
	for _, nd := range []*nodetest.Node{a, b} {
		for nd.Hub.Ready() != nil {
			time.Sleep(20 * time.Millisecond)
		}
	}
	p := poller{t: t}
	sid := p.handshake(a.URL)
	p.connect(b.URL, sid, "alice") // POST and GET both relayed to node-a
	p.do(http.MethodPost, pollURL(b.URL, sid), `421["join_room",{"roomId":"r1"}]`)
	if ack := p.pollUntil(a.URL, sid, "431"); !strings.Contains(ack, `"ok":true`) {
		t.Fatalf("join ack = %q", ack)
	}
	wantEngineError(t, "relayed unknown sid", p.do(http.MethodGet, pollURL(b.URL, "nope.bm9kZS1h"), ""), 400, 1, "Session ID unknown")

	ws := upgrade(t, p, b.URL, b.URL, sid) // poll relayed, WebSocket bridged on node-b
	_ = ws.WriteMessage(websocket.TextMessage, []byte(`422["chat_message",{"content":"hi"}]`))
	if got := readUntil(t, ws, `42["chat_message"`); !strings.Contains(got, `"content":"hi"`) {
		t.Fatalf("chat over the bridge = %q", got)
	}
	if got := readUntil(t, ws, "432"); !strings.Contains(got, `"ok":true`) {
		t.Fatalf("chat ack over the bridge = %q", got)
	}
	if testutil.ToFloat64(b.Metrics.BridgedSockets) != 1 {
		t.Fatalf("bridged sockets on node-b = %v, want 1", testutil.ToFloat64(b.Metrics.BridgedSockets))
	}
	if v := testutil.ToFloat64(b.Metrics.SessionRelays.WithLabelValues("post", "ok")); v < 2 {
		t.Fatalf("relayed POSTs = %v, want ≥ 2", v)
	}
	// Closing the WebSocket ends the session on its owner.
	ws.Close()
	deadline := time.Now().Add(10 * time.Second)
	for testutil.ToFloat64(a.Metrics.Connections) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the owner kept the session after its bridged WebSocket closed")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRelayedPollingKeepsOrder: a session's packets keep their order when every POST and
// poll alternates between its owner and another node (acks 1..n arrive as 1..n). It logs
// the round-trip time of a POST plus the poll that answers it, local and relayed (the
// figures in docs/benchmarks.md §Long-polling relay).
func TestRelayedPollingKeepsOrder(t *testing.T) {
	rs := redisserver.Start(t, redisserver.Options{})
	a := nodetest.Start(t, nodetest.Config{NodeID: "node-a", RedisURL: rs.URL(), Node: config.Config{EventRate: 1e6, EventBurst: 1e6}})
	b := nodetest.Start(t, nodetest.Config{NodeID: "node-b", RedisURL: rs.URL()})
	for _, nd := range []*nodetest.Node{a, b} {
		for nd.Hub.Ready() != nil {
			time.Sleep(20 * time.Millisecond)
		}
	}
	p := poller{t: t}
	sid := p.handshake(a.URL)
	p.connect(a.URL, sid, "alice")
	const rounds = 100
	roundTrips := func(first, second string, base int) time.Duration {
		start := time.Now()
		for i := range rounds {
			id := base + i
			p.do(http.MethodPost, pollURL(first, sid), "42"+strconv.Itoa(id)+`["heartbeat"]`)
			if got := p.pollUntil(second, sid, "43"); got != "43"+strconv.Itoa(id)+`[{"ok":true}]` {
				t.Fatalf("round %d: %q, want the ack of %d", i, got, id)
			}
		}
		return time.Since(start) / rounds
	}
	local := roundTrips(a.URL, a.URL, 1000)
	relayed := roundTrips(b.URL, b.URL, 2000)
	mixed := roundTrips(a.URL, b.URL, 3000)
	t.Logf("POST + poll round trip: local %v, both relayed %v, POST local + poll relayed %v", local, relayed, mixed)
}

// TestPollingSessionsHonourTheLimits: the connection caps, the CONNECT deadline, the ping
// timeout, the send queue's byte budget and the drain apply to polling sessions as to
// WebSockets.
func TestPollingSessionsHonourTheLimits(t *testing.T) {
	n := nodetest.Start(t, nodetest.Config{Server: server.Options{
		// The CONNECT deadline comes well before the first ping could time out, so the
		// idle session is closed by the deadline even when timers fire late on a busy machine.
		MaxConnectionsPerIP: 2, ConnectTimeout: 300 * time.Millisecond,
		PingInterval: time.Second, PingTimeout: time.Second, SendQueueBytes: 4096,
	}})
	p := poller{t: t}
	// CONNECT deadline: a session that never authenticates is closed.
	idle := p.handshake(n.URL)
	busy := p.handshake(n.URL)
	wantEngineError(t, "third session from one IP", p.do(http.MethodGet, pollURL(n.URL, ""), ""), 429, 3, "Too many connections from this address")
	p.connect(n.URL, busy, "bob") // authenticates in time
	var last []string
	for len(last) == 0 || last[len(last)-1] != "1" {
		last = p.poll(n.URL, idle)
	}
	if got := eventually(func() float64 { return testutil.ToFloat64(n.Metrics.Disconnects.WithLabelValues("connect_timeout")) }, 1); got != 1 {
		t.Fatalf("connect timeouts = %v, want 1", got)
	}
	// Ping over polling: the polls carry "2"; a client that never answers is closed.
	sawPing := false
	for closed := false; !closed; {
		for _, pkt := range p.poll(n.URL, busy) {
			sawPing = sawPing || pkt == "2"
			closed = pkt == "1"
		}
	}
	if got := eventually(func() float64 { return testutil.ToFloat64(n.Metrics.Disconnects.WithLabelValues("ping_timeout")) }, 1); !sawPing || got != 1 {
		t.Fatalf("ping seen %v, ping timeouts = %v, want a ping and 1", sawPing, got)
	}

	// Send queue byte budget: a client that stops polling while its queue grows is closed.
	slow := p.handshake(n.URL)
	p.connect(n.URL, slow, "carol")
	p.do(http.MethodPost, pollURL(n.URL, slow), `42["join_room",{"roomId":"big"}]`)
	for i := 0; testutil.ToFloat64(n.Metrics.SlowConsumers) == 0; i++ {
		if i > 100 {
			t.Fatal("the queue of a client that does not poll was never cut")
		}
		// Answer pings so only the budget can close it.
		p.do(http.MethodPost, pollURL(n.URL, slow), "3\x1e"+`42["chat_message",{"content":"`+strings.Repeat("x", 900)+`"}]`)
	}

	// Draining: new polling sessions get 503.
	n.Server.SetDraining(time.Second)
	wantEngineError(t, "handshake while draining", p.do(http.MethodGet, pollURL(n.URL, ""), ""), 503, 3, "Server draining; reconnect to another node")
}

// eventually reads a counter until it shows want or 5 s pass, and returns the last value:
// the close packet can reach the client just before the node counts the close.
func eventually(read func() float64, want float64) float64 {
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := read()
		if got == want || time.Now().After(deadline) {
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
}
