package cost

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/fleetgroups/fleetgroups/pkg/api"
	"github.com/fleetgroups/fleetgroups/pkg/app"
	"github.com/fleetgroups/fleetgroups/pkg/auth"
	"github.com/fleetgroups/fleetgroups/pkg/changes"
	"github.com/fleetgroups/fleetgroups/pkg/ddblocal"
	"github.com/fleetgroups/fleetgroups/pkg/gateway"
	"github.com/fleetgroups/fleetgroups/pkg/gateway/gatewaytest"
	"github.com/fleetgroups/fleetgroups/pkg/latency"
	"github.com/fleetgroups/fleetgroups/pkg/routes"
	"github.com/fleetgroups/fleetgroups/pkg/store"
	"github.com/fleetgroups/fleetgroups/pkg/storetest"
	"github.com/fleetgroups/fleetgroups/pkg/webhooks"
)

func TestMain(m *testing.M) { os.Exit(ddblocal.RunTests(m)) }

var (
	update    = flag.Bool("update", false, "rewrite README.md's cost table with what the test measures")
	durations = flag.Int("durations", 0, "measure each operation's warm duration over this many rounds and rewrite "+durationsPath)
)

const (
	readmePath    = "../../README.md"
	durationsPath = "../../docs/perf/durations.json"
	tableBegin    = "<!-- cost-table:begin (generated: go test ./pkg/cost -update) -->\n"
	tableEnd      = "<!-- cost-table:end -->\n"
)

// Durations are the operations' warm durations that the table bills.
type Durations struct {
	Source   string             `json:"source"`   // the command that measured them
	Measured string             `json:"measured"` // the date
	Machine  string             `json:"machine"`
	WarmP50  map[string]float64 `json:"warm_p50_ms"` // by operation
}

// TestCostTable drives a representative call of every operation through
// the local gateway against DynamoDB Local, records the DynamoDB requests
// and units of the operation and of usage metering apart (each through its
// own client, as in AWS), and fails unless README.md's cost table is the one
// these measurements, docs/perf/durations.json and the prices make. With
// -update it rewrites the table instead.
func TestCostTable(t *testing.T) {
	t.Parallel()
	var d Durations
	raw, err := os.ReadFile(durationsPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("%s: %v", durationsPath, err)
	}
	e := newEnv(t, false)
	calls := e.measure(t, e.newTenant(t))
	var measured []routes.Operation
	for i := range calls {
		c := &calls[i]
		measured = append(measured, c.Operation)
		ms, ok := d.WarmP50[string(c.Operation)]
		if !ok {
			t.Errorf("%s has no duration for %s: measure it with go test ./pkg/cost -run TestMeasureDurations -durations=21", durationsPath, c.Operation)
		}
		c.WarmMS = ms
	}
	for _, fn := range routes.Functions {
		if !slices.Contains(measured, fn.Operation) {
			t.Errorf("no call of %s is measured: add one to (*env).measure", fn.Operation)
		}
	}
	table := tableBegin + "\n" + Table(calls, USEast1, routes.LambdaMemoryMB) + "\n" + notes(d, USEast1) + "\n" + tableEnd
	readme, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	before, rest, ok1 := strings.Cut(string(readme), tableBegin)
	current, after, ok2 := strings.Cut(rest, tableEnd)
	if !ok1 || !ok2 {
		t.Fatalf("README.md has no %q … %q", tableBegin, tableEnd)
	}
	if tableBegin+current+tableEnd == table {
		return
	}
	if !*update {
		t.Fatalf("README.md's cost table is not what the measurements make; run make cost and commit it. It would be:\n%s", table)
	}
	if err := os.WriteFile(readmePath, []byte(before+table+after), 0o644); err != nil {
		t.Fatal(err)
	}
}

// notes are the lines under the table that say where its inputs came from.
func notes(d Durations, p Prices) string {
	return fmt.Sprintf("Warm durations: the median of %s, measured %s on %s (%s). "+
		"Prices: %s, on demand, read from AWS's pricing pages on %s: DynamoDB $%.3f per million read request units "+
		"and $%.3f per million write request units; Lambda (arm64, %d MB) $%.10f per GB-second and $%.2f per million requests; "+
		"API Gateway REST $%.2f per million requests (the first 333 million a month). "+
		"publish-changes also puts every event on EventBridge, $%.2f per million events, which the table leaves out "+
		"(the change measured makes 3 events); Lambda reads the stream for free. "+
		"Webhook deliveries go through SQS, $%.2f per million requests, which the table leaves out too: "+
		"at most three per delivery (its send, receive and delete; fewer when batched), one more per retry.\n",
		d.Source, d.Measured, d.Machine, strings.TrimPrefix(durationsPath, "../../"),
		p.Region, p.Date, p.DynamoDBReadPerMillion, p.DynamoDBWritePerMillion, routes.LambdaMemoryMB,
		p.LambdaPerGBSecond, p.LambdaPerMillionRequests, p.APIGatewayPerMillion, p.EventBridgePerMillion, p.SQSPerMillion)
}

// env is the local API on a fresh table, as `make run` serves it, with the
// operations, usage metering and the authorizer each on its own metered
// client (as each is its own Lambda, or its own client in one, on AWS).
type env struct {
	st         *store.Store // seeds tenants, unmetered
	srv        *httptest.Server
	handlers   app.Handlers
	ops        *storetest.Meter
	metering   *storetest.Meter
	authorizer *storetest.Meter
	publisher  *storetest.Meter
	deliverer  *storetest.Meter
	queue      *webhooks.LocalQueue
	// receiver is the tenants' webhook endpoint: it answers 200 at once
	// and counts what it got.
	receiver    *httptest.Server
	received    atomic.Int32
	mu          sync.Mutex
	invocations map[routes.Operation][]time.Duration // by the handlers, for -durations
}

// newEnv starts the env. For timing, the operations' client is not
// metered (their usage reads as none): the meter reads each item a
// transaction writes, before and after it, which would add to the
// durations.
func newEnv(t *testing.T, timing bool) *env {
	t.Helper()
	st, _ := storetest.NewStreamStore(t)
	var opsStore, pubStore, delStore *store.Store
	ops, publisher, deliverer := &storetest.Meter{}, &storetest.Meter{}, &storetest.Meter{}
	if timing {
		opsStore, _ = storetest.Reopen(t, st)
		pubStore, _ = storetest.Reopen(t, st)
		delStore, _ = storetest.Reopen(t, st)
	} else {
		opsStore, ops = storetest.ReopenMetered(t, st)
		pubStore, publisher = storetest.ReopenMetered(t, st)
		delStore, deliverer = storetest.ReopenMetered(t, st)
	}
	meterStore, metering := storetest.ReopenMetered(t, st)
	authStore, authorizer := storetest.ReopenMetered(t, st)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	e := &env{st: st, ops: ops, metering: metering, authorizer: authorizer, publisher: publisher, deliverer: deliverer,
		invocations: map[routes.Operation][]time.Duration{}}
	e.receiver = httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { e.received.Add(1) }))
	t.Cleanup(e.receiver.Close)
	h := app.NewHandlers(opsStore, quiet, api.WithMeter(meterStore))
	for op, handle := range h.Operations {
		h.Operations[op] = func(ctx context.Context, ev events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
			defer e.timed(op, time.Now())
			return handle(ctx, ev)
		}
	}
	authorize := (&auth.Authorizer{Store: authStore, Log: quiet}).Handle
	h.Authorizer = func(ctx context.Context, ev events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
		defer e.timed(routes.Authorizer, time.Now())
		return authorize(ctx, ev)
	}
	e.handlers = h
	e.srv = httptest.NewServer(gateway.New(h, quiet))
	t.Cleanup(e.srv.Close)
	// Webhooks, delivered from the queue by their own client, as
	// deliver-webhooks is its own Lambda.
	d := &webhooks.Deliverer{Sender: webhooks.Sender{Store: delStore, HTTP: webhooks.Policy{AllowLoopback: true}.Client()}, Log: quiet}
	e.queue = webhooks.NewLocalQueue(func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		defer e.timed(routes.DeliverWebhooks, time.Now())
		return d.Handle(ctx, ev)
	}, quiet, routes.WebhookBatchSize, routes.WebhookMaxReceives)
	d.Queue = e.queue
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.queue.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	// The change feed, published from the table's stream by its own
	// client, as publish-changes is its own Lambda.
	publish := (&changes.Publisher{Store: pubStore, Log: quiet, Queue: e.queue}).Handle
	storetest.FollowChanges(t, st, 20*time.Millisecond, func(ctx context.Context, ev events.DynamoDBEvent) error {
		defer e.timed(routes.PublishChanges, time.Now())
		return publish(ctx, ev)
	})
	return e
}

// awaitFeed polls the tenant's change feed until it holds an event whose
// JSON contains each of want, and returns how many events it holds then.
func (e *env) awaitFeed(t *testing.T, token string, want ...string) int {
	t.Helper()
	var events []string
	path := "/v1/changes?limit=100"
	storetest.Await(t, 50*time.Millisecond, func() (bool, string) {
		page := e.call(t, token, "GET", path, "")
		for _, it := range page["items"].([]any) {
			raw, _ := json.Marshal(it)
			events = append(events, string(raw))
		}
		path = "/v1/changes?limit=100&cursor=" + page["next_cursor"].(string)
		return !slices.ContainsFunc(want, func(w string) bool {
			return !slices.ContainsFunc(events, func(ev string) bool { return strings.Contains(ev, w) })
		}), fmt.Sprintf("events with each of %v in the change feed", want)
	})
	return len(events)
}

func (e *env) timed(op routes.Operation, start time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.invocations[op] = append(e.invocations[op], time.Since(start))
}

// newTenant provisions a tenant and returns its token.
func (e *env) newTenant(t *testing.T) string {
	t.Helper()
	tenant, token := auth.NewCredentials("", "partner")
	if err := e.st.PutTenant(context.Background(), tenant, auth.HashToken(token)); err != nil {
		t.Fatal(err)
	}
	return token
}

// call sends a request and returns the response's JSON body; a status of
// 400 or more fails the test.
func (e *env) call(t *testing.T, token, method, path, body string) map[string]any {
	t.Helper()
	req, err := gatewaytest.NewRequest(context.Background(), e.srv.URL, token, method, path, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode >= 400 {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	var out map[string]any
	_ = json.Unmarshal(raw, &out) // get-openapi's document is not one we read
	return out
}

// measure seeds the tenant of token, then makes one representative call of
// every operation and returns what each consumed.
func (e *env) measure(t *testing.T, token string) []Call {
	t.Helper()
	id := func(r map[string]any) string { return r["id"].(string) }
	post := func(path, body string) map[string]any { return e.call(t, token, "POST", path, body) }
	put := func(path, body string) map[string]any { return e.call(t, token, "PUT", path, body) }

	fleet := id(post("/v1/groups", `{"name":"Fleet","vehicles":["v1","v2","v3"]}`))
	big := id(post("/v1/groups", `{"name":"Big"}`))
	var hundred []string
	for i := range 100 {
		hundred = append(hundred, fmt.Sprintf(`{"type":"users","id":"user-%03d"}`, i))
	}
	post("/v1/groups/"+big+"/members:batch", `{"add":[`+strings.Join(hundred, ",")+`]}`)
	var others []string
	for i := range 8 {
		others = append(others, id(post("/v1/groups", fmt.Sprintf(`{"name":"Group %d"}`, i))))
	}
	put("/v1/groups/"+others[0]+"/vehicles/v1", "")
	put("/v1/groups/"+others[1]+"/vehicles/v1", "")
	for i := 1; i <= 10; i++ {
		put(fmt.Sprintf("/v1/vehicles/v%d", i), fmt.Sprintf(`{"name":"Van %d","enterprise":"Acme"}`, i))
	}
	// DynamoDB Local bills a BatchGetItem nothing for an item it does not
	// find, where AWS bills it like one it finds: the association's user is
	// registered, so that create-associations' read of both sides is billed
	// as on AWS.
	put("/v1/users/u9", `{"name":"Driver 9"}`)
	put("/v1/vehicles/gone", `{"name":"Sold van"}`)
	put("/v1/groups/"+others[2]+"/vehicles/gone", "")
	post("/v1/vehicles/associations/users", `{"data":[{"vehicle_id":"v1","user_id":"u1"},{"vehicle_id":"v1","user_id":"u2"},{"vehicle_id":"v1","user_id":"u3"}]}`)
	doomed := id(post("/v1/groups", `{"name":"Doomed","devices":["d1","d2","d3"]}`))
	// A Lambda loads the cursor key the first time it seals a cursor: a page
	// with a next one loads it here, so that no measured call does.
	e.call(t, token, "GET", "/v1/groups?limit=1", "")
	var ten []string
	for i := range 10 {
		ten = append(ten, fmt.Sprintf(`{"type":"users","id":"batch-%d"}`, i))
	}

	var calls []Call
	// measured makes one call and records what it consumed.
	measured := func(op routes.Operation, what, tok, method, path, body string) map[string]any {
		e.ops.Take()
		e.metering.Take()
		r := e.call(t, tok, method, path, body)
		own, meter := e.ops.Take(), e.metering.Take()
		for _, u := range []storetest.Usage{own, meter} {
			if u.Unreported > 0 {
				t.Errorf("%s: %d requests with no units (failed?): %v", op, u.Unreported, u.Requests)
			}
		}
		if counted := len(meter.Requests) > 0; counted != routes.Metered(op) {
			t.Errorf("%s: metering requests %v; routes.Metered says %v", op, meter.Requests, routes.Metered(op))
		}
		calls = append(calls, Call{
			Operation: op, Measured: what, ThroughAPIGateway: true,
			Own:      DynamoDB{Requests: own.Requests, ReadUnits: own.ReadUnits, WriteUnits: own.WriteUnits},
			Metering: DynamoDB{Requests: meter.Requests, ReadUnits: meter.ReadUnits, WriteUnits: meter.WriteUnits},
		})
		return r
	}
	measured(routes.CreateGroup, "a group with 3 members", token, "POST", "/v1/groups", `{"name":"Created","devices":["d7","d8","d9"]}`)
	measured(routes.GetGroup, "a group of 3 members", token, "GET", "/v1/groups/"+fleet, "")
	measured(routes.UpdateGroup, "a new description", token, "PATCH", "/v1/groups/"+fleet, `{"description":"Vans"}`)
	measured(routes.ListGroups, "first page, `limit=10`, of 12 groups", token, "GET", "/v1/groups?limit=10", "")
	measured(routes.AddMember, "a new member, group of 3", token, "PUT", "/v1/groups/"+fleet+"/users/u1", "")
	measured(routes.RemoveMember, "a member, group of 4", token, "DELETE", "/v1/groups/"+fleet+"/users/u1", "")
	measured(routes.ListMembers, "a page of 100 members (all types)", token, "GET", "/v1/groups/"+big+"/members", "")
	measured(routes.ListItemGroups, "an item in 3 groups", token, "GET", "/v1/vehicles/v1/groups", "")
	measured(routes.PutItem, "a new registration", token, "PUT", "/v1/vehicles/v11", `{"name":"Van 11","enterprise":"Acme"}`)
	measured(routes.GetItem, "a registration", token, "GET", "/v1/vehicles/v1", "")
	measured(routes.ListItems, "a page of 10 registrations", token, "GET", "/v1/vehicles?limit=10", "")
	measured(routes.DeleteItem, "an item in 1 group, no associations", token, "DELETE", "/v1/vehicles/gone", "")
	measured(routes.BatchMembers, "10 new members", token, "POST", "/v1/groups/"+others[3]+"/members:batch", `{"add":[`+strings.Join(ten, ",")+`]}`)
	created := measured(routes.CreateAssociations, "1 association, both items registered", token, "POST", "/v1/vehicles/associations/users", `{"data":[{"vehicle_id":"v2","user_id":"u9"}]}`)
	measured(routes.ListAssociations, "a vehicle's 3 users", token, "GET", "/v1/vehicles/v1/associations/users", "")
	association := created["data"].([]any)[0].(map[string]any)["id"].(string)
	measured(routes.DeleteAssociations, "1 association", token, "DELETE", "/v1/vehicles/associations/users", fmt.Sprintf(`{"data":[{"type":"user_permission","id":%q}]}`, association))
	measured(routes.DeleteGroup, "a group of 3 members", token, "DELETE", "/v1/groups/"+doomed, "")
	// A tree: a region with 3 depots, the first with 2 teams.
	region := id(post("/v1/groups", `{"name":"Region"}`))
	var depots []string
	for i := range 3 {
		depots = append(depots, id(post("/v1/groups", fmt.Sprintf(`{"name":"Depot %d","parentId":%q}`, i, region))))
	}
	var teams []string
	for i := range 2 {
		teams = append(teams, id(post("/v1/groups", fmt.Sprintf(`{"name":"Team %d","parentId":%q}`, i, depots[0]))))
	}
	measured(routes.ListChildren, "a region's 3 children", token, "GET", "/v1/groups/"+region+"/children", "")
	measured(routes.ListDescendants, "a subtree of 5 groups", token, "GET", "/v1/groups/"+region+"/descendants", "")
	measured(routes.GetAncestors, "a group at depth 2", token, "GET", "/v1/groups/"+teams[0]+"/ancestors", "")
	put("/v1/groups/"+teams[0]+"/vehicles/v5", "")
	measured(routes.CheckMembership, "a vehicle in 1 group at depth 2, against 3 groups", token, "POST", "/v1/vehicles/v5/groups:check",
		fmt.Sprintf(`{"groupIds":[%q,%q,%q]}`, region, depots[1], teams[0]))
	measured(routes.GetUsage, "the tenant's counts", token, "GET", "/v1/usage", "")
	// The change feed: once every change above is published (the last
	// one is v5 joining teams[0]), a page of it; then what publishing one
	// change costs: v6 joins teams[1] at depth 2, which makes member.added
	// and effective_member.added for depots[0] and the region.
	e.awaitFeed(t, token, `"member.added"`, teams[0], `"v5"`)
	measured(routes.ListChanges, "a page of 50 events", token, "GET", "/v1/changes?limit=50", "")
	// The webhook routes, with a webhook that gets every member.added.
	hook := id(post("/v1/webhooks", `{"url":"`+e.receiver.URL+`/hooks","events":["member.added"]}`))
	other := id(measured(routes.CreateWebhook, "a webhook of 2 event types", token, "POST", "/v1/webhooks",
		`{"url":"`+e.receiver.URL+`/other","events":["group.created","group.deleted"]}`))
	measured(routes.ListWebhooks, "the tenant's 2 webhooks", token, "GET", "/v1/webhooks", "")
	measured(routes.GetWebhook, "a webhook", token, "GET", "/v1/webhooks/"+hook, "")
	measured(routes.UpdateWebhook, "a new description", token, "PATCH", "/v1/webhooks/"+other, `{"description":"Billing"}`)
	measured(routes.RotateWebhookSecret, "a new secret", token, "POST", "/v1/webhooks/"+other+":rotate-secret", "")
	test := measured(routes.TestWebhook, "one test delivery, answered 200", token, "POST", "/v1/webhooks/"+hook+"/test", "")
	measured(routes.RetryDelivery, "the test delivery again, answered 200", token, "POST", "/v1/webhooks/"+hook+"/deliveries/"+id(test)+":retry", "")
	measured(routes.DeleteWebhook, "a webhook", token, "DELETE", "/v1/webhooks/"+other, "")
	// Everything published and delivered, what publishing one change and
	// delivering its one member.added to the webhook cost: the last
	// invocations of publish-changes and deliver-webhooks.
	storetest.Await(t, 20*time.Millisecond, func() (bool, string) {
		return e.queue.Pending() == 0, "the deliveries of the changes so far"
	})
	e.publisher.Take()
	e.deliverer.Take()
	received := e.received.Load()
	put("/v1/groups/"+teams[1]+"/vehicles/v6", "")
	e.awaitFeed(t, token, teams[1], `"v6"`, `"effective_member.added"`, region)
	storetest.Await(t, 20*time.Millisecond, func() (bool, string) {
		return e.received.Load() > received && e.queue.Pending() == 0, "the delivery of v6's member.added"
	})
	u := e.publisher.Take()
	calls = append(calls, Call{
		Operation: routes.PublishChanges, Measured: "one change, v6 joining a group at depth 2 (3 events, 1 webhook delivery queued), as a batch of its own",
		Own: DynamoDB{Requests: u.Requests, ReadUnits: u.ReadUnits, WriteUnits: u.WriteUnits},
	})
	u = e.deliverer.Take()
	calls = append(calls, Call{
		Operation: routes.DeliverWebhooks, Measured: "one event delivered to a webhook that answers 200",
		Own: DynamoDB{Requests: u.Requests, ReadUnits: u.ReadUnits, WriteUnits: u.WriteUnits},
	})
	measured(routes.ListDeliveries, "a page of the webhook's 2 deliveries", token, "GET", "/v1/webhooks/"+hook+"/deliveries", "")
	measured(routes.GetOpenAPI, "the document (public: no authorizer, not metered)", "", "GET", "/v1/openapi.json", "")

	// The authorizer, called as API Gateway calls it when its cache has no
	// answer for the token.
	e.authorizer.Take()
	ev := events.APIGatewayCustomAuthorizerRequestTypeRequest{MultiValueHeaders: map[string][]string{"Authorization": {"Bearer " + token}}}
	if _, err := e.handlers.Authorizer(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	u = e.authorizer.Take()
	calls = append(calls, Call{
		Operation: routes.Authorizer, Measured: fmt.Sprintf("a token not in API Gateway's cache (once per token per %d s)", routes.AuthorizerCacheSeconds),
		Own: DynamoDB{Requests: u.Requests, ReadUnits: u.ReadUnits, WriteUnits: u.WriteUnits},
	})
	return calls
}

// TestMeasureDurations, with -durations=N, runs the calls of TestCostTable N
// times, each time for a new tenant, times every handler invocation (in
// process, over DynamoDB Local) and writes the medians to
// docs/perf/durations.json. The first round warms up and is left out.
func TestMeasureDurations(t *testing.T) {
	if *durations == 0 {
		t.Skip("measures only with -durations=N")
	}
	e := newEnv(t, true)
	e.measure(t, e.newTenant(t))
	e.mu.Lock()
	clear(e.invocations)
	e.mu.Unlock()
	rounds := make(map[routes.Operation][]time.Duration)
	for range *durations {
		for _, c := range e.measure(t, e.newTenant(t)) {
			e.mu.Lock()
			all := e.invocations[c.Operation]
			// The last invocation of the operation is the measured call;
			// the others seeded.
			rounds[c.Operation] = append(rounds[c.Operation], all[len(all)-1])
			e.mu.Unlock()
		}
	}
	d := Durations{
		Source:   fmt.Sprintf("%d in-process invocations of each handler (go test ./pkg/cost -run TestMeasureDurations -durations=%d)", *durations, *durations),
		Measured: time.Now().UTC().Format(time.DateOnly),
		Machine:  fmt.Sprintf("%s/%s, %d CPUs, DynamoDB Local", runtime.GOOS, runtime.GOARCH, runtime.NumCPU()),
		WarmP50:  map[string]float64{},
	}
	for op, ds := range rounds {
		slices.Sort(ds)
		d.WarmP50[string(op)] = float64(latency.Quantile(ds, 0.5).Microseconds()/100) / 10
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(durationsPath, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s:\n%s", durationsPath, b.String())
}
