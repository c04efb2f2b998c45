// Command coldstart is `make bench-coldstart`: it runs each function's real
// bootstrap under a local implementation of the Lambda Runtime API, against
// DynamoDB Local, and compares it with cmd/baseline (get-group written the
// plain way), round by round:
//
//	go run ./cmd/coldstart [-only get-group,get-openapi] [-rounds 5] [-warm 200] [-cpu lambda|host]
//
// Each round starts a fresh process with Lambda's environment (and, under
// the default -cpu lambda, Lambda's CPU: the host's for init, then
// memory/1769 of one CPU; see cpumodel.go) and measures
// its init (exec → first /next) and init CPU, a first invocation (which
// opens its TLS connections to DynamoDB, as on Lambda: a TLS proxy stands in
// front of DynamoDB Local), warm invocations (p50, p99, CPU per call), its
// peak RSS and its DynamoDB requests by operation. A baseline round runs
// before each function round on the same freshly seeded table, and the
// ratios are the median of the per-round ratios (function ÷ baseline), so
// that a machine whose load changes during the run skews both alike.
//
// Any init error, error answer, 5xx status or process exit fails the run
// (exit status 1): it is also the check that every binary starts as a
// Lambda. The table goes to stdout, everything measured to -out as JSON.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/fleetgroups/fleetgroups/pkg/ddblocal"
	"github.com/fleetgroups/fleetgroups/pkg/localdev"
	"github.com/fleetgroups/fleetgroups/pkg/routes"
	"github.com/fleetgroups/fleetgroups/pkg/store"
)

// options are a run's settings; the flags set them.
type options struct {
	Root       string // the repository: functions/, events/, cmd/baseline
	BuildDir   string // where binaries go (under Root unless absolute)
	Out        string // the JSON report ("" for none)
	Functions  []routes.Operation
	Rounds     int
	Warm       int
	Arm64Sizes bool   // also build for linux/arm64 and report the sizes
	CPU        string // cpuLambda (host if there is no cgroup cpu controller) or cpuHost
}

func main() {
	o := options{Root: ".", Arm64Sizes: true, CPU: cpuLambda}
	only := flag.String("only", "", "comma-separated functions to measure, e.g. get-group,get-openapi (default: every function in pkg/routes)")
	flag.IntVar(&o.Rounds, "rounds", 5, "rounds per function, each a fresh process of the baseline then of the function")
	flag.IntVar(&o.Warm, "warm", 200, "warm invocations per round, after the first")
	flag.StringVar(&o.BuildDir, "build-dir", "build/coldstart", "where the bootstraps are built")
	flag.StringVar(&o.Out, "out", "build/bench-coldstart.json", "the JSON report")
	flag.StringVar(&o.CPU, "cpu", cpuLambda, "CPU model: lambda (init with the host's CPU, invocations with memory/1769 of one CPU, through a cgroup; host if no cgroup cpu controller is writable) or host (the host's CPU throughout)")
	flag.Parse()
	var err error
	switch o.Functions, err = selectFunctions(*only); {
	case err != nil:
	case o.Rounds < 1 || o.Warm < 1:
		err = errors.New("-rounds and -warm must be at least 1")
	case o.CPU != cpuLambda && o.CPU != cpuHost:
		err = fmt.Errorf("-cpu %q: want %s or %s", o.CPU, cpuLambda, cpuHost)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "coldstart:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := run(ctx, o, os.Stderr)
	if rep != nil {
		printReport(os.Stdout, rep)
		err = errors.Join(err, writeJSON(o.Out, rep))
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "coldstart:", err)
		os.Exit(1)
	}
}

// selectFunctions is -only's list, checked against the route table; empty
// means every function.
func selectFunctions(only string) ([]routes.Operation, error) {
	var all []routes.Operation
	for _, f := range routes.Functions {
		all = append(all, f.Operation)
	}
	if only == "" {
		return all, nil
	}
	var picked []routes.Operation
	for name := range strings.SplitSeq(only, ",") {
		op := routes.Operation(strings.TrimSpace(name))
		if !slices.Contains(all, op) {
			return nil, fmt.Errorf("-only: no function %q in pkg/routes", op)
		}
		picked = append(picked, op)
	}
	return picked, nil
}

// run builds the binaries and runs every round, each function's against a
// DynamoDB Local and proxy of its own (withDynamoDB); progress goes to
// logw. A function that fails stops its own rounds, not the run: the
// report comes back with the error of each.
func run(ctx context.Context, o options, logw io.Writer) (*report, error) {
	rep := &report{
		Command:   "go run ./cmd/coldstart " + strings.Join(os.Args[1:], " "),
		Date:      time.Now().UTC().Format(time.RFC3339),
		GoVersion: runtime.Version(),
		Machine:   describeMachine(),
		Rounds:    o.Rounds,
		Warm:      o.Warm,
		MemoryMB:  routes.LambdaMemoryMB,
		CPU:       chooseCPU(o.CPU, routes.LambdaMemoryMB, cgroupRoots()),
	}
	if rep.CPU.Notice != "" {
		fmt.Fprintln(logw, "notice:", rep.CPU.Notice)
	}
	buildDir := o.BuildDir
	if !filepath.IsAbs(buildDir) {
		buildDir = filepath.Join(o.Root, buildDir)
	}
	fmt.Fprintf(logw, "building %d functions and the baseline for linux/%s\n", len(o.Functions), runtime.GOARCH)
	bins, err := buildAll(ctx, o.Root, filepath.Join(buildDir, "linux-"+runtime.GOARCH), runtime.GOARCH, o.Functions)
	if err != nil {
		return nil, err
	}
	sizes := map[string]int64{}
	if o.Arm64Sizes {
		fmt.Fprintln(logw, "building them for linux/arm64 (sizes only)")
		if sizes, err = arm64Sizes(ctx, o.Root, filepath.Join(buildDir, "linux-arm64"), o.Functions); err != nil {
			return nil, err
		}
	}

	baselineEvent, err := os.ReadFile(filepath.Join(o.Root, "events", string(routes.GetGroup)+".json"))
	if err != nil {
		return nil, err
	}
	baseline := subject{Name: "baseline", Binary: bins["baseline"], Event: func(int) []byte { return baselineEvent }}
	set := roundSettings{
		TaskRoot: filepath.Dir(bins["baseline"]),
		Warm:     o.Warm,
		MemoryMB: routes.LambdaMemoryMB,
		Timeout:  routes.LambdaTimeoutSeconds * time.Second,
		CPU:      rep.CPU,
	}
	sqs := startStandInSQS()
	defer sqs.Close()
	var baselineRounds []round
	var failures []error
	for _, op := range o.Functions {
		sample, err := os.ReadFile(filepath.Join(o.Root, "events", string(op)+".json"))
		if err != nil {
			return nil, err
		}
		fn := subject{Name: string(op), Binary: bins[string(op)], Event: eventsFor(op, sample)}
		if op == routes.DeliverWebhooks {
			fn.Env = sqsEnv(sqs.URL)
		}
		fr := functionReport{Function: string(op), Arm64Bytes: sizes[string(op)]}
		err = withDynamoDB(ctx, func(endpoint string, proxy *countingProxy) error {
			set.Proxy = proxy
			for i := range o.Rounds {
				fmt.Fprintf(logw, "%s: round %d of %d\n", op, i+1, o.Rounds)
				pair, err := runPair(ctx, endpoint, baseline, fn, set)
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if err != nil {
					// The other functions are still measured and
					// checked: the run reports every function that fails.
					fr.Error = err.Error()
					failures = append(failures, err)
					return nil
				}
				fr.Rounds = append(fr.Rounds, pair)
				baselineRounds = append(baselineRounds, pair.Baseline)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		rep.Functions = append(rep.Functions, fr)
	}
	rep.Baseline = functionReport{Function: "baseline", Arm64Bytes: sizes["baseline"]}
	rep.summarise(baselineRounds)
	rep.Machine.LoadAvgEnd = loadAvg()
	return rep, errors.Join(failures...)
}

// withDynamoDB runs f with a DynamoDB Local of its own and the TLS proxy in
// front of it. Each function gets fresh ones: the same pair grew slower
// over a long run (through the 36 functions' 108 rounds, the baseline's warm
// p50 went from 4 ms to 12 ms, its CPU per call unchanged), which would
// make the later functions' ratios a matter of their place in the run.
func withDynamoDB(ctx context.Context, f func(endpoint string, proxy *countingProxy) error) error {
	endpoint, stopDB, err := ddblocal.Endpoint(ctx)
	if err != nil {
		return err
	}
	defer stopDB()
	certDir, err := os.MkdirTemp("", "coldstart-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(certDir)
	proxy, err := startCountingProxy(endpoint, certDir)
	if err != nil {
		return err
	}
	defer func() { _ = proxy.Close() }()
	return f(endpoint, proxy)
}

// runPair runs one round of the baseline, then one of fn, on a table of
// their own, seeded with localdev's demo tenant and group (which the sample
// events name) and dropped afterwards: a round of delete-group cannot
// take the group from the next.
func runPair(ctx context.Context, endpoint string, baseline, fn subject, set roundSettings) (pair pairedRound, err error) {
	set.Table = "coldstart-" + fn.Name + "-" + store.RandomToken(6)
	st, err := localdev.OpenTable(ctx, endpoint, set.Table)
	if err != nil {
		return pair, err
	}
	defer func() {
		if dropErr := st.DeleteTable(context.WithoutCancel(ctx)); err == nil {
			err = dropErr
		}
	}()
	if err := localdev.SeedDemo(ctx, st); err != nil {
		return pair, fmt.Errorf("seed: %w", err)
	}
	if pair.Baseline, err = runRound(ctx, baseline, set); err != nil {
		return pair, err
	}
	pair.Function, err = runRound(ctx, fn, set)
	return pair, err
}

// uniqueIn names, for the operations that create something, the text of
// their sample event that each warm invocation makes its own, so that each
// creates anew (201) instead of finding the first one's creation. The other
// events repeat as they are: a delete's warm invocations find what the
// first deleted gone (the report's answers show it).
var uniqueIn = map[routes.Operation]string{
	routes.CreateGroup: "New Group", // the name
	routes.PutItem:     "veh-003",   // the item id, in path and parameters
	routes.AddMember:   "veh-003",
}

// eventsFor is op's event of each invocation: the sample, made unique per
// invocation where uniqueIn says.
func eventsFor(op routes.Operation, sample []byte) func(n int) []byte {
	text, ok := uniqueIn[op]
	if !ok {
		return func(int) []byte { return sample }
	}
	return func(n int) []byte {
		if n == 0 {
			return sample
		}
		return []byte(strings.ReplaceAll(string(sample), text, fmt.Sprintf("%s-%d", text, n)))
	}
}

func writeJSON(path string, rep *report) error {
	if path == "" {
		return nil
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
