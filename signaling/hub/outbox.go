// The session's outbox: every frame sent to a session goes through it, in one order, so
// that connection-state recovery can tell what the client may have missed (the recent
// recoverable frames), hold a recovering session's live frames until its missed ones are
// out, and send a dropped session's frames to its recorder (parking.go).

package hub

import (
	"sync"
	"time"

	"github.com/switchboard-rtc/switchboard/signaling/recovery"
)

// maxSeen bounds the offsets a recovered session remembers to drop duplicates.
const maxSeen = 4096

type outbox struct {
	mu sync.Mutex
	// sent are the newest recoverable frames sent (at most recentFrames): after a drop,
	// the client's last offset is among them unless it missed more than the bound.
	sent sentLog
	// holding: the session is being recovered; live frames wait in held until the missed
	// ones are out.
	holding bool
	held    []recovery.Frame
	// handed are the frames the old node passed on while the session was held; they go
	// out before held (parking.go).
	handed []recovery.Frame
	// seen are offsets already sent to a recovered session, until seenUntil: the node that
	// recorded its missed events may pass on the same event again (parking.go).
	seen      map[string]struct{}
	seenUntil time.Time
	// park records the frames of a dropped session (parking.go); nil while connected.
	park *parking
	// chat keeps a join's history and the live chat from carrying one message twice
	// (joinchat.go).
	chat joinChat
}

// push sends one frame to s (offset "" for frames that are not recoverable: acks,
// errors, notices). keep is the bound of the recent-frames log (0: recovery is off).
func (s *Session) push(frame []byte, offset string, keep int) bool {
	s.out.mu.Lock()
	defer s.out.mu.Unlock()
	return s.pushLocked(frame, offset, keep)
}

// pushHandedOver sends a frame the old node of a recovered session passed on.
func (s *Session) pushHandedOver(f recovery.Frame, keep int) {
	s.out.mu.Lock()
	defer s.out.mu.Unlock()
	if s.out.holding && s.out.park == nil {
		s.out.handed = append(s.out.handed, f)
		return
	}
	s.pushLocked(f.Data, f.Offset, keep)
}

func (s *Session) pushLocked(frame []byte, offset string, keep int) bool {
	o := &s.out
	if offset != "" && o.seen != nil {
		if time.Now().After(o.seenUntil) {
			o.seen = nil
		} else if _, dup := o.seen[offset]; dup {
			return true
		} else if len(o.seen) < maxSeen {
			o.seen[offset] = struct{}{}
		}
	}
	switch {
	case o.park != nil:
		if offset != "" {
			o.park.add(recovery.Frame{Offset: offset, Data: frame})
		}
		return true
	case o.holding:
		o.held = append(o.held, recovery.Frame{Offset: offset, Data: frame})
		return true
	}
	if offset != "" && keep > 0 {
		o.sent.add(recovery.Frame{Offset: offset, Data: frame}, keep)
	}
	return s.conn.Send(frame)
}

// sentLog is a ring of the newest recoverable frames sent to one session. It grows
// only as frames are sent: an idle session holds none.
type sentLog struct {
	buf     []recovery.Frame
	start   int  // index of the oldest frame once the ring is full
	dropped bool // a frame was overwritten: the log no longer starts at the session's start
}

func (l *sentLog) add(f recovery.Frame, max int) {
	if len(l.buf) < max {
		l.buf = append(l.buf, f)
		return
	}
	l.buf[l.start] = f
	l.start = (l.start + 1) % len(l.buf)
	l.dropped = true
}

// frames returns the frames oldest first.
func (l *sentLog) frames() []recovery.Frame {
	out := make([]recovery.Frame, 0, len(l.buf))
	out = append(out, l.buf[l.start:]...)
	return append(out, l.buf[:l.start]...)
}
