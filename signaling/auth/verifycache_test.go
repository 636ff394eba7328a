package auth

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// revokedSet is a revocation list in memory.
type revokedSet map[string]bool

func (r revokedSet) Revoked(_ context.Context, jti string) (bool, error) { return r[jti], nil }

func cachingVerifier(t *testing.T, size int) *Verifier {
	t.Helper()
	v, err := NewVerifier(Config{PublicKey: &testKeys.Private.PublicKey, VerifiedTokens: size})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestVerifiedTokenIsRememberedUntilItsExp: a token presented again is not verified in
// full again while it is valid, and is refused once its exp has passed.
func TestVerifiedTokenIsRememberedUntilItsExp(t *testing.T) {
	v := cachingVerifier(t, 0)
	now := time.Now()
	v.clock = func() time.Time { return now }
	exp := now.Add(time.Hour).Truncate(time.Second)
	tok := sign(t, jwt.SigningMethodRS256, testKeys.Private, jwt.MapClaims{"sub": "u1", "name": "Ada", "exp": exp.Unix(), "rooms": []string{"r1"}})
	first, err := v.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	again, err := v.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if n := v.rsaChecks.Load(); n != 1 {
		t.Fatalf("%d full verifications for one token presented twice, want 1", n)
	}
	if again.UserID != "u1" || again.Name != "Ada" || !again.ExpiresAt.Equal(exp) || !again.Rooms.Allows("r1") || again.Rooms.Allows("r2") {
		t.Fatalf("remembered identity %+v differs from the verified one %+v", again, first)
	}
	now = exp
	if _, err := v.Verify(tok); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("token at its exp: %v, want refused", err)
	}
	now = exp.Add(-time.Minute) // a clock that went back does not revive a dropped entry
	if _, err := v.Verify(tok); err != nil {
		t.Fatal(err)
	}
	if n := v.rsaChecks.Load(); n != 3 {
		t.Fatalf("%d full verifications, want 3 (the expired token and the one after it were verified in full)", n)
	}
}

// TestRememberedTokenIsRefusedOnceRevoked: remembering a verification never skips the
// revocation list.
func TestRememberedTokenIsRefusedOnceRevoked(t *testing.T) {
	v := cachingVerifier(t, 0)
	revoked := revokedSet{}
	c := Checker{Verifier: v, Revocations: revoked}
	tok := sign(t, jwt.SigningMethodRS256, testKeys.Private, jwt.MapClaims{"sub": "u1", "jti": "t1", "exp": time.Now().Add(time.Hour).Unix()})
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if _, err := c.Check(ctx, tok); err != nil {
			t.Fatalf("check %d: %v", i, err)
		}
	}
	revoked["t1"] = true
	if _, err := c.Check(ctx, tok); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("revoked remembered token: %v, want refused", err)
	}
	if n := v.rsaChecks.Load(); n != 1 {
		t.Fatalf("%d full verifications, want 1", n)
	}
}

// TestTamperedTokenIsNotTakenForARememberedOne: only the exact token is remembered.
func TestTamperedTokenIsNotTakenForARememberedOne(t *testing.T) {
	v := cachingVerifier(t, 0)
	tok := sign(t, jwt.SigningMethodRS256, testKeys.Private, jwt.MapClaims{"sub": "u1", "exp": time.Now().Add(time.Hour).Unix()})
	if _, err := v.Verify(tok); err != nil {
		t.Fatal(err)
	}
	last := tok[len(tok)-2]
	flipped := byte('A')
	if last == 'A' {
		flipped = 'B'
	}
	tampered := tok[:len(tok)-2] + string(flipped) + tok[len(tok)-1:]
	if _, err := v.Verify(tampered); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("tampered signature: %v, want refused", err)
	}
	if _, err := v.Verify(tok); err != nil {
		t.Fatalf("the original after a tampered copy: %v", err)
	}
}

// TestVerifiedTokensAreBounded: the cache never holds more than its size; tokens it
// dropped still verify (in full), and expired entries go before live ones.
func TestVerifiedTokensAreBounded(t *testing.T) {
	v := cachingVerifier(t, 4)
	now := time.Now()
	v.clock = func() time.Time { return now }
	short := sign(t, jwt.SigningMethodRS256, testKeys.Private, jwt.MapClaims{"sub": "short", "exp": now.Add(time.Minute).Unix()})
	if _, err := v.Verify(short); err != nil {
		t.Fatal(err)
	}
	var toks []string
	for i := 0; i < 3; i++ {
		toks = append(toks, sign(t, jwt.SigningMethodRS256, testKeys.Private, jwt.MapClaims{"sub": fmt.Sprint("u", i), "exp": now.Add(time.Hour).Unix()}))
		if _, err := v.Verify(toks[i]); err != nil {
			t.Fatal(err)
		}
	}
	now = now.Add(2 * time.Minute) // short expired; the cache is full
	late := sign(t, jwt.SigningMethodRS256, testKeys.Private, jwt.MapClaims{"sub": "late", "exp": now.Add(time.Hour).Unix()})
	if _, err := v.Verify(late); err != nil {
		t.Fatal(err)
	}
	before := v.rsaChecks.Load()
	for _, tok := range toks {
		if _, err := v.Verify(tok); err != nil {
			t.Fatal(err)
		}
	}
	if n := v.rsaChecks.Load() - before; n != 0 {
		t.Fatalf("%d live tokens verified in full again: the expired entry should have made room", n)
	}
	for i := 0; i < 20; i++ {
		tok := sign(t, jwt.SigningMethodRS256, testKeys.Private, jwt.MapClaims{"sub": fmt.Sprint("more", i), "exp": now.Add(time.Hour).Unix()})
		if _, err := v.Verify(tok); err != nil {
			t.Fatal(err)
		}
		if n := v.verified.len(); n > 4 {
			t.Fatalf("%d tokens remembered, bound 4", n)
		}
	}
	if _, err := v.Verify(toks[0]); err != nil {
		t.Fatalf("a dropped token: %v", err)
	}
}

// TestRememberingCanBeTurnedOff: a negative size verifies every time.
func TestRememberingCanBeTurnedOff(t *testing.T) {
	v := cachingVerifier(t, -1)
	tok := sign(t, jwt.SigningMethodRS256, testKeys.Private, jwt.MapClaims{"sub": "u1", "exp": time.Now().Add(time.Hour).Unix()})
	for i := 0; i < 2; i++ {
		if _, err := v.Verify(tok); err != nil {
			t.Fatal(err)
		}
	}
	if n := v.rsaChecks.Load(); n != 2 {
		t.Fatalf("%d full verifications, want 2", n)
	}
}

func BenchmarkVerifyRS256(b *testing.B) {
	for _, tc := range []struct {
		name string
		size int
	}{{"full", -1}, {"remembered", 0}} {
		b.Run(tc.name, func(b *testing.B) {
			v, err := NewVerifier(Config{PublicKey: &testKeys.Private.PublicKey, VerifiedTokens: tc.size})
			if err != nil {
				b.Fatal(err)
			}
			tok, err := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"sub": "u1", "exp": time.Now().Add(time.Hour).Unix()}).SignedString(testKeys.Private)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
