// Package chat makes chat messages durable: Append buffers a message (in a Redis Stream
// per room, or in memory without Redis) before the hub acks and broadcasts it, and a
// flusher delivers the buffer in batches to the Chat Service (POST /internal/messages),
// removing a message only after a 2xx. It also keeps each room's recent history for the
// join_room ack. docs/chat.md describes the design, the Redis keys and the guarantees.
package chat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/switchboard-rtc/switchboard/signaling/metrics"
	"github.com/switchboard-rtc/switchboard/signaling/vocab"
)

// Options configure a Log. Zero values get the defaults in withDefaults.
type Options struct {
	// NodeID names this node's consumer in the Redis consumer group.
	NodeID string
	// ServiceURL is the Chat Service base URL; empty = history only, nothing is buffered
	// or flushed.
	ServiceURL     string
	ServiceTimeout time.Duration // one POST (default 5 s)
	HTTPClient     *http.Client

	History    int           // messages kept per room for join acks (default 50)
	HistoryTTL time.Duration // a room's history expires after this long without messages (default 24 h)
	// HistoryRooms bounds the rooms with a history in memory (without Redis; default
	// 10,000): beyond it the least recently active room's history goes.
	HistoryRooms int

	MaxRoomBuffer  int // unflushed messages per room before new ones get rate_limited (default 10,000)
	MaxTotalBuffer int // unflushed messages in total (default 100,000; approximate across nodes with Redis)

	Rate  float64 // chat messages per second per user (token bucket; default 10)
	Burst int     // bucket size (default 20)

	BatchSize     int           // messages per POST (default 500)
	FlushInterval time.Duration // how often the flusher looks for work (default 100 ms)
	// ClaimIdle: a message delivered to another node's flusher and unacknowledged for this
	// long is taken over (XAUTOCLAIM). It must exceed ServiceTimeout + MaxBackoff, or a live
	// node's batch is delivered twice (harmless: the service deduplicates). Default
	// 2×(ServiceTimeout+MaxBackoff).
	ClaimIdle time.Duration
	// CensusInterval: how often the buffer depth and oldest age are measured (default 1 s).
	CensusInterval time.Duration

	MinBackoff time.Duration // first retry delay (default 100 ms)
	MaxBackoff time.Duration // longest retry delay (default 5 s)

	RedisTimeout time.Duration // bound for one Append/Recent call (default 2 s)

	Metrics *metrics.ChatMetrics
	Logger  *slog.Logger
}

func (o *Options) withDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	defInt := func(i *int, v int) {
		if *i <= 0 {
			*i = v
		}
	}
	o.ServiceURL = strings.TrimRight(o.ServiceURL, "/")
	if o.NodeID == "" {
		o.NodeID = "node"
	}
	def(&o.ServiceTimeout, 5*time.Second)
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8, IdleConnTimeout: 90 * time.Second}}
	}
	defInt(&o.History, 50)
	def(&o.HistoryTTL, 24*time.Hour)
	defInt(&o.HistoryRooms, 10_000)
	defInt(&o.MaxRoomBuffer, 10_000)
	defInt(&o.MaxTotalBuffer, 100_000)
	if o.Rate <= 0 {
		o.Rate = 10
	}
	defInt(&o.Burst, 20)
	defInt(&o.BatchSize, 500)
	o.BatchSize = min(o.BatchSize, 5000) // a Lua unpack() of the ids must stay small
	def(&o.FlushInterval, 100*time.Millisecond)
	def(&o.MinBackoff, 100*time.Millisecond)
	def(&o.MaxBackoff, 5*time.Second)
	def(&o.ClaimIdle, 2*(o.ServiceTimeout+o.MaxBackoff))
	def(&o.CensusInterval, time.Second)
	def(&o.RedisTimeout, 2*time.Second)
	if o.Metrics == nil {
		o.Metrics = metrics.NewChatMetrics(prometheus.NewRegistry())
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// entry is one buffered message as the flusher sees it.
type entry struct {
	Room string
	ID   string // the store's id: a stream entry id, or a sequence number in memory
	Msg  vocab.ChatMessage
}

// store is where messages wait: Redis (shared by every node) or memory (this node only).
type store interface {
	// append records m in the room's history and, when buffer is true, in the buffer.
	// It returns errRoomFull when the room already holds maxRoom unflushed messages.
	append(ctx context.Context, m vocab.ChatMessage, buffer bool, maxRoom int) error
	recent(ctx context.Context, room string, n int) ([]vocab.ChatMessage, error)
	// claim hands out up to max messages for this node to deliver. With others, it may
	// also take over messages another (dead) node held for longer than the claim idle.
	claim(ctx context.Context, max int, others bool) ([]entry, error)
	// remove deletes delivered (or rejected) messages from the buffer.
	remove(ctx context.Context, es []entry) error
	// release gives back messages whose delivery failed, for a later claim.
	release(es []entry)
	// census counts unflushed messages and finds the oldest one's time.
	census(ctx context.Context) (depth int, oldest time.Time, err error)
	// outlivesNode reports whether unflushed messages stay where other nodes deliver them
	// when this node stops (Redis), rather than dying with the process (memory).
	outlivesNode() bool
}

var (
	errRoomFull  = errors.New("room buffer full")
	errTotalFull = errors.New("total buffer full")
)

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("chat log closed")

// Log is a vocab.ChatLog with durable buffering and a flusher.
type Log struct {
	opts    Options
	log     *slog.Logger
	m       *metrics.ChatMetrics
	store   store
	limiter *userLimiter
	flush   bool // a Chat Service is configured

	depth       atomic.Int64 // last census
	sinceCensus atomic.Int64 // appended by this node since the last census
	closed      atomic.Bool
	bufferDown  atomic.Bool // the flusher's last read of the buffer failed

	stop      chan struct{}
	stopOnce  sync.Once
	runCtx    context.Context
	cancelRun context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

var _ vocab.ChatLog = (*Log)(nil)

// NewMemory returns a Log that buffers in this process's memory: what is unflushed when
// the process dies is lost (Close delivers what it can first).
func NewMemory(opts Options) *Log {
	opts.withDefaults()
	return start(opts, newMemoryStore(opts.History, opts.MaxTotalBuffer, opts.HistoryRooms, opts.HistoryTTL))
}

func start(opts Options, s store) *Log {
	ctx, cancel := context.WithCancel(context.Background())
	l := &Log{
		opts: opts, log: opts.Logger.With("component", "chat"), m: opts.Metrics, store: s,
		limiter: newUserLimiter(opts.Rate, opts.Burst), flush: opts.ServiceURL != "",
		stop: make(chan struct{}), runCtx: ctx, cancelRun: cancel,
	}
	l.wg.Add(1)
	go l.censusLoop()
	if l.flush {
		l.wg.Add(1)
		go l.flushLoop()
	}
	return l
}

// Metrics are the log's collectors.
func (l *Log) Metrics() *metrics.ChatMetrics { return l.m }

// Append buffers m durably (Redis: the XADD is acknowledged; memory: it is in the
// buffer). It answers rate_limited when the sender is too fast or the buffer is full.
func (l *Log) Append(ctx context.Context, m vocab.ChatMessage) error {
	if l.closed.Load() {
		return ErrClosed
	}
	if !l.limiter.allow(m.SenderID, time.Now()) {
		l.m.Refused.WithLabelValues("user_rate").Inc()
		return vocab.NewError(vocab.CodeRateLimited, fmt.Sprintf("you are sending chat messages too fast: at most %g per second", l.opts.Rate))
	}
	if l.flush && l.depth.Load()+l.sinceCensus.Load() >= int64(l.opts.MaxTotalBuffer) {
		l.m.Refused.WithLabelValues("total_buffer").Inc()
		return vocab.NewError(vocab.CodeRateLimited, "chat is paused: too many messages are waiting to be saved (the chat store is slow or down); try again shortly")
	}
	ctx, cancel := context.WithTimeout(ctx, l.opts.RedisTimeout)
	defer cancel()
	err := l.store.append(ctx, m, l.flush, l.opts.MaxRoomBuffer)
	switch {
	case errors.Is(err, errRoomFull):
		l.m.Refused.WithLabelValues("room_buffer").Inc()
		return vocab.NewError(vocab.CodeRateLimited, "chat in this room is paused: too many messages are waiting to be saved (the chat store is slow or down); try again shortly")
	case errors.Is(err, errTotalFull):
		l.m.Refused.WithLabelValues("total_buffer").Inc()
		return vocab.NewError(vocab.CodeRateLimited, "chat is paused: too many messages are waiting to be saved (the chat store is slow or down); try again shortly")
	case err != nil:
		return fmt.Errorf("buffer chat message: %w", err)
	}
	l.m.Accepted.Inc()
	if l.flush {
		l.sinceCensus.Add(1)
	}
	return nil
}

// Recent returns up to n of the room's latest messages, oldest first; it includes
// messages already delivered to the Chat Service.
func (l *Log) Recent(ctx context.Context, roomID string, n int) ([]vocab.ChatMessage, error) {
	n = min(n, l.opts.History)
	if n <= 0 {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, l.opts.RedisTimeout)
	defer cancel()
	return l.store.recent(ctx, roomID, n)
}

// Flush delivers everything this node can claim now, until the buffer is empty or ctx
// ends. It returns ctx's error when it gave up.
func (l *Log) Flush(ctx context.Context) error {
	if !l.flush {
		return nil
	}
	return l.drain(ctx)
}

// Close stops the flusher after trying, until ctx ends, to deliver what this node holds.
// With Redis, what is left stays in the stream for the other nodes (nothing acknowledged
// is lost); in memory it is lost, and Close logs how many messages. Close is idempotent.
func (l *Log) Close(ctx context.Context) error {
	l.closeOnce.Do(func() {
		l.closed.Store(true)
		l.stopOnce.Do(func() { close(l.stop) })
		// The loop finishes its current batch; a deadline cuts its POST short.
		done := make(chan struct{})
		go func() { l.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			l.cancelRun()
			<-done
		}
		l.cancelRun()
		if !l.flush {
			return
		}
		if l.bufferDown.Load() && l.store.outlivesNode() {
			// The flusher's last read of the buffer failed: Redis is unreachable, and
			// what this node did not deliver is in it, for the other nodes.
			l.closeErr = errBufferUnreachable
			l.log.Warn("chat flusher stopped while Redis is unreachable; undelivered messages stay in Redis for the other nodes")
			return
		}
		l.closeErr = l.drain(ctx)
		switch {
		case l.closeErr == nil:
		case errors.Is(l.closeErr, errBufferUnreachable):
			l.log.Warn("chat flusher stopped while Redis is unreachable; undelivered messages stay in Redis for the other nodes", "err", l.closeErr)
		default:
			cctx, cancel := context.WithTimeout(context.Background(), l.opts.RedisTimeout)
			depth, _, err := l.store.census(cctx)
			cancel()
			if err != nil {
				l.log.Warn("chat flusher stopped with messages still buffered", "err", l.closeErr)
				return
			}
			l.log.Warn("chat flusher stopped with messages still buffered", "buffered", depth, "err", l.closeErr)
		}
	})
	return l.closeErr
}

func (l *Log) censusLoop() {
	defer l.wg.Done()
	t := time.NewTicker(l.opts.CensusInterval)
	defer t.Stop()
	for {
		l.takeCensus()
		select {
		case <-l.stop:
			return
		case <-t.C:
			l.limiter.forgetIdle(time.Now(), time.Minute)
		}
	}
}

func (l *Log) takeCensus() {
	if !l.flush {
		return
	}
	ctx, cancel := context.WithTimeout(l.runCtx, l.opts.RedisTimeout)
	defer cancel()
	before := l.sinceCensus.Load()
	depth, oldest, err := l.store.census(ctx)
	if err != nil {
		l.log.Debug("chat census failed", "err", err)
		return
	}
	l.depth.Store(int64(depth))
	l.sinceCensus.Add(-before)
	l.m.BufferDepth.Set(float64(depth))
	if oldest.IsZero() {
		l.m.OldestUnflushedAge.Set(0)
	} else {
		l.m.OldestUnflushedAge.Set(max(0, time.Since(oldest).Seconds()))
	}
}
