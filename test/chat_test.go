package test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/switchboard-rtc/switchboard/internal/testutil/nodetest"
	"github.com/switchboard-rtc/switchboard/internal/testutil/redisserver"
	"github.com/switchboard-rtc/switchboard/signaling/chat"
	"github.com/switchboard-rtc/switchboard/signaling/hub"
	"github.com/switchboard-rtc/switchboard/signaling/metrics"
	"github.com/switchboard-rtc/switchboard/signaling/sioclient"
	"github.com/switchboard-rtc/switchboard/signaling/vocab"
)

// chatService is an httptest Chat Service (docs/backends.md §Chat Service): it stores by id,
// counts the duplicates it drops, and fails, stalls or refuses on demand.
type chatService struct {
	*httptest.Server
	mu     sync.Mutex
	stored map[string]vocab.ChatMessage
	dups   int
	posts  int
	fail   func() int // status to answer instead of storing; 0 = store
}

func newChatService(t testing.TB) *chatService {
	s := &chatService{stored: map[string]vocab.ChatMessage{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Messages []vocab.ChatMessage `json:"messages"`
		}
		if r.URL.Path != "/internal/messages" || json.NewDecoder(r.Body).Decode(&body) != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.posts++
		if s.fail != nil {
			if code := s.fail(); code != 0 {
				w.WriteHeader(code)
				return
			}
		}
		for _, m := range body.Messages {
			if _, ok := s.stored[m.ID]; ok {
				s.dups++
				continue
			}
			s.stored[m.ID] = m
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *chatService) setFail(f func() int) { s.mu.Lock(); s.fail = f; s.mu.Unlock() }
func (s *chatService) down()                { s.setFail(func() int { return http.StatusServiceUnavailable }) }
func (s *chatService) up()                  { s.setFail(nil) }

func (s *chatService) counts() (stored, dups, posts int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.stored), s.dups, s.posts
}

// missing lists the acked ids the service does not have.
func (s *chatService) missing(ids []string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, id := range ids {
		if _, ok := s.stored[id]; !ok {
			out = append(out, id)
		}
	}
	return out
}

// waitStored polls until every id is stored, and checks nothing else was.
func (s *chatService) waitStored(t *testing.T, ids []string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		miss := s.missing(ids)
		if len(miss) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d acked messages not stored within %s (first %s)", len(miss), len(ids), within, miss[0])
		}
		time.Sleep(20 * time.Millisecond)
	}
	stored, dups, posts := s.counts()
	if stored != len(ids) {
		t.Fatalf("service stored %d messages, %d were acked", stored, len(ids))
	}
	t.Logf("stored %d messages exactly once; the service dropped %d re-sent duplicates over %d POSTs", stored, dups, posts)
}

// chatNode is a node whose chat log buffers in Redis through its own connection.
type chatNode struct {
	*nodetest.Node
	log *chat.Log
	rc  redis.UniversalClient
}

func chatOptions(id, serviceURL string) chat.Options {
	return chat.Options{NodeID: id, ServiceURL: serviceURL, ServiceTimeout: time.Second,
		FlushInterval: 20 * time.Millisecond, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		ClaimIdle: time.Second, CensusInterval: 50 * time.Millisecond, Rate: 1000, Burst: 1000,
		Logger: nodetest.Logger()}
}

func startChatNode(t *testing.T, redisURL string, opts chat.Options) *chatNode {
	t.Helper()
	rc := redis.NewClient(&redis.Options{Addr: strings.TrimPrefix(redisURL, "redis://"), MaxRetries: -1, DialTimeout: 500 * time.Millisecond})
	opts.Metrics = metrics.NewChatMetrics(prometheus.NewRegistry())
	l := chat.NewRedis(rc, opts)
	n := nodetest.Start(t, nodetest.Config{NodeID: opts.NodeID, RedisURL: redisURL, Hub: hub.Options{Chat: l, EventRate: 1000, EventBurst: 1000}})
	waitReady(t, n, 10*time.Second)
	cn := &chatNode{Node: n, log: l, rc: rc}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = l.Close(ctx)
		_ = rc.Close()
	})
	return cn
}

// crash kills the node's chat log without letting it deliver anything, then the node.
func (c *chatNode) crash() {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = c.rc.Close()
	_ = c.log.Close(ctx)
	c.Node.Crash()
}

func send(ctx context.Context, c *sioclient.Client, content any) (string, error) {
	var ack struct {
		ID        string `json:"id"`
		Timestamp int64  `json:"timestamp"`
	}
	err := c.Call(ctx, "chat_message", map[string]any{"content": content}, &ack)
	return ack.ID, err
}

func sendN(t *testing.T, c *sioclient.Client, prefix string, n int) []string {
	t.Helper()
	var ids []string
	for i := range n {
		id, err := send(nodetest.Ctx(t, 5*time.Second), c, fmt.Sprintf("%s %d", prefix, i))
		if err != nil {
			t.Fatalf("%s %d: %v", prefix, i, err)
		}
		ids = append(ids, id)
	}
	return ids
}

func TestChatTwoNodesEveryMemberGetsEachMessageOnceInSenderOrder(t *testing.T) {
	rs := redisserver.Start(t, redisserver.Options{})
	svc := newChatService(t)
	a := startChatNode(t, rs.URL(), chatOptions("node-a", svc.URL))
	b := startChatNode(t, rs.URL(), chatOptions("node-b", svc.URL))
	users := map[string]*sioclient.Client{}
	for _, u := range []string{"a1", "a2", "b1", "b2"} {
		n := a
		if u[0] == 'b' {
			n = b
		}
		users[u] = nodetest.Connect(t, n.Node, u)
		join(t, users[u], "room-1")
	}
	const per = 40
	var (
		mu  sync.Mutex
		ids []string
		wg  sync.WaitGroup
	)
	for u, c := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				id, err := send(context.Background(), c, fmt.Sprintf("%s %d", u, i))
				if err != nil {
					t.Errorf("%s %d: %v", u, i, err)
					return
				}
				mu.Lock()
				ids = append(ids, id)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	want := per * len(users)
	for u, c := range users {
		seen := map[string]bool{}
		last := map[string]int{}
		for len(seen) < want {
			m := next(t, c, "chat_message", 10*time.Second)
			id := m["id"].(string)
			if seen[id] {
				t.Fatalf("%s got %s twice", u, id)
			}
			seen[id] = true
			var sender string
			var i int
			fmt.Sscanf(m["content"].(string), "%s %d", &sender, &i)
			if prev, ok := last[sender]; ok && i != prev+1 {
				t.Fatalf("%s: from %s message %d after %d", u, sender, i, prev)
			}
			last[sender] = i
		}
		none(t, c, "chat_message", 100*time.Millisecond)
	}
	svc.waitStored(t, ids, 20*time.Second)
}

func TestChatServiceDownThenBackStoresEveryAckedMessageOnce(t *testing.T) {
	rs := redisserver.Start(t, redisserver.Options{})
	svc := newChatService(t)
	svc.down()
	a := startChatNode(t, rs.URL(), chatOptions("node-a", svc.URL))
	b := startChatNode(t, rs.URL(), chatOptions("node-b", svc.URL))
	ca, cb := nodetest.Connect(t, a.Node, "ua"), nodetest.Connect(t, b.Node, "ub")
	join(t, ca, "r1")
	join(t, cb, "r2")
	ids := append(sendN(t, ca, "a", 60), sendN(t, cb, "b", 60)...)
	eventually(t, 10*time.Second, "failed deliveries retried", func() bool {
		return testutil.ToFloat64(a.log.Metrics().Retried)+testutil.ToFloat64(b.log.Metrics().Retried) > 0
	})
	svc.up()
	svc.waitStored(t, ids, 20*time.Second)
}

func TestChatIntermittent500And429UnderLoadLoseNothing(t *testing.T) {
	rs := redisserver.Start(t, redisserver.Options{})
	svc := newChatService(t)
	var rnd sync.Mutex
	r := rand.New(rand.NewPCG(1, 2))
	svc.setFail(func() int {
		rnd.Lock()
		defer rnd.Unlock()
		switch x := r.IntN(10); {
		case x < 2:
			return http.StatusInternalServerError
		case x < 4:
			return http.StatusTooManyRequests
		}
		return 0
	})
	a := startChatNode(t, rs.URL(), chatOptions("node-a", svc.URL))
	b := startChatNode(t, rs.URL(), chatOptions("node-b", svc.URL))
	var (
		mu  sync.Mutex
		ids []string
		wg  sync.WaitGroup
	)
	for i := range 8 {
		n := a
		if i%2 == 1 {
			n = b
		}
		c := nodetest.Connect(t, n.Node, fmt.Sprintf("u%d", i))
		join(t, c, fmt.Sprintf("r%d", i%4))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 100 {
				id, err := send(context.Background(), c, fmt.Sprintf("load %d", j))
				if err != nil {
					t.Errorf("send: %v", err)
					return
				}
				mu.Lock()
				ids = append(ids, id)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	svc.waitStored(t, ids, 30*time.Second)
}

func TestChatRedisRestartKeepsAckedMessages(t *testing.T) {
	// Durability assumption: Redis writes its AOF with appendfsync always (docs/chat.md).
	rs := redisserver.Start(t, redisserver.Options{AOF: true})
	svc := newChatService(t)
	svc.down()
	a := startChatNode(t, rs.URL(), chatOptions("node-a", svc.URL))
	c := nodetest.Connect(t, a.Node, "u1")
	join(t, c, "r1")
	ids := sendN(t, c, "before", 50)
	rs.Kill()
	rs.Restart()
	svc.up()
	svc.waitStored(t, ids, 30*time.Second)
}

func TestChatNodeHoldingABatchDiesAnotherNodeDeliversIt(t *testing.T) {
	rs := redisserver.Start(t, redisserver.Options{})
	svc := newChatService(t)
	svc.down()
	nodes := map[string]*chatNode{
		"node-a": startChatNode(t, rs.URL(), chatOptions("node-a", svc.URL)),
		"node-b": startChatNode(t, rs.URL(), chatOptions("node-b", svc.URL)),
	}
	c := nodetest.Connect(t, nodes["node-a"].Node, "u1")
	join(t, c, "r1")
	ids := sendN(t, c, "m", 40)
	// Find the node whose flusher holds the batch (pending to its consumer), and kill it.
	rc := rs.Client()
	var holder string
	eventually(t, 10*time.Second, "a flusher holds the batch", func() bool {
		p, err := rc.XPending(context.Background(), "chat:buffer:{r1}", "flushers").Result()
		if err != nil || p.Count == 0 {
			return false
		}
		best := int64(0)
		for name, n := range p.Consumers {
			if n > best {
				holder, best = name, n
			}
		}
		return true
	})
	nodes[holder].crash()
	svc.up()
	svc.waitStored(t, ids, 20*time.Second)
	for name, n := range nodes {
		if name != holder && testutil.ToFloat64(n.log.Metrics().Flushed) == 0 {
			t.Fatalf("the surviving node %s flushed nothing", name)
		}
	}
}

func TestChatBufferBoundAnswersRateLimitedThenDeliversEverything(t *testing.T) {
	rs := redisserver.Start(t, redisserver.Options{})
	svc := newChatService(t)
	svc.down()
	o := chatOptions("node-a", svc.URL)
	o.MaxRoomBuffer, o.MaxTotalBuffer = 25, 1000
	a := startChatNode(t, rs.URL(), o)
	c := nodetest.Connect(t, a.Node, "u1")
	join(t, c, "r1")
	var ids []string
	var limited error
	for i := range 40 {
		id, err := send(nodetest.Ctx(t, 5*time.Second), c, fmt.Sprintf("m %d", i))
		if err != nil {
			limited = err
			continue
		}
		ids = append(ids, id)
	}
	if len(ids) != 25 || code(limited) != vocab.CodeRateLimited {
		t.Fatalf("accepted %d of 40 (want 25), refusal %v", len(ids), limited)
	}
	if n := rs.Client().XLen(context.Background(), "chat:buffer:{r1}").Val(); n > 25 {
		t.Fatalf("buffer holds %d entries, bound 25", n)
	}
	// The socket is still usable, and the refusal says why.
	if !strings.Contains(limited.Error(), "waiting to be saved") {
		t.Errorf("unclear refusal: %v", limited)
	}
	svc.up()
	svc.waitStored(t, ids, 20*time.Second)
	// The buffer frees up once the flusher removed the delivered batch.
	eventually(t, 10*time.Second, "accepting messages again", func() bool {
		_, err := send(nodetest.Ctx(t, 5*time.Second), c, "after recovery")
		return err == nil
	})
}

func TestChatHistoryOnJoinIsTheLatest50InOrder(t *testing.T) {
	rs := redisserver.Start(t, redisserver.Options{})
	svc := newChatService(t)
	a := startChatNode(t, rs.URL(), chatOptions("node-a", svc.URL))
	b := startChatNode(t, rs.URL(), chatOptions("node-b", svc.URL))
	c := nodetest.Connect(t, a.Node, "talker")
	join(t, c, "r1")
	ids := sendN(t, c, "h", 80)
	svc.waitStored(t, ids, 20*time.Second) // history must include already-flushed messages
	late := nodetest.Connect(t, b.Node, "late")
	var ack struct {
		Chat []vocab.ChatMessage `json:"chat"`
	}
	if err := late.Call(nodetest.Ctx(t, 5*time.Second), "join_room", map[string]string{"roomId": "r1"}, &ack); err != nil {
		t.Fatal(err)
	}
	if len(ack.Chat) != 50 {
		t.Fatalf("join ack has %d messages, want 50", len(ack.Chat))
	}
	for i, m := range ack.Chat {
		if m.ID != ids[30+i] || m.Content != fmt.Sprintf("h %d", 30+i) {
			t.Fatalf("history[%d] = %s %q, want %s", i, m.ID, m.Content, ids[30+i])
		}
	}
}

func TestChatInvalidContentIsInvalidPayloadAndTheSocketStays(t *testing.T) {
	rs := redisserver.Start(t, redisserver.Options{})
	svc := newChatService(t)
	a := startChatNode(t, rs.URL(), chatOptions("node-a", svc.URL))
	c := nodetest.Connect(t, a.Node, "u1")
	join(t, c, "r1")
	for name, content := range map[string]any{
		"empty": "", "blank": "   ", "too long": strings.Repeat("x", 4001), "number": 42,
		"object": map[string]any{"text": "hi"}, "null": nil, "array": []string{"hi"},
	} {
		if _, err := send(nodetest.Ctx(t, 5*time.Second), c, content); code(err) != vocab.CodeInvalidPayload {
			t.Errorf("%s: %v, want invalid_payload", name, err)
		}
	}
	id, err := send(nodetest.Ctx(t, 5*time.Second), c, "still here")
	if err != nil {
		t.Fatalf("valid message after invalid ones: %v", err)
	}
	svc.waitStored(t, []string{id}, 10*time.Second)
}

func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// BenchmarkChatThroughput: 1,000 users in 100 rooms (10 each, 5 per node) on two nodes
// sharing one redis-server, persistence on (Chat Service on httptest). Every user sends
// at CHAT_BENCH_RATE messages/s (default 20 → 20,000 msgs/s offered) for
// CHAT_BENCH_SECONDS (default 10), waiting for each ack. Reports accepted and flushed
// messages per second and ack latency percentiles. Run with make bench-chat.
func BenchmarkChatThroughput(b *testing.B) {
	const users, rooms = 1000, 100
	perUser := envFloat("CHAT_BENCH_RATE", 20)
	dur := time.Duration(envFloat("CHAT_BENCH_SECONDS", 10) * float64(time.Second))
	for range b.N {
		rs := redisserver.Start(b, redisserver.Options{})
		svc := newChatService(b)
		var nodes [2]*nodetest.Node
		var logs [2]*chat.Log
		for i := range nodes {
			o := chatOptions(fmt.Sprintf("node-%d", i), svc.URL)
			o.Rate, o.Burst = 1000, 1000
			o.FlushInterval = 50 * time.Millisecond
			o.ServiceTimeout, o.MaxBackoff, o.ClaimIdle = 5*time.Second, time.Second, 0 // production defaults for take-over
			o.MaxRoomBuffer, o.MaxTotalBuffer = 100_000, 1_000_000
			o.Metrics = metrics.NewChatMetrics(prometheus.NewRegistry())
			rc := redis.NewClient(&redis.Options{Addr: rs.Addr(), PoolSize: 64})
			logs[i] = chat.NewRedis(rc, o)
			nodes[i] = nodetest.Start(b, nodetest.Config{NodeID: o.NodeID, RedisURL: rs.URL(),
				Hub: hub.Options{Chat: logs[i], EventRate: 1000, EventBurst: 1000}})
			b.Cleanup(func() { _ = logs[i].Close(context.Background()); _ = rc.Close() })
		}
		var received atomic.Int64
		clients := make([]*sioclient.Client, users)
		for u := range users {
			c, err := sioclient.Dial(context.Background(), nodes[u%2].URL, sioclient.Options{Token: nodetest.Token(b, fmt.Sprintf("bench-%d", u)),
				OnEvent: func(ev sioclient.Event) {
					if ev.Name == "chat_message" {
						received.Add(1)
					}
				}})
			if err != nil {
				b.Fatalf("dial %d: %v", u, err)
			}
			b.Cleanup(c.Close)
			if err := c.Call(context.Background(), "join_room", map[string]string{"roomId": fmt.Sprintf("room-%d", u%rooms)}, nil); err != nil {
				b.Fatalf("join %d: %v", u, err)
			}
			clients[u] = c
		}
		b.ResetTimer()
		var (
			mu      sync.Mutex
			lat     []time.Duration
			failed  atomic.Int64
			wg      sync.WaitGroup
			acked   atomic.Int64
			startAt = time.Now()
			endAt   = startAt.Add(dur)
		)
		interval := time.Duration(float64(time.Second) / perUser)
		for u, c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				mine := make([]time.Duration, 0, int(perUser*dur.Seconds())+1)
				next := startAt.Add(time.Duration(rand.Int64N(int64(interval)))) // spread the senders
				for i := 0; ; i++ {
					if d := time.Until(next); d > 0 {
						time.Sleep(d)
					}
					if time.Now().After(endAt) {
						break
					}
					t0 := time.Now()
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					err := c.Call(ctx, "chat_message", map[string]any{"content": fmt.Sprintf("bench %d %d", u, i)}, nil)
					cancel()
					if err != nil {
						failed.Add(1)
					} else {
						acked.Add(1)
						mine = append(mine, time.Since(t0))
					}
					next = next.Add(interval)
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			}()
		}
		wg.Wait()
		elapsed := time.Since(startAt)
		storedAtEnd, _, _ := svc.counts()
		deadline := time.Now().Add(2 * time.Minute)
		for {
			n, _, _ := svc.counts()
			if int64(n) >= acked.Load() || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		drained := time.Since(startAt)
		stored, dups, posts := svc.counts()
		b.StopTimer()
		slices := lat
		sortDurations(slices)
		pct := func(p float64) time.Duration {
			if len(slices) == 0 {
				return 0
			}
			return slices[min(len(slices)-1, int(p*float64(len(slices))))]
		}
		b.ReportMetric(float64(acked.Load())/elapsed.Seconds(), "accepted/s")
		b.ReportMetric(float64(storedAtEnd)/elapsed.Seconds(), "flushed/s")
		b.ReportMetric(float64(pct(0.99).Microseconds())/1000, "p99-ack-ms")
		b.Logf("offered %.0f msg/s for %s; acked %d (%.0f/s), failed %d; ack p50 %s p90 %s p99 %s max %s",
			perUser*users, dur, acked.Load(), float64(acked.Load())/elapsed.Seconds(), failed.Load(), pct(0.5), pct(0.9), pct(0.99), pct(1))
		b.Logf("Chat Service: %d stored during the run (%.0f/s), %d/%d after %s (%.0f/s overall), %d duplicates, %d POSTs; chat_message deliveries to clients %d",
			storedAtEnd, float64(storedAtEnd)/elapsed.Seconds(), stored, acked.Load(), drained.Round(time.Millisecond), float64(stored)/drained.Seconds(), dups, posts, received.Load())
		// A call that timed out on the client may still have been stored: stored can
		// exceed acked, never fall short of it.
		var retried, flushed float64
		for _, l := range logs {
			retried += testutil.ToFloat64(l.Metrics().Retried)
			flushed += testutil.ToFloat64(l.Metrics().Flushed)
		}
		b.Logf("flushers: %.0f messages flushed, %.0f message deliveries retried (timeouts included)", flushed, retried)
		if int64(stored) < acked.Load() {
			b.Errorf("stored %d of %d acked messages", stored, acked.Load())
		}
	}
}

func sortDurations(d []time.Duration) {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
}

func envFloat(name string, def float64) float64 {
	if v := os.Getenv(name); v != "" {
		if f, err := strconv.ParseFloat(v, 64); err == nil && f > 0 {
			return f
		}
	}
	return def
}
