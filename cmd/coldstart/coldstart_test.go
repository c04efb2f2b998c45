package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/fleetgroups/fleetgroups/pkg/ddblocal"
	"github.com/fleetgroups/fleetgroups/pkg/routes"
)

// fakePrefix names the functions that the test binary itself plays: run
// as a bootstrap with AWS_LAMBDA_FUNCTION_NAME=fake-<behaviour>, it is a
// tiny Lambda instead of the tests (see fakeBootstrap).
const fakePrefix = "fake-"

func TestMain(m *testing.M) {
	if behaviour, ok := strings.CutPrefix(os.Getenv("AWS_LAMBDA_FUNCTION_NAME"), fakePrefix); ok {
		fakeBootstrap(behaviour)
		return
	}
	os.Exit(ddblocal.RunTests(m))
}

// fakeBootstrap is a Lambda whose behaviour its name picks:
//
//   - echo: aws-lambda-go's runtime client with a handler that answers the
//     event itself, or fails with the event's "fail" text. It fails too if
//     the invocation lacks the request id, function ARN or deadline that
//     the Runtime API's headers carry.
//   - init-error: reports an init error to /init/error and exits, as a
//     runtime does when its init fails.
//   - exit: exits before polling /next.
//   - burn: no Lambda: spins until it has used burnCPU of CPU, then exits.
func fakeBootstrap(behaviour string) {
	switch behaviour {
	case "burn":
		for {
			var u syscall.Rusage
			if err := syscall.Getrusage(syscall.RUSAGE_SELF, &u); err != nil {
				os.Exit(4)
			}
			if time.Duration(u.Utime.Nano()+u.Stime.Nano()) >= burnCPU {
				os.Exit(0)
			}
		}
	case "echo":
		lambda.Start(func(ctx context.Context, event json.RawMessage) (json.RawMessage, error) {
			lc, ok := lambdacontext.FromContext(ctx)
			_, hasDeadline := ctx.Deadline()
			if !ok || lc.AwsRequestID == "" || !strings.HasPrefix(lc.InvokedFunctionArn, "arn:aws:lambda:") || !hasDeadline {
				return nil, errors.New("the invocation lacks its request id, function ARN or deadline")
			}
			var e struct{ Fail string }
			if err := json.Unmarshal(event, &e); err == nil && e.Fail != "" {
				return nil, errors.New(e.Fail)
			}
			return event, nil
		})
	case "init-error":
		url := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + runtimePrefix + "init/error"
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(`{"errorMessage":"no table configured","errorType":"ConfigError"}`))
		req.Header.Set(headerErrorType, "Runtime.ConfigError")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
		os.Exit(1)
	default:
		os.Exit(3)
	}
}

// burnCPU is what the burn fake spends: enough that its start is noise.
const burnCPU = 100 * time.Millisecond

// TestCPUModelLimits runs the burn fake unlimited, then limited as the
// lambda model limits an invocation, to a tenth of a CPU: limited, it
// gets no more than its quota of CPU per second of wall time, and, where
// the machine gave the unlimited run more than that, measurably less than
// it. Each run burns the same CPU, and each figure is its CPU time over its
// own wall time; no bound depends on how busy the machine is.
func TestCPUModelLimits(t *testing.T) {
	t.Parallel()
	cpu := chooseCPU(cpuLambda, memoryPerVCPUMB/10, cgroupRoots())
	if cpu.Model != cpuLambda {
		t.Skip(cpu.Notice)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cpuPerWallSecond := func(limited bool) float64 {
		p, err := startProcess(self, []string{"AWS_LAMBDA_FUNCTION_NAME=" + fakePrefix + "burn"}, cpu)
		if err != nil {
			t.Fatal(err)
		}
		// Limited, the figure counts from the limit on: what the process
		// spent before it (unlimited, as an init is) would otherwise weigh
		// the more the busier the machine (seen failing at 0.156).
		from, before := p.Started, time.Duration(0)
		if limited {
			if err := p.EndInit(); err != nil {
				t.Fatal(err)
			}
			if before, err = p.CPU(); err != nil {
				t.Fatal(err)
			}
			from = time.Now()
		}
		<-p.Exited
		wall := time.Since(from)
		state := p.cmd.ProcessState
		if err := p.Kill(); err != nil {
			t.Errorf("removing its cgroup: %v", err)
		}
		if !state.Success() {
			t.Fatalf("the burn fake failed: %v", state)
		}
		return float64(state.UserTime()+state.SystemTime()-before) / float64(wall)
	}
	unlimited, limited := cpuPerWallSecond(false), cpuPerWallSecond(true)
	// Limited to 0.1, it gets at most about 0.1 CPU per second on any
	// machine (the quota is a ceiling; accounting at period edges leaves a
	// margin). Unlimited, it gets near a whole CPU on an idle machine, but
	// a machine busy enough (other test packages run alongside) can hold it
	// near the quota too: the comparison then says nothing, and only the
	// ceiling is checked.
	if limited > 1.5*cpu.InvocationCPUs {
		t.Errorf("CPU per wall second: %.3f limited to %.2f of a CPU; want at most 1.5 × the limit", limited, cpu.InvocationCPUs)
	}
	if unlimited > 3*cpu.InvocationCPUs && limited/unlimited >= 0.6 {
		t.Errorf("CPU per wall second: %.3f limited to %.2f of a CPU, %.3f unlimited; want the limited one under 0.6 × the unlimited", limited, cpu.InvocationCPUs, unlimited)
	}
	t.Logf("CPU per wall second: %.3f limited to %.2f of a CPU, %.3f unlimited", limited, cpu.InvocationCPUs, unlimited)
}

// TestCPUModelFallsBack: where no cgroup can be made and limited, the
// lambda model falls back to host, says why in one line, and leaves
// nothing behind; -cpu host is host with nothing to say. The report's
// header and JSON name the model used.
func TestCPUModelFallsBack(t *testing.T) {
	t.Parallel()
	notCgroup := t.TempDir() // a directory, but no cpu controller's
	roots := []cgroupRoot{{Dir: filepath.Join(t.TempDir(), "absent")}, {Dir: notCgroup}, {Dir: notCgroup, V2: true}}
	cases := []struct {
		name, requested string
		wantNotice      bool
	}{
		{"lambda-without-cgroup-is-host", cpuLambda, true},
		{"host-is-host", cpuHost, false},
	}
	for _, c := range cases {
		m := chooseCPU(c.requested, 256, roots)
		if m.Model != cpuHost || (m.Notice != "") != c.wantNotice || strings.Contains(m.Notice, "\n") {
			t.Errorf("%s: model %q, notice %q; want host, a one-line notice %v", c.name, m.Model, m.Notice, c.wantNotice)
		}
		rep := &report{CPU: m, MemoryMB: 256}
		var out bytes.Buffer
		printReport(&out, rep)
		js, err := json.Marshal(rep)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "CPU model: host") || !strings.Contains(out.String(), m.Notice) || !strings.Contains(string(js), `"model":"host"`) {
			t.Errorf("%s: the header or JSON does not say host (and the notice):\n%s\n%s", c.name, out.String(), js)
		}
	}
	if left, _ := os.ReadDir(notCgroup); len(left) != 0 {
		t.Errorf("the probe left %v behind", left)
	}
}

// TestRound runs the fake bootstraps through whole rounds: a Lambda that
// answers is measured; one that reports an error, answers 5xx, fails its
// init or exits fails the round, with what it said.
func TestRound(t *testing.T) {
	t.Parallel()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	proxy, err := startCountingProxy("http://127.0.0.1:1", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proxy.Close() })
	// The run's default model: where cgroups are writable, each round's
	// process gets a cgroup, throttled after init and removed at the end.
	set := roundSettings{Table: "unused", TaskRoot: t.TempDir(), Warm: 3, MemoryMB: 128, Timeout: time.Minute, Proxy: proxy,
		CPU: chooseCPU(cpuLambda, 128, cgroupRoots())}

	cases := []struct {
		name, behaviour, event string
		wantErr                *regexp.Regexp // nil: the round succeeds
	}{
		{"answers-200", "echo", `{"statusCode":200,"body":"{}"}`, nil},
		{"answers-404-is-no-failure", "echo", `{"statusCode":404}`, nil},
		{"authorizer-policy", "echo", `{"principalId":"t","policyDocument":{"Statement":[{"Effect":"Deny"}]}}`, nil},
		{"error-fails", "echo", `{"fail":"table gone"}`, regexp.MustCompile(`invocation 0: function reported /error .*table gone`)},
		{"5xx-fails", "echo", `{"statusCode":503,"body":"down"}`, regexp.MustCompile(`invocation 0: the function answered 503`)},
		{"not-a-response-fails", "echo", `[1,2]`, regexp.MustCompile(`invocation 0: the answer is not JSON`)},
		{"init-error-fails", "init-error", `{}`, regexp.MustCompile(`init: function reported /init/error \(Runtime.ConfigError\): .*no table configured`)},
		{"exit-fails", "exit", `{}`, regexp.MustCompile(`init: the process exited instead of polling /next`)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := subject{Name: fakePrefix + c.behaviour, Binary: self, Event: func(int) []byte { return []byte(c.event) }}
			r, err := runRound(context.Background(), s, set)
			if c.wantErr != nil {
				if err == nil || !c.wantErr.MatchString(err.Error()) {
					t.Fatalf("round: %v, want an error matching %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var calls int
			for _, n := range r.Statuses {
				calls += n
			}
			if calls != 1+set.Warm || len(r.Statuses) != 1 {
				t.Errorf("answers %v, want %d of one status", r.Statuses, 1+set.Warm)
			}
			if r.InitMs <= 0 || r.InitCPUMs <= 0 || r.FirstMs <= 0 || r.WarmP50Ms <= 0 || r.WarmP99Ms < r.WarmP50Ms || r.PeakRSSMiB <= 0 {
				t.Errorf("implausible figures: %+v", r)
			}
		})
	}
}

// TestRuntimeAPIProtocol speaks the Runtime API by hand: /next carries the
// event and its headers, an answer to an unknown or answered invocation is
// refused with 400, and a response stream that failed (its error in the
// trailers) is the function's error.
func TestRuntimeAPIProtocol(t *testing.T) {
	t.Parallel()
	rt, err := startRuntimeAPI("proto", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close() })
	base := "http://" + rt.Addr + runtimePrefix
	exited := make(chan struct{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	type nextResult struct {
		resp *http.Response
		body []byte
		err  error
	}
	poll := func() <-chan nextResult {
		ch := make(chan nextResult, 1)
		go func() {
			resp, err := http.Get(base + "invocation/next")
			if err != nil {
				ch <- nextResult{err: err}
				return
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			ch <- nextResult{resp, body, err}
		}()
		return ch
	}
	post := func(path string, body io.Reader, trailer http.Header) int {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, base+path, body)
		if err != nil {
			t.Fatal(err)
		}
		req.Trailer = trailer
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// invoke hands event to a /next poll and lets answer reply to it.
	invoke := func(event string, answer func(id string)) (invokeResult, error) {
		t.Helper()
		next := poll()
		if err := rt.AwaitNext(ctx, exited); err != nil {
			t.Fatal(err)
		}
		type outcome struct {
			r   invokeResult
			err error
		}
		done := make(chan outcome, 1)
		go func() {
			r, err := rt.Invoke(ctx, []byte(event), exited)
			done <- outcome{r, err}
		}()
		n := <-next
		if n.err != nil {
			t.Fatal(n.err)
		}
		h := n.resp.Header
		deadline := h.Get(headerDeadline)
		if string(n.body) != event || h.Get(headerRequestID) == "" || deadline == "" ||
			!strings.HasSuffix(h.Get(headerFunctionARN), ":function:proto") || !strings.HasPrefix(h.Get(headerTraceID), "Root=1-") {
			t.Fatalf("/next gave %q with headers %v", n.body, h)
		}
		answer(h.Get(headerRequestID))
		o := <-done
		return o.r, o.err
	}

	r, err := invoke(`{"n":1}`, func(id string) {
		if got := post("invocation/not-"+id+"/response", strings.NewReader(`{}`), nil); got != http.StatusBadRequest {
			t.Errorf("response to an unknown id: %d, want 400", got)
		}
		if got := post("invocation/"+id+"/response", strings.NewReader(`{"ok":true}`), nil); got != http.StatusAccepted {
			t.Errorf("response: %d, want 202", got)
		}
		if got := post("invocation/"+id+"/response", strings.NewReader(`{"again":true}`), nil); got != http.StatusBadRequest {
			t.Errorf("second response: %d, want 400", got)
		}
	})
	if err != nil || r.Err != nil || string(r.Body) != `{"ok":true}` {
		t.Errorf("first invocation: %q, %v, %v; want the response", r.Body, r.Err, err)
	}

	r, err = invoke(`{"n":2}`, func(id string) {
		// The body is a reader of unknown length, so it goes chunked,
		// with the trailers after it, as aws-lambda-go sends them.
		body := io.MultiReader(strings.NewReader(`{"partial"`))
		trailer := http.Header{trailerErrorType: {"Runtime.StreamError"}, trailerErrorBody: {"Ym9vbQ=="}}
		if got := post("invocation/"+id+"/response", body, trailer); got != http.StatusAccepted {
			t.Errorf("failed stream: %d, want 202", got)
		}
	})
	var fe *functionError
	if err != nil || !errors.As(r.Err, &fe) || fe.Type != "Runtime.StreamError" || fe.Body != "Ym9vbQ==" {
		t.Errorf("failed stream: %v, %v; want the trailers' error", r.Err, err)
	}

	close(exited)
	if _, err := rt.Invoke(ctx, []byte(`{}`), exited); err == nil {
		t.Error("an invocation of an exited process succeeded")
	}
}

// TestRealFunctions runs get-group, get-openapi, publish-changes (which
// answers null, not a proxy response), deliver-webhooks (an SQS event in,
// its batch item failures out, and SQS calls) and the baseline for one
// short round each against DynamoDB Local, through the TLS proxy.
func TestRealFunctions(t *testing.T) {
	if testing.Short() {
		t.Skip("builds five Lambdas")
	}
	t.Parallel()
	o := options{
		Root:      "../..",
		BuildDir:  t.TempDir(),
		Functions: []routes.Operation{routes.GetGroup, routes.GetOpenAPI, routes.PublishChanges, routes.DeliverWebhooks},
		Rounds:    1,
		Warm:      2,
		// Throttled, warm calls open a new connection now and then (5 to 8
		// in 100 in make bench-coldstart, against 1 in 100 unthrottled),
		// which would make the warm connections asserted below a matter
		// of luck.
		CPU: cpuHost,
	}
	rep, err := run(context.Background(), o, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	b := rep.Baseline
	if b.Warm.Requests["GetItem"] != 1 || len(b.Warm.Requests) != 1 || b.Statuses["200"] != len(o.Functions)*(1+o.Warm) {
		t.Errorf("baseline: %v per warm call, answers %v; want one GetItem, all 200", b.Warm.Requests, b.Statuses)
	}
	// Only the first call's connection is certain: a warm call finds the
	// last call's connection back in the SDK's idle pool only if net/http
	// returned it there before the call began, which a busy machine delays
	// now and then (the report shows the rate).
	if b.First.Connections < 1 {
		t.Errorf("baseline connections: first %v; want the first call to open one (a TLS handshake)", b.First.Connections)
	}
	byName := map[string]functionReport{}
	for _, f := range rep.Functions {
		byName[f.Function] = f
	}
	if g := byName["get-group"]; g.Warm.Requests["GetItem"] < 1 || g.Statuses["200"] != 1+o.Warm || g.Ratios["init_cpu_ms"].Median <= 0 {
		t.Errorf("get-group: %v per warm call, answers %v, ratios %v", g.Warm.Requests, g.Statuses, g.Ratios)
	}
	if g := byName["get-openapi"]; len(g.First.Requests)+len(g.Warm.Requests) != 0 || g.Statuses["200"] != 1+o.Warm {
		t.Errorf("get-openapi: first %v, warm %v, answers %v; want no DynamoDB request, all 200", g.First.Requests, g.Warm.Requests, g.Statuses)
	}
	if g := byName["publish-changes"]; g.Warm.Requests["BatchWriteItem"] != 1 || g.Statuses["published"] != 1+o.Warm {
		t.Errorf("publish-changes: %v per warm call, answers %v; want one BatchWriteItem (its sample record's event), all published", g.Warm.Requests, g.Statuses)
	}
	// The demo webhook's URL is a loopback address, which a deployed
	// deliverer refuses to dial: each delivery fails, is recorded, and its
	// retry delayed through SQS.
	if g := byName["deliver-webhooks"]; g.Init.Requests["GetItem"] != 1 || g.Warm.Requests["TransactWriteItems"] != 1 || g.Statuses["retried"] != 1+o.Warm {
		t.Errorf("deliver-webhooks: init %v, %v per warm call, answers %v; want its warm-up's GetItem, the attempt recorded, all retried", g.Init.Requests, g.Warm.Requests, g.Statuses)
	}
	var out bytes.Buffer
	printReport(&out, rep)
	for _, want := range []string{"baseline", "get-group", "get-openapi", "÷ baseline", "GetItem 1 ("} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the table lacks %q:\n%s", want, out.String())
		}
	}
}

// TestBuildFlagsAreMakeBuilds keeps the bootstraps measured built as make
// build builds them.
func TestBuildFlagsAreMakeBuilds(t *testing.T) {
	t.Parallel()
	mk, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^LAMBDA_FLAGS := (.*)$`).FindSubmatch(mk)
	tags := regexp.MustCompile(`(?m)^LAMBDA_TAGS +:= (.*)$`).FindSubmatch(mk)
	if m == nil || tags == nil {
		t.Fatal("no LAMBDA_FLAGS or LAMBDA_TAGS in the Makefile")
	}
	m[1] = bytes.ReplaceAll(m[1], []byte("$(LAMBDA_TAGS)"), tags[1])
	var quoted []string
	for _, f := range lambdaBuildFlags {
		if strings.Contains(f, " ") {
			f = `"` + f + `"`
		}
		quoted = append(quoted, f)
	}
	if got, want := strings.Join(quoted, " "), string(m[1]); got != want {
		t.Errorf("lambdaBuildFlags are %s, the Makefile's LAMBDA_FLAGS %s", got, want)
	}
}

func TestEventsFor(t *testing.T) {
	t.Parallel()
	sample := []byte(`{"path":"/v1/vehicles/veh-003","pathParameters":{"itemId":"veh-003"}}`)
	cases := []struct {
		name string
		op   routes.Operation
		n    int
		want string
	}{
		{"first-is-the-sample", routes.PutItem, 0, string(sample)},
		{"warm-creates-its-own", routes.PutItem, 7, `{"path":"/v1/vehicles/veh-003-7","pathParameters":{"itemId":"veh-003-7"}}`},
		{"reads-repeat", routes.GetItem, 7, string(sample)},
	}
	for _, c := range cases {
		if got := string(eventsFor(c.op, sample)(c.n)); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

func TestStatistics(t *testing.T) {
	t.Parallel()
	if got := ratioOf([]float64{1.5, 1.0, 1.25, 2.0}); got != (ratio{Median: 1.375, Min: 1.0, Max: 2.0}) {
		t.Errorf("ratioOf: %+v, want median 1.375 [1.0–2.0]", got)
	}
}
