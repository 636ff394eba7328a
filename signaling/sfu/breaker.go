package sfu

import "sync"

// Causes of breaker transitions (metric label and log field).
const (
	causeFailures    = "failures"     // N consecutive failed calls
	causeOperator    = "operator"     // the operator's media health verdict
	causeHealthCheck = "health_check" // this node's GET /health passed
)

// breaker is the node's circuit breaker in front of the Media Service. Closed, calls go
// through and consecutive failures are counted; open, no call is made. It only holds the
// state: the Service decides what an opening or a closing means.
type breaker struct {
	threshold int

	mu       sync.Mutex
	open     bool
	cause    string // why it is open
	reason   string // the operator's reason, when it opened it
	failures int
	epoch    uint64 // incremented on every opening; tells one outage from the next
}

func newBreaker(threshold int) *breaker {
	if threshold <= 0 {
		threshold = 5
	}
	return &breaker{threshold: threshold}
}

// allow reports whether a call may be made, and the current outage epoch.
func (b *breaker) allow() (ok bool, epoch uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.open, b.epoch
}

func (b *breaker) state() (open bool, cause string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.open, b.cause
}

// success resets the failure count (a 4xx counts as a success: the service answered).
func (b *breaker) success() {
	b.mu.Lock()
	if !b.open {
		b.failures = 0
	}
	b.mu.Unlock()
}

// failure counts a failed call; it reports true when this failure opened the breaker.
func (b *breaker) failure() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.open {
		return false
	}
	b.failures++
	if b.failures < b.threshold {
		return false
	}
	b.setOpen(causeFailures, "")
	return true
}

// trip opens the breaker; it reports whether it was closed before.
func (b *breaker) trip(cause, reason string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.open {
		if cause == causeOperator {
			// The operator's verdict outranks a local count: only its own "healthy"
			// or an expired verdict lets the node close again.
			b.cause, b.reason = cause, reason
		}
		return false
	}
	b.setOpen(cause, reason)
	return true
}

func (b *breaker) setOpen(cause, reason string) {
	b.open, b.cause, b.reason = true, cause, reason
	b.failures = 0
	b.epoch++
}

// reset closes the breaker; it reports whether it was open.
func (b *breaker) reset() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	was := b.open
	b.open, b.cause, b.reason, b.failures = false, "", "", 0
	return was
}
