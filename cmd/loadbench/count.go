package main

import (
	"context"
	"maps"
	"sync"

	"github.com/aws/smithy-go/middleware"

	"github.com/fleetgroups/fleetgroups/pkg/routes"
)

type opKey struct{}

// opContext names the operation that the DynamoDB requests made with ctx
// are made for.
func opContext(ctx context.Context, op routes.Operation) context.Context {
	return context.WithValue(ctx, opKey{}, op)
}

// requestCounter counts a client's DynamoDB requests by the operation in
// their context ("" when none) and by DynamoDB action. It sits in the
// Initialize step, so the SDK's retries of one request count once.
type requestCounter struct {
	mu     sync.Mutex
	counts map[routes.Operation]map[string]int
}

func (c *requestCounter) middleware(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("loadbenchRequestCounter",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			op, _ := ctx.Value(opKey{}).(routes.Operation)
			c.mu.Lock()
			if c.counts == nil {
				c.counts = map[routes.Operation]map[string]int{}
			}
			if c.counts[op] == nil {
				c.counts[op] = map[string]int{}
			}
			c.counts[op][middleware.GetOperationName(ctx)]++
			c.mu.Unlock()
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
}

// take returns the counts so far and starts over.
func (c *requestCounter) take() map[routes.Operation]map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	counts := c.counts
	c.counts = nil
	return counts
}

// total adds up the counts of every operation.
func total(counts map[routes.Operation]map[string]int) map[string]int {
	sum := map[string]int{}
	for _, byAction := range counts {
		for action, n := range byAction {
			sum[action] += n
		}
	}
	return sum
}

// sum is the number of requests in counts.
func sum(counts map[string]int) int {
	n := 0
	for v := range maps.Values(counts) {
		n += v
	}
	return n
}
