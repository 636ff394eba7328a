package hub

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-rtc/switchboard/signaling/auth"
)

// Conn is the transport side of a session: the server's WebSocket connection or polling
// session. Everything sent to a session goes through Session.push (outbox.go).
type Conn interface {
	// Send queues a complete frame without blocking. It returns false when the
	// connection is closed or could not keep up (and is being closed).
	Send(frame []byte) bool
	// Close closes the transport (idempotent). reason is for logs and metrics.
	Close(reason string)
}

// Session is one authenticated Socket.IO connection.
type Session struct {
	ID   string
	User auth.Identity
	conn Conn
	// out orders what is sent to the session and holds its recovery state (outbox.go).
	out outbox

	lastSeen atomic.Int64 // Unix nanoseconds of the last client event
	joinedAt atomic.Int64 // Unix milliseconds of the current room join
	limiter  tokenBucket

	mu   sync.Mutex
	room string // the room this session is in ("" when none); guarded by mu
	// grants is the `rooms` claim of the session's current token (User.Rooms until a
	// refresh_token replaces it); guarded by mu.
	grants auth.RoomGrant
	life   tokenLife // the token's clock (lifetime.go); guarded by mu
	// pid is the connection-state recovery id the client got in its CONNECT reply ("" with
	// recovery off); it stays the same across recoveries. Guarded by mu.
	pid string
}

// PID returns the session's recovery id ("" when recovery is off).
func (s *Session) PID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pid
}

func (s *Session) setPID(pid string) {
	s.mu.Lock()
	s.pid = pid
	s.mu.Unlock()
}

// Grants returns the `rooms` claim of the session's current token.
func (s *Session) Grants() auth.RoomGrant {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.grants
}

// Room returns the room the session is in, or "".
func (s *Session) Room() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.room
}

func (s *Session) setRoom(r string) {
	s.mu.Lock()
	s.room = r
	s.mu.Unlock()
}

// clearRoomIf clears the session's room if it is still r; it reports whether it did.
func (s *Session) clearRoomIf(r string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.room != r {
		return false
	}
	s.room = ""
	return true
}

func (s *Session) touch(now time.Time) { s.lastSeen.Store(now.UnixNano()) }

// tokenBucket is a small per-session rate limiter; it is only used from the session's
// reader goroutine, so it needs no lock.
type tokenBucket struct {
	tokens float64
	last   time.Time
	rate   float64 // tokens per second
	burst  float64
}

func (b *tokenBucket) allow(now time.Time) bool {
	if b.rate <= 0 {
		return true
	}
	if b.last.IsZero() {
		b.tokens = b.burst
	} else {
		b.tokens += now.Sub(b.last).Seconds() * b.rate
		if b.tokens > b.burst {
			b.tokens = b.burst
		}
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
