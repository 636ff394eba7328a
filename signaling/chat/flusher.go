package chat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/switchboard-rtc/switchboard/signaling/vocab"
)

// outcome is how the Chat Service answered one batch.
type outcome int

const (
	delivered outcome = iota // 2xx (or 409: already stored)
	rejected                 // 4xx other than 409/429: the batch will never be accepted
	retry                    // 429, 5xx, timeout, refused: try again later
)

// flushLoop delivers the buffer every FlushInterval, back to back while there is a
// backlog, with backoff while the Chat Service fails.
func (l *Log) flushLoop() {
	defer l.wg.Done()
	t := time.NewTicker(l.opts.FlushInterval)
	defer t.Stop()
	failures := 0
	lastClaim := time.Time{}
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		for {
			// Taking over other nodes' stale messages is a scan of the pending lists:
			// do it a few times per claim-idle period, not every tick.
			others := time.Since(lastClaim) >= l.opts.ClaimIdle/4
			if others {
				lastClaim = time.Now()
			}
			n, err := l.flushOnce(l.runCtx, others)
			if err != nil {
				failures++
				if !l.sleep(backoff(failures, l.opts.MinBackoff, l.opts.MaxBackoff)) {
					return
				}
				continue
			}
			failures = 0
			if n < l.opts.BatchSize {
				break
			}
			select {
			case <-l.stop:
				return
			default:
			}
		}
	}
}

// sleep waits d unless the log is stopping.
func (l *Log) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-l.stop:
		return false
	}
}

// drain flushes until nothing is left to claim or ctx ends (shutdown, Flush). When the
// buffer itself cannot be read and lives in Redis, it stops at once: retrying would only
// hold the node up, and what is left stays in Redis for the other nodes.
func (l *Log) drain(ctx context.Context) error {
	failures := 0
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := l.flushOnce(ctx, false)
		if err == nil && n == 0 {
			return nil
		}
		if err == nil {
			failures = 0
			continue
		}
		if errors.Is(err, errBufferUnreachable) && l.store.outlivesNode() {
			return err
		}
		failures++
		t := time.NewTimer(backoff(failures, l.opts.MinBackoff, l.opts.MaxBackoff))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

var (
	errBufferUnreachable = errors.New("chat buffer unreachable")
	errNotDelivered      = errors.New("chat batch not delivered; will retry")
)

// flushOnce claims one batch and delivers it. It returns how many messages it claimed,
// and an error when the buffer could not be read (errBufferUnreachable) or the batch (or
// part of it) must be retried later (errNotDelivered).
func (l *Log) flushOnce(ctx context.Context, others bool) (int, error) {
	// A bounded claim: a Redis that hangs (paused, partitioned) must not hold the flusher,
	// and with it Close, beyond one Redis timeout.
	cctx, cancel := context.WithTimeout(ctx, l.opts.RedisTimeout)
	batch, err := l.store.claim(cctx, l.opts.BatchSize, others)
	cancel()
	l.bufferDown.Store(err != nil && ctx.Err() == nil)
	if err != nil {
		if ctx.Err() == nil {
			l.log.Warn("chat flusher cannot read the buffer", "err", err)
		}
		return 0, fmt.Errorf("%w: %w", errBufferUnreachable, err)
	}
	if len(batch) == 0 {
		return 0, nil
	}
	if !l.deliver(ctx, batch) {
		return len(batch), errNotDelivered
	}
	return len(batch), nil
}

// deliver POSTs batch. A batch rejected for good is split in halves so one bad message
// does not take good ones with it; the single bad message is dropped and counted.
func (l *Log) deliver(ctx context.Context, batch []entry) bool {
	switch out, detail := l.post(ctx, batch); out {
	case delivered:
		if !l.removeAll(ctx, batch) {
			return false
		}
		l.m.Flushed.Add(float64(len(batch)))
		return true
	case rejected:
		if len(batch) > 1 {
			half := len(batch) / 2
			a := l.deliver(ctx, batch[:half])
			if !a {
				l.store.release(batch[half:])
				return false
			}
			return l.deliver(ctx, batch[half:])
		}
		m := batch[0].Msg
		l.log.Error("Chat Service rejected a message for good; dropping it", "room", m.RoomID, "id", m.ID, "sender", m.SenderID, "detail", detail)
		if !l.removeAll(ctx, batch) {
			return false
		}
		l.m.Rejected.Inc()
		return true
	default:
		l.log.Debug("Chat Service delivery failed; will retry", "messages", len(batch), "detail", detail)
		l.m.Retried.Add(float64(len(batch)))
		l.store.release(batch)
		return false
	}
}

func (l *Log) removeAll(ctx context.Context, batch []entry) bool {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.opts.RedisTimeout)
	defer cancel()
	if err := l.store.remove(rctx, batch); err != nil {
		// Delivered but still buffered: it will be sent again and the service drops the
		// duplicate by id.
		l.log.Warn("chat flusher could not remove delivered messages from the buffer", "messages", len(batch), "err", err)
		l.store.release(batch)
		return false
	}
	return true
}

type batchBody struct {
	Messages []vocab.ChatMessage `json:"messages"`
}

func (l *Log) post(ctx context.Context, batch []entry) (outcome, string) {
	body := batchBody{Messages: make([]vocab.ChatMessage, len(batch))}
	for i, e := range batch {
		body.Messages[i] = e.Msg
	}
	data, err := json.Marshal(body)
	if err != nil {
		return rejected, err.Error()
	}
	ctx, cancel := context.WithTimeout(ctx, l.opts.ServiceTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.opts.ServiceURL+"/internal/messages", bytes.NewReader(data))
	if err != nil {
		return retry, err.Error()
	}
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := l.opts.HTTPClient.Do(req)
	l.m.FlushLatency.Observe(time.Since(start).Seconds())
	if err != nil {
		return retry, err.Error()
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return classify(resp.StatusCode), fmt.Sprintf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(snippet))
}

// classify maps a Chat Service status to what the flusher does (docs/backends.md §Chat Service):
// 409 means the service already has the message, so it counts as stored.
func classify(status int) outcome {
	switch {
	case status >= 200 && status < 300, status == http.StatusConflict:
		return delivered
	case status == http.StatusTooManyRequests:
		return retry
	case status >= 400 && status < 500:
		return rejected
	default:
		return retry
	}
}

// backoff is the delay before retry number attempt (1, 2, …): exponential from min,
// capped at max, with jitter over its upper half so nodes do not retry in lockstep.
func backoff(attempt int, min, max time.Duration) time.Duration {
	d := min
	for i := 1; i < attempt && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}
