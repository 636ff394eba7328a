package broker_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchboard-rtc/switchboard/internal/testutil/redisserver"
	"github.com/switchboard-rtc/switchboard/signaling/broker"
	"github.com/switchboard-rtc/switchboard/signaling/broker/brokertest"
	"github.com/switchboard-rtc/switchboard/signaling/metrics"
	"github.com/switchboard-rtc/switchboard/signaling/redisconn"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

type node struct {
	*brokertest.Node
	m *metrics.RedisMetrics
}

// startRedisNode starts a Redis broker named id against url with a fast watchdog.
func startRedisNode(t *testing.T, url, id string) *node {
	t.Helper()
	return startRedisNodeProbing(t, url, id, 200*time.Millisecond, time.Second)
}

// startRedisNodeProbing is startRedisNode with given watchdog settings (0: defaults).
func startRedisNodeProbing(t *testing.T, url, id string, interval, timeout time.Duration) *node {
	t.Helper()
	c, err := redisconn.New(redisconn.Options{URL: url, DialTimeout: 500 * time.Millisecond, ReadTimeout: time.Second, WriteTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	n := &node{m: metrics.NewRedisMetrics(prometheus.NewRegistry())}
	n.Node = brokertest.StartNode(t, func() broker.Broker {
		return broker.NewRedis(c, broker.RedisOptions{
			Metrics: n.m, Logger: quiet,
			ProbeInterval: interval, ProbeTimeout: timeout,
		})
	}, id)
	brokertest.WaitReady(t, n.B)
	return n
}

func eventually(t *testing.T, within time.Duration, what string, cond func() error) time.Duration {
	t.Helper()
	start := time.Now()
	var err error
	for time.Since(start) < within {
		if err = cond(); err == nil {
			return time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: not within %s: %v", what, within, err)
	return 0
}

// relayWorks publishes a fresh room message from a and reports whether b received it.
func relayWorks(t *testing.T, a, b *node, room string) func() error {
	var i atomic.Int64
	return func() error {
		ev := fmt.Sprintf("probe-%s-%d", room, i.Add(1))
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := a.B.PublishRoom(ctx, room, broker.Message{Type: broker.TypeRoom, Room: room, Event: ev}); err != nil {
			return err
		}
		deadline := time.Now().Add(300 * time.Millisecond)
		for time.Now().Before(deadline) {
			if b.Has(ev) {
				return nil
			}
			time.Sleep(10 * time.Millisecond)
		}
		return fmt.Errorf("%s not relayed", ev)
	}
}

func TestRedisRestartOnSamePortRecoversWithoutRestartingTheBroker(t *testing.T) {
	s := redisserver.Start(t, redisserver.Options{})
	// Production watchdog settings (1 s probes, 3 s timeout): the recovery time logged
	// here is the one reported in docs/benchmarks.md.
	a, b := startRedisNodeProbing(t, s.URL(), "a", 0, 0), startRedisNodeProbing(t, s.URL(), "b", 0, 0)
	for _, r := range []string{"r1", "r2"} {
		if err := b.B.SubscribeRoom(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 5*time.Second, "relay before outage", relayWorks(t, a, b, "r1"))

	s.Kill()
	eventually(t, 10*time.Second, "readiness false while Redis is down", func() error {
		if a.B.Ready() == nil || b.B.Ready() == nil {
			return errors.New("still ready")
		}
		return nil
	})
	err := a.B.PublishRoom(context.Background(), "r1", broker.Message{Type: broker.TypeRoom, Event: "lost"})
	if !errors.Is(err, broker.ErrUnavailable) {
		t.Fatalf("publish during outage: %v, want ErrUnavailable", err)
	}
	eventually(t, 5*time.Second, "degraded gauge set during outage", func() error {
		if testutil.ToFloat64(b.m.Degraded) != 1 {
			return errors.New("degraded gauge is 0")
		}
		return nil
	})
	time.Sleep(2 * time.Second) // "a few seconds" of outage

	s.Restart()
	back := time.Now()
	eventually(t, 15*time.Second, "readiness back", func() error {
		if err := a.B.Ready(); err != nil {
			return err
		}
		return b.B.Ready()
	})
	ready := time.Since(back)
	eventually(t, 10*time.Second, "relay in r1 after restart", relayWorks(t, a, b, "r1"))
	eventually(t, 10*time.Second, "relay in r2 after restart", relayWorks(t, a, b, "r2"))
	relay := time.Since(back)
	t.Logf("recovery after Redis restart: ready after %s, cross-node relay in every room after %s", ready.Round(time.Millisecond), relay.Round(time.Millisecond))
	eventually(t, 5*time.Second, "OnResubscribed called", func() error {
		if b.resubscribedNotices() == 0 {
			return errors.New("not called")
		}
		return nil
	})
	eventually(t, 5*time.Second, "gauges restored", func() error {
		if testutil.ToFloat64(b.m.Degraded) != 0 || testutil.ToFloat64(b.m.WatchdogHealthy) != 1 {
			return errors.New("degraded or unhealthy")
		}
		return nil
	})
}

func TestClientKillPubsubIsNoticedAndResubscribed(t *testing.T) {
	s := redisserver.Start(t, redisserver.Options{})
	a, b := startRedisNode(t, s.URL(), "a"), startRedisNode(t, s.URL(), "b")
	if err := b.B.SubscribeRoom(context.Background(), "r"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "relay before kill", relayWorks(t, a, b, "r"))
	s.Do("CLIENT", "KILL", "TYPE", "pubsub")
	eventually(t, 10*time.Second, "room channel subscribed again", func() error {
		chans := fmt.Sprint(s.Do("PUBSUB", "CHANNELS", "channel:room:*"))
		if !strings.Contains(chans, "channel:room:{r}") {
			return fmt.Errorf("PUBSUB CHANNELS = %s", chans)
		}
		return nil
	})
	eventually(t, 10*time.Second, "relay after kill", relayWorks(t, a, b, "r"))
	eventually(t, 5*time.Second, "resubscribe observed", func() error {
		if b.resubscribedNotices() == 0 || testutil.ToFloat64(b.m.Resubscribes.WithLabelValues("conn_error"))+testutil.ToFloat64(b.m.Resubscribes.WithLabelValues("watchdog")) == 0 {
			return errors.New("no resubscribe recorded")
		}
		return nil
	})
}

// A master that keeps its TCP connections open but stops answering (a wedged or paused
// process, docs/failure-modes.md F5) must be caught by the watchdog: readiness false, subscription re-created,
// and relay working again once the server answers, without restarting the broker.
func TestWatchdogCatchesAWedgedServer(t *testing.T) {
	s := redisserver.Start(t, redisserver.Options{})
	a, b := startRedisNode(t, s.URL(), "a"), startRedisNode(t, s.URL(), "b")
	if err := b.B.SubscribeRoom(context.Background(), "r"); err != nil {
		t.Fatal(err)
	}
	s.Pause()
	eventually(t, 10*time.Second, "watchdog notices the silent subscription", func() error {
		if b.B.Ready() == nil {
			return errors.New("still ready")
		}
		if testutil.ToFloat64(b.m.WatchdogFailures) == 0 {
			return errors.New("no watchdog failure counted yet")
		}
		return nil
	})
	s.Resume()
	eventually(t, 15*time.Second, "ready again", func() error { return b.B.Ready() })
	eventually(t, 10*time.Second, "relay after the server answers again", relayWorks(t, a, b, "r"))
}

func TestSentinelFailoverRelayWorksAgain(t *testing.T) {
	st := redisserver.StartSentinel(t)
	a, b := startRedisNode(t, st.URL(), "a"), startRedisNode(t, st.URL(), "b")
	if err := b.B.SubscribeRoom(context.Background(), "r"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "relay before failover", relayWorks(t, a, b, "r"))
	start := time.Now()
	newMaster := st.Failover()
	promoted := time.Since(start)
	d := eventually(t, 30*time.Second, "relay after failover", relayWorks(t, a, b, "r"))
	eventually(t, 15*time.Second, "both ready", func() error {
		if err := a.B.Ready(); err != nil {
			return err
		}
		return b.B.Ready()
	})
	t.Logf("sentinel failover to %s: promoted after %s; cross-node relay worked again %s after promotion (%s after SENTINEL FAILOVER)",
		newMaster, promoted.Round(time.Millisecond), d.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

// resubscribedNotices counts the TypeResubscribed messages the broker handed its node.
func (n *node) resubscribedNotices() int {
	c := 0
	for _, m := range n.Messages() {
		if m.Type == broker.TypeResubscribed {
			c++
		}
	}
	return c
}
