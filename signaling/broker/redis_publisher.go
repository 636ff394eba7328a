package broker

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Publishes are batched: a few publisher goroutines each take every PUBLISH queued while
// their previous batch was in flight and send them as one pipeline, so under load many
// messages share one round trip and one system call, and at low load a message still
// goes out at once. Order is kept per caller (a caller waits for its publish to finish).

const (
	publishers      = 2
	maxPublishBatch = 256
	publishTimeout  = 5 * time.Second
)

type pubReq struct {
	channel string
	payload []byte
	err     chan error
}

func (b *Redis) startPublishers() {
	b.pubReqs = make(chan *pubReq, 4096)
	for range publishers {
		b.wg.Add(1)
		go b.publishLoop()
	}
}

// send queues one PUBLISH and waits for its result.
func (b *Redis) send(ctx context.Context, channel string, payload []byte) error {
	r := &pubReq{channel: channel, payload: payload, err: make(chan error, 1)}
	select {
	case b.pubReqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-b.ctx.Done():
		return fmt.Errorf("broker closed")
	}
	select {
	case err := <-r.err:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-b.ctx.Done():
		return fmt.Errorf("broker closed")
	}
}

func (b *Redis) publishLoop() {
	defer b.wg.Done()
	batch := make([]*pubReq, 0, maxPublishBatch)
	cmds := make([]*redis.IntCmd, 0, maxPublishBatch)
	for {
		batch = batch[:0]
		select {
		case <-b.ctx.Done():
			return
		case r := <-b.pubReqs:
			batch = append(batch, r)
		}
	fill:
		for len(batch) < maxPublishBatch {
			select {
			case r := <-b.pubReqs:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		if len(batch) == 1 {
			r := batch[0]
			ctx, cancel := context.WithTimeout(b.ctx, publishTimeout)
			r.err <- b.client.Publish(ctx, r.channel, r.payload).Err()
			cancel()
			continue
		}
		ctx, cancel := context.WithTimeout(b.ctx, publishTimeout)
		pipe := b.client.Pipeline()
		cmds = cmds[:0]
		for _, r := range batch {
			cmds = append(cmds, pipe.Publish(ctx, r.channel, r.payload))
		}
		_, _ = pipe.Exec(ctx) // per-command errors are reported below
		cancel()
		for i, r := range batch {
			r.err <- cmds[i].Err()
			batch[i] = nil
		}
	}
}
