// Package stats summarises latency samples for the load tools and
// benchmarks: one definition of a percentile, so that every figure in
// docs/benchmarks.md, docs/notifier.md and docs/expirer.md means the same.
package stats

import (
	"slices"
	"time"
)

// Percentile is the nearest-rank q-quantile (0 < q ≤ 1) of sorted samples:
// the smallest sample at or below which a fraction q of them lie. It is 0
// for no samples.
func Percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*q+0.999999) - 1
	i = max(0, min(i, len(sorted)-1))
	return sorted[i]
}

// Sorted returns a sorted copy of samples.
func Sorted(samples []time.Duration) []time.Duration {
	s := slices.Clone(samples)
	slices.Sort(s)
	return s
}
