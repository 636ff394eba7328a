package broker_test

import (
	"testing"
	"time"

	"github.com/switchboard-rtc/switchboard/internal/testutil/redisserver"
	"github.com/switchboard-rtc/switchboard/signaling/broker"
	"github.com/switchboard-rtc/switchboard/signaling/broker/brokertest"
	"github.com/switchboard-rtc/switchboard/signaling/redisconn"
)

func redisBackend(t *testing.T, s *redisserver.Server, opts broker.RedisOptions) brokertest.NewBroker {
	return func() broker.Broker {
		c, err := redisconn.New(redisconn.Options{URL: s.URL()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return broker.NewRedis(c, opts)
	}
}

func TestRedisBrokerContract(t *testing.T) {
	s := redisserver.Start(t, redisserver.Options{})
	brokertest.Run(t, func(t *testing.T) brokertest.NewBroker {
		s.Do("FLUSHALL")
		return redisBackend(t, s, broker.RedisOptions{ProbeInterval: 200 * time.Millisecond, ProbeTimeout: time.Second, Logger: quiet})
	})
}
