package gateway_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"golang.org/x/sync/errgroup"

	"github.com/fleetgroups/fleetgroups/pkg/app"
	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/routes"
	"github.com/fleetgroups/fleetgroups/pkg/storetest"
)

// BenchmarkLambdaHandlers times whole operation handlers as the Lambda
// runtime calls them (proxy event in, proxy response out) against DynamoDB
// Local: the figures are dominated by DynamoDB round trips, so compare them
// with each other (and with the requests per operation), not with AWS.
func BenchmarkLambdaHandlers(b *testing.B) {
	st, _ := storetest.NewStore(b)
	ctx := context.Background()
	const tenant = "tn_bench"
	members := make([]groups.Item, groups.MaxInitialMembers)
	for i := range members {
		members[i] = groups.Item{Type: groups.Vehicles, ID: fmt.Sprintf("v%03d", i)}
	}
	g, err := st.CreateGroup(ctx, tenant, groups.NewGroup{Name: "Bench", Members: members})
	if err != nil {
		b.Fatal(err)
	}
	h := app.NewHandlers(st, quiet)
	event := func(method, resource, path string, params map[string]string, body string) events.APIGatewayProxyRequest {
		return events.APIGatewayProxyRequest{
			Resource: resource, Path: path, HTTPMethod: method, PathParameters: params, Body: body,
			Headers: map[string]string{"Content-Type": "application/json"},
			RequestContext: events.APIGatewayProxyRequestContext{
				RequestID: "bench", Authorizer: map[string]any{"tenantId": tenant},
			},
		}
	}
	n := 0
	cases := []struct {
		name string
		op   routes.Operation
		ev   func() events.APIGatewayProxyRequest
		want int
	}{
		{"get-group", routes.GetGroup, func() events.APIGatewayProxyRequest {
			return event("GET", "/v1/groups/{groupId}", "/v1/groups/"+g.ID, map[string]string{"groupId": g.ID}, "")
		}, 200},
		{"list-members", routes.ListMembers, func() events.APIGatewayProxyRequest {
			return event("GET", "/v1/groups/{groupId}/members", "/v1/groups/"+g.ID+"/members", map[string]string{"groupId": g.ID}, "")
		}, 200},
		{"add-member", routes.AddMember, func() events.APIGatewayProxyRequest {
			n++
			id := fmt.Sprintf("d%07d", n)
			return event("PUT", "/v1/groups/{groupId}/{itemType}/{itemId}", "/v1/groups/"+g.ID+"/devices/"+id,
				map[string]string{"groupId": g.ID, "itemType": "devices", "itemId": id}, "")
		}, 201},
		{"create-group", routes.CreateGroup, func() events.APIGatewayProxyRequest {
			n++
			return event("POST", "/v1/groups", "/v1/groups", nil, fmt.Sprintf(`{"name":"g%07d","devices":["d1","d2"]}`, n))
		}, 201},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			fn := h.Operations[c.op]
			for b.Loop() {
				res, err := fn(ctx, c.ev())
				if err != nil || res.StatusCode != c.want {
					b.Fatalf("%s: %d %v %s", c.name, res.StatusCode, err, res.Body)
				}
			}
		})
	}
}

// BenchmarkGetGroupFloor times, against the same DynamoDB Local, the two
// requests get-group makes: the group's GetItem and the call's count
// (UpdateItem), alone and at once as the Lambda makes them. A warm
// get-group cannot answer before both have, so its latency ÷ a plain
// GetItem's (make bench-coldstart's ratio to cmd/baseline) cannot go below
// "both" ÷ "GetItem" here: DynamoDB Local writes more slowly than it reads.
func BenchmarkGetGroupFloor(b *testing.B) {
	st, _ := storetest.NewStore(b)
	ctx := context.Background()
	const tenant = "tn_floor"
	g, err := st.CreateGroup(ctx, tenant, groups.NewGroup{Name: "Floor"})
	if err != nil {
		b.Fatal(err)
	}
	getItem := func() error { _, err := st.GetGroup(ctx, tenant, g.ID); return err }
	countCall := func() error { _, err := st.CountCall(ctx, tenant); return err }
	both := func() error {
		var g errgroup.Group
		g.Go(getItem)
		g.Go(countCall)
		return g.Wait()
	}
	for _, c := range []struct {
		name string
		call func() error
	}{{"GetItem", getItem}, {"UpdateItem", countCall}, {"both", both}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if err := c.call(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
