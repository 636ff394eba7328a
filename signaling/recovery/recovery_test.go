package recovery_test

import (
	"testing"

	"github.com/switchboard-rtc/switchboard/internal/testutil/redisserver"
	"github.com/switchboard-rtc/switchboard/signaling/recovery"
	"github.com/switchboard-rtc/switchboard/signaling/recovery/recoverytest"
)

func TestMemoryLogContract(t *testing.T) {
	recoverytest.Run(t, func(_ *testing.T, max int) recovery.Log { return recovery.NewMemory(max) })
}

func TestRedisLogContract(t *testing.T) {
	rs := redisserver.Start(t, redisserver.Options{})
	c := rs.Client()
	recoverytest.Run(t, func(t *testing.T, max int) recovery.Log {
		if err := c.FlushAll(t.Context()).Err(); err != nil {
			t.Fatal(err)
		}
		return recovery.NewRedis(c, max)
	})
}
