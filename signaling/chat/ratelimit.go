package chat

import (
	"sync"
	"time"
)

// userLimiter is a token bucket per user. A user's connection lives on one node at a
// time, so a per-node bucket is the user's bucket.
type userLimiter struct {
	rate  float64
	burst float64

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newUserLimiter(rate float64, burst int) *userLimiter {
	return &userLimiter{rate: rate, burst: float64(burst), buckets: map[string]*bucket{}}
}

func (u *userLimiter) allow(user string, now time.Time) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	b := u.buckets[user]
	if b == nil {
		b = &bucket{tokens: u.burst, last: now}
		u.buckets[user] = b
	}
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = min(u.burst, b.tokens+el*u.rate)
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// forgetIdle drops buckets that have been full for longer than idle, so the map does not
// grow with every user ever seen.
func (u *userLimiter) forgetIdle(now time.Time, idle time.Duration) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for user, b := range u.buckets {
		if now.Sub(b.last) > idle && b.tokens+now.Sub(b.last).Seconds()*u.rate >= u.burst {
			delete(u.buckets, user)
		}
	}
}
