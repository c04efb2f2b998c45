// Command loadbench measures the local server under load (make bench-load):
//
//   - starts DynamoDB Local (pkg/ddblocal), unless DYNAMODB_ENDPOINT names
//     one, and a fresh table on it;
//   - seeds a data set: by default 1,000 groups among 4 tenants, 100,000
//     memberships of which 3 groups hold 10,000 each, and 1,000 registered
//     items per tenant (the seeding time is reported, not measured);
//   - serves the API in process as `make run` does (pkg/gateway with the
//     authorizer cache, the same handlers), and drives it over HTTP for
//     -duration with -concurrency clients and the mix in mix.go: 70 %
//     reads, 30 % writes;
//   - then runs the same mix for as long straight through the store, which
//     makes the same DynamoDB requests without HTTP, the gateway, the
//     authorizer, metering and the handlers: the ratio between the two is
//     what those add;
//   - prints throughput, p50/p99/p99.9 latency, errors and DynamoDB
//     requests per call, overall and by operation, and writes them as JSON
//     to -out. It exits 1 if any call failed.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/smithy-go/middleware"

	"github.com/fleetgroups/fleetgroups/pkg/api"
	"github.com/fleetgroups/fleetgroups/pkg/app"
	"github.com/fleetgroups/fleetgroups/pkg/ddblocal"
	"github.com/fleetgroups/fleetgroups/pkg/gateway"
	"github.com/fleetgroups/fleetgroups/pkg/localdev"
	"github.com/fleetgroups/fleetgroups/pkg/routes"
	"github.com/fleetgroups/fleetgroups/pkg/store"
)

// config is a run's settings (the flags).
type config struct {
	Duration    time.Duration `json:"-"`
	Seconds     float64       `json:"duration_seconds"`
	Concurrency int           `json:"concurrency"`
	AuthCache   time.Duration `json:"-"`
	AuthCacheS  float64       `json:"authorizer_cache_seconds"`
	Tenants     int           `json:"tenants"`
	Groups      int           `json:"groups"`
	Members     int           `json:"members"`
	Big         int           `json:"big_groups"`
	BigSize     int           `json:"big_group_size"`
	Registered  int           `json:"registered_items_per_tenant"`
	Seed        uint64        `json:"seed"`
}

func (c config) size() dataSize {
	return dataSize{tenants: c.Tenants, groups: c.Groups, members: c.Members, big: c.Big, bigSize: c.BigSize, registered: c.Registered}
}

// validate refuses a data set too small for the clients: each writes
// members to a group of its own, and update-group needs another.
func (c config) validate() error {
	if c.Concurrency < 1 || c.Duration <= 0 {
		return fmt.Errorf("-concurrency and -duration must be positive")
	}
	if err := c.size().validate(); err != nil {
		return err
	}
	perTenant := (c.Concurrency + c.Tenants - 1) / c.Tenants
	if small := (c.Groups - c.Big) / c.Tenants; small < perTenant+1 {
		return fmt.Errorf("%d small groups per tenant, need %d for -concurrency %d (one per client, and one more)", small, perTenant+1, c.Concurrency)
	}
	return nil
}

// result is what -out holds.
type result struct {
	Machine     machine `json:"machine"`
	Config      config  `json:"config"`
	SeedSeconds float64 `json:"seed_seconds"`
	HTTP        phase   `json:"http"`
	Direct      phase   `json:"direct"`
}

type machine struct {
	Date string `json:"date"`
	OS   string `json:"os"`
	Arch string `json:"arch"`
	CPUs int    `json:"cpus"`
	Go   string `json:"go"`
}

func main() {
	var c config
	flag.DurationVar(&c.Duration, "duration", 30*time.Second, "how long each phase (HTTP, direct) runs")
	flag.IntVar(&c.Concurrency, "concurrency", 16, "clients at once")
	flag.DurationVar(&c.AuthCache, "authorizer-cache", routes.AuthorizerCacheSeconds*time.Second, "the gateway's authorizer cache, as make run's (0: off)")
	flag.IntVar(&c.Tenants, "tenants", 4, "tenants sharing the groups")
	flag.IntVar(&c.Groups, "groups", 1000, "groups in all")
	flag.IntVar(&c.Members, "members", 100_000, "memberships in all")
	flag.IntVar(&c.Big, "big", 3, "groups with -big-size members")
	flag.IntVar(&c.BigSize, "big-size", 10_000, "members of each big group")
	flag.IntVar(&c.Registered, "registered", 1000, "registered items per tenant")
	flag.Uint64Var(&c.Seed, "seed", 1, "seed of the clients' random choices")
	out := flag.String("out", "build/bench-load.json", "where to write the figures as JSON")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := run(ctx, c, os.Stderr)
	if err == nil {
		printTable(os.Stdout, res.HTTP, res.Direct)
		err = writeJSON(*out, res)
	}
	if err == nil && (res.HTTP.All.Errors > 0 || res.Direct.All.Errors > 0) {
		err = fmt.Errorf("%d calls failed over HTTP, %d direct", res.HTTP.All.Errors, res.Direct.All.Errors)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadbench:", err)
		os.Exit(1)
	}
}

// run seeds a fresh table and runs both phases; progress goes to log.
func run(ctx context.Context, c config, log io.Writer) (result, error) {
	c.Seconds, c.AuthCacheS = c.Duration.Seconds(), c.AuthCache.Seconds()
	res := result{Config: c, Machine: machine{
		Date: time.Now().UTC().Format(time.DateOnly), OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(), Go: runtime.Version(),
	}}
	if err := c.validate(); err != nil {
		return res, err
	}
	endpoint, stopDB, err := ddblocal.Endpoint(ctx)
	if err != nil {
		return res, err
	}
	defer stopDB()
	// Three clients, as three Lambdas would have: the operations', the
	// authorizer's and metering's, each counted apart.
	var opsCount, authCount, meterCount requestCounter
	table := "loadbench-" + store.RandomToken(5)
	// Without the stream: DynamoDB Local writes several times slower with
	// one while writes run in parallel (store.WithoutStream), which would
	// measure the emulator instead of the code; both the server and the raw
	// run share the table.
	st, err := localdev.OpenTableWith(ctx, endpoint, table, []store.TableOption{store.WithoutStream}, opsCount.middleware)
	if err != nil {
		return res, err
	}
	defer func() { _ = st.DeleteTable(context.WithoutCancel(ctx)) }()
	authStore, err := reopen(endpoint, table, authCount.middleware)
	if err != nil {
		return res, err
	}
	meter, err := reopen(endpoint, table, meterCount.middleware)
	if err != nil {
		return res, err
	}

	fmt.Fprintf(log, "seeding %d groups, %d memberships (%d groups of %d), %d tenants on %s…\n", c.Groups, c.Members, c.Big, c.BigSize, c.Tenants, endpoint)
	start := time.Now()
	tenants, err := seed(ctx, st, c.size())
	if err != nil {
		return res, fmt.Errorf("seed: %w", err)
	}
	res.SeedSeconds = time.Since(start).Seconds()
	fmt.Fprintf(log, "seeded in %.1f s\n", res.SeedSeconds)

	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	h := app.NewHandlers(st, quiet, api.WithMeter(meter))
	h.Authorizer = app.NewHandlers(authStore, quiet).Authorizer
	for op, fn := range h.Operations {
		h.Operations[op] = func(ctx context.Context, e events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
			return fn(opContext(ctx, op), e)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return res, err
	}
	serveCtx, stopServer := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() {
		served <- gateway.Serve(serveCtx, ln, gateway.New(h, quiet, gateway.WithAuthorizerCache(c.AuthCache)))
	}()
	defer func() {
		stopServer()
		if err := <-served; err != nil {
			fmt.Fprintln(log, "server:", err)
		}
	}()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c.Concurrency}}
	base := "http://" + ln.Addr().String()

	opsCount.take()
	fmt.Fprintf(log, "over HTTP: %d clients for %v…\n", c.Concurrency, c.Duration)
	res.HTTP = runPhase(ctx, "http", c, tenants, func(w *worker) { w.client, w.base = client, base },
		func(op operation, w *worker) error { return op.http(w) })
	res.HTTP.summarize(opsCount.take(), map[string]int{
		"Authorizer": sum(total(authCount.take())), "Metering": sum(total(meterCount.take())),
	})

	fmt.Fprintf(log, "direct: %d clients for %v…\n", c.Concurrency, c.Duration)
	res.Direct = runPhase(ctx, "direct", c, tenants, func(w *worker) { w.st = st },
		func(op operation, w *worker) error { return op.direct(w) })
	res.Direct.summarize(opsCount.take(), nil)
	for _, p := range []phase{res.HTTP, res.Direct} {
		for _, e := range p.errors[:min(len(p.errors), 5)] {
			fmt.Fprintf(log, "%s: %s\n", p.Name, e.msg)
		}
	}
	return res, ctx.Err()
}

// reopen is a second client on the table, counted by mw.
func reopen(endpoint, table string, mw func(*middleware.Stack) error) (*store.Store, error) {
	db, err := app.NewDynamoDB(endpoint, mw)
	if err != nil {
		return nil, err
	}
	return store.New(db, table), nil
}

// runPhase runs c.Concurrency workers for c.Duration, each calling the
// operations of the mix with call: first each once (so that every operation
// is measured however short the run), then drawn by weight until the time
// is up. Worker i is a client of tenant i mod c.Tenants.
func runPhase(ctx context.Context, name string, c config, tenants []*tenantData, setup func(*worker), call func(operation, *worker) error) phase {
	workers := make([]*worker, c.Concurrency)
	written := map[string]bool{}
	for i := range workers {
		t := tenants[i%len(tenants)]
		w := &worker{root: ctx, id: i, phase: name[:1], tenant: t, rng: rand.New(rand.NewPCG(c.Seed, uint64(i))),
			group: t.groups[len(t.groups)-1-i/len(tenants)], samples: map[routes.Operation][]time.Duration{}}
		written[w.group] = true
		setup(w)
		workers[i] = w
	}
	for _, w := range workers {
		for _, g := range w.tenant.groups {
			if !written[g] {
				w.others = append(w.others, g)
			}
		}
	}
	start := time.Now()
	deadline := start.Add(c.Duration)
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Go(func() {
			for _, op := range mix {
				w.op = op.name
				_ = call(op, w)
			}
			for ctx.Err() == nil && time.Now().Before(deadline) {
				op := w.draw()
				w.op = op.name
				_ = call(op, w)
			}
		})
	}
	wg.Wait()
	p := phase{Name: name, Seconds: time.Since(start).Seconds(), samples: map[routes.Operation][]time.Duration{}}
	for _, w := range workers {
		for op, s := range w.samples {
			p.samples[op] = append(p.samples[op], s...)
		}
		p.errors = append(p.errors, w.errs...)
	}
	return p
}

func writeJSON(path string, res result) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
