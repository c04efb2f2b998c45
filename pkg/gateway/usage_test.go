package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/smithy-go/middleware"

	"github.com/fleetgroups/fleetgroups/pkg/api"
	"github.com/fleetgroups/fleetgroups/pkg/app"
	"github.com/fleetgroups/fleetgroups/pkg/gateway"
	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/jsonlog"
	"github.com/fleetgroups/fleetgroups/pkg/routes"
	"github.com/fleetgroups/fleetgroups/pkg/store"
)

// usageHeaders reads a response's usage headers; ok is false when either is
// missing or not a number.
func usageHeaders(r response) (total, daily int, ok bool) {
	total, err1 := strconv.Atoi(r.header.Get(api.HeaderUsage))
	daily, err2 := strconv.Atoi(r.header.Get(api.HeaderDailyUsage))
	return total, daily, err1 == nil && err2 == nil
}

func TestUsageHeadersCountEveryCall(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.call(t, e.tokenA, "POST", "/v1/groups", `{"name":"Counted"}`).str("id")
	// The create above was call 1.
	cases := []struct {
		name, method, path, body string
		status                   int
		counted                  bool
	}{
		{"get-200", "GET", "/v1/groups/" + id, "", 200, true},
		{"list-200", "GET", "/v1/groups", "", 200, true},
		{"add-201", "PUT", "/v1/groups/" + id + "/vehicles/v1", "", 201, true},
		// Failed calls are counted: they cost capacity, and the quota counts them.
		{"get-404-counted", "GET", "/v1/groups/grp_missing", "", 404, true},
		{"create-400-counted", "POST", "/v1/groups", `{}`, 400, true},
		{"usage-400-unknown-param-counted", "GET", "/v1/usage?x=1", "", 400, true},
		{"usage-200", "GET", "/v1/usage", "", 200, true},
		// Calls the gateway refuses never reach a function.
		{"route-404-not-counted", "GET", "/v1/nothing", "", 404, false},
		{"method-405-not-counted", "POST", "/v1/usage", "", 405, false},
	}
	want := 1
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.call(t, e.tokenA, c.method, c.path, c.body)
			if r.status != c.status {
				t.Fatalf("status %d, want %d; %v", r.status, c.status, r.body)
			}
			total, daily, ok := usageHeaders(r)
			if !c.counted {
				if ok || r.header.Get(api.HeaderUsage) != "" {
					t.Fatalf("usage headers on a call the gateway refused: %v", r.header)
				}
				return
			}
			want++
			if !ok || total != want || daily != want {
				t.Fatalf("%s = %q, %s = %q; want %d and %d", api.HeaderUsage, r.header.Get(api.HeaderUsage),
					api.HeaderDailyUsage, r.header.Get(api.HeaderDailyUsage), want, want)
			}
		})
	}
	t.Run("unauthenticated-not-counted", func(t *testing.T) {
		r := e.call(t, e.tokenA+"x", "GET", "/v1/groups", "") // a secret the table does not know
		expect(t, r, 401, groups.CodeUnauthenticated)
		if r.header.Get(api.HeaderUsage) != "" {
			t.Fatalf("usage headers on a refused call: %v", r.header)
		}
		after := e.call(t, e.tokenA, "GET", "/v1/usage", "")
		if after.num("total") != float64(want+1) {
			t.Fatalf("total %v after a refused call, want %d", after.body, want+1)
		}
	})
}

func TestGetUsage(t *testing.T) {
	t.Parallel()
	limits := api.Limits{RateLimit: 7.5, BurstLimit: 11, QuotaPerDay: 1234}
	e := newEnv(t, api.WithLimits(limits))
	e.call(t, e.tokenA, "POST", "/v1/groups", `{"name":"g"}`)
	e.call(t, e.tokenA, "GET", "/v1/groups", "")

	r := e.call(t, e.tokenA, "GET", "/v1/usage", "")
	expect(t, r, 200, "")
	want := map[string]any{
		"total": 3.0,
		"today": map[string]any{"date": time.Now().UTC().Format(time.DateOnly), "count": 3.0},
		"limits": map[string]any{
			"rate_limit": 7.5, "burst_limit": 11.0, "quota": 1234.0, "quota_period": "DAY",
		},
	}
	got, _ := json.Marshal(r.body)
	wantJSON, _ := json.Marshal(want)
	if !bytes.Equal(got, wantJSON) {
		t.Fatalf("usage = %s, want %s", got, wantJSON)
	}
	// The body and the headers report the same call.
	if total, daily, ok := usageHeaders(r); !ok || total != 3 || daily != 3 {
		t.Fatalf("headers %v disagree with the body %s", r.header, got)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
}

func TestUsageOfTenantsIsSeparate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for range 3 {
		e.call(t, e.tokenA, "GET", "/v1/groups", "")
	}
	cases := []struct {
		name  string
		token string
		total float64
	}{
		{"b-sees-only-its-own-call", e.tokenB, 1},
		{"a-sees-its-four-calls", e.tokenA, 4},
		{"b-unmoved-by-a", e.tokenB, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.call(t, c.token, "GET", "/v1/usage", "")
			if r.num("total") != c.total || r.num("today", "count") != c.total {
				t.Fatalf("usage %v, want total and today %v", r.body, c.total)
			}
		})
	}
}

func TestUsageIsExactUnderConcurrentCalls(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// One UTC day throughout, so that the day's counts equal the totals.
	e.meter.Now = func() time.Time { return time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC) }
	before := e.call(t, e.tokenA, "GET", "/v1/usage", "").num("total")
	const n = 50
	seen := make([]int, n)
	seenToday := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.call(t, e.tokenA, "GET", "/v1/groups", "")
			total, daily, ok := usageHeaders(r)
			if r.status != 200 || !ok {
				t.Errorf("status %d, headers %v", r.status, r.header)
			}
			seen[i], seenToday[i] = total, daily
		}()
	}
	wg.Wait()
	after := e.call(t, e.tokenA, "GET", "/v1/usage", "").num("total")
	if after-before != n+1 { // the calls and the usage read itself
		t.Fatalf("total went from %v to %v, want +%d", before, after, n+1)
	}
	// Each call saw its own counts, none skipped or repeated.
	slices.Sort(seen)
	slices.Sort(seenToday)
	for i := range n {
		if seen[i] != int(before)+1+i || seenToday[i] != int(before)+1+i {
			t.Fatalf("counts seen %v and today %v, want %v..%v each", seen, seenToday, before+1, before+n)
		}
	}
}

// TestMeteringWaitsUntilTheRequestDeadline: the count is bound by the
// request's own deadline, which the gateway sets as Lambda does, and not by a
// timeout of its own that a busy machine can outlast (issue 6, defect 13).
// The deadlines are read off the DynamoDB requests themselves, so nothing here
// depends on how fast the machine is.
func TestMeteringWaitsUntilTheRequestDeadline(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	deadlines := map[string][]time.Time{} // by DynamoDB operation; zero for none
	record := func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("recordDeadline",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				d, _ := ctx.Deadline()
				mu.Lock()
				deadlines[middleware.GetOperationName(ctx)] = append(deadlines[middleware.GetOperationName(ctx)], d)
				mu.Unlock()
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
	}
	db, err := app.NewDynamoDB(os.Getenv("DYNAMODB_ENDPOINT"), record)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	recorded := e.withStore(t, func(st *store.Store) { *st = *store.New(db, st.Table()) })

	start := time.Now()
	r := recorded.call(t, e.tokenA, "GET", "/v1/groups", "")
	end := time.Now()
	if _, _, ok := usageHeaders(r); r.status != 200 || !ok {
		t.Fatalf("status %d, headers %v", r.status, r.header)
	}
	ops, counts := deadlines["Query"], deadlines["UpdateItem"] // list-groups' request, the count's
	if len(ops) != 1 || len(counts) != 1 {
		t.Fatalf("requests with deadlines %v, want one Query and one UpdateItem", deadlines)
	}
	timeout := routes.LambdaTimeoutSeconds * time.Second
	if request := ops[0]; request.Before(start.Add(timeout)) || request.After(end.Add(timeout)) {
		t.Fatalf("the operation's deadline is %v after the call, want API Gateway's %v", request.Sub(start), timeout)
	}
	// The count leaves the response a few seconds to go out in.
	for _, d := range counts {
		if d.After(ops[0]) || d.Before(ops[0].Add(-5*time.Second)) {
			t.Fatalf("the count's deadline is %v before the request's, want it within a few seconds of it", ops[0].Sub(d))
		}
	}
}

func TestUsageDayRollsOverAtUTCMidnight(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var now atomic.Pointer[time.Time]
	e.meter.Now = func() time.Time { return *now.Load() }
	steps := []struct {
		name       string
		at         time.Time
		total, day int
		date       string
	}{
		{"evening", time.Date(2026, 11, 24, 22, 0, 0, 0, time.UTC), 1, 1, "2026-11-24"},
		{"last-millisecond", time.Date(2026, 11, 24, 23, 59, 59, 999e6, time.UTC), 2, 2, "2026-11-24"},
		{"midnight", time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC), 3, 1, "2026-11-25"},
		{"next-morning", time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC), 4, 2, "2026-11-25"},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			now.Store(&s.at)
			r := e.call(t, e.tokenA, "GET", "/v1/usage", "")
			total, day, ok := usageHeaders(r)
			if !ok || total != s.total || day != s.day {
				t.Fatalf("headers %v, want total %d, day %d", r.header, s.total, s.day)
			}
			if r.num("total") != float64(s.total) || r.num("today", "count") != float64(s.day) || r.str("today", "date") != s.date {
				t.Fatalf("usage %v, want total %d, %s: %d", r.body, s.total, s.date, s.day)
			}
		})
	}
}

// lockedBuffer collects log output written from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) lines() []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for line := range strings.Lines(l.b.String()) {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

func TestMeteringFailureDoesNotFailTheCall(t *testing.T) {
	t.Parallel()
	endpoint := os.Getenv("DYNAMODB_ENDPOINT")
	// A DynamoDB that never answers: the count runs out of the request's
	// time. Its handlers end when the test does, since Close waits for them.
	stop := make(chan struct{})
	hanging := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { <-stop }))
	t.Cleanup(hanging.Close)
	t.Cleanup(func() { close(stop) })
	cases := []struct {
		name     string
		endpoint string
		table    string
		// The gateway's deadline: a count that never answers holds each
		// response until shortly before it, so it is shorter than API
		// Gateway's, yet far longer than the operations take.
		timeout time.Duration
	}{
		{"missing-table", endpoint, "no-such-table", routes.LambdaTimeoutSeconds * time.Second},
		{"unresponsive", hanging.URL, "t", 10 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			db, err := app.NewDynamoDB(c.endpoint)
			if err != nil {
				t.Fatal(err)
			}
			logs := &lockedBuffer{}
			log := slog.New(jsonlog.ContextHandler(slog.NewJSONHandler(logs, nil)))
			e := newLoggedEnv(t, log, api.WithMeter(store.New(db, c.table))).withGateway(t, gateway.WithTimeout(c.timeout))

			calls := []struct {
				method, path, body string
				status             int
			}{
				{"POST", "/v1/groups", `{"name":"still works"}`, 201},
				{"GET", "/v1/groups", "", 200},
				{"GET", "/v1/groups/grp_missing", "", 404},
				// get-usage reads the counters instead: none were written.
				{"GET", "/v1/usage", "", 200},
			}
			// In parallel, since an unanswered count holds each response.
			t.Run("calls", func(t *testing.T) {
				for _, call := range calls {
					t.Run(call.method+" "+call.path, func(t *testing.T) {
						t.Parallel()
						r := e.call(t, e.tokenA, call.method, call.path, call.body)
						if r.status != call.status {
							t.Fatalf("status %d, want %d; %v", r.status, call.status, r.body)
						}
						if r.header.Get(api.HeaderUsage) != "" || r.header.Get(api.HeaderDailyUsage) != "" {
							t.Fatalf("usage headers %v although nothing was counted", r.header)
						}
						if call.path == "/v1/usage" && (r.num("total") != 0 || r.str("today", "date") == "" || r.num("limits", "quota") == 0) {
							t.Fatalf("usage %v, want zero counts with today's date and the limits", r.body)
						}
					})
				}
			})
			// Each failure was logged, with the tenant and the request id.
			var failures int
			for _, l := range logs.lines() {
				if l["msg"] == "call not counted" {
					failures++
					if l["tenant"] == "" || l["request_id"] == "" || l["error"] == "" || l["level"] != "WARN" {
						t.Errorf("log line %v lacks tenant, request id or error", l)
					}
				}
			}
			if failures != len(calls) {
				t.Errorf("%d failures logged, want %d", failures, len(calls))
			}
		})
	}
}
