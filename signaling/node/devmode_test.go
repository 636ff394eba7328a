package node

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/switchboard-rtc/switchboard/signaling/auth"
	"github.com/switchboard-rtc/switchboard/signaling/config"
)

func TestDevModeMetricSaysWhetherTheNodeRunsWithDev(t *testing.T) {
	keys, err := auth.NewDevKeys()
	if err != nil {
		t.Fatal(err)
	}
	v, _ := auth.NewVerifier(auth.Config{PublicKey: &keys.Private.PublicKey})
	for _, dev := range []bool{false, true} {
		cfg := config.Defaults()
		cfg.Dev = dev
		n, err := New(context.Background(), Options{Config: cfg, Verifier: v})
		if err != nil {
			t.Fatal(err)
		}
		want := 0.0
		if dev {
			want = 1
		}
		if got := testutil.ToFloat64(n.Metrics.DevMode); got != want {
			t.Errorf("dev=%v: switchboard_dev_mode = %v, want %v", dev, got, want)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		n.Close(ctx)
		cancel()
	}
}
