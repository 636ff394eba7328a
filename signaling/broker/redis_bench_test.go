package broker_test

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/testutil/redisserver"
	"github.com/switchboard-rtc/switchboard/signaling/broker"
	"github.com/switchboard-rtc/switchboard/signaling/redisconn"
)

// BenchmarkCrossNodeRelay measures publish on node A → handler on node B through a real
// redis-server at a steady 5,000 messages per second (an offer-sized payload), and
// reports p50/p99/max latency and the rate actually achieved. Run it with -benchtime 1x:
// one run is 5 s of traffic.
func BenchmarkCrossNodeRelay(b *testing.B) {
	const rate, seconds = 5000, 5
	s := redisserver.Start(b, redisserver.Options{})
	newBroker := func() *broker.Redis {
		c, err := redisconn.New(redisconn.Options{URL: s.URL()})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = c.Close() })
		return broker.NewRedis(c, broker.RedisOptions{Logger: quiet})
	}
	a, bb := newBroker(), newBroker()
	total := rate * seconds
	lat := make([]time.Duration, 0, total)
	done := make(chan struct{})
	if err := a.Start(context.Background(), "a", func(broker.Message) {}); err != nil {
		b.Fatal(err)
	}
	if err := bb.Start(context.Background(), "b", func(m broker.Message) {
		if m.Event != "offer" {
			return
		}
		lat = append(lat, time.Since(time.Unix(0, m.SentAt)))
		if len(lat) == total {
			close(done)
		}
	}); err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	defer bb.Close()
	if err := bb.SubscribeRoom(context.Background(), "bench"); err != nil {
		b.Fatal(err)
	}
	sdp, _ := json.Marshal(map[string]any{"to": "u2", "sdp": string(make([]byte, 1500))})
	b.ResetTimer()
	// Ten senders (sockets) at 500 msg/s each: 5,000 msg/s in total, like many clients
	// relaying offers and ICE candidates at once.
	const senders = 10
	began := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < senders; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(time.Second * senders / rate)
			defer tick.Stop()
			for i := 0; i < total/senders; i++ {
				<-tick.C
				m := broker.Message{Type: broker.TypeUser, Room: "bench", Event: "offer", Data: sdp, User: "u2"}
				if err := a.PublishRoom(context.Background(), "bench", m); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(began)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		b.Fatalf("only %d of %d messages arrived", len(lat), total)
	}
	b.StopTimer()
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
	b.ReportMetric(float64(total)/elapsed.Seconds(), "msg/s")
}
