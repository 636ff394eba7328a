package hub

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/switchboard-rtc/switchboard/signaling/presence"
)

// DrainOptions shape a drain.
type DrainOptions struct {
	// MaxShare is the largest share of this node's sockets closed (and so reconnecting
	// elsewhere) per second, e.g. 0.1 = 10 % per second. The closes of N sockets are
	// spread over at least 1/MaxShare seconds.
	MaxShare float64
	// Spread caps the time over which closes are spread (keep it well inside the drain
	// deadline so that reconnection windows can finish before exit).
	Spread time.Duration
	// Jitter is the most a client is told to wait, beyond its close, before reconnecting.
	Jitter time.Duration
	// Alone says no other node can take the users over (the in-memory bus): Drain then
	// returns after the last close instead of holding reconnection windows nobody can
	// come back to.
	Alone bool
}

// DrainResult reports what a drain did.
type DrainResult struct {
	Sessions   int           // sessions at the start
	Closed     int           // closed by the drain schedule
	Stragglers int           // still open when ctx ended (closed by Close afterwards)
	Took       time.Duration // until the last close
	// WindowsLeft is the number of reconnection windows still open when ctx ended (their
	// users are cleaned up by the other nodes once this one is gone).
	WindowsLeft int
}

// Drain moves this node's clients elsewhere without a reconnect storm. It marks the node
// draining in presence, tells every socket `server_draining {reconnectInMs}`, then
// closes the transports (not a Socket.IO DISCONNECT, so socket.io-client reconnects by
// itself) on a jittered schedule that never exceeds MaxShare of the sockets per second.
// Closed users keep their room membership through the reconnection window (plus Jitter,
// the most they were told to wait before reconnecting), so a reconnect through another
// node causes no churn. Each window is recorded as the connection is closed (window.go),
// never left to the transport's goroutine, which may not have run yet on a busy or
// single-CPU node. Drain returns when every socket is closed and every window it opened
// was handed over (the user is back through another node) or has ended with the user's
// removal, or when ctx ends.
func (h *Hub) Drain(ctx context.Context, o DrainOptions) DrainResult {
	start := time.Now()
	h.drainJitter.Store(int64(o.Jitter))
	h.draining.Store(true)
	// Both announcements side by side: when Redis hangs, their timeouts do not add up.
	announced := make(chan struct{})
	go func() {
		defer close(announced)
		h.heartbeatNode(presence.NodeDraining)
	}()
	actx, cancel := context.WithTimeout(ctx, h.opts.RedisTimeout)
	if err := h.PublishControl(actx, "node_draining", map[string]string{"nodeId": h.opts.NodeID}); err != nil {
		h.log.Warn("could not announce the drain", "err", err)
	}
	cancel()
	<-announced

	h.mu.RLock()
	sessions := make([]*Session, 0, len(h.sessions))
	for _, s := range h.sessions {
		sessions = append(sessions, s)
	}
	h.mu.RUnlock()
	res := DrainResult{Sessions: len(sessions)}
	rand.Shuffle(len(sessions), func(i, j int) { sessions[i], sessions[j] = sessions[j], sessions[i] })

	offsets := drainSchedule(len(sessions), o)
	for i, s := range sessions {
		wait := offsets[i] + time.Duration(rand.Int64N(int64(o.Jitter)+1))
		_ = h.Send(s, "server_draining", map[string]int64{"reconnectInMs": wait.Milliseconds()})
	}
	h.log.Info("draining", "sessions", len(sessions), "spread", lastOffset(offsets))
	// A close never follows the previous one sooner than the even spacing, even when this
	// goroutine ran late (a busy CPU): late closes are pushed back, never bunched up.
	gap := time.Duration(0)
	if n := len(sessions); n > 1 {
		gap = offsets[n-1] / time.Duration(n-1)
	}
	var last time.Time
	var followUps sync.WaitGroup
	for i, s := range sessions {
		at := start.Add(offsets[i])
		if !last.IsZero() && at.Before(last.Add(gap)) {
			at = last.Add(gap)
		}
		select {
		case <-ctx.Done():
			res.Stragglers = len(sessions) - i
			res.Took = time.Since(start)
			return res
		case <-time.After(time.Until(at)):
		}
		last = time.Now()
		s.conn.Close("server draining")
		// The window is recorded here and now; its Redis part runs beside the schedule,
		// so a slow Redis does not push the closes back.
		if followUp := h.unregister(s, DisconnectServer); followUp != nil {
			followUps.Add(1)
			go func() {
				defer followUps.Done()
				followUp()
			}()
		}
		res.Closed++
	}
	res.Took = time.Since(start)
	followUps.Wait() // each is bounded by the Redis timeout
	if o.Alone {
		return res
	}
	// Keep the node (and its reconnection timers) alive until the users it dropped are
	// either back elsewhere or announced gone.
	for {
		open := h.openWindows()
		if open == 0 {
			return res
		}
		select {
		case <-ctx.Done():
			res.WindowsLeft = open
			return res
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// drainSchedule returns the close time of each of n sockets, evenly spread so that at
// most MaxShare of them close per second, within Spread.
func drainSchedule(n int, o DrainOptions) []time.Duration {
	out := make([]time.Duration, n)
	if n == 0 {
		return out
	}
	spread := time.Duration(0)
	if o.MaxShare > 0 {
		spread = time.Duration(float64(time.Second) / o.MaxShare)
	}
	if o.Spread > 0 && spread > o.Spread {
		spread = o.Spread
	}
	// Evenly spaced closes: any one-second window holds at most ⌈n/spread⌉ of them.
	for i := range out {
		out[i] = time.Duration(int64(spread) * int64(i) / int64(n))
	}
	return out
}

func lastOffset(o []time.Duration) time.Duration {
	if len(o) == 0 {
		return 0
	}
	return o[len(o)-1]
}

// Draining reports whether Drain has started.
func (h *Hub) Draining() bool { return h.draining.Load() }
