// Package auth verifies the RS256 JWTs that clients present (docs/protocol.md §Authentication).
//
// Only RS256 is accepted (never "none", never HMAC — an HS256 token "signed" with the
// public key's bytes is a classic confusion attack). `exp` and `sub` are required;
// `iss` and `aud` are checked when configured. An optional `rooms` claim limits the rooms
// its holder may join (grants.go). Keys come from a PEM file and, optionally,
// a JWKS URL whose keys are selected by `kid` and refreshed on rotation.
package auth

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ErrUnauthenticated is wrapped by every verification failure. The client is only ever
// told "Authentication error"; the wrapped detail is for the server log.
var ErrUnauthenticated = errors.New("unauthenticated")

// Identity is who a verified token names.
type Identity struct {
	UserID    string
	Name      string
	ExpiresAt time.Time
	Rooms     RoomGrant // the `rooms` claim (zero: the token has none)
	TokenID   string    // `jti`, the handle for revocation ("" when absent)
}

// Config configures a Verifier.
type Config struct {
	PublicKey *rsa.PublicKey // static key; may be nil when JWKS is set
	JWKS      *JWKS          // optional key set selected by kid
	Issuer    string         // required iss when non-empty
	Audience  string         // required aud when non-empty
	Leeway    time.Duration  // clock skew allowance for exp/nbf/iat
	// VerifiedTokens bounds the tokens remembered as verified until their exp
	// (verifycache.go); 0 means DefaultVerifiedTokens, negative turns remembering off.
	// Only tokens verified with PublicKey are remembered: a JWKS may withdraw a key.
	VerifiedTokens int
}

// Verifier checks tokens.
type Verifier struct {
	cfg      Config
	parser   *jwt.Parser
	verified *verifiedTokens
	clock    func() time.Time // time.Now; tests move it
	// rsaChecks counts full verifications (tests tell remembered tokens by it).
	rsaChecks atomic.Int64
}

// NewVerifier returns a verifier; it needs at least one key source.
func NewVerifier(cfg Config) (*Verifier, error) {
	if cfg.PublicKey == nil && cfg.JWKS == nil {
		return nil, errors.New("auth: a public key or a JWKS URL is required")
	}
	size := cfg.VerifiedTokens
	if size == 0 {
		size = DefaultVerifiedTokens
	}
	v := &Verifier{cfg: cfg, verified: newVerifiedTokens(size), clock: time.Now}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{jwt.SigningMethodRS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithTimeFunc(func() time.Time { return v.clock() }),
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	v.parser = jwt.NewParser(opts...)
	return v, nil
}

type claims struct {
	jwt.RegisteredClaims
	Name  string     `json:"name,omitempty"`
	Rooms roomsClaim `json:"rooms"`
}

// Verify checks token and returns the identity it names. A token verified before with
// the static key is not verified again until its exp (verifycache.go).
func (v *Verifier) Verify(token string) (Identity, error) {
	if token == "" {
		return Identity{}, fmt.Errorf("%w: no token", ErrUnauthenticated)
	}
	key := tokenKey(token)
	if id, ok := v.verified.get(key, v.clock()); ok {
		return id, nil
	}
	id, static, err := v.verify(token)
	if err == nil && static {
		v.verified.put(key, id, v.clock())
	}
	return id, err
}

// verify checks token in full; static reports whether the static key verified it.
func (v *Verifier) verify(token string) (id Identity, static bool, err error) {
	v.rsaChecks.Add(1)
	var c claims
	_, err = v.parser.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		k, err := v.keyFor(t)
		static = err == nil && k == any(v.cfg.PublicKey)
		return k, err
	})
	if err != nil {
		return Identity{}, false, fmt.Errorf("%w: %v", ErrUnauthenticated, err)
	}
	if c.Subject == "" {
		return Identity{}, false, fmt.Errorf("%w: token has no sub", ErrUnauthenticated)
	}
	id = Identity{UserID: c.Subject, Name: c.Name, Rooms: c.Rooms.grant, TokenID: c.ID}
	if id.Name == "" {
		id.Name = c.Subject
	}
	if c.ExpiresAt != nil {
		id.ExpiresAt = c.ExpiresAt.Time
	}
	return id, static, nil
}

func (v *Verifier) keyFor(t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	if v.cfg.JWKS != nil && (kid != "" || v.cfg.PublicKey == nil) {
		return v.cfg.JWKS.key(t)
	}
	return v.cfg.PublicKey, nil
}

// Credentials are the token sources of one connection attempt, in precedence order.
type Credentials struct {
	Cookie string // from the configured cookie
	Auth   string // from the CONNECT packet's auth object {"token": …}
	Header string // from Authorization: Bearer …
}

// Token returns the first token found: cookie, then CONNECT auth, then header.
func (c Credentials) Token() (token, source string) {
	switch {
	case c.Cookie != "":
		return c.Cookie, "cookie"
	case c.Auth != "":
		return c.Auth, "auth"
	case c.Header != "":
		return c.Header, "header"
	}
	return "", "none"
}

// FromRequest reads the cookie and Authorization header of the upgrade request.
func FromRequest(r *http.Request, cookieName string) Credentials {
	var c Credentials
	if ck, err := r.Cookie(cookieName); err == nil {
		c.Cookie = ck.Value
	}
	if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		c.Header = strings.TrimSpace(h[7:])
	}
	return c
}
