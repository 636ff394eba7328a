package auth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// jwksServer is a real HTTPS JWKS endpoint whose key set, and whether it answers, the test
// changes; it counts the fetches.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	keys    map[string]*rsa.PublicKey
	down    bool
	fetches atomic.Int32
}

func newJWKSServer(t *testing.T, keys map[string]*rsa.PublicKey) *jwksServer {
	s := &jwksServer{keys: keys}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.down {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		var set []map[string]string
		for kid, k := range s.keys {
			set = append(set, map[string]string{"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
				"n": base64.RawURLEncoding.EncodeToString(k.N.Bytes()),
				"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.E)).Bytes())})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": set})
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(keys map[string]*rsa.PublicKey, down bool) {
	s.mu.Lock()
	s.keys, s.down = keys, down
	s.mu.Unlock()
}

// waitFetches waits until the server has answered n more fetches than before, so that a
// whole refresh after a change has happened.
func (s *jwksServer) waitFetches(t *testing.T, n int32) {
	t.Helper()
	target := s.fetches.Load() + n
	deadline := time.Now().Add(10 * time.Second)
	for s.fetches.Load() < target {
		if time.Now().After(deadline) {
			t.Fatalf("JWKS fetched %d times, waited for %d", s.fetches.Load(), target)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The fetch counted above may still be decoding: one more makes it complete.
	target++
	for s.fetches.Load() < target {
		if time.Now().After(deadline) {
			t.Fatalf("JWKS fetched %d times, waited for %d", s.fetches.Load(), target)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func newJWKSVerifier(t *testing.T, srv *jwksServer, o JWKSOptions) *Verifier {
	t.Helper()
	o.URL = srv.URL
	o.Client = srv.Client()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	j, err := NewJWKS(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(Config{JWKS: j})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func signKid(t *testing.T, k *rsa.PrivateKey, kid string) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"sub": "u1", "exp": time.Now().Add(time.Hour).Unix()})
	tok.Header["kid"] = kid
	s, err := tok.SignedString(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestJWKSRotationAddsAKeyWithinOneRefresh(t *testing.T) {
	k1, k2 := testKeys.Private, mustKeys().Private
	srv := newJWKSServer(t, map[string]*rsa.PublicKey{"k1": &k1.PublicKey})
	// Unknown kids trigger no fetch here: the background refresh alone must pick k2 up.
	v := newJWKSVerifier(t, srv, JWKSOptions{RefreshInterval: 50 * time.Millisecond, UnknownKIDInterval: -1})
	if _, err := v.Verify(signKid(t, k1, "k1")); err != nil {
		t.Fatalf("k1: %v", err)
	}
	if _, err := v.Verify(signKid(t, k2, "k2")); err == nil {
		t.Fatal("k2 accepted before it was published")
	}
	srv.set(map[string]*rsa.PublicKey{"k1": &k1.PublicKey, "k2": &k2.PublicKey}, false)
	srv.waitFetches(t, 1)
	if _, err := v.Verify(signKid(t, k2, "k2")); err != nil {
		t.Fatalf("k2 after one refresh: %v", err)
	}
	if _, err := v.Verify(signKid(t, k2, "k1")); err == nil {
		t.Fatal("k2's signature accepted under kid k1")
	}
}

func TestJWKSRotationRemovesAKeyWithinOneRefresh(t *testing.T) {
	k1, k2 := testKeys.Private, mustKeys().Private
	srv := newJWKSServer(t, map[string]*rsa.PublicKey{"k1": &k1.PublicKey, "k2": &k2.PublicKey})
	v := newJWKSVerifier(t, srv, JWKSOptions{RefreshInterval: 50 * time.Millisecond, UnknownKIDInterval: time.Hour})
	old := signKid(t, k1, "k1")
	if _, err := v.Verify(old); err != nil {
		t.Fatalf("k1: %v", err)
	}
	srv.set(map[string]*rsa.PublicKey{"k2": &k2.PublicKey}, false)
	srv.waitFetches(t, 1)
	if _, err := v.Verify(old); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("token of the removed key k1 after one refresh: err = %v, want refused", err)
	}
	if _, err := v.Verify(signKid(t, k2, "k2")); err != nil {
		t.Fatalf("k2: %v", err)
	}
}

// A JWKS that is down when the node starts: the node starts, tokens are refused at once
// (no CONNECT waits on the JWKS), unknown kids cause at most one fetch per interval, and
// tokens verify again once the JWKS answers.
func TestJWKSDownAtStart(t *testing.T) {
	k1 := testKeys.Private
	srv := newJWKSServer(t, nil)
	srv.set(map[string]*rsa.PublicKey{"k1": &k1.PublicKey}, true)
	v := newJWKSVerifier(t, srv, JWKSOptions{RefreshInterval: time.Hour, UnknownKIDInterval: time.Hour})
	atStart := srv.fetches.Load() // the first fetch, which failed
	tok := signKid(t, k1, "k1")
	for range 20 {
		if _, err := v.Verify(tok); !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("JWKS down: err = %v, want refused", err)
		}
	}
	if got := srv.fetches.Load() - atStart; got != 1 {
		t.Fatalf("20 CONNECTs with an unknown kid caused %d fetches, want 1 per interval", got)
	}

	// Recovery: the background refresh finds the JWKS back.
	srv2 := newJWKSServer(t, nil)
	srv2.set(map[string]*rsa.PublicKey{"k1": &k1.PublicKey}, true)
	v2 := newJWKSVerifier(t, srv2, JWKSOptions{RefreshInterval: 50 * time.Millisecond, UnknownKIDInterval: time.Hour})
	if _, err := v2.Verify(tok); err == nil {
		t.Fatal("accepted while the JWKS is down")
	}
	srv2.set(map[string]*rsa.PublicKey{"k1": &k1.PublicKey}, false)
	srv2.waitFetches(t, 1)
	if _, err := v2.Verify(tok); err != nil {
		t.Fatalf("after the JWKS came back: %v", err)
	}
	// A failed fetch later keeps the last good set.
	srv2.set(nil, true)
	srv2.waitFetches(t, 1)
	if _, err := v2.Verify(tok); err != nil {
		t.Fatalf("JWKS down again: the last good set must stay: %v", err)
	}
}

func TestJWKSRefusesSmallRSAKeys(t *testing.T) {
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	srv := newJWKSServer(t, map[string]*rsa.PublicKey{"small": &small.PublicKey, "k1": &testKeys.Private.PublicKey})
	v := newJWKSVerifier(t, srv, JWKSOptions{})
	if _, err := v.Verify(signKid(t, small, "small")); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("token of a 1024-bit JWKS key: err = %v, want refused", err)
	}
	if _, err := v.Verify(signKid(t, testKeys.Private, "k1")); err != nil {
		t.Fatalf("2048-bit key beside it: %v", err)
	}
	// Without kid, the 1024-bit key is not among the candidates either.
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"sub": "u1", "exp": time.Now().Add(time.Hour).Unix()})
	noKid, _ := tok.SignedString(small)
	if _, err := v.Verify(noKid); err == nil {
		t.Fatal("kid-less token of the 1024-bit key accepted")
	}
}

func TestJWKSRefusesARedirectToHTTP(t *testing.T) {
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("the http:// JWKS was fetched")
	}))
	defer plain.Close()
	var redirects atomic.Int32
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		redirects.Add(1)
		http.Redirect(w, r, plain.URL+"/jwks.json", http.StatusFound)
	}))
	defer tlsSrv.Close()
	j, err := NewJWKS(context.Background(), JWKSOptions{URL: tlsSrv.URL, Client: tlsSrv.Client(), UnknownKIDInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	v, _ := NewVerifier(Config{JWKS: j})
	if _, err := v.Verify(signKid(t, testKeys.Private, "k1")); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("err = %v, want refused", err)
	}
	if redirects.Load() == 0 {
		t.Fatal("the https JWKS was never asked")
	}
}

func TestJWKSURLMustBeHTTPS(t *testing.T) {
	for _, u := range []string{"http://idp.example/jwks", "idp.example/jwks", "ftp://idp.example/jwks"} {
		if _, err := NewJWKS(context.Background(), JWKSOptions{URL: u}); err == nil {
			t.Errorf("%s accepted", u)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := NewJWKS(ctx, JWKSOptions{URL: "http://127.0.0.1:1/jwks", AllowHTTP: true, HTTPTimeout: 100 * time.Millisecond}); err != nil {
		t.Errorf("http with AllowHTTP (--dev): %v", err)
	}
}
