package app

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/fleetgroups/fleetgroups/pkg/jsonlog"
	"github.com/fleetgroups/fleetgroups/pkg/routes"
	"github.com/fleetgroups/fleetgroups/pkg/store"
)

// A function opens its DynamoDB connections during init rather than on its
// first request. Lambda runs init with more CPU than a small function gets
// once invoked (an invocation's CPU is in proportion to memory, about a
// sixth of a core at 256 MB), and a TLS handshake is mostly CPU, so it is
// quicker at init: a cold start (init and first invocation, which the
// first client waits for) gets shorter, and so does its billed duration,
// since a custom runtime's init is billed like an invocation. Environments
// that Lambda starts ahead of demand (provisioned concurrency, proactive
// initialisation) meet their first client with the connections open. The
// price is a read per connection per cold start.

// lambdaInitLimit is how long Lambda lets a function's init run before it
// gives up on the environment and starts over.
const lambdaInitLimit = 10 * time.Second

// WarmUpTimeout bounds the warm-up: a fifth of Lambda's init limit, many
// times a TLS handshake to DynamoDB (tens of milliseconds in a region),
// so that a DynamoDB that does not answer delays the start but cannot fail
// it.
const WarmUpTimeout = lambdaInitLimit / 5

// WarmConnections is how many DynamoDB requests op's Lambda makes at once
// on a first request, so how many connections its warm-up opens: for a
// metered operation, its own requests at once (ownRequestsAtOnce) and the
// call's count that goes alongside them; one for the authorizer (a token
// lookup) and none for a function with no table access (get-openapi). The
// SDK's HTTP transport keeps up to
// awshttp.DefaultHTTPTransportMaxIdleConnsPerHost (10) idle connections per
// host, so all of them are still open for the first request. make
// bench-coldstart shows the count is right: no function opens a connection
// on its first invocation.
func WarmConnections(op routes.Operation) int {
	access, ok := accessOf(op)
	switch {
	case !ok || access == routes.NoTable:
		return 0
	case access == routes.WebhookDeliverer:
		// A batch's deliveries go at once, each reading its webhook
		// first, but a batch of one (an event to one webhook) is the
		// common first; the rest connect as they come.
		return 1
	case routes.Metered(op):
		return ownRequestsAtOnce(op) + 1
	default:
		return 1
	}
}

// ownRequestsAtOnce is how many DynamoDB requests op's first request makes
// at once, apart from its count.
func ownRequestsAtOnce(op routes.Operation) int {
	switch op {
	case routes.GetUsage:
		return 0 // it reports the count metering returns
	case routes.ListMembers:
		return 2 // a first page reads its group alongside (store.runList)
	default:
		return 1
	}
}

// accessOf is the table access op's function is granted (routes.Functions).
func accessOf(op routes.Operation) (routes.Access, bool) {
	i := slices.IndexFunc(routes.Functions, func(fn routes.Function) bool { return fn.Operation == op })
	if i < 0 {
		return 0, false
	}
	return routes.Functions[i].Access, true
}

// WarmPing is the request op's warm-up makes: a read of the schema item,
// or, for the webhook deliverer, whose grant does not reach it, of an item
// in the webhook partitions.
func WarmPing(op routes.Operation, st *store.Store) func(context.Context) error {
	if access, _ := accessOf(op); access == routes.WebhookDeliverer {
		return st.PingWebhooks
	}
	return st.Ping
}

// WarmUp opens conns connections to DynamoDB with as many pings at once,
// within WarmUpTimeout. A failure is logged and otherwise ignored: the
// function starts, and its first request connects (and retries) as it
// would have without the warm-up.
func WarmUp(ctx context.Context, ping func(context.Context) error, conns int, log jsonlog.Logger) {
	if conns == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, WarmUpTimeout)
	defer cancel()
	start := time.Now()
	errs := make([]error, conns)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Go(func() { errs[i] = ping(ctx) })
	}
	wg.Wait()
	attrs := []any{"connections", conns, "duration_ms", time.Since(start).Milliseconds()}
	if err := errors.Join(errs...); err != nil {
		log.WarnContext(ctx, "DynamoDB warm-up failed; requests will connect as they come", append(attrs, "error", err)...)
		return
	}
	log.DebugContext(ctx, "warm-up", attrs...)
}
