package server

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// TestConnLogCarriesTheConnectionsAttributes: a connection's messages carry its
// attributes, including ones added later; messages below the level are dropped.
func TestConnLogCarriesTheConnectionsAttributes(t *testing.T) {
	var out bytes.Buffer
	base := slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelInfo}))
	l := newConnLog(base, "sid", "s1", "remote", "10.0.0.1:5")
	other := l.With("user", "bob")
	l = l.With("user", "alice")
	l.Debug("dropped")
	l.Info("authentication failed", "source", "auth")
	other.Info("for bob")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("logged %q, want two lines", out.String())
	}
	for _, want := range []string{"sid=s1", "remote=10.0.0.1:5", "user=alice", "source=auth", `msg="authentication failed"`} {
		if !strings.Contains(lines[0], want) {
			t.Fatalf("line %q lacks %s", lines[0], want)
		}
	}
	if !strings.Contains(lines[1], "user=bob") || strings.Contains(lines[1], "alice") {
		t.Fatalf("a logger made With another user shares attributes: %q", lines[1])
	}
}
