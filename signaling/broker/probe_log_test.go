package broker

import (
	"log/slog"
	"testing"
	"time"
)

func TestSinceProbeIsNeverBeforeTheFirstProbe(t *testing.T) {
	if v := sinceProbe(time.Now().UnixNano(), 0); v.Kind() != slog.KindString || v.String() != "never" {
		t.Fatalf("before any probe: %v, want never", v)
	}
	now := time.Now()
	if v := sinceProbe(now.UnixNano(), now.Add(-1500*time.Millisecond).UnixNano()); v.Duration() != 1500*time.Millisecond {
		t.Fatalf("after a probe 1.5 s ago: %v", v)
	}
}
