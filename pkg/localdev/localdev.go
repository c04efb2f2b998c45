// Package localdev prepares a DynamoDB Local table the way a deployment is
// prepared: the table from the deploy's definition, the cursor key, and a
// demo tenant with a known token and a demo group that the sample events in
// events/ refer to. Used by `make run`, `make invoke` and tests; never in AWS.
package localdev

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/aws/aws-lambda-go/events"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/fleetgroups/fleetgroups/pkg/app"
	"github.com/fleetgroups/fleetgroups/pkg/auth"
	"github.com/fleetgroups/fleetgroups/pkg/ddblocal"
	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/routes"
	"github.com/fleetgroups/fleetgroups/pkg/store"
)

// The demo tenant. Its token is public on purpose: it exists only in a local,
// in-memory DynamoDB, and the sample events carry it.
const (
	DemoTenantID = "tn_demo"
	DemoToken    = "fg_tn_demo.local-demo-token"
	DemoAPIKey   = "local-demo-api-key-0000000000"
	DemoGroupID  = "grp_demo"
	// DemoAssociationID links veh-001 and usr-001.
	DemoAssociationID = "asc_demo"
	// DemoWebhookID is a webhook of the demo tenant, to DemoWebhookURL
	// (nothing listens there: its deliveries fail and are retried), signed
	// with DemoWebhookSecret.
	DemoWebhookID     = "wh_demo"
	DemoWebhookURL    = "http://127.0.0.1:9/fleetgroups-demo-webhook"
	DemoWebhookSecret = "whsec_bG9jYWwtZGVtby13ZWJob29rLXNlY3JldC0wMDAwMA=="
)

// DemoMembers are the demo group's members.
var DemoMembers = []groups.Item{
	{Type: groups.Vehicles, ID: "veh-001"}, {Type: groups.Vehicles, ID: "veh-002"},
	{Type: groups.Users, ID: "usr-001"}, {Type: groups.Devices, ID: "dev-456"},
}

// DemoRegistrations are the demo tenant's registered items.
var DemoRegistrations = []groups.RegisteredItem{
	{Item: groups.Item{Type: groups.Vehicles, ID: "veh-001"}, Name: "Transit Van 1", Enterprise: "Acme Logistics",
		Attributes: map[string]string{"plate": "B-FG 1001", "fuel": "diesel"}},
	{Item: groups.Item{Type: groups.Users, ID: "usr-001"}, Name: "Alex Driver", Enterprise: "Acme Logistics"},
}

// OpenTable connects to DynamoDB Local at endpoint and creates table (if it
// does not exist yet) and the cursor key.
func OpenTable(ctx context.Context, endpoint, table string, apiOptions ...func(*middleware.Stack) error) (*store.Store, error) {
	return OpenTableWith(ctx, endpoint, table, nil, apiOptions...)
}

// OpenTableWith is OpenTable creating a missing table with opts.
func OpenTableWith(ctx context.Context, endpoint, table string, opts []store.TableOption, apiOptions ...func(*middleware.Stack) error) (*store.Store, error) {
	db, err := app.NewDynamoDB(endpoint, apiOptions...)
	if err != nil {
		return nil, err
	}
	st := store.New(db, table)
	var inUse *types.ResourceInUseException
	switch err := st.CreateTable(ctx, opts...); {
	case errors.As(err, &inUse):
		// An existing table keeps its schema version: migrate moves it.
		// It gains the stream it may lack, unless opts leave it out.
		def := store.TableDefinition(table)
		for _, o := range opts {
			o(def)
		}
		if def.StreamSpecification != nil {
			if err := st.EnsureStream(ctx); err != nil {
				return nil, err
			}
		}
	case err != nil:
		return nil, err
	default:
		// A new table holds data of the current shape only.
		if err := st.MarkSchemaCurrent(ctx); err != nil {
			return nil, err
		}
	}
	return st, st.EnsureCursorKey(ctx)
}

// SeedDemo provisions the demo tenant and its demo group. It is idempotent,
// so a long-lived DynamoDB Local can be seeded again.
func SeedDemo(ctx context.Context, st *store.Store) error {
	err := st.PutTenant(ctx, groups.Tenant{ID: DemoTenantID, Name: "Demo partner", APIKey: DemoAPIKey}, auth.HashToken(DemoToken))
	if err != nil && groups.CodeOf(err) != groups.CodeConflict {
		return err
	}
	seeder := *st
	seeder.NewID = func() string { return DemoGroupID }
	seeder.NewAssociationID = func() string { return DemoAssociationID }
	seeder.NewWebhookID = func() string { return DemoWebhookID }
	_, err = seeder.CreateGroup(ctx, DemoTenantID, groups.NewGroup{
		Name: "Demo fleet", Description: "Seeded by localdev for the sample events", Members: DemoMembers,
	})
	// Seeding again (a long-lived DynamoDB Local) finds the name or, if the
	// demo group was renamed, its id taken: either way the group is there.
	if c := groups.CodeOf(err); c != "" && c != groups.CodeNameTaken && c != groups.CodeConflict {
		return err
	}
	for _, ri := range DemoRegistrations {
		if _, _, err := st.PutRegisteredItem(ctx, DemoTenantID, ri); err != nil {
			return err
		}
	}
	if _, _, err = seeder.CreateAssociation(ctx, DemoTenantID, "veh-001", "usr-001"); err != nil {
		return err
	}
	_, err = seeder.CreateWebhook(ctx, DemoTenantID, groups.NewWebhook{URL: DemoWebhookURL, Description: "Seeded by localdev for the sample events"}, DemoWebhookSecret)
	if groups.CodeOf(err) == groups.CodeConflict {
		return nil // seeded before
	}
	return err
}

// Invoke runs op's Lambda handler on a JSON event as the Lambda runtime
// would (`sam local invoke -e` does the same), returning the handler's
// response: a proxy response, the authorizer's policy, for publish-changes
// Published, and for deliver-webhooks the batch's failures.
func Invoke(ctx context.Context, h app.Handlers, op routes.Operation, event []byte) (any, error) {
	switch op {
	case routes.Authorizer:
		var e events.APIGatewayCustomAuthorizerRequestTypeRequest
		if err := strictJSON(event, &e); err != nil {
			return nil, fmt.Errorf("authorizer event: %w", err)
		}
		return h.Authorizer(ctx, e)
	case routes.PublishChanges:
		var e events.DynamoDBEvent
		if err := strictJSON(event, &e); err != nil {
			return nil, fmt.Errorf("stream event: %w", err)
		}
		return Published{Records: len(e.Records)}, h.Publisher(ctx, e)
	case routes.DeliverWebhooks:
		var e events.SQSEvent
		if err := strictJSON(event, &e); err != nil {
			return nil, fmt.Errorf("queue event: %w", err)
		}
		return h.Deliverer(ctx, e)
	}
	fn, ok := h.Operations[op]
	if !ok {
		return nil, fmt.Errorf("no operation %q (see pkg/routes)", op)
	}
	var e events.APIGatewayProxyRequest
	if err := strictJSON(event, &e); err != nil {
		return nil, fmt.Errorf("%s event: %w", op, err)
	}
	return fn(ctx, e)
}

// Published is what Invoke reports of publish-changes, whose Lambda answers
// nothing but its error: how many stream records it published.
type Published struct{ Records int }

// strictJSON decodes an event, rejecting fields the event type lacks, so
// that an event of the wrong kind is an error instead of a zero value.
func strictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// Start brings up what `make run` and `make invoke` need: DynamoDB Local
// (started unless DYNAMODB_ENDPOINT names a running one), the table with its
// cursor key, and the demo tenant and group. stop ends DynamoDB Local.
func Start(ctx context.Context, table string) (st *store.Store, endpoint string, stop func(), err error) {
	endpoint, stop, err = ddblocal.Endpoint(ctx)
	if err != nil {
		return nil, "", nil, err
	}
	st, err = OpenTable(ctx, endpoint, table)
	if err == nil {
		err = SeedDemo(ctx, st)
	}
	if err != nil {
		stop()
		return nil, "", nil, err
	}
	return st, endpoint, stop, nil
}
