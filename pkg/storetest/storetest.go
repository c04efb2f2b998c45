// Package storetest gives tests a fresh table on DynamoDB Local and counts
// the DynamoDB requests made through it.
package storetest

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/aws/smithy-go/middleware"

	"github.com/fleetgroups/fleetgroups/pkg/app"
	"github.com/fleetgroups/fleetgroups/pkg/localdev"
	"github.com/fleetgroups/fleetgroups/pkg/store"
)

// Counter counts DynamoDB requests by operation name ("Query", "GetItem"…).
// It sits in the Initialize step, so SDK retries of one call count once.
type Counter struct {
	mu    sync.Mutex
	calls map[string]int
}

// Middleware adds the counter to a client's stack.
func (c *Counter) Middleware(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("fleetgroupsRequestCounter",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			c.mu.Lock()
			if c.calls == nil {
				c.calls = map[string]int{}
			}
			c.calls[middleware.GetOperationName(ctx)]++
			c.mu.Unlock()
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
}

// Take returns the counts since the last Take and starts over.
func (c *Counter) Take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	calls := c.calls
	c.calls = nil
	if calls == nil {
		calls = map[string]int{}
	}
	return calls
}

// NewStore returns a store on a fresh, randomly named table on the DynamoDB
// Local named by DYNAMODB_ENDPOINT (see ddblocal.RunTests), with its request
// counter. The table is deleted when the test ends. It has no stream
// (store.WithoutStream): tests of the change feed take NewStreamStore.
func NewStore(t testing.TB) (*store.Store, *Counter) {
	t.Helper()
	return newStore(t, store.WithoutStream)
}

// NewStreamStore is NewStore for a table with its stream, as deployed.
func NewStreamStore(t testing.TB) (*store.Store, *Counter) {
	t.Helper()
	return newStore(t)
}

func newStore(t testing.TB, opts ...store.TableOption) (*store.Store, *Counter) {
	t.Helper()
	endpoint := os.Getenv("DYNAMODB_ENDPOINT")
	if endpoint == "" {
		t.Fatal("DYNAMODB_ENDPOINT is not set: run the package through ddblocal.RunTests in TestMain")
	}
	counter := &Counter{}
	ctx := context.Background()
	st, err := localdev.OpenTableWith(ctx, endpoint, "t-"+store.RandomToken(8), opts, counter.Middleware)
	if err != nil {
		t.Fatalf("create table: %v", err)
	}
	t.Cleanup(func() { _ = st.DeleteTable(context.Background()) })
	counter.Take()
	return st, counter
}

// ReopenSeeing returns a second store on st's table whose client passes the
// input of each request to see before sending it: for tests of what
// requests a code path makes (their keys against an IAM grant).
func ReopenSeeing(t testing.TB, st *store.Store, see func(params any)) *store.Store {
	t.Helper()
	db, err := app.NewDynamoDB(os.Getenv("DYNAMODB_ENDPOINT"), func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("see",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				see(in.Parameters)
				return next.HandleInitialize(ctx, in)
			}), middleware.After)
	})
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	return store.New(db, st.Table())
}

// Reopen returns a second store on st's table through its own client and
// counter, as a second Lambda would have.
func Reopen(t testing.TB, st *store.Store) (*store.Store, *Counter) {
	t.Helper()
	counter := &Counter{}
	db, err := app.NewDynamoDB(os.Getenv("DYNAMODB_ENDPOINT"), counter.Middleware)
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	return store.New(db, st.Table()), counter
}

// Race runs fn(0) … fn(n-1) in n goroutines released together, and returns
// when all are done: the shape of every "exactly one wins" test.
func Race(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn(i)
		}()
	}
	close(start)
	wg.Wait()
}
