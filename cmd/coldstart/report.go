package main

import (
	"fmt"
	"io"
	"maps"
	"os"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
)

// report is everything a run measured; it is written as JSON.
type report struct {
	Command   string           `json:"command"`
	Date      string           `json:"date"`
	GoVersion string           `json:"go_version"`
	Machine   machine          `json:"machine"`
	Rounds    int              `json:"rounds"`
	Warm      int              `json:"warm_invocations_per_round"`
	MemoryMB  int              `json:"memory_mb"` // AWS_LAMBDA_FUNCTION_MEMORY_SIZE
	CPU       cpuModel         `json:"cpu_model"`
	Baseline  functionReport   `json:"baseline"` // over all its rounds
	Functions []functionReport `json:"functions"`
}

type machine struct {
	OS           string `json:"os"`
	Arch         string `json:"arch"`
	CPUs         int    `json:"cpus"`
	Model        string `json:"cpu_model,omitempty"`
	LoadAvgStart string `json:"loadavg_start"` // /proc/loadavg
	LoadAvgEnd   string `json:"loadavg_end"`
}

type functionReport struct {
	Function   string        `json:"function"`
	Error      string        `json:"error,omitempty"` // why its rounds stopped
	Arm64Bytes int64         `json:"arm64_stripped_bytes,omitempty"`
	Rounds     []pairedRound `json:"rounds,omitempty"`
	// Medians of the function's rounds, by metric key.
	Medians map[string]float64 `json:"medians"`
	// Ratios to the baseline, by metric key: paired per round, and the
	// size's (a single figure).
	Ratios map[string]ratio `json:"ratios,omitempty"`
	// DynamoDB requests per invocation by operation, and connections
	// opened, averaged over the rounds.
	Init  perCall `json:"init_dynamodb"`
	First perCall `json:"first_dynamodb"`
	Warm  perCall `json:"warm_dynamodb_per_call"`
	// Answers by status, over every round.
	Statuses map[string]int `json:"statuses"`
}

type pairedRound struct {
	Baseline round `json:"baseline"`
	Function round `json:"function"`
}

type ratio struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
}

type perCall struct {
	Requests    map[string]float64 `json:"requests"`
	Connections float64            `json:"connections"`
}

// metric is one figure of a round.
type metric struct {
	Key, Label string
	Of         func(round) float64
}

var metrics = []metric{
	{"init_ms", "init ms", func(r round) float64 { return r.InitMs }},
	{"init_cpu_ms", "init CPU ms", func(r round) float64 { return r.InitCPUMs }},
	{"first_invocation_ms", "1st call ms", func(r round) float64 { return r.FirstMs }},
	// What a cold request waits for in all, when Lambda starts an
	// environment for it.
	{"init_and_first_ms", "init+1st ms", func(r round) float64 { return r.InitMs + r.FirstMs }},
	{"warm_p50_ms", "warm p50 ms", func(r round) float64 { return r.WarmP50Ms }},
	{"warm_p99_ms", "warm p99 ms", func(r round) float64 { return r.WarmP99Ms }},
	{"warm_cpu_ms_per_call", "CPU/call ms", func(r round) float64 { return r.WarmCPUMs }},
	{"peak_rss_mib", "peak RSS MiB", func(r round) float64 { return r.PeakRSSMiB }},
}

const sizeKey = "arm64_stripped_bytes"

// summarise fills in the medians, ratios and per-call figures of every
// function and of the baseline (from all of its rounds).
func (rep *report) summarise(baselineRounds []round) {
	rep.Baseline.summarise(baselineRounds, rep.Warm)
	for i := range rep.Functions {
		f := &rep.Functions[i]
		var fn []round
		f.Ratios = map[string]ratio{}
		for _, m := range metrics {
			var rs []float64
			for _, p := range f.Rounds {
				rs = append(rs, m.Of(p.Function)/m.Of(p.Baseline))
			}
			f.Ratios[m.Key] = ratioOf(rs)
		}
		for _, p := range f.Rounds {
			fn = append(fn, p.Function)
		}
		f.summarise(fn, rep.Warm)
		if rep.Baseline.Arm64Bytes > 0 {
			s := float64(f.Arm64Bytes) / float64(rep.Baseline.Arm64Bytes)
			f.Ratios[sizeKey] = ratio{s, s, s}
		}
	}
}

func (f *functionReport) summarise(rounds []round, warm int) {
	f.Medians = map[string]float64{}
	for _, m := range metrics {
		var vs []float64
		for _, r := range rounds {
			vs = append(vs, m.Of(r))
		}
		f.Medians[m.Key] = median(vs)
	}
	n := float64(len(rounds))
	f.Init, f.First, f.Warm = perCall{Requests: map[string]float64{}}, perCall{Requests: map[string]float64{}}, perCall{Requests: map[string]float64{}}
	f.Statuses = map[string]int{}
	for _, r := range rounds {
		f.Init.add(r.Init, n)
		f.First.add(r.First, n)
		f.Warm.add(r.Warm, n*float64(warm))
		for s, c := range r.Statuses {
			f.Statuses[s] += c
		}
	}
}

func (pc *perCall) add(t traffic, calls float64) {
	for op, c := range t.Requests {
		pc.Requests[op] += float64(c) / calls
	}
	pc.Connections += float64(t.Connections) / calls
}

func ratioOf(rs []float64) ratio {
	if len(rs) == 0 {
		return ratio{}
	}
	return ratio{Median: median(rs), Min: slices.Min(rs), Max: slices.Max(rs)}
}

func median(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(vs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// printReport writes three tables: the medians, the ratios to the
// baseline, and the DynamoDB traffic.
func printReport(w io.Writer, rep *report) {
	fmt.Fprintf(w, "\n%s, go %s, linux/%s, %d CPUs (%s), load average %s → %s\n",
		rep.Date, rep.GoVersion, rep.Machine.Arch, rep.Machine.CPUs, rep.Machine.Model, rep.Machine.LoadAvgStart, rep.Machine.LoadAvgEnd)
	fmt.Fprintf(w, "%d rounds per function, each a fresh process of the baseline then of the function; 1 first + %d warm invocations per round; %d MB\n",
		rep.Rounds, rep.Warm, rep.MemoryMB)
	fmt.Fprintf(w, "%s\n\n", rep.CPU.describe(rep.MemoryMB))

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	header := func(title string) {
		fmt.Fprintf(tw, "%s\t", title)
		for _, m := range metrics {
			fmt.Fprintf(tw, "%s\t", m.Label)
		}
		fmt.Fprint(tw, "arm64 MB\t\n")
	}
	header("medians")
	for _, f := range append([]functionReport{rep.Baseline}, rep.Functions...) {
		fmt.Fprintf(tw, "%s\t", f.Function)
		for _, m := range metrics {
			fmt.Fprintf(tw, "%.2f\t", f.Medians[m.Key])
		}
		fmt.Fprintf(tw, "%.2f\t\n", float64(f.Arm64Bytes)/1e6)
	}
	fmt.Fprint(tw, "\t\n")
	header("÷ baseline: median [min–max]")
	for _, f := range rep.Functions {
		fmt.Fprintf(tw, "%s\t", f.Function)
		for _, m := range metrics {
			r := f.Ratios[m.Key]
			fmt.Fprintf(tw, "%.2f [%.2f–%.2f]\t", r.Median, r.Min, r.Max)
		}
		fmt.Fprintf(tw, "%.2f\t\n", f.Ratios[sizeKey].Median)
	}
	_ = tw.Flush()

	fmt.Fprint(w, "\nDynamoDB requests (and new TLS connections) per invocation\n")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "function\tinit\tfirst invocation\twarm, per call\tanswers\n")
	for _, f := range append([]functionReport{rep.Baseline}, rep.Functions...) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", f.Function, f.Init, f.First, f.Warm, formatStatuses(f.Statuses))
	}
	_ = tw.Flush()
	for _, f := range rep.Functions {
		if f.Error != "" {
			fmt.Fprintf(w, "\nFAILED after %d of %d rounds: %s\n", len(f.Rounds), rep.Rounds, f.Error)
		}
	}
}

func (pc perCall) String() string {
	var parts []string
	for _, op := range slices.Sorted(maps.Keys(pc.Requests)) {
		parts = append(parts, fmt.Sprintf("%s %s", op, trimFloat(pc.Requests[op])))
	}
	if len(parts) == 0 {
		parts = append(parts, "none")
	}
	return fmt.Sprintf("%s (%s conn)", strings.Join(parts, ", "), trimFloat(pc.Connections))
}

func formatStatuses(s map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(s)) {
		parts = append(parts, fmt.Sprintf("%s×%d", k, s[k]))
	}
	return strings.Join(parts, " ")
}

// trimFloat prints counts as integers when they are, and to two places
// otherwise.
func trimFloat(v float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", v), "0"), ".")
}

func describeMachine() machine {
	m := machine{OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(), LoadAvgStart: loadAvg()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.Model = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

// loadAvg is /proc/loadavg's 1, 5 and 15 minute averages.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}
