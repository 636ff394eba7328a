// Package recovery keeps what connection-state recovery needs while a client is away:
// for each dropped session (its pid), who it was and the recoverable frames it missed,
// for the recovery window. The node that held the session records; the node the client
// comes back to takes the record over, atomically, so that the old node stops recording
// at a single point and sends whatever arrives later on to the new one
// (docs/protocol.md §Connection-state recovery).
//
// Two implementations share one contract (recoverytest): Memory for a single node on the
// in-memory bus, Redis (a hash and a capped stream per pid) for a cluster.
package recovery

import (
	"context"
	"errors"
	"time"
)

// ErrNotParked is returned by Peek and Take when pid has no record that the caller may
// use: never parked, expired, discarded, already taken, or parked by another user.
var ErrNotParked = errors.New("recovery: no parked session for this pid")

// Frame is one recoverable server→client frame and the offset it carries.
type Frame struct {
	Offset string
	Data   []byte
}

// Record describes a parked session.
type Record struct {
	PID     string
	UserID  string // the authenticated user the pid is bound to
	Room    string // the room the session was in ("" when none)
	Session string // the hub session id that dropped
	Node    string // the node recording its missed frames (the owner)
	// Complete says the log holds every recoverable frame the session was ever sent (none
	// dropped by the bound), so a client that saw no offset at all can be recovered.
	Complete bool
}

// Log keeps parked sessions and their missed frames. Every method is safe for
// concurrent use by several nodes.
type Log interface {
	// Park records rec and frames (oldest first) for ttl, replacing any earlier record of
	// rec.PID. Only the newest Max frames are kept; dropping any clears Complete.
	Park(ctx context.Context, rec Record, frames []Frame, ttl time.Duration) error
	// Append adds frames to pid's log while node still owns the record. When it does not
	// (ok false), owner names the node that took the record over, or is "" when the record
	// was discarded or has expired. Beyond Max frames the oldest are dropped.
	Append(ctx context.Context, pid, node string, frames []Frame) (owner string, ok bool, err error)
	// Peek returns pid's record if user owns it and it was not taken.
	Peek(ctx context.Context, pid, user string) (Record, error)
	// Take hands pid's record to node and returns it with its frames (oldest first). From
	// then on the old owner's Appends fail and name node. ErrNotParked when Peek would fail;
	// then nothing changes.
	Take(ctx context.Context, pid, user, node string) (Record, []Frame, error)
	// Discard deletes pid's record if node owns it (a taken record is owned by its taker).
	Discard(ctx context.Context, pid, node string) error
}

// DefaultMax is the default bound of one session's log, in frames.
const DefaultMax = 256
