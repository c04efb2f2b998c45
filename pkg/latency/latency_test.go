package latency

import (
	"testing"
	"time"
)

func TestQuantile(t *testing.T) {
	ms := func(vs ...int) []time.Duration {
		out := make([]time.Duration, len(vs))
		for i, v := range vs {
			out[i] = time.Duration(v) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	cases := []struct {
		name   string
		sorted []time.Duration
		q      float64
		want   time.Duration
	}{
		{"p50-of-odd", ms(1, 2, 3), 0.5, 2 * time.Millisecond},
		{"p50-of-even-is-the-lower-middle", ms(1, 2, 3, 4), 0.5, 2 * time.Millisecond},
		{"p99-of-100", ms(hundred...), 0.99, 99 * time.Millisecond},
		{"p50-of-100", ms(hundred...), 0.5, 50 * time.Millisecond},
		{"p999-of-100-is-the-max", ms(hundred...), 0.999, 100 * time.Millisecond},
		{"p99-of-few-is-the-max", ms(1, 2, 9), 0.99, 9 * time.Millisecond},
		{"one", ms(4), 0.5, 4 * time.Millisecond},
		{"none", nil, 0.5, 0},
	}
	for _, c := range cases {
		if got := Quantile(c.sorted, c.q); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
