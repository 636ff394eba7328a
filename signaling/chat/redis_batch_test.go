package chat

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/signaling/vocab"
)

// TestConcurrentAppendsShareRoundTripsAndAllLand: many senders at once (their appends
// travel in shared pipelines) — every message is in its room's buffer and history, every
// room is indexed, each room's buffer respects its bound, and nothing else is stored.
func TestConcurrentAppendsShareRoundTripsAndAllLand(t *testing.T) {
	rc := redisClient(t)
	o := fastOptions("http://127.0.0.1:1") // a service nobody listens on: nothing is flushed
	o.MaxRoomBuffer = 150
	o.History = 1000
	l := NewRedis(rc, o)
	closeNow(t, l)
	ctx := context.Background()

	const senders, each, rooms = 40, 25, 4 // 1,000 messages, 250 per room: 100 over each bound
	var wg sync.WaitGroup
	var mu sync.Mutex
	accepted, refused := map[string]int{}, map[string]int{}
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				room := fmt.Sprintf("r%d", (s*each+i)%rooms)
				err := l.Append(ctx, msg(room, fmt.Sprintf("u%d", s), i))
				mu.Lock()
				switch code(err) {
				case "<nil>":
					accepted[room]++
				case vocab.CodeRateLimited:
					refused[room]++
				default:
					t.Errorf("append: %v", err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for r := range rooms {
		room := fmt.Sprintf("r%d", r)
		if accepted[room] != 150 || refused[room] != 100 {
			t.Errorf("room %s: accepted %d, refused %d; want 150 and 100 (bound 150)", room, accepted[room], refused[room])
		}
		if n := rc.XLen(ctx, bufferKey(room)).Val(); n != int64(accepted[room]) {
			t.Errorf("room %s buffer holds %d, accepted %d", room, n, accepted[room])
		}
		if n := rc.XLen(ctx, historyKey(room)).Val(); n != int64(accepted[room]) {
			t.Errorf("room %s history holds %d, accepted %d", room, n, accepted[room])
		}
		if !rc.SIsMember(ctx, roomsKey, room).Val() {
			t.Errorf("room %s is not indexed in %s", room, roomsKey)
		}
	}
}

// TestAppendSurvivesRedisForgettingTheScript: after SCRIPT FLUSH (as after a Redis
// restart) the batcher loads the script again and the append succeeds.
func TestAppendSurvivesRedisForgettingTheScript(t *testing.T) {
	rc := redisClient(t)
	l := NewRedis(rc, fastOptions(""))
	closeNow(t, l)
	ctx := context.Background()
	if err := l.Append(ctx, msg("r1", "u1", 1)); err != nil {
		t.Fatal(err)
	}
	if err := rc.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := l.Append(ctx, msg("r1", "u1", 2)); err != nil {
		t.Fatalf("append after SCRIPT FLUSH: %v", err)
	}
	got, err := l.Recent(ctx, "r1", 10)
	if err != nil || len(got) != 2 {
		t.Fatalf("history %v, %v; want both messages", got, err)
	}
}

// TestAppendWhoseCallerGaveUpIsNotStored: a message whose sender already got a failure
// (its context ended while queued) is not stored afterwards.
func TestAppendWhoseCallerGaveUpIsNotStored(t *testing.T) {
	rc := redisClient(t)
	l := NewRedis(rc, fastOptions(""))
	closeNow(t, l)
	s := l.store.(*redisStore)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	call := &appendCall{ctx: ctx, keys: []string{bufferKey("r1"), historyKey("r1")},
		args: []any{`{"id":"x"}`, 0, 50, time.Hour.Milliseconds()}, room: "r1"}
	if _, err := s.batch.do(call); err == nil {
		t.Fatal("append with an ended context succeeded")
	}
	// Let a sender that may still hold the call finish, then look.
	time.Sleep(100 * time.Millisecond)
	if n := rc.XLen(context.Background(), historyKey("r1")).Val(); n != 0 {
		t.Fatalf("history holds %d entries; the abandoned message was stored", n)
	}
}
