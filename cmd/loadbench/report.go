package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fleetgroups/fleetgroups/pkg/latency"
	"github.com/fleetgroups/fleetgroups/pkg/routes"
)

// stats are one operation's figures (or all operations', as "all") in one
// phase. Latencies are in milliseconds.
type stats struct {
	Operation string  `json:"operation"`
	Calls     int     `json:"calls"`
	PerSecond float64 `json:"per_second"`
	P50       float64 `json:"p50_ms"`
	P99       float64 `json:"p99_ms"`
	P999      float64 `json:"p999_ms"`
	Errors    int     `json:"errors"`
	// Requests is the DynamoDB requests per call by action: the
	// operation's own, and for "all" in the HTTP phase the authorizer's and
	// metering's too (Authorizer, Metering).
	Requests map[string]float64 `json:"dynamodb_requests_per_call"`
}

// phase is one run of the mix: over HTTP, or straight through the store.
type phase struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
	All     stats   `json:"all"`
	ByOp    []stats `json:"by_operation"`
	errors  []callError
	samples map[routes.Operation][]time.Duration
}

// summarize computes the phase's figures from its samples, its errors and
// the operations' DynamoDB requests; extra are requests made for all
// operations (the authorizer's, metering's), counted in "all".
func (p *phase) summarize(requests map[routes.Operation]map[string]int, extra map[string]int) {
	errs := map[routes.Operation]int{}
	for _, e := range p.errors {
		errs[e.op]++
	}
	var all []time.Duration
	for _, op := range mix {
		s := p.samples[op.name]
		all = append(all, s...)
		p.ByOp = append(p.ByOp, p.stats(string(op.name), s, errs[op.name], requests[op.name]))
	}
	overall := total(requests)
	maps.Copy(overall, extra)
	p.All = p.stats("all", all, len(p.errors), overall)
}

func (p *phase) stats(name string, samples []time.Duration, errs int, requests map[string]int) stats {
	slices.Sort(samples)
	st := stats{Operation: name, Calls: len(samples), Errors: errs, Requests: map[string]float64{},
		P50: millis(latency.Quantile(samples, 0.5)), P99: millis(latency.Quantile(samples, 0.99)), P999: millis(latency.Quantile(samples, 0.999))}
	if p.Seconds > 0 {
		st.PerSecond = float64(len(samples)) / p.Seconds
	}
	for action, n := range requests {
		if len(samples) > 0 {
			st.Requests[action] = float64(n) / float64(len(samples))
		}
	}
	return st
}

// millis is d in milliseconds, to the microsecond.
func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// requestsText shows requests per call as "2.5: GetItem 1, Query 1.5".
func requestsText(r map[string]float64) string {
	var all float64
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(r)) {
		all += r[k]
		parts = append(parts, fmt.Sprintf("%s %.2g", k, r[k]))
	}
	return fmt.Sprintf("%.3g: %s", all, strings.Join(parts, ", "))
}

// printTable writes the two phases side by side, by operation: throughput
// and latency over HTTP, the same direct, their ratios (HTTP p50 ÷ direct
// p50, direct calls/s ÷ HTTP calls/s), then the DynamoDB requests per call.
func printTable(out io.Writer, httpPhase, direct phase) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\tover HTTP\t\t\t\t\tdirect\t\t\t\t\tratio\t\t")
	fmt.Fprintln(tw, "operation\tcalls/s\tp50 ms\tp99 ms\tp99.9 ms\terrors\tcalls/s\tp50 ms\tp99 ms\tp99.9 ms\terrors\tp50\tcalls/s\t")
	rows := append([]stats{httpPhase.All}, httpPhase.ByOp...)
	directRows := append([]stats{direct.All}, direct.ByOp...)
	for i, h := range rows {
		d := directRows[i]
		fmt.Fprintf(tw, "%s\t%.1f\t%.2f\t%.2f\t%.2f\t%d\t%.1f\t%.2f\t%.2f\t%.2f\t%d\t%s\t%s\t\n",
			h.Operation, h.PerSecond, h.P50, h.P99, h.P999, h.Errors,
			d.PerSecond, d.P50, d.P99, d.P999, d.Errors, ratio(h.P50, d.P50), ratio(d.PerSecond, h.PerSecond))
	}
	_ = tw.Flush()
	fmt.Fprintln(out, "\nDynamoDB requests per call (Authorizer and Metering: the authorizer's and metering's, for every call):")
	tw = tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "operation\tover HTTP\tdirect\t")
	for i, h := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t\n", h.Operation, requestsText(h.Requests), requestsText(directRows[i].Requests))
	}
	_ = tw.Flush()
}

func ratio(a, b float64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", a/b)
}
