package chat

import (
	"io"
	"log/slog"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/switchboard-rtc/switchboard/internal/testutil/redisserver"
)

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func redisClient(t *testing.T) redis.UniversalClient {
	t.Helper()
	return redisserver.Start(t, redisserver.Options{}).Client()
}
