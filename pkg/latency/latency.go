// Package latency summarises measured durations for the project's
// benchmarks (make bench-coldstart, make bench-load, and the cost model's
// warm durations), so that each figure called a p50 or a p99 is computed
// the same way.
package latency

import (
	"math"
	"time"
)

// Quantile is the q-quantile (0 < q ≤ 1) of sorted (ascending) by the
// nearest-rank method: the smallest value with at least a fraction q of the
// values at or below it. It is 0 when there are no values.
func Quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}
