package test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/testutil/nodetest"
	"github.com/switchboard-rtc/switchboard/internal/testutil/redisserver"
	"github.com/switchboard-rtc/switchboard/signaling/auth"
	"github.com/switchboard-rtc/switchboard/signaling/config"
	"github.com/switchboard-rtc/switchboard/signaling/sioclient"
	"github.com/switchboard-rtc/switchboard/signaling/vocab"
)

// TestRevokedTokenIsRefusedAtConnectAndRefresh: with --revocation, a token whose jti has a
// revoked:{jti} key in Redis neither connects nor refreshes a session; others do.
func TestRevokedTokenIsRefusedAtConnectAndRefresh(t *testing.T) {
	rs := redisserver.Start(t, redisserver.Options{})
	n := nodetest.Start(t, nodetest.Config{RedisURL: rs.URL(), Node: config.Config{Revocation: true}})
	waitReady(t, n, 10*time.Second)
	ctx := context.Background()
	tok := func(jti string) string {
		extra := map[string]any{}
		if jti != "" {
			extra["jti"] = jti
		}
		s, err := nodetest.Keys().Token("alice", "Alice", time.Hour, extra)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	dial := func(token string) (*sioclient.Client, error) {
		c, err := sioclient.Dial(nodetest.Ctx(t, 5*time.Second), n.URL, sioclient.Options{Token: token})
		if err == nil {
			t.Cleanup(c.Close)
		}
		return c, err
	}
	if err := rs.Client().Set(ctx, auth.RevokedKey("banned"), 1, time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	var ce *sioclient.ConnectError
	if _, err := dial(tok("banned")); !errors.As(err, &ce) || ce.Message != "Authentication error" {
		t.Fatalf("CONNECT with a revoked token: %v, want Authentication error", err)
	}
	if _, err := dial(tok("")); !errors.As(err, &ce) {
		t.Fatalf("CONNECT with a token without jti: %v, want Authentication error", err)
	}
	c, err := dial(tok("good"))
	if err != nil {
		t.Fatalf("CONNECT with an unrevoked token: %v", err)
	}
	err = c.Call(nodetest.Ctx(t, 5*time.Second), "refresh_token", map[string]string{"token": tok("banned")}, nil)
	var ae *sioclient.AckError
	if !errors.As(err, &ae) || ae.Code != vocab.CodeForbidden {
		t.Fatalf("refresh with a revoked token: %v, want forbidden", err)
	}
	if err := c.Call(nodetest.Ctx(t, 5*time.Second), "refresh_token", map[string]string{"token": tok("fresh")}, nil); err != nil {
		t.Fatalf("refresh with an unrevoked token: %v", err)
	}
}
