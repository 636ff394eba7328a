package auth

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var testKeys = mustKeys()

func mustKeys() *DevKeys {
	k, err := NewDevKeys()
	if err != nil {
		panic(err)
	}
	return k
}

func sign(t *testing.T, m jwt.SigningMethod, key any, c jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, c).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVerifyMatrix(t *testing.T) {
	other := mustKeys()
	pub, err := ParsePublicKeyPEM(testKeys.PublicPEM())
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(Config{PublicKey: pub, Issuer: "https://auth.example", Audience: "switchboard"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	good := func() jwt.MapClaims {
		return jwt.MapClaims{"sub": "u1", "name": "Ada", "exp": now.Add(time.Hour).Unix(), "iss": "https://auth.example", "aud": "switchboard"}
	}
	with := func(k string, val any) jwt.MapClaims {
		c := good()
		if val == nil {
			delete(c, k)
		} else {
			c[k] = val
		}
		return c
	}
	noneToken := func() string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodNone, good()).SignedString(jwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tests := []struct {
		name   string
		token  string
		wantOK bool
	}{
		{"valid", sign(t, jwt.SigningMethodRS256, testKeys.Private, good()), true},
		{"empty", "", false},
		{"garbage", "not.a.jwt", false},
		{"bad signature (other key)", sign(t, jwt.SigningMethodRS256, other.Private, good()), false},
		{"HS256 signed with the public key bytes", sign(t, jwt.SigningMethodHS256, testKeys.PublicPEM(), good()), false},
		{"alg none", noneToken(), false},
		{"RS512 not allowed", sign(t, jwt.SigningMethodRS512, testKeys.Private, good()), false},
		{"expired", sign(t, jwt.SigningMethodRS256, testKeys.Private, with("exp", now.Add(-time.Minute).Unix())), false},
		{"missing exp", sign(t, jwt.SigningMethodRS256, testKeys.Private, with("exp", nil)), false},
		{"nbf in the future", sign(t, jwt.SigningMethodRS256, testKeys.Private, with("nbf", now.Add(time.Hour).Unix())), false},
		{"wrong issuer", sign(t, jwt.SigningMethodRS256, testKeys.Private, with("iss", "https://evil.example")), false},
		{"missing issuer", sign(t, jwt.SigningMethodRS256, testKeys.Private, with("iss", nil)), false},
		{"wrong audience", sign(t, jwt.SigningMethodRS256, testKeys.Private, with("aud", "other")), false},
		{"missing sub", sign(t, jwt.SigningMethodRS256, testKeys.Private, with("sub", nil)), false},
		{"empty sub", sign(t, jwt.SigningMethodRS256, testKeys.Private, with("sub", "")), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := v.Verify(tt.token)
			if tt.wantOK {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if id.UserID != "u1" || id.Name != "Ada" {
					t.Fatalf("identity = %+v", id)
				}
				return
			}
			if !errors.Is(err, ErrUnauthenticated) {
				t.Fatalf("Verify err = %v, want ErrUnauthenticated", err)
			}
		})
	}
}

func TestNameDefaultsToSubject(t *testing.T) {
	v, _ := NewVerifier(Config{PublicKey: &testKeys.Private.PublicKey})
	tok, _ := testKeys.Token("u9", "", time.Minute, nil)
	id, err := v.Verify(tok)
	if err != nil || id.Name != "u9" {
		t.Fatalf("id=%+v err=%v", id, err)
	}
}

func TestCredentialsPrecedence(t *testing.T) {
	r := httptest.NewRequest("GET", "/socket.io/", nil)
	r.AddCookie(&http.Cookie{Name: "access_token", Value: "from-cookie"})
	r.Header.Set("Authorization", "Bearer from-header")
	c := FromRequest(r, "access_token")
	c.Auth = "from-auth"
	if tok, src := c.Token(); tok != "from-cookie" || src != "cookie" {
		t.Fatalf("got %s from %s", tok, src)
	}
	c.Cookie = ""
	if tok, _ := c.Token(); tok != "from-auth" {
		t.Fatalf("got %s", tok)
	}
	c.Auth = ""
	if tok, _ := c.Token(); tok != "from-header" {
		t.Fatalf("got %s", tok)
	}
	if c2 := FromRequest(httptest.NewRequest("GET", "/", nil), "access_token"); c2 != (Credentials{}) {
		t.Fatalf("empty request gave %+v", c2)
	}
}
