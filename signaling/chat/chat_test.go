package chat

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchboard-rtc/switchboard/signaling/vocab"
)

func msg(room, sender string, i int) vocab.ChatMessage {
	return vocab.ChatMessage{ID: fmt.Sprintf("%s-%s-%06d", room, sender, i), RoomID: room, SenderID: sender,
		SenderName: "Name of " + sender, Content: fmt.Sprintf("message %d", i), Timestamp: time.Now().UnixMilli()}
}

func fastOptions(url string) Options {
	return Options{NodeID: "n1", ServiceURL: url, ServiceTimeout: time.Second, FlushInterval: 10 * time.Millisecond,
		MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, Rate: 1e6, Burst: 1e6,
		CensusInterval: 20 * time.Millisecond, Logger: quietLogger()}
}

func closeNow(t *testing.T, l *Log) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = l.Close(ctx)
	})
}

func code(err error) string {
	var he *vocab.Error
	if errors.As(err, &he) {
		return he.Code
	}
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

func TestBackoffGrowsToItsCapWithJitter(t *testing.T) {
	min, max := 100*time.Millisecond, 2*time.Second
	for attempt := 1; attempt <= 12; attempt++ {
		want := min << (attempt - 1)
		if want > max || want <= 0 {
			want = max
		}
		for range 50 {
			d := backoff(attempt, min, max)
			if d < want/2 || d > want {
				t.Fatalf("attempt %d: %s outside [%s, %s]", attempt, d, want/2, want)
			}
		}
	}
}

func TestClassifyFollowsTheChatServiceContract(t *testing.T) {
	cases := map[int]outcome{200: delivered, 201: delivered, 204: delivered, 409: delivered,
		400: rejected, 401: rejected, 404: rejected, 413: rejected, 422: rejected,
		429: retry, 500: retry, 502: retry, 503: retry, 504: retry, 302: retry}
	for status, want := range cases {
		if got := classify(status); got != want {
			t.Errorf("status %d: got %d, want %d", status, got, want)
		}
	}
}

func TestUserLimiterIsATokenBucketPerUser(t *testing.T) {
	l := newUserLimiter(2, 3)
	now := time.Unix(1000, 0)
	for i := range 3 {
		if !l.allow("a", now) {
			t.Fatalf("burst message %d refused", i)
		}
	}
	if l.allow("a", now) {
		t.Fatal("fourth message in the same instant allowed")
	}
	if !l.allow("b", now) {
		t.Fatal("another user is limited by a's bucket")
	}
	if !l.allow("a", now.Add(500*time.Millisecond)) {
		t.Fatal("a token did not come back after 1/rate")
	}
	l.forgetIdle(now.Add(time.Hour), time.Minute)
	if len(l.buckets) != 0 {
		t.Fatalf("idle buckets kept: %d", len(l.buckets))
	}
}

// Every implementation of the buffer passes the same flusher behaviour tests.
func forEachStore(t *testing.T, f func(t *testing.T, newLog func(Options) *Log)) {
	t.Run("memory", func(t *testing.T) { f(t, NewMemory) })
	t.Run("redis", func(t *testing.T) {
		f(t, func(o Options) *Log { return NewRedis(redisClient(t), o) })
	})
}

func TestFlusherDeliversEverythingOnceThroughFailures(t *testing.T) {
	forEachStore(t, func(t *testing.T, newLog func(Options) *Log) {
		svc := newFakeService(t)
		// Every third POST fails with 500 or 429, the first few with 503.
		svc.setFail(func(n int) int {
			switch {
			case n <= 3:
				return http.StatusServiceUnavailable
			case n%3 == 0:
				return http.StatusInternalServerError
			case n%3 == 1 && n%2 == 0:
				return http.StatusTooManyRequests
			}
			return 0
		})
		o := fastOptions(svc.URL)
		o.BatchSize = 7
		l := newLog(o)
		closeNow(t, l)
		ctx := context.Background()
		const total = 300
		for i := range total {
			if err := l.Append(ctx, msg(fmt.Sprintf("r%d", i%5), "u1", i)); err != nil {
				t.Fatalf("append %d: %v", i, err)
			}
		}
		eventually(t, 20*time.Second, "all messages stored", func() bool { n, _ := svc.count(); return n == total })
		eventually(t, 5*time.Second, "buffer empty", func() bool { d, _, _ := l.store.census(ctx); return d == 0 })
		if got := testutil.ToFloat64(l.m.Retried); got == 0 {
			t.Error("no retry counted although POSTs failed")
		}
		if got := testutil.ToFloat64(l.m.Accepted); got != total {
			t.Errorf("accepted = %v, want %d", got, total)
		}
	})
}

func TestRejectedMessageIsDroppedAloneAndCounted(t *testing.T) {
	forEachStore(t, func(t *testing.T, newLog func(Options) *Log) {
		svc := newFakeService(t)
		bad := msg("r1", "u1", 5)
		svc.badID = bad.ID
		o := fastOptions(svc.URL)
		o.FlushInterval = time.Hour // flushed by Flush below
		l := newLog(o)
		closeNow(t, l)
		ctx := context.Background()
		for i := range 10 {
			if err := l.Append(ctx, msg("r1", "u1", i)); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.Flush(nodeCtx(t, 10*time.Second)); err != nil {
			t.Fatalf("flush: %v", err)
		}
		if n, _ := svc.count(); n != 9 {
			t.Fatalf("stored %d, want the 9 good messages", n)
		}
		if svc.has(bad.ID) {
			t.Fatal("the rejected message was stored")
		}
		if got := testutil.ToFloat64(l.m.Rejected); got != 1 {
			t.Fatalf("rejected = %v, want 1", got)
		}
		if d, _, _ := l.store.census(ctx); d != 0 {
			t.Fatalf("buffer still holds %d", d)
		}
	})
}

func TestBufferBoundsAnswerRateLimitedAndLoseNothing(t *testing.T) {
	forEachStore(t, func(t *testing.T, newLog func(Options) *Log) {
		svc := newFakeService(t)
		svc.setFail(func(int) int { return http.StatusServiceUnavailable })
		o := fastOptions(svc.URL)
		o.MaxRoomBuffer = 20
		o.MaxTotalBuffer = 30
		l := newLog(o)
		closeNow(t, l)
		ctx := context.Background()
		accepted := 0
		var roomFull, totalFull error
		for i := range 25 {
			err := l.Append(ctx, msg("r1", "u1", i))
			if err == nil {
				accepted++
			} else if roomFull == nil {
				roomFull = err
			}
		}
		if accepted != 20 || code(roomFull) != vocab.CodeRateLimited {
			t.Fatalf("room bound: accepted %d (want 20), error %v", accepted, roomFull)
		}
		// The estimate settles on the census once a census has run after the last append.
		eventually(t, 10*time.Second, "census sees 20", func() bool { return l.depth.Load()+l.sinceCensus.Load() == 20 })
		for i := range 25 {
			err := l.Append(ctx, msg("r2", "u1", i))
			if err == nil {
				accepted++
			} else if totalFull == nil {
				totalFull = err
			}
		}
		// With Redis the total is a census plus this node's appends since: it may count a
		// message twice for a moment (never zero times), so it can refuse slightly early.
		if accepted > 30 || accepted < 27 || code(totalFull) != vocab.CodeRateLimited {
			t.Fatalf("total bound: accepted %d (want 30, or a little less with Redis), error %v", accepted, totalFull)
		}
		svc.setFail(nil)
		eventually(t, 10*time.Second, "everything acknowledged stored", func() bool { n, _ := svc.count(); return n == accepted })
		// Room for new messages again once the buffer drained.
		eventually(t, 5*time.Second, "accepting again", func() bool { return l.Append(ctx, msg("r3", "u1", 0)) == nil })
	})
}

func TestUserRateLimit(t *testing.T) {
	o := fastOptions("")
	o.Rate, o.Burst = 1, 2
	l := NewMemory(o)
	closeNow(t, l)
	ctx := context.Background()
	if l.Append(ctx, msg("r", "u", 1)) != nil || l.Append(ctx, msg("r", "u", 2)) != nil {
		t.Fatal("burst refused")
	}
	if err := l.Append(ctx, msg("r", "u", 3)); code(err) != vocab.CodeRateLimited {
		t.Fatalf("third message: %v, want rate_limited", err)
	}
}

func TestHistoryKeepsTheLatestOldestFirstIncludingFlushed(t *testing.T) {
	forEachStore(t, func(t *testing.T, newLog func(Options) *Log) {
		svc := newFakeService(t)
		o := fastOptions(svc.URL)
		o.History = 50
		l := newLog(o)
		closeNow(t, l)
		ctx := context.Background()
		for i := range 80 {
			if err := l.Append(ctx, msg("r1", "u1", i)); err != nil {
				t.Fatal(err)
			}
		}
		eventually(t, 10*time.Second, "flushed", func() bool { n, _ := svc.count(); return n == 80 })
		h, err := l.Recent(ctx, "r1", 50)
		if err != nil {
			t.Fatal(err)
		}
		if len(h) != 50 {
			t.Fatalf("history has %d messages, want 50", len(h))
		}
		for i, m := range h {
			if want := msg("r1", "u1", 30+i).ID; m.ID != want {
				t.Fatalf("history[%d] = %s, want %s", i, m.ID, want)
			}
		}
	})
}

func TestWithoutServiceOnlyHistoryIsKept(t *testing.T) {
	forEachStore(t, func(t *testing.T, newLog func(Options) *Log) {
		o := fastOptions("")
		o.History = 10
		l := newLog(o)
		closeNow(t, l)
		ctx := context.Background()
		for i := range 100 {
			if err := l.Append(ctx, msg("r1", "u1", i)); err != nil {
				t.Fatal(err)
			}
		}
		if d, _, _ := l.store.census(ctx); d != 0 {
			t.Fatalf("buffered %d messages with no Chat Service", d)
		}
		h, _ := l.Recent(ctx, "r1", 50)
		if len(h) != 10 || h[9].ID != msg("r1", "u1", 99).ID {
			t.Fatalf("history: %d messages, last %+v", len(h), h[len(h)-1])
		}
	})
}

func TestCloseDeliversWhatTheNodeHolds(t *testing.T) {
	forEachStore(t, func(t *testing.T, newLog func(Options) *Log) {
		svc := newFakeService(t)
		o := fastOptions(svc.URL)
		o.FlushInterval = time.Hour
		l := newLog(o)
		ctx := context.Background()
		for i := range 40 {
			if err := l.Append(ctx, msg("r1", "u1", i)); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.Close(nodeCtx(t, 10*time.Second)); err != nil {
			t.Fatalf("close: %v", err)
		}
		if n, _ := svc.count(); n != 40 {
			t.Fatalf("stored %d of 40 on close", n)
		}
		if err := l.Append(ctx, msg("r1", "u1", 41)); !errors.Is(err, ErrClosed) {
			t.Fatalf("append after close: %v", err)
		}
		if err := l.Close(ctx); err != nil {
			t.Fatalf("second close: %v", err)
		}
	})
}

func nodeCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
