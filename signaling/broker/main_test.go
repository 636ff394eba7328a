package broker_test

import (
	"context"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"
)

type discardLogger struct{}

func (discardLogger) Printf(context.Context, string, ...any) {}

func TestMain(m *testing.M) {
	// go-redis logs every failed dial; the outage tests cause thousands on purpose.
	redis.SetLogger(discardLogger{})
	os.Exit(m.Run())
}
