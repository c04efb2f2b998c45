package store_test

import (
	"context"
	"errors"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"

	"github.com/fleetgroups/fleetgroups/pkg/app"
	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/routes"
	"github.com/fleetgroups/fleetgroups/pkg/store"
	"github.com/fleetgroups/fleetgroups/pkg/storetest"
)

// lambdaContext has a Lambda's deadline.
func lambdaContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), routes.LambdaTimeoutSeconds*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// deleteBeforePurge deletes the group as a request whose deadline comes
// before the purge can start (its reserve is longer than the request's whole
// time): the group becomes a tombstone and the purge stops at once, as after
// a timeout or a crash, whatever the speed of the machine.
func deleteBeforePurge(t *testing.T, st *store.Store, tenant, id string, ifVersion store.IfVersion) error {
	t.Helper()
	late := *st
	late.PurgeReserve = time.Hour
	_, err := late.DeleteGroup(lambdaContext(t), tenant, id, ifVersion)
	return err
}

// TestPurgePagesAreBounded: the purge reads a bounded page of memberships
// at a time, so that it checks its deadline between pages of bounded work.
func TestPurgePagesAreBounded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, counter := storetest.NewStore(t)
	const members = 1000
	g := mustCreate(t, st, tenantA, "Paged")
	if err := store.SeedMembers(ctx, st, tenantA, g.ID, members); err != nil {
		t.Fatalf("seed: %v", err)
	}
	counter.Take()
	if _, err := st.DeleteGroup(lambdaContext(t), tenantA, g.ID, store.AnyVersion); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if got := counter.Take()["Query"]; got < members/store.PurgePageSize {
		t.Fatalf("%d Query pages for %d members, want at least %d (pages of at most %d)", got, members, members/store.PurgePageSize, store.PurgePageSize)
	}
	if left, err := store.ItemsOf(ctx, st, tenantA, g.ID); err != nil || left != 0 {
		t.Fatalf("%d items remain (%v)", left, err)
	}
}

// TestPurgeGivesUpOnUnprocessedWrites: a batch that DynamoDB keeps leaving
// unprocessed (sustained throttling) is retried a bounded number of times;
// then the delete answers "in progress" long before the deadline, instead of
// retrying until the Lambda dies, and a later DELETE finishes it.
func TestPurgeGivesUpOnUnprocessedWrites(t *testing.T) {
	t.Parallel()
	st, _ := storetest.NewStore(t)
	g := mustCreate(t, st, tenantA, "Throttled", v("veh-1"), v("veh-2"))
	var batches atomic.Int32
	unprocessed := func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("unprocessed",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				out, md, err := next.HandleInitialize(ctx, in)
				if req, ok := in.Parameters.(*dynamodb.BatchWriteItemInput); ok && err == nil {
					batches.Add(1)
					out.Result.(*dynamodb.BatchWriteItemOutput).UnprocessedItems = req.RequestItems
				}
				return out, md, err
			}), middleware.After)
	}
	db, err := app.NewDynamoDB(os.Getenv("DYNAMODB_ENDPOINT"), unprocessed)
	if err != nil {
		t.Fatal(err)
	}
	ctx := lambdaContext(t)
	_, err = store.New(db, st.Table()).DeleteGroup(ctx, tenantA, g.ID, store.AnyVersion)
	if !errors.Is(err, store.ErrDeleteInProgress) || ctx.Err() != nil {
		t.Fatalf("delete under throttling = %v (deadline: %v), want ErrDeleteInProgress before the deadline", err, ctx.Err())
	}
	if n := batches.Load(); n > store.MaxBatchAttempts {
		t.Fatalf("%d BatchWriteItem calls for one batch, want at most %d", n, store.MaxBatchAttempts)
	}
	_, err = st.GetGroup(context.Background(), tenantA, g.ID)
	wantCode(t, err, groups.CodeNotFound)
	if _, err := st.DeleteGroup(lambdaContext(t), tenantA, g.ID, store.AnyVersion); err != nil {
		t.Fatalf("resumed delete: %v", err)
	}
	if left, err := store.ItemsOf(context.Background(), st, tenantA, g.ID); err != nil || left != 0 {
		t.Fatalf("%d items remain (%v)", left, err)
	}
}
