package localdev_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/fleetgroups/fleetgroups/pkg/api"
	"github.com/fleetgroups/fleetgroups/pkg/app"
	"github.com/fleetgroups/fleetgroups/pkg/ddblocal"
	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/localdev"
	"github.com/fleetgroups/fleetgroups/pkg/routes"
	"github.com/fleetgroups/fleetgroups/pkg/store"
	"github.com/fleetgroups/fleetgroups/pkg/storetest"
)

func TestMain(m *testing.M) { os.Exit(ddblocal.RunTests(m)) }

const eventsDir = "../../events"

// sampleEventID is the id of the event events/publish-changes.json makes.
const sampleEventID = "evt_c4ca4238a0b923820dcc509a6f75849b_0"

// TestEventsCoverEveryFunction keeps events/ and the route table in step:
// one sample event per function, nothing else.
func TestEventsCoverEveryFunction(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(eventsDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var have, want []string
	for _, f := range files {
		have = append(have, strings.TrimSuffix(filepath.Base(f), ".json"))
	}
	for _, fn := range routes.Functions {
		want = append(want, string(fn.Operation))
	}
	slices.Sort(have)
	slices.Sort(want)
	if !slices.Equal(have, want) {
		t.Fatalf("events/ holds %v, want one per function %v", have, want)
	}
}

// TestEventsRunThroughTheirHandlers feeds every sample event to its real
// Lambda handler against a freshly seeded DynamoDB Local table.
func TestEventsRunThroughTheirHandlers(t *testing.T) {
	wantStatus := map[routes.Operation]int{
		routes.CreateGroup: 201, routes.GetGroup: 200, routes.UpdateGroup: 200, routes.DeleteGroup: 200,
		routes.ListGroups: 200, routes.AddMember: 201, routes.RemoveMember: 204, routes.ListMembers: 200,
		routes.ListItemGroups: 200, routes.PutItem: 201, routes.GetItem: 200, routes.DeleteItem: 200,
		routes.ListItems: 200, routes.BatchMembers: 200,
		routes.CreateAssociations: 201, routes.DeleteAssociations: 200, routes.ListAssociations: 200,
		routes.GetOpenAPI: 200, routes.GetUsage: 200,
		routes.ListChildren: 200, routes.ListDescendants: 200, routes.GetAncestors: 200, routes.CheckMembership: 200,
		routes.ListChanges:   200,
		routes.CreateWebhook: 201, routes.ListWebhooks: 200, routes.GetWebhook: 200, routes.UpdateWebhook: 200,
		routes.DeleteWebhook: 204, routes.RotateWebhookSecret: 200, routes.TestWebhook: 200, routes.ListDeliveries: 200,
		// The demo webhook has no delivery until one is made.
		routes.RetryDelivery: 404,
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, fn := range routes.Functions {
		op := fn.Operation
		t.Run(string(op), func(t *testing.T) {
			t.Parallel()
			raw, err := os.ReadFile(filepath.Join(eventsDir, string(op)+".json"))
			if err != nil {
				t.Fatal(err)
			}
			st, _ := storetest.NewStore(t)
			ctx := context.Background()
			if err := localdev.SeedDemo(ctx, st); err != nil {
				t.Fatalf("seed: %v", err)
			}
			out, err := localdev.Invoke(ctx, app.NewHandlers(st, quiet), op, raw)
			if err != nil {
				t.Fatalf("invoke: %v", err)
			}
			switch res := out.(type) {
			case events.APIGatewayCustomAuthorizerResponse:
				if res.PolicyDocument.Statement[0].Effect != "Allow" || res.Context["tenantId"] != localdev.DemoTenantID ||
					res.UsageIdentifierKey != localdev.DemoAPIKey {
					t.Fatalf("authorizer answered %+v", res)
				}
			case events.SQSEventResponse:
				// The sample message delivers an event to the demo webhook,
				// where nothing listens: the attempt is recorded, and the
				// message is reported failed, to come back after its
				// backoff.
				page, err := st.ListDeliveries(ctx, localdev.DemoTenantID, localdev.DemoWebhookID, store.PageRequest{Limit: 10})
				if err != nil || len(res.BatchItemFailures) != 1 || len(page.Items) != 1 || len(page.Items[0].Attempts) != 1 ||
					page.Items[0].Status != groups.DeliveryPending {
					t.Fatalf("deliver-webhooks answered %+v (%v); deliveries %+v", res, err, page.Items)
				}
			case localdev.Published:
				// The sample record is the creation of a group: its event
				// is in the feed once settled (read as from a second on).
				later := *st
				later.Now = func() time.Time { return time.Now().Add(time.Second) }
				page, err := later.ListChanges(ctx, localdev.DemoTenantID, store.ChangeQuery{Limit: 100, Types: []groups.EventType{groups.GroupCreated}})
				if err != nil || res.Records != 1 || !slices.ContainsFunc(page.Items, func(e groups.Event) bool { return e.ID == sampleEventID }) {
					t.Fatalf("published %d records; the feed holds %+v (%v), want event %s", res.Records, page.Items, err, sampleEventID)
				}
			case events.APIGatewayProxyResponse:
				if res.StatusCode != wantStatus[op] {
					t.Fatalf("status = %d, want %d; body %s", res.StatusCode, wantStatus[op], res.Body)
				}
				if res.StatusCode != 204 && !json.Valid([]byte(res.Body)) {
					t.Fatalf("body is not JSON: %s", res.Body)
				}
				// The Lambda path meters too: the demo tenant's first call
				// (public operations have no tenant to count for).
				want := []string{"1"}
				if routes.IsPublic(op) {
					want = nil
				}
				if got := res.MultiValueHeaders[api.HeaderUsage]; !slices.Equal(got, want) {
					t.Fatalf("%s = %q, want %q", api.HeaderUsage, got, want)
				}
				checkRoute(t, op, raw)
			default:
				t.Fatalf("unexpected response %T", out)
			}
		})
	}
}

// checkRoute asserts that a proxy event is one of op's routes, with path
// parameters that fill the route's template to the event's path, and that it
// is authorized unless the route is public.
func checkRoute(t *testing.T, op routes.Operation, raw []byte) {
	t.Helper()
	var e events.APIGatewayProxyRequest
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatal(err)
	}
	// A public route's event is what API Gateway sends without an
	// authorizer: no token and no authorizer context; every other event
	// carries both.
	_, token := e.Headers["Authorization"]
	if public := routes.IsPublic(op); token == public || (e.RequestContext.Authorizer != nil) == public {
		t.Fatalf("public=%v, but the event has token=%v and authorizer context %v", public, token, e.RequestContext.Authorizer)
	}
	for _, rt := range routes.For(op) {
		if rt.Method == e.HTTPMethod && rt.Path == e.Resource {
			path := rt.Path
			for k, v := range e.PathParameters {
				path = strings.ReplaceAll(path, "{"+k+"}", v)
			}
			if path != e.Path || e.RequestContext.ResourcePath != rt.Path {
				t.Fatalf("event path %s does not fill %s with %v", e.Path, rt.Path, e.PathParameters)
			}
			return
		}
	}
	t.Fatalf("event %s %s is not a route of %s", e.HTTPMethod, e.Resource, op)
}

// TestOpenTableTurnsOnTheStream: a table made before the change feed (on a
// long-lived DynamoDB Local) gains its stream when make run opens it, so
// that GET /v1/changes works there too.
func TestOpenTableTurnsOnTheStream(t *testing.T) {
	ctx := context.Background()
	endpoint := os.Getenv(ddblocal.EndpointEnv)
	table := "t-" + store.RandomToken(8)
	old, err := localdev.OpenTableWith(ctx, endpoint, table, []store.TableOption{store.WithoutStream})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = old.DeleteTable(context.Background()) })
	db, err := app.NewDynamoDB(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	streamOn := func() bool {
		out, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
		if err != nil {
			t.Fatal(err)
		}
		return out.Table.StreamSpecification != nil && aws.ToBool(out.Table.StreamSpecification.StreamEnabled)
	}
	if streamOn() {
		t.Fatal("a table made without a stream has one")
	}
	if _, err := localdev.OpenTable(ctx, endpoint, table); err != nil {
		t.Fatal(err)
	}
	if !streamOn() {
		t.Error("OpenTable left the existing table without its stream")
	}
}
