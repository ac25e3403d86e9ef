package stats_test

import (
	"testing"
	"time"

	"github.com/feedbackd/feedbackd/pkg/stats"
)

func TestPercentileIsNearestRank(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	for q, want := range map[float64]time.Duration{.5: 50 * time.Millisecond, .9: 90 * time.Millisecond, .99: 99 * time.Millisecond, 1: 100 * time.Millisecond} {
		if got := stats.Percentile(d, q); got != want {
			t.Errorf("p%v = %s, want %s", q*100, got, want)
		}
	}
	if stats.Percentile(nil, .5) != 0 || stats.Percentile(d[:1], .99) != time.Millisecond {
		t.Fatal("edge cases")
	}
	// Ten samples: p50 is the fifth, p99 the tenth.
	if got := stats.Percentile(d[:10], .5); got != 5*time.Millisecond {
		t.Errorf("p50 of 10 = %s", got)
	}
	if got := stats.Percentile(d[:10], .99); got != 10*time.Millisecond {
		t.Errorf("p99 of 10 = %s", got)
	}
}

func TestSortedLeavesTheInputAlone(t *testing.T) {
	in := []time.Duration{3, 1, 2}
	out := stats.Sorted(in)
	if in[0] != 3 || out[0] != 1 || out[2] != 3 {
		t.Fatalf("in %v, out %v", in, out)
	}
}
