// Per-user rate limits of join_room and the WebRTC relays, on top of each socket's
// event rate (Session.limiter): a user's sockets on this node share one bucket, and a
// sender has one more bucket per relay target, so that a storm at one target is refused
// long before it fills the target's send queue.

package hub

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/switchboard-rtc/switchboard/signaling/vocab"
)

// keyedLimiter is a token bucket per key (a user, or a sender and a target).
type keyedLimiter struct {
	rate  float64 // tokens per second; ≤ 0 = unlimited
	burst float64

	mu      sync.Mutex
	buckets map[string]*tokenBucket
}

func newKeyedLimiter(rate float64, burst int) *keyedLimiter {
	return &keyedLimiter{rate: rate, burst: float64(burst), buckets: map[string]*tokenBucket{}}
}

func (l *keyedLimiter) allow(key string, now time.Time) bool {
	if l.rate <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		b = &tokenBucket{rate: l.rate, burst: l.burst}
		l.buckets[key] = b
	}
	return b.allow(now)
}

// forgetIdle drops the buckets that have refilled completely: they behave like new ones,
// and the map must not grow with every key ever seen.
func (l *keyedLimiter) forgetIdle(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.buckets, k)
		}
	}
}

// rateLimits are the hub's per-user limiters.
type rateLimits struct {
	join, relay, relayTarget *keyedLimiter
}

func newRateLimits(o Options) rateLimits {
	return rateLimits{
		join:        newKeyedLimiter(o.JoinRate, o.JoinBurst),
		relay:       newKeyedLimiter(o.RelayRate, o.RelayBurst),
		relayTarget: newKeyedLimiter(o.RelayTargetRate, o.RelayTargetBurst),
	}
}

func (r rateLimits) forgetIdle(now time.Time) {
	r.join.forgetIdle(now)
	r.relay.forgetIdle(now)
	r.relayTarget.forgetIdle(now)
}

// perUser wraps a handler with the user's bucket of one event class (join or relay).
func perUser(limiter func(*Hub) *keyedLimiter, what string, f handlerFunc) handlerFunc {
	return func(h *Hub, ctx context.Context, s *Session, payload json.RawMessage) (any, *vocab.Error) {
		l := limiter(h)
		if !l.allow(s.User.UserID, time.Now()) {
			return nil, vocab.Errorf(vocab.CodeRateLimited, "too many %s: at most %g per second per user", what, l.rate)
		}
		return f(h, ctx, s, payload)
	}
}

func joinLimiter(h *Hub) *keyedLimiter  { return h.limits.join }
func relayLimiter(h *Hub) *keyedLimiter { return h.limits.relay }

// allowRelayTo takes a token from the sender's bucket for this target.
func (h *Hub) allowRelayTo(s *Session, to, event string) *vocab.Error {
	if h.limits.relayTarget.allow(s.User.UserID+"\x00"+to, time.Now()) {
		return nil
	}
	return vocab.Errorf(vocab.CodeRateLimited, "too many %s to %q: at most %g relays per second to one user", event, to, h.limits.relayTarget.rate)
}
