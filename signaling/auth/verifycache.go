package auth

import (
	"crypto/sha256"
	"sync"
	"time"
)

// DefaultVerifiedTokens is how many verified tokens a Verifier remembers by default: about
// one per connection a node holds.
const DefaultVerifiedTokens = 20_000

// verifiedTokens remembers the identities of tokens whose RS256 signature and claims were
// verified, until each token's `exp`, so that a token presented again (a reconnect, a
// polling session's next request, the same user's next tab) costs a hash instead of an RSA
// verification. It is bounded; a full cache first drops expired entries, then arbitrary
// ones. Only what Verify would decide again the same way is remembered: the signature, the
// issuer, the audience and `nbf` cannot change for a given token, and `exp` is checked on
// every hit (without the leeway: past `exp` the token is verified in full again).
// Revocation is not remembered: Checker asks the revocation list on every check.
type verifiedTokens struct {
	max int

	mu      sync.Mutex
	entries map[[sha256.Size]byte]Identity
}

func newVerifiedTokens(max int) *verifiedTokens {
	if max <= 0 {
		return nil
	}
	return &verifiedTokens{max: max, entries: map[[sha256.Size]byte]Identity{}}
}

func tokenKey(token string) [sha256.Size]byte { return sha256.Sum256([]byte(token)) }

// get returns the identity of a remembered token that has not expired at now.
func (c *verifiedTokens) get(key [sha256.Size]byte, now time.Time) (Identity, bool) {
	if c == nil {
		return Identity{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	id, ok := c.entries[key]
	if !ok {
		return Identity{}, false
	}
	if !now.Before(id.ExpiresAt) {
		delete(c.entries, key)
		return Identity{}, false
	}
	return id, true
}

// put remembers a verified token's identity (one without `exp` is never remembered).
func (c *verifiedTokens) put(key [sha256.Size]byte, id Identity, now time.Time) {
	if c == nil || id.ExpiresAt.IsZero() || !now.Before(id.ExpiresAt) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		for k, e := range c.entries {
			if !now.Before(e.ExpiresAt) {
				delete(c.entries, k)
			}
		}
		for k := range c.entries {
			if len(c.entries) < c.max {
				break
			}
			delete(c.entries, k)
		}
	}
	c.entries[key] = id
}

func (c *verifiedTokens) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
