package hub

import (
	"testing"
	"time"
)

func TestDrainScheduleRespectsTheShare(t *testing.T) {
	for _, tc := range []struct {
		n      int
		o      DrainOptions
		spread time.Duration
	}{
		{n: 100, o: DrainOptions{MaxShare: 0.1}, spread: 10 * time.Second},
		{n: 1000, o: DrainOptions{MaxShare: 0.3}, spread: 3333 * time.Millisecond},
		{n: 1000, o: DrainOptions{MaxShare: 0.1, Spread: 5 * time.Second}, spread: 5 * time.Second},
		{n: 1, o: DrainOptions{MaxShare: 0.5}, spread: 0},
		{n: 0, o: DrainOptions{MaxShare: 0.5}},
	} {
		offsets := drainSchedule(tc.n, tc.o)
		if len(offsets) != tc.n {
			t.Fatalf("n=%d: %d offsets", tc.n, len(offsets))
		}
		if tc.n == 0 {
			continue
		}
		if last := offsets[len(offsets)-1]; last > tc.spread || last < tc.spread-tc.spread/time.Duration(tc.n)-time.Millisecond {
			t.Errorf("n=%d %+v: last close at %s, want ≈%s", tc.n, tc.o, last, tc.spread)
		}
		// Sliding one-second window: never more than the allowed rate.
		limit := float64(tc.n) / tc.spread.Seconds()
		if tc.o.Spread == 0 || tc.spread < tc.o.Spread {
			limit = tc.o.MaxShare * float64(tc.n)
		}
		j := 0
		for i := range offsets {
			for offsets[i]-offsets[j] >= time.Second {
				j++
			}
			if got := float64(i - j + 1); got > limit+1 {
				t.Fatalf("n=%d %+v: %v closes within one second, limit %.1f", tc.n, tc.o, got, limit)
			}
		}
	}
}
