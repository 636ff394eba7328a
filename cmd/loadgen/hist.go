/*
Copyright 2026 The Switchboard Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package main

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// hist is a lock-free log-linear latency histogram in the spirit of HdrHistogram: values
// below 128 ns are exact, above that each power of two is split into 64 buckets, so a
// recorded value is known to within 1/64 (≈1.6 %). It covers 0 ns to ~2^62 ns. Many
// goroutines record concurrently with atomic adds; histograms of several loader processes
// merge by adding bucket counts.
type hist struct {
	counts [histBuckets]atomic.Uint64
	n      atomic.Uint64
	sum    atomic.Uint64 // nanoseconds
	max    atomic.Uint64
}

const (
	histSubBits = 6
	histSub     = 1 << histSubBits // 64
	histBuckets = histSub * 60
)

func histIndex(v uint64) int {
	if v < 2*histSub {
		return int(v)
	}
	shift := bits.Len64(v) - (histSubBits + 1)
	i := shift*histSub + int(v>>uint(shift))
	if i >= histBuckets {
		return histBuckets - 1
	}
	return i
}

// histValue is the midpoint of bucket i.
func histValue(i int) uint64 {
	if i < 2*histSub {
		return uint64(i)
	}
	shift := i/histSub - 1
	mant := uint64(i%histSub + histSub)
	lo := mant << uint(shift)
	return lo + (uint64(1)<<uint(shift))/2
}

func (h *hist) Record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	v := uint64(d)
	h.counts[histIndex(v)].Add(1)
	h.n.Add(1)
	h.sum.Add(v)
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			return
		}
	}
}

// histJSON is a histogram's wire form: sparse [bucket, count] pairs plus totals.
type histJSON struct {
	Count   uint64      `json:"count"`
	SumNs   uint64      `json:"sum_ns"`
	MaxNs   uint64      `json:"max_ns"`
	Buckets [][2]uint64 `json:"buckets,omitempty"`
}

func (h *hist) export() histJSON {
	out := histJSON{Count: h.n.Load(), SumNs: h.sum.Load(), MaxNs: h.max.Load()}
	for i := range h.counts {
		if c := h.counts[i].Load(); c > 0 {
			out.Buckets = append(out.Buckets, [2]uint64{uint64(i), c})
		}
	}
	return out
}

func (h *hist) merge(j histJSON) {
	for _, b := range j.Buckets {
		if b[0] < histBuckets {
			h.counts[b[0]].Add(b[1])
		}
	}
	h.n.Add(j.Count)
	h.sum.Add(j.SumNs)
	for {
		m := h.max.Load()
		if j.MaxNs <= m || h.max.CompareAndSwap(m, j.MaxNs) {
			return
		}
	}
}

// Quantile returns the value at quantile q (0..1).
func (h *hist) Quantile(q float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(n)))
	if rank < 1 {
		rank = 1
	}
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			v := histValue(i)
			if m := h.max.Load(); v > m {
				v = m
			}
			return time.Duration(v)
		}
	}
	return time.Duration(h.max.Load())
}

// latencySummary is what reports show of a histogram (milliseconds).
type latencySummary struct {
	Count  uint64  `json:"count"`
	MeanMs float64 `json:"mean_ms"`
	P50Ms  float64 `json:"p50_ms"`
	P90Ms  float64 `json:"p90_ms"`
	P99Ms  float64 `json:"p99_ms"`
	P999Ms float64 `json:"p999_ms"`
	MaxMs  float64 `json:"max_ms"`
}

func ms(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

func (h *hist) Summary() latencySummary {
	n := h.n.Load()
	s := latencySummary{Count: n}
	if n == 0 {
		return s
	}
	s.MeanMs = ms(time.Duration(h.sum.Load() / n))
	s.P50Ms = ms(h.Quantile(0.50))
	s.P90Ms = ms(h.Quantile(0.90))
	s.P99Ms = ms(h.Quantile(0.99))
	s.P999Ms = ms(h.Quantile(0.999))
	s.MaxMs = ms(time.Duration(h.max.Load()))
	return s
}
