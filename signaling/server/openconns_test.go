package server

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// TestOpenConnsWaitWhileConnectionsArrive: a shutdown may wait while new connections are
// still being counted (with a sync.WaitGroup that is a race the detector reports); each
// wait returns once nothing is open, and not before.
func TestOpenConnsWaitWhileConnectionsArrive(t *testing.T) {
	var o openConns
	if err := o.wait(context.Background()); err != nil {
		t.Fatalf("wait with nothing open: %v", err)
	}
	o.add()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := o.wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("wait with one open returned %v, want the context's deadline", err)
	}

	var churn sync.WaitGroup
	for i := 0; i < 8; i++ {
		churn.Add(1)
		go func() {
			defer churn.Done()
			for j := 0; j < 1000; j++ {
				o.add()
				o.done()
			}
		}()
	}
	waited := make(chan error, 1)
	go func() { waited <- o.wait(context.Background()) }()
	churn.Wait()
	select {
	case err := <-waited:
		t.Fatalf("wait returned %v while a connection was still open", err)
	case <-time.After(20 * time.Millisecond):
	}
	o.done()
	if err := <-waited; err != nil {
		t.Fatalf("wait after the last close: %v", err)
	}
}
