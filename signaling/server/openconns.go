package server

import (
	"context"
	"sync"
)

// openConns counts the open WebSocket handlers, polling sessions and bridges so that a
// shutdown can wait for them. Unlike a sync.WaitGroup it may be waited on while new
// connections still arrive (a drain waits while late upgrades and polls come in): each
// wait returns the next time the count is zero.
type openConns struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed when n last reached zero; nil before the first connection
}

func (o *openConns) add() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.n == 0 {
		o.idle = make(chan struct{})
	}
	o.n++
}

func (o *openConns) done() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.n--
	if o.n == 0 {
		close(o.idle)
	}
}

// wait returns when no connection is open, or with ctx's error.
func (o *openConns) wait(ctx context.Context) error {
	o.mu.Lock()
	if o.n == 0 {
		o.mu.Unlock()
		return nil
	}
	idle := o.idle
	o.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
