package main

import (
	"math"
	"testing"
)

// TestBusTimingCountsOnlyTheScenario: the quantiles come from the buckets' growth between
// the two scrapes, summed over the nodes.
func TestBusTimingCountsOnlyTheScenario(t *testing.T) {
	h := "switchboard_redis_delivery_seconds"
	if name, le, ok := busBucket(h + `_bucket{le="0.0004"}`); !ok || name != h || le != 0.0004 {
		t.Fatalf("busBucket = %q %v %v", name, le, ok)
	}
	if _, le, ok := busBucket(h + `_bucket{le="+Inf"}`); !ok || !math.IsInf(le, 1) {
		t.Fatal("+Inf bucket not parsed")
	}
	if _, _, ok := busBucket("go_goroutines"); ok {
		t.Fatal("an unrelated metric parsed as a bucket")
	}
	node := func(a, b, c float64) goMem {
		return goMem{Buckets: map[string]map[float64]float64{h: {0.001: a, 0.002: b, math.Inf(1): c}}}
	}
	// Before the scenario: 1,000 slow samples (setup); during it each node adds 50 under
	// 1 ms and 50 between 1 and 2 ms.
	start := []goMem{node(0, 0, 1000), node(0, 0, 0)}
	end := []goMem{node(50, 100, 1100), node(50, 100, 100)}
	got := busTiming(start, end)
	want := "delivery n=200 p50 1.00 p99 1.98 ms"
	if got != want {
		t.Fatalf("busTiming = %q, want %q", got, want)
	}
	if busTiming(nil, []goMem{{}}) != "" {
		t.Fatal("timing reported without histograms")
	}
}
