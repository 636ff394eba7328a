package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/switchboard-rtc/switchboard/internal/testutil/nodetest"
	"github.com/switchboard-rtc/switchboard/signaling/auth"
	"github.com/switchboard-rtc/switchboard/signaling/hub"
	"github.com/switchboard-rtc/switchboard/signaling/server"
	"github.com/switchboard-rtc/switchboard/signaling/sioclient"
)

// TestMain proves that nodes and connections leave no goroutines behind.
func TestMain(m *testing.M) {
	if server.RunLoopbackReader() { // BenchmarkWriteCPUPerDelivery's other process
		return
	}
	goleak.VerifyTestMain(m)
}

// join puts c in room; what the ack holds is the hub's concern (signaling/hub join tests).
func join(t *testing.T, c *sioclient.Client, room string) {
	t.Helper()
	var ack json.RawMessage
	if err := c.Call(nodetest.Ctx(t, 5*time.Second), "join_room", map[string]string{"roomId": room}, &ack); err != nil {
		t.Fatalf("join_room %s: %v", room, err)
	}
}

func expectEvent(t *testing.T, c *sioclient.Client, name string) map[string]any {
	t.Helper()
	ev, ok := c.Next(nodetest.Ctx(t, 5*time.Second), name)
	if !ok {
		t.Fatalf("no %s event", name)
	}
	var m map[string]any
	if err := json.Unmarshal(ev.Data, &m); err != nil {
		t.Fatalf("%s payload %s: %v", name, ev.Data, err)
	}
	return m
}

// expectNoEvent fails if an event named name arrives within d.
func expectNoEvent(t *testing.T, c *sioclient.Client, name string, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if ev, ok := c.Next(ctx, name); ok {
		t.Fatalf("unexpected %s event: %s", name, ev.Data)
	}
}

func TestAuthentication(t *testing.T) {
	keys := nodetest.Keys()
	v, err := auth.NewVerifier(auth.Config{PublicKey: &keys.Private.PublicKey, Issuer: "iss-1", Audience: "aud-1"})
	if err != nil {
		t.Fatal(err)
	}
	n := nodetest.Start(t, nodetest.Config{Verifier: v})
	other, _ := auth.NewDevKeys()
	now := time.Now()
	claims := func(mod func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"sub": "u1", "exp": now.Add(time.Hour).Unix(), "iss": "iss-1", "aud": "aud-1"}
		if mod != nil {
			mod(c)
		}
		return c
	}
	signed := func(m jwt.SigningMethod, key any, c jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(m, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	valid := signed(jwt.SigningMethodRS256, keys.Private, claims(nil))
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, claims(nil)).SignedString(jwt.UnsafeAllowNoneSignatureType)
	cases := []struct {
		name   string
		opts   sioclient.Options
		wantOK bool
	}{
		{"no token", sioclient.Options{}, false},
		{"bad signature", sioclient.Options{Token: signed(jwt.SigningMethodRS256, other.Private, claims(nil))}, false},
		{"HS256 signed with the public key", sioclient.Options{Token: signed(jwt.SigningMethodHS256, keys.PublicPEM(), claims(nil))}, false},
		{"alg none", sioclient.Options{Token: none}, false},
		{"expired", sioclient.Options{Token: signed(jwt.SigningMethodRS256, keys.Private, claims(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Hour).Unix() }))}, false},
		{"nbf in the future", sioclient.Options{Token: signed(jwt.SigningMethodRS256, keys.Private, claims(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Hour).Unix() }))}, false},
		{"wrong issuer", sioclient.Options{Token: signed(jwt.SigningMethodRS256, keys.Private, claims(func(c jwt.MapClaims) { c["iss"] = "evil" }))}, false},
		{"wrong audience", sioclient.Options{Token: signed(jwt.SigningMethodRS256, keys.Private, claims(func(c jwt.MapClaims) { c["aud"] = "evil" }))}, false},
		{"missing sub", sioclient.Options{Token: signed(jwt.SigningMethodRS256, keys.Private, claims(func(c jwt.MapClaims) { delete(c, "sub") }))}, false},
		{"valid via cookie", sioclient.Options{Token: valid, TokenCookie: "access_token"}, true},
		{"valid via CONNECT auth", sioclient.Options{Token: valid}, true},
		{"valid via Authorization header", sioclient.Options{Token: valid, TokenHeader: true}, true},
		{"valid token in the wrong cookie", sioclient.Options{Token: valid, TokenCookie: "other_cookie"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := sioclient.Dial(context.Background(), n.URL, tc.opts)
			if tc.wantOK {
				if err != nil {
					t.Fatalf("Dial: %v", err)
				}
				defer c.Close()
				if c.SID == "" {
					t.Fatal("no sid in CONNECT answer")
				}
				return
			}
			var ce *sioclient.ConnectError
			if !errors.As(err, &ce) || ce.Message != "Authentication error" {
				t.Fatalf("Dial err = %v, want connect_error \"Authentication error\"", err)
			}
		})
	}
	if got := testutil.ToFloat64(n.Metrics.AuthFailures.WithLabelValues("auth")); got < 7 {
		t.Errorf("auth failures from CONNECT auth = %v, want ≥ 7", got)
	}
}

func TestOpenPacketAndHandshakeErrors(t *testing.T) {
	n := nodetest.Start(t, nodetest.Config{Server: server.Options{PingInterval: 1500 * time.Millisecond, PingTimeout: 1200 * time.Millisecond, MaxPayload: 50_000}})
	c := nodetest.Connect(t, n, "u1")
	if c.Open.PingInterval != 1500 || c.Open.PingTimeout != 1200 || c.Open.MaxPayload != 50_000 || len(c.Open.Upgrades) != 0 || c.Open.SID == "" {
		t.Fatalf("open packet = %+v", c.Open)
	}

	// A plain GET to the WebSocket transport (no upgrade) is a bad request.
	resp, err := http.Get(n.URL + "/socket.io/?EIO=4&transport=websocket")
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != 400 || body["code"] != float64(3) || body["message"] != "Bad request" {
		t.Fatalf("websocket without upgrade: %d %v", resp.StatusCode, body)
	}

	_, err = sioclient.Dial(context.Background(), n.URL, sioclient.Options{Token: nodetest.Token(t, "u2"), Namespace: "/admin"})
	var ce *sioclient.ConnectError
	if !errors.As(err, &ce) || ce.Message != "Invalid namespace" {
		t.Fatalf("namespace /admin: err = %v", err)
	}
}

func TestOriginAllowList(t *testing.T) {
	n := nodetest.Start(t, nodetest.Config{Server: server.Options{AllowedOrigins: []string{"https://app.example.com"}}})
	_, err := sioclient.Dial(context.Background(), n.URL, sioclient.Options{Token: nodetest.Token(t, "u1"), Origin: "https://evil.example.com"})
	var he *sioclient.HTTPError
	if !errors.As(err, &he) || he.Status != http.StatusForbidden {
		t.Fatalf("foreign origin: err = %v, want HTTP 403", err)
	}
	c, err := sioclient.Dial(context.Background(), n.URL, sioclient.Options{Token: nodetest.Token(t, "u1"), Origin: "https://app.example.com"})
	if err != nil {
		t.Fatalf("allowed origin: %v", err)
	}
	c.Close()
	c, err = sioclient.Dial(context.Background(), n.URL, sioclient.Options{Token: nodetest.Token(t, "u1")})
	if err != nil {
		t.Fatalf("no Origin header (non-browser client): %v", err)
	}
	c.Close()
}

// Cross-site WebSocket hijacking: a page on another site opens a socket to the node and
// the browser attaches the victim's token cookie. With an empty allow-list (a --dev node)
// this used to connect as the victim; now only the node's own origin may upgrade.
func TestCrossSiteHijackingWithAnEmptyAllowListIsRefused(t *testing.T) {
	n := nodetest.Start(t, nodetest.Config{})
	victim := sioclient.Options{Token: nodetest.Token(t, "victim"), TokenCookie: "access_token", Origin: "https://evil.example.com"}
	_, err := sioclient.Dial(context.Background(), n.URL, victim)
	var he *sioclient.HTTPError
	if !errors.As(err, &he) || he.Status != http.StatusForbidden {
		t.Fatalf("foreign origin with the victim's cookie: err = %v, want HTTP 403", err)
	}
	if got := testutil.ToFloat64(n.Metrics.AuthFailures.WithLabelValues("origin")); got != 1 {
		t.Errorf("auth_failures_total{reason=origin} = %v, want 1", got)
	}
	victim.Origin = n.URL // the demo page the node serves itself
	c, err := sioclient.Dial(context.Background(), n.URL, victim)
	if err != nil {
		t.Fatalf("same origin: %v", err)
	}
	c.Close()
	open := nodetest.Start(t, nodetest.Config{Server: server.Options{AllowedOrigins: []string{"*"}}})
	victim.Origin = "https://elsewhere.example"
	c, err = sioclient.Dial(context.Background(), open.URL, victim)
	if err != nil {
		t.Fatalf("allow-list * must allow any origin: %v", err)
	}
	c.Close()
}

// An event payload over hub.Options.MaxEventBytes is the hub's answer (signaling/hub);
// a frame over the transport's maxPayload closes the connection.
func TestFrameOverMaxPayloadClosesTheConnection(t *testing.T) {
	n := nodetest.Start(t, nodetest.Config{Hub: hub.Options{MaxEventBytes: 1024}, Server: server.Options{MaxPayload: 8192}})
	a := nodetest.Connect(t, n, "alice")
	join(t, a, "r1")
	_ = a.Emit("webrtc_offer", map[string]any{"to": "bob", "sdp": strings.Repeat("x", 10000)})
	select {
	case <-a.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("oversize frame did not close the connection")
	}
}

func TestMalformedFramesCloseOnlyThatConnection(t *testing.T) {
	n := nodetest.Start(t, nodetest.Config{})
	good := nodetest.Connect(t, n, "good")
	join(t, good, "r1")
	for _, frame := range []string{"x", "42[", `42{"a":1}`, "451-[\"x\"]"} {
		bad := nodetest.Connect(t, n, "bad")
		_ = bad.WriteRaw([]byte(frame))
		select {
		case <-bad.Done():
		case <-time.After(5 * time.Second):
			t.Fatalf("frame %q did not close the connection", frame)
		}
	}
	bin := nodetest.Connect(t, n, "bin")
	_ = bin.WriteBinary([]byte{1, 2, 3})
	select {
	case <-bin.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("binary frame did not close the connection")
	}
	if err := good.Call(nodetest.Ctx(t, 5*time.Second), "heartbeat", nil, nil); err != nil {
		t.Fatalf("other connection affected: %v", err)
	}
}

func TestPingTimeoutDisconnects(t *testing.T) {
	n := nodetest.Start(t, nodetest.Config{Server: server.Options{PingInterval: 100 * time.Millisecond, PingTimeout: 150 * time.Millisecond}})
	ok := nodetest.Connect(t, n, "ponger")
	silent, err := sioclient.Dial(context.Background(), n.URL, sioclient.Options{Token: nodetest.Token(t, "silent"), NoPong: true})
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	select {
	case <-silent.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("client that never pongs was not disconnected")
	}
	if got := testutil.ToFloat64(n.Metrics.Disconnects.WithLabelValues("ping_timeout")); got != 1 {
		t.Fatalf("ping_timeout disconnects = %v", got)
	}
	time.Sleep(400 * time.Millisecond)
	if err := ok.Call(nodetest.Ctx(t, 2*time.Second), "heartbeat", nil, nil); err != nil {
		t.Fatalf("client that pongs was disconnected: %v", err)
	}
}

func TestSlowConsumerIsDisconnectedAndRoomUnaffected(t *testing.T) {
	n := nodetest.Start(t, nodetest.Config{
		Hub:    hub.Options{EventRate: 100000, EventBurst: 100000, MaxChatLength: 8000},
		Server: server.Options{SendQueue: 64},
	})
	// The sender receives its own messages too; it discards them as fast as they come.
	sender, err := sioclient.Dial(context.Background(), n.URL, sioclient.Options{Token: nodetest.Token(t, "sender"), OnEvent: func(sioclient.Event) {}})
	if err != nil {
		t.Fatal(err)
	}
	defer sender.Close()
	var healthyGot atomic.Int64
	healthy, err := sioclient.Dial(context.Background(), n.URL, sioclient.Options{Token: nodetest.Token(t, "healthy"), OnEvent: func(ev sioclient.Event) {
		if ev.Name == "chat_message" {
			healthyGot.Add(1)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer healthy.Close()
	slow := dialNonReading(t, n.URL, "slow")
	join(t, sender, "r1")
	join(t, healthy, "r1")
	join(t, slow, "r1")

	const total = 3000
	content := strings.Repeat("m", 7000)
	ctx := nodetest.Ctx(t, 60*time.Second)
	for i := 0; i < total; i++ {
		// Waiting for each ack keeps the sender itself from being a slow consumer.
		if err := sender.Call(ctx, "chat_message", map[string]any{"content": content}, nil); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for healthyGot.Load() < total && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := healthyGot.Load(); got != total {
		t.Fatalf("healthy member got %d of %d messages", got, total)
	}
	if v := testutil.ToFloat64(n.Metrics.SlowConsumers); v != 1 {
		t.Fatalf("slow consumer disconnects = %v, want 1", v)
	}
}

// The transport maps its ends onto the hub's: a dropped connection keeps the user's place
// for the reconnection window, a Socket.IO DISCONNECT leaves at once (the window itself is
// tested in signaling/hub).
func TestTransportEndsReachTheHub(t *testing.T) {
	n := nodetest.Start(t, nodetest.Config{Hub: hub.Options{ReconnectWindow: 700 * time.Millisecond}})
	a := nodetest.Connect(t, n, "alice")
	join(t, a, "r1")
	b := nodetest.Connect(t, n, "bob")
	join(t, b, "r1")
	expectEvent(t, a, "user_joined")

	b.Close()
	expectNoEvent(t, a, "user_left", 300*time.Millisecond)
	if l := expectEvent(t, a, "user_left"); l["userId"] != "bob" || l["reason"] != "disconnected" {
		t.Fatalf("user_left = %v", l)
	}

	c := nodetest.Connect(t, n, "carol")
	join(t, c, "r1")
	expectEvent(t, a, "user_joined")
	c.Disconnect()
	if l := expectEvent(t, a, "user_left"); l["userId"] != "carol" || l["reason"] != "left" {
		t.Fatalf("user_left = %v", l)
	}
}

func TestHealthReadyMetrics(t *testing.T) {
	n := nodetest.Start(t, nodetest.Config{})
	for url, want := range map[string]int{n.URL + "/healthz": 200, n.URL + "/readyz": 200, n.URL + "/metrics": 404, n.MetricsURL + "/metrics": 200} {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s = %d, want %d", url, resp.StatusCode, want)
		}
	}
	c := nodetest.Connect(t, n, "alice")
	join(t, c, "r1")
	if got := testutil.ToFloat64(n.Metrics.Connections); got != 1 {
		t.Errorf("connections gauge = %v", got)
	}
	if got := testutil.ToFloat64(n.Metrics.EventsIn.WithLabelValues("join_room")); got != 1 {
		t.Errorf("join_room events = %v", got)
	}
	// A room fan-out counts one sent event per member reached.
	b := nodetest.Connect(t, n, "bob")
	join(t, b, "r1")
	expectEvent(t, c, "user_joined")
	if _, err := c.Request(context.Background(), "chat_message", map[string]any{"content": "hi"}); err != nil {
		t.Fatal(err)
	}
	expectEvent(t, c, "chat_message")
	expectEvent(t, b, "chat_message")
	if got := testutil.ToFloat64(n.Metrics.EventsOut.WithLabelValues("chat_message")); got != 2 {
		t.Errorf("chat_message events sent = %v, want 2 (one per member)", got)
	}
	n.Server.SetDraining(3 * time.Second)
	resp, _ := http.Get(n.URL + "/readyz")
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Errorf("/readyz while draining = %d", resp.StatusCode)
	}
	resp, _ = http.Get(n.URL + "/healthz")
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("/healthz while draining = %d", resp.StatusCode)
	}
	_, err := sioclient.Dial(context.Background(), n.URL, sioclient.Options{Token: nodetest.Token(t, "late")})
	var he *sioclient.HTTPError
	if !errors.As(err, &he) || he.Status != 503 || he.RetryAfter != "3" {
		t.Fatalf("upgrade while draining: %v", err)
	}
}

// dialNonReading connects user whose event handler blocks until the test ends: the client
// stops reading, so what the node sends it piles up in the node's send queue.
func dialNonReading(t *testing.T, url, user string) *sioclient.Client {
	t.Helper()
	block := make(chan struct{})
	c, err := sioclient.Dial(context.Background(), url, sioclient.Options{Token: nodetest.Token(t, user), OnEvent: func(sioclient.Event) { <-block }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { close(block); c.Close() })
	return c
}
