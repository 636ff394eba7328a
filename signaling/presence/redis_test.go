package presence_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/switchboard-rtc/switchboard/internal/testutil/redisserver"
	"github.com/switchboard-rtc/switchboard/signaling/presence"
	"github.com/switchboard-rtc/switchboard/signaling/presence/presencetest"
	"github.com/switchboard-rtc/switchboard/signaling/redisconn"
)

func client(t *testing.T, url string) redis.UniversalClient {
	t.Helper()
	c, err := redisconn.New(redisconn.Options{URL: url, DialTimeout: 500 * time.Millisecond, ReadTimeout: time.Second, WriteTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func redisFactory(url string, flush func()) presencetest.Factory {
	return func(t *testing.T) func() presencetest.Backend {
		flush()
		return func() presencetest.Backend {
			s := presence.NewRedis(client(t, url), presence.RedisOptions{})
			return presencetest.Backend{Store: s, Nodes: s}
		}
	}
}

func TestRedisPresenceContract(t *testing.T) {
	s := redisserver.Start(t, redisserver.Options{})
	presencetest.Run(t, presencetest.Capabilities{Expiry: true}, redisFactory(s.URL(), func() { s.Do("FLUSHALL") }))
}

// In Cluster mode every script must touch one slot only; running the whole contract on a
// three-master cluster proves the key layout and the split into per-slot steps.
func TestRedisClusterPresenceContract(t *testing.T) {
	cl := redisserver.StartCluster(t)
	flush := func() {
		for _, n := range cl.Nodes {
			n.Do("FLUSHALL")
		}
	}
	presencetest.Run(t, presencetest.Capabilities{Expiry: true}, redisFactory(cl.URL(), flush))
}

func TestRedisKeyLayoutFollowsTheSpec(t *testing.T) {
	s := redisserver.Start(t, redisserver.Options{})
	c := client(t, s.URL())
	p := presence.NewRedis(c, presence.RedisOptions{})
	ctx := context.Background()
	m := presence.Member{UserID: "u7", Name: "Ann", NodeID: "n1", Session: "s1", JoinedAt: 1234}
	if _, err := p.Join(ctx, "r1", m, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(c.HGet(ctx, "room:{r1}:members", "u7").Val()), &rec); err != nil {
		t.Fatal(err)
	}
	if rec["nodeId"] != "n1" || rec["name"] != "Ann" || rec["joinedAt"] != float64(1234) || rec["session"] != "s1" {
		t.Fatalf("room:{r1}:members u7 = %v", rec)
	}
	if got := c.HGet(ctx, "room:{r1}:nodes", "n1").Val(); got != "1" {
		t.Fatalf("room:{r1}:nodes n1 = %q, want 1", got)
	}
	if got := c.Get(ctx, "user:{u7}:node").Val(); got != "n1" {
		t.Fatalf("user:{u7}:node = %q", got)
	}
	if ttl := c.PTTL(ctx, "presence:{r1}:u7").Val(); ttl <= 25*time.Second || ttl > 30*time.Second {
		t.Fatalf("presence:{r1}:u7 TTL = %s, want ~30s", ttl)
	}
	if err := p.Touch(ctx, "r1", "u7", 60*time.Second); err != nil {
		t.Fatal(err)
	}
	if ttl := c.PTTL(ctx, "presence:{r1}:u7").Val(); ttl <= 55*time.Second {
		t.Fatalf("Touch did not refresh the TTL: %s", ttl)
	}
	if err := p.MarkDisconnecting(ctx, "r1", "u7", "s1", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if got, ttl := c.Get(ctx, "disconnecting:{u7}").Val(), c.PTTL(ctx, "disconnecting:{u7}").Val(); got != "n1/s1" || ttl <= 0 || ttl > 5*time.Second {
		t.Fatalf("disconnecting:{u7} = %q ttl %s, want n1/s1 with the window TTL", got, ttl)
	}
	// A rejoin clears the mark.
	if _, err := p.Join(ctx, "r1", presence.Member{UserID: "u7", NodeID: "n2", Session: "s2"}, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if c.Exists(ctx, "disconnecting:{u7}").Val() != 0 {
		t.Fatal("rejoin did not clear disconnecting:{u7}")
	}
	if c.HGet(ctx, "room:{r1}:nodes", "n2").Val() != "1" || c.HExists(ctx, "room:{r1}:nodes", "n1").Val() {
		t.Fatalf("room:{r1}:nodes after move = %v", c.HGetAll(ctx, "room:{r1}:nodes").Val())
	}
	if err := p.Heartbeat(ctx, "n1", presence.NodeDraining, 9*time.Second); err != nil {
		t.Fatal(err)
	}
	var node map[string]any
	if err := json.Unmarshal([]byte(c.Get(ctx, "node:{n1}").Val()), &node); err != nil {
		t.Fatal(err)
	}
	if node["nodeId"] != "n1" || node["state"] != "draining" || node["updatedAt"].(float64) < float64(time.Now().Add(-time.Minute).UnixMilli()) {
		t.Fatalf("node:{n1} = %v", node)
	}
	if ttl := c.PTTL(ctx, "node:{n1}").Val(); ttl <= 0 || ttl > 9*time.Second {
		t.Fatalf("node:{n1} TTL = %s", ttl)
	}
	if removed, _ := p.Leave(ctx, "r1", "u7", "s2"); !removed {
		t.Fatal("leave")
	}
	for _, k := range []string{"presence:{r1}:u7", "user:{u7}:node", "room:{r1}:members", "room:{r1}:nodes"} {
		if c.Exists(ctx, k).Val() != 0 {
			t.Errorf("%s still exists after the last member left", k)
		}
	}
}

func TestPresenceSurvivesNodeAndRedisRestarts(t *testing.T) {
	s := redisserver.Start(t, redisserver.Options{AOF: true})
	ctx := context.Background()
	p1 := presence.NewRedis(client(t, s.URL()), presence.RedisOptions{})
	if _, err := p1.Join(ctx, "r", presence.Member{UserID: "u", NodeID: "n1", Session: "s"}, time.Minute); err != nil {
		t.Fatal(err)
	}
	// A new process (new client, new store) sees the same presence.
	p2 := presence.NewRedis(client(t, s.URL()), presence.RedisOptions{})
	if m, err := p2.Get(ctx, "r", "u"); err != nil || m == nil || m.NodeID != "n1" {
		t.Fatalf("after a node restart: %+v %v", m, err)
	}
	// With appendfsync always, even a SIGKILLed Redis keeps it.
	s.Kill()
	s.Restart()
	deadline := time.Now().Add(10 * time.Second)
	for {
		m, err := p2.Get(ctx, "r", "u")
		if err == nil && m != nil && m.Session == "s" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a Redis restart: %+v %v", m, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestPresenceErrorsWrapErrUnavailableWhenRedisIsDown(t *testing.T) {
	s := redisserver.Start(t, redisserver.Options{})
	p := presence.NewRedis(client(t, s.URL()), presence.RedisOptions{})
	s.Kill()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err1 := p.Join(ctx, "r", presence.Member{UserID: "u", NodeID: "n", Session: "s"}, time.Minute)
	_, err2 := p.Leave(ctx, "r", "u", "s")
	_, err3 := p.Members(ctx, "r")
	err4 := p.Heartbeat(ctx, "n", presence.NodeActive, time.Second)
	_, err5 := p.ReapDead(ctx)
	for i, err := range []error{err1, err2, err3, err4, err5} {
		if !errors.Is(err, presence.ErrUnavailable) {
			t.Errorf("call %d: %v, want ErrUnavailable", i+1, err)
		}
	}
}

func TestReapRemovesTheDeadNodesUserKeys(t *testing.T) {
	s := redisserver.Start(t, redisserver.Options{})
	c := client(t, s.URL())
	p := presence.NewRedis(c, presence.RedisOptions{})
	ctx := context.Background()
	if err := p.Heartbeat(ctx, "dead", presence.NodeActive, 200*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Join(ctx, "r", presence.Member{UserID: "u", NodeID: "dead", Session: "s"}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := p.MarkDisconnecting(ctx, "r", "u", "s", time.Minute); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := p.ReapDead(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("not reaped")
		}
		time.Sleep(50 * time.Millisecond)
	}
	keys := c.Keys(ctx, "*").Val()
	for _, k := range keys {
		if !strings.HasSuffix(k, ":reaper") {
			t.Errorf("key %s left after reaping the only node", k)
		}
	}
}

// roundTrips counts the commands and pipelines a client sends (not the HELLO that sets up
// each new connection).
type roundTrips struct{ n int }

func (r *roundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }
func (r *roundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() != "hello" {
			r.n++
		}
		return next(ctx, cmd)
	}
}
func (r *roundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { r.n++; return next(ctx, cmds) }
}

// TestRedisJoinIsOneRoundTrip: a join writes the node index, the room and the user keys
// in one pipelined round trip, and still works after Redis forgot its scripts.
func TestRedisJoinIsOneRoundTrip(t *testing.T) {
	s := redisserver.Start(t, redisserver.Options{})
	c := client(t, s.URL())
	ctx := context.Background()
	rt := &roundTrips{}
	c.AddHook(rt)
	p := presence.NewRedis(c, presence.RedisOptions{})
	m := presence.Member{UserID: "u1", Name: "U", NodeID: "n1", Session: "s1"}
	if prev, err := p.Join(ctx, "r1", m, time.Minute); err != nil || prev != nil {
		t.Fatalf("join: %v, %v", prev, err)
	}
	if rt.n != 1 {
		t.Fatalf("join took %d round trips, want 1", rt.n)
	}
	s.Do("SCRIPT", "FLUSH")
	m.Session = "s2"
	prev, err := p.Join(ctx, "r1", m, time.Minute)
	if err != nil || prev == nil || prev.Session != "s1" {
		t.Fatalf("join after SCRIPT FLUSH: previous %+v, %v; want session s1", prev, err)
	}
	if score, err := c.ZScore(ctx, "node:{n1}:rooms", "r1").Result(); err != nil || score == 0 {
		t.Fatalf("node index: %v, %v", score, err)
	}
	if node, err := c.Get(ctx, "user:{u1}:node").Result(); err != nil || node != "n1" {
		t.Fatalf("user node: %q, %v", node, err)
	}
}
