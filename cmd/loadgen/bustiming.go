package main

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// busHistograms are the node histograms of time spent on the bus between nodes: the
// PUBLISH round trip to Redis, and publish on one node to receipt on another.
var busHistograms = []string{"switchboard_redis_publish_seconds", "switchboard_redis_delivery_seconds"}

// busBucket parses a bucket line's name, e.g.
// switchboard_redis_publish_seconds_bucket{le="0.0002"}, of one of busHistograms.
func busBucket(name string) (hist string, le float64, ok bool) {
	for _, h := range busHistograms {
		rest, found := strings.CutPrefix(name, h+`_bucket{le="`)
		if !found {
			continue
		}
		bound, _, _ := strings.Cut(rest, `"`)
		if bound == "+Inf" {
			return h, math.Inf(1), true
		}
		v, err := strconv.ParseFloat(bound, 64)
		return h, v, err == nil
	}
	return "", 0, false
}

// busTiming reports each bus histogram over the scenario (the end's counts minus those at
// the "connected" barrier, all nodes together): count, p50 and p99 from the buckets,
// interpolated linearly within one. "" without the histograms (one node on the in-memory
// bus, or a server without these metrics).
func busTiming(start, end []goMem) string {
	var parts []string
	for _, h := range busHistograms {
		diff := map[float64]float64{}
		for i := range end {
			for le, v := range end[i].Buckets[h] {
				diff[le] += v
				if i < len(start) {
					diff[le] -= start[i].Buckets[h][le]
				}
			}
		}
		bounds := make([]float64, 0, len(diff))
		for le := range diff {
			bounds = append(bounds, le)
		}
		sort.Float64s(bounds)
		if len(bounds) == 0 || diff[bounds[len(bounds)-1]] == 0 {
			continue
		}
		total := diff[bounds[len(bounds)-1]]
		q := func(p float64) float64 {
			want, prevLE, prevN := p*total, 0.0, 0.0
			for _, le := range bounds {
				if n := diff[le]; n >= want {
					if math.IsInf(le, 1) || n == prevN {
						return prevLE
					}
					return prevLE + (le-prevLE)*(want-prevN)/(n-prevN)
				}
				prevLE, prevN = le, diff[le]
			}
			return prevLE
		}
		short := strings.TrimSuffix(strings.TrimPrefix(h, "switchboard_redis_"), "_seconds")
		parts = append(parts, fmt.Sprintf("%s n=%.0f p50 %.2f p99 %.2f ms", short, total, 1000*q(0.5), 1000*q(0.99)))
	}
	return strings.Join(parts, "; ")
}
