package server_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchboard-rtc/switchboard/internal/testutil/nodetest"
	"github.com/switchboard-rtc/switchboard/signaling/server"
	"github.com/switchboard-rtc/switchboard/signaling/sioclient"
)

func dialAs(t *testing.T, n *nodetest.Node, user string) (*sioclient.Client, error) {
	t.Helper()
	c, err := sioclient.Dial(context.Background(), n.URL, sioclient.Options{Token: nodetest.Token(t, user)})
	if err == nil {
		t.Cleanup(c.Close)
	}
	return c, err
}

func wantHTTPStatus(t *testing.T, err error, status int) {
	t.Helper()
	var he *sioclient.HTTPError
	if !errors.As(err, &he) || he.Status != status {
		t.Fatalf("dial: %v, want HTTP %d", err, status)
	}
}

// waitFor polls cond (a state the node reaches asynchronously) for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestMaxConnectionsRefusesUpgradesWith503AndStaysReady: a full node answers further
// upgrades with HTTP 503 before upgrading, unauthenticated sockets count too, /readyz
// stays ok, and a closed connection frees its slot.
func TestMaxConnectionsRefusesUpgradesWith503AndStaysReady(t *testing.T) {
	n := nodetest.Start(t, nodetest.Config{Server: server.Options{MaxConnections: 2}})
	a, err := dialAs(t, n, "alice")
	if err != nil {
		t.Fatal(err)
	}
	dialRaw(t, n, nil) // never authenticates, still holds a slot
	_, err = dialAs(t, n, "bob")
	wantHTTPStatus(t, err, http.StatusServiceUnavailable)
	if v := testutil.ToFloat64(n.Metrics.ConnectionsRefused.WithLabelValues("node_full")); v != 1 {
		t.Fatalf("node_full refusals = %v", v)
	}
	resp, err := http.Get(n.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/readyz of a full node = %d, want 200", resp.StatusCode)
	}
	a.Close()
	waitFor(t, "alice's slot to be free", func() bool {
		c, err := sioclient.Dial(context.Background(), n.URL, sioclient.Options{Token: nodetest.Token(t, "bob")})
		if err == nil {
			t.Cleanup(c.Close)
		}
		return err == nil
	})
}

// TestMaxConnectionsPerUserRefusesTheExtraConnect: a user's socket beyond the cap gets a
// connect_error "Too many connections" and is closed; other users connect.
func TestMaxConnectionsPerUserRefusesTheExtraConnect(t *testing.T) {
	n := nodetest.Start(t, nodetest.Config{Server: server.Options{MaxConnectionsPerUser: 2}})
	for i := 0; i < 2; i++ {
		if _, err := dialAs(t, n, "alice"); err != nil {
			t.Fatal(err)
		}
	}
	_, err := dialAs(t, n, "alice")
	var ce *sioclient.ConnectError
	if !errors.As(err, &ce) || ce.Message != "Too many connections" {
		t.Fatalf("3rd socket of alice: %v, want connect_error \"Too many connections\"", err)
	}
	if _, err := dialAs(t, n, "bob"); err != nil {
		t.Fatalf("bob: %v", err)
	}
	if v := testutil.ToFloat64(n.Metrics.ConnectionsRefused.WithLabelValues("user_limit")); v != 1 {
		t.Fatalf("user_limit refusals = %v", v)
	}
}

// TestMaxConnectionsPerIPCountsThePeerUnlessAProxyIsTrusted: connections from one peer
// address are capped (HTTP 429); X-Forwarded-For is ignored from an untrusted peer and
// names the client when the peer is a trusted proxy.
func TestMaxConnectionsPerIPCountsThePeerUnlessAProxyIsTrusted(t *testing.T) {
	xff := func(ip string) http.Header { return http.Header{"X-Forwarded-For": {ip}} }
	dialXFF := func(n *nodetest.Node, ip string) error {
		ws, resp, err := websocketDial(n, xff(ip))
		if err == nil {
			t.Cleanup(func() { ws.Close() })
			return nil
		}
		if resp != nil {
			return &sioclient.HTTPError{Status: resp.StatusCode}
		}
		return err
	}

	untrusted := nodetest.Start(t, nodetest.Config{Server: server.Options{MaxConnectionsPerIP: 2}})
	for i, ip := range []string{"203.0.113.1", "203.0.113.2"} {
		if err := dialXFF(untrusted, ip); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
	}
	// A spoofed header from an untrusted peer does not buy a fresh budget.
	wantHTTPStatus(t, dialXFF(untrusted, "203.0.113.3"), http.StatusTooManyRequests)

	trusted := nodetest.Start(t, nodetest.Config{Server: server.Options{MaxConnectionsPerIP: 2,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}})
	for i, ip := range []string{"203.0.113.1", "203.0.113.1", "203.0.113.2", "198.51.100.7, 203.0.113.2"} {
		if err := dialXFF(trusted, ip); err != nil {
			t.Fatalf("connection %d (%s): %v", i, ip, err)
		}
	}
	wantHTTPStatus(t, dialXFF(trusted, "203.0.113.1"), http.StatusTooManyRequests)
	// The client's own claim left of the proxy's entry does not count.
	wantHTTPStatus(t, dialXFF(trusted, "192.0.2.9, 203.0.113.2"), http.StatusTooManyRequests)
	if v := testutil.ToFloat64(trusted.Metrics.ConnectionsRefused.WithLabelValues("ip_limit")); v != 2 {
		t.Fatalf("ip_limit refusals = %v", v)
	}
}

// TestHTTPServerTimeoutsCloseSlowAndIdleClients: a client trickling its request headers
// and a keep-alive connection left idle are both cut off.
func TestHTTPServerTimeoutsCloseSlowAndIdleClients(t *testing.T) {
	srv := server.NewHTTPServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }),
		server.HTTPTimeouts{ReadHeader: 200 * time.Millisecond, Idle: 200 * time.Millisecond})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	slow, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	_, _ = io.WriteString(slow, "GET / HTTP/1.1\r\nHost: x\r\n")
	expectClosed(t, slow)

	idle, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	_, _ = io.WriteString(idle, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	buf := make([]byte, 4096)
	_ = idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := idle.Read(buf); err != nil || !strings.Contains(string(buf[:n]), "200 OK") {
		t.Fatalf("response %q, %v", buf[:n], err)
	}
	expectClosed(t, idle)

	def := server.NewHTTPServer(http.NotFoundHandler(), server.HTTPTimeouts{})
	if def.ReadHeaderTimeout <= 0 || def.IdleTimeout <= 0 {
		t.Fatalf("default timeouts: header %v, idle %v", def.ReadHeaderTimeout, def.IdleTimeout)
	}
}

// expectClosed fails unless the server closes conn within 5 s (the 408 net/http may
// write first is read and ignored).
func expectClosed(t *testing.T, conn net.Conn) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	for {
		if _, err := conn.Read(buf); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("connection still open")
			}
			return
		}
	}
}
