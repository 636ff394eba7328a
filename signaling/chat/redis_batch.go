package chat

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// appendBatcher sends concurrent appends to Redis together. Every chat message is one
// script call, and one round trip per message made the Redis connection pool the queue
// under load (each call waited for a free connection, then for its own reply). Here a
// call joins a queue; a sender goroutine takes everything queued, sends it as one
// pipeline and answers each caller. While one pipeline is in flight the next batch
// gathers, so the batch size follows the load and an idle node adds no delay.
//
// Senders exist only while calls are queued (at most maxAppendSenders at once), so the
// batcher needs no lifecycle of its own.
//
// Order inside one pipeline is kept (one connection): every message's XADD goes before
// the SADD that indexes its room, which dropEmpty relies on. A Redis Cluster pipeline may
// split across nodes, so redisStore does not batch with a ClusterClient.
type appendBatcher struct {
	c       redis.UniversalClient
	timeout time.Duration

	mu      sync.Mutex
	queue   []*appendCall
	senders int
}

const (
	maxAppendSenders = 2   // pipelines in flight at once
	maxAppendBatch   = 512 // calls per pipeline
)

// appendCall is one message waiting to be stored.
type appendCall struct {
	ctx    context.Context
	keys   []string
	args   []any
	room   string
	buffer bool // index the room in chat:rooms after the script

	result int64 // the script's answer: 1, or -1 for a full room buffer
	err    error
	done   chan struct{}
}

// do queues call and waits for its answer or ctx's end. After ctx ends the message may
// still be stored (it was already sent); the caller reports a failure either way.
func (b *appendBatcher) do(call *appendCall) (int64, error) {
	call.done = make(chan struct{})
	b.mu.Lock()
	b.queue = append(b.queue, call)
	start := b.senders < maxAppendSenders
	if start {
		b.senders++
	}
	b.mu.Unlock()
	if start {
		go b.send()
	}
	select {
	case <-call.done:
		return call.result, call.err
	case <-call.ctx.Done():
		return 0, call.ctx.Err()
	}
}

// send is a sender goroutine: it pipelines queued calls until the queue is empty.
func (b *appendBatcher) send() {
	for {
		b.mu.Lock()
		n := min(len(b.queue), maxAppendBatch)
		if n == 0 {
			b.senders--
			b.mu.Unlock()
			return
		}
		batch := b.queue[:n:n]
		if n == len(b.queue) {
			b.queue = nil
		} else {
			b.queue = b.queue[n:]
		}
		b.mu.Unlock()
		b.pipeline(batch, false)
		for _, call := range batch {
			close(call.done)
		}
	}
}

// pipeline runs batch's scripts by hash in one round trip. When Redis has lost the
// script (a restart, SCRIPT FLUSH) it loads it and runs the affected calls once more.
func (b *appendBatcher) pipeline(batch []*appendCall, reloaded bool) {
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	defer cancel()
	pipe := b.c.Pipeline()
	cmds := make([]*redis.Cmd, len(batch))
	index := map[string]*redis.IntCmd{}
	var rooms []string
	for i, call := range batch {
		if err := call.ctx.Err(); err != nil {
			call.err = err // its caller gave up: do not store a message reported as failed
			continue
		}
		cmds[i] = appendScript.EvalSha(ctx, pipe, call.keys, call.args...)
		if _, listed := index[call.room]; call.buffer && !listed {
			index[call.room] = nil
			rooms = append(rooms, call.room)
		}
	}
	for _, r := range rooms { // after every XADD of the batch
		index[r] = pipe.SAdd(ctx, roomsKey, r)
	}
	if pipe.Len() == 0 {
		return
	}
	_, _ = pipe.Exec(ctx)

	var again []*appendCall
	for i, call := range batch {
		cmd := cmds[i]
		if cmd == nil {
			continue
		}
		v, err := cmd.Int64()
		switch {
		case err != nil && !reloaded && strings.HasPrefix(err.Error(), "NOSCRIPT"):
			again = append(again, call)
			continue
		case err != nil:
			call.err = err
			continue
		}
		call.result = v
		if ix := index[call.room]; call.buffer && v >= 0 && ix != nil && ix.Err() != nil {
			call.err = fmt.Errorf("index room: %w", ix.Err())
		}
	}
	if len(again) > 0 {
		if err := appendScript.Load(ctx, b.c).Err(); err != nil {
			for _, call := range again {
				call.err = fmt.Errorf("load append script: %w", err)
			}
			return
		}
		b.pipeline(again, true)
	}
}
