package sfu

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestMediaClientClassifiesAnswers(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/rooms/bad/rtp-capabilities":
			w.WriteHeader(http.StatusUnprocessableEntity)
			_, _ = w.Write([]byte(`{"error":{"code":"nope","message":"no such router"}}`))
		case "/rooms/boom/rtp-capabilities":
			w.WriteHeader(http.StatusBadGateway)
		case "/rooms/slow/rtp-capabilities":
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		default:
			_, _ = w.Write([]byte(`{"rtpCapabilities":{}}`))
		}
	}))
	defer srv.Close()
	c := newMediaClient(srv.URL, http.DefaultClient, time.Second, 50*time.Millisecond, nil)
	ctx := context.Background()

	var ce *ClientError
	if _, err := c.Capabilities(ctx, "bad"); !errors.As(err, &ce) || ce.Message != "no such router" || ce.Status != 422 {
		t.Fatalf("4xx: %v", err)
	}
	if _, err := c.Capabilities(ctx, "boom"); !errors.Is(err, ErrMediaFailure) {
		t.Fatalf("5xx: %v, want ErrMediaFailure", err)
	}
	if _, err := c.Capabilities(ctx, "slow"); !errors.Is(err, ErrMediaFailure) {
		t.Fatalf("timeout: %v, want ErrMediaFailure", err)
	}
	refused := newMediaClient("http://127.0.0.1:1", http.DefaultClient, time.Second, time.Second, nil)
	if _, err := refused.Capabilities(ctx, "r"); !errors.Is(err, ErrMediaFailure) {
		t.Fatalf("refused: %v, want ErrMediaFailure", err)
	}
	// The caller giving up is not the service's fault.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.Capabilities(cctx, "ok"); errors.Is(err, ErrMediaFailure) || err == nil {
		t.Fatalf("canceled caller: %v, want a context error", err)
	}
}

func TestBreakerOpensAfterConsecutiveFailures(t *testing.T) {
	b := newBreaker(3)
	b.failure()
	b.failure()
	b.success() // resets the run
	first, second := b.failure(), b.failure()
	if first || second {
		t.Fatal("opened before 3 consecutive failures")
	}
	if !b.failure() {
		t.Fatal("third consecutive failure did not open")
	}
	if ok, _ := b.allow(); ok {
		t.Fatal("open breaker allows calls")
	}
	if b.trip(causeOperator, "x") {
		t.Fatal("trip of an open breaker reports a transition")
	}
	if _, cause := b.state(); cause != causeOperator {
		t.Fatalf("cause = %s; the operator's verdict should take over", cause)
	}
	if !b.reset() || b.reset() {
		t.Fatal("reset should report the transition once")
	}
	_, e1 := b.allow()
	b.trip(causeFailures, "")
	b.reset()
	if _, e2 := b.allow(); e2 == e1 {
		t.Fatal("a new outage must have a new epoch")
	}
}
