package auth

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/switchboard-rtc/switchboard/internal/testutil/redisserver"
)

func TestCheckerRefusesRevokedTokensFromRedis(t *testing.T) {
	rs := redisserver.Start(t, redisserver.Options{})
	rdb := rs.Client()
	ctx := context.Background()
	v, err := NewVerifier(Config{PublicKey: &testKeys.Private.PublicKey})
	if err != nil {
		t.Fatal(err)
	}
	c := Checker{Verifier: v, Revocations: RedisRevocations{Client: rdb}}
	tok := func(jti string) string {
		claims := jwt.MapClaims{"sub": "u1", "exp": time.Now().Add(time.Hour).Unix()}
		if jti != "" {
			claims["jti"] = jti
		}
		return sign(t, jwt.SigningMethodRS256, testKeys.Private, claims)
	}
	if _, err := c.Check(ctx, tok("t1")); err != nil {
		t.Fatalf("unrevoked token: %v", err)
	}
	if err := rdb.Set(ctx, RevokedKey("t1"), 1, time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Check(ctx, tok("t1")); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("revoked token: %v, want ErrUnauthenticated", err)
	}
	if _, err := c.Check(ctx, tok("t2")); err != nil {
		t.Fatalf("another token: %v", err)
	}
	if _, err := c.Check(ctx, tok("")); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("token without jti under revocation: %v, want refused", err)
	}
	rs.Kill()
	down, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if _, err := c.Check(down, tok("t2")); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("Redis down: %v, want refused (fail closed)", err)
	}
	// Without a list, nothing is looked up.
	if _, err := (Checker{Verifier: v}).Check(ctx, tok("")); err != nil {
		t.Fatalf("revocation off: %v", err)
	}
}
