package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// RevocationList says whether a token id (`jti`) was revoked (docs/security.md §Token
// lifetime). It is consulted at CONNECT and at refresh_token.
type RevocationList interface {
	Revoked(ctx context.Context, tokenID string) (bool, error)
}

// RevokedKey is the Redis key whose existence revokes the token with id tokenID. An operator
// sets it with a TTL of at least the token's remaining lifetime.
func RevokedKey(tokenID string) string { return "revoked:{" + tokenID + "}" }

// RedisRevocations reads revocations from Redis keys RevokedKey(jti).
type RedisRevocations struct{ Client redis.UniversalClient }

var _ RevocationList = RedisRevocations{}

func (r RedisRevocations) Revoked(ctx context.Context, tokenID string) (bool, error) {
	n, err := r.Client.Exists(ctx, RevokedKey(tokenID)).Result()
	if err != nil {
		return false, err
	}
	return n > 0, nil
}

// NotRevoked checks id against revs (nil: revocation is off). It fails closed: a token
// without `jti` cannot be revoked and is refused, and so is every token while the list
// cannot be read. Errors wrap ErrUnauthenticated.
func NotRevoked(ctx context.Context, revs RevocationList, id Identity) error {
	if revs == nil {
		return nil
	}
	if id.TokenID == "" {
		return fmt.Errorf("%w: token has no jti (required with --revocation)", ErrUnauthenticated)
	}
	revoked, err := revs.Revoked(ctx, id.TokenID)
	switch {
	case err != nil:
		return fmt.Errorf("%w: revocation list unavailable: %w", ErrUnauthenticated, err)
	case revoked:
		return fmt.Errorf("%w: token %s is revoked", ErrUnauthenticated, id.TokenID)
	}
	return nil
}

// Checker verifies a token as at CONNECT: signature and claims, then revocation.
type Checker struct {
	Verifier    *Verifier
	Revocations RevocationList // nil: revocation is off
}

// Check returns the identity of a valid, unrevoked token.
func (c Checker) Check(ctx context.Context, token string) (Identity, error) {
	if c.Verifier == nil {
		return Identity{}, errors.New("auth: no verifier")
	}
	id, err := c.Verifier.Verify(token)
	if err != nil {
		return Identity{}, err
	}
	if err := NotRevoked(ctx, c.Revocations, id); err != nil {
		return Identity{}, err
	}
	return id, nil
}
