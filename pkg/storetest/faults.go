package storetest

import (
	"context"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/fleetgroups/fleetgroups/pkg/app"
	"github.com/fleetgroups/fleetgroups/pkg/ddblocal"
	"github.com/fleetgroups/fleetgroups/pkg/store"
)

// Fault is a kind of failure Faults injects.
type Fault string

// The faults, each as DynamoDB or the network would produce it.
const (
	// Throttle: ProvisionedThroughputExceededException or ThrottlingException
	// (HTTP 400, a throttling code the SDK retries), before sending.
	Throttle Fault = "throttle"
	// Conflict: a TransactionCanceledException whose only reason is a
	// TransactionConflict (for TransactWriteItems; the store retries it),
	// or a TransactionConflictException (for single-item writes; the SDK
	// retries it), before sending.
	Conflict Fault = "conflict"
	// ServerError: HTTP 500 InternalServerError, before sending.
	ServerError Fault = "server_error"
	// Timeout: the attempt times out before DynamoDB sees it.
	Timeout Fault = "timeout"
	// LostResponse: DynamoDB executes (and commits) the request, and the
	// response is lost on its way back: the attempt times out.
	LostResponse Fault = "lost_response"
)

// Faults is an SDK middleware that fails DynamoDB requests at a seeded
// rate. It sits in the Finalize step after the SDK's retry middleware, so
// each attempt, retries included, may fail on its own, and the SDK's
// retryer and the store's own retries see the faults as they would see
// DynamoDB's. Table management (create, describe, delete, TTL, Scan) is
// never faulted, nor are requests whose context went through
// WithoutFaults.
type Faults struct {
	mu     sync.Mutex
	rng    *rand.Rand
	rate   float64
	counts map[Fault]int
	// loseFirst loses the response of every call's first attempt instead.
	loseFirst bool
}

// LoseFirstResponses returns Faults that let DynamoDB execute the first
// attempt of every call and lose its response, so that the SDK repeats
// every request once after it was applied.
func LoseFirstResponses() *Faults {
	return &Faults{counts: map[Fault]int{}, loseFirst: true}
}

// NewFaults fails each attempt with probability rate, choosing the kind
// uniformly, from the seed.
func NewFaults(seed uint64, rate float64) *Faults {
	return &Faults{rng: rand.New(rand.NewPCG(seed, 0x5eed)), rate: rate, counts: map[Fault]int{}}
}

// SetRate changes the rate (0 turns the faults off).
func (f *Faults) SetRate(rate float64) {
	f.mu.Lock()
	f.rate = rate
	f.mu.Unlock()
}

// Counts returns how many faults of each kind were injected so far.
func (f *Faults) Counts() map[Fault]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[Fault]int, len(f.counts))
	for k, v := range f.counts {
		out[k] = v
	}
	return out
}

type noFaultsKey struct{}

// WithoutFaults returns ctx with faults turned off for requests made in it
// (a test reading the truth back through the API).
func WithoutFaults(ctx context.Context) context.Context {
	return context.WithValue(ctx, noFaultsKey{}, true)
}

// FaultLog collects the faults injected into one request's calls.
type FaultLog struct {
	mu     sync.Mutex
	faults []Fault
}

// Has reports whether a fault of kind k was injected.
func (l *FaultLog) Has(k Fault) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Contains(l.faults, k)
}

type faultLogKey struct{}

// WithFaultLog returns ctx with a log of the faults injected into the
// requests made in it.
func WithFaultLog(ctx context.Context) (context.Context, *FaultLog) {
	l := &FaultLog{}
	return context.WithValue(ctx, faultLogKey{}, l), l
}

var unfaulted = map[string]bool{"CreateTable": true, "DescribeTable": true, "DeleteTable": true, "UpdateTimeToLive": true, "Scan": true}

type inputKey struct{}

// call is the state of one call across its attempts.
type call struct{ lost bool }

type callKey struct{}

// Middleware adds the faults to a client's stack: an Initialize step that
// keeps the operation's input (to size a cancellation) and the Finalize
// step that fails attempts.
func (f *Faults) Middleware(stack *middleware.Stack) error {
	err := stack.Initialize.Add(middleware.InitializeMiddlewareFunc("fleetgroupsFaultInput",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			ctx = middleware.WithStackValue(ctx, inputKey{}, in.Parameters)
			return next.HandleInitialize(middleware.WithStackValue(ctx, callKey{}, &call{}), in)
		}), middleware.After)
	if err != nil {
		return err
	}
	return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("fleetgroupsFaults",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			op := middleware.GetOperationName(ctx)
			kind, ok := f.draw(ctx, op)
			if !ok {
				return next.HandleFinalize(ctx, in)
			}
			if l, _ := ctx.Value(faultLogKey{}).(*FaultLog); l != nil {
				l.mu.Lock()
				l.faults = append(l.faults, kind)
				l.mu.Unlock()
			}
			if kind == LostResponse {
				out, md, err := next.HandleFinalize(ctx, in)
				if err != nil {
					return out, md, err // it failed anyway: nothing was lost
				}
				return middleware.FinalizeOutput{}, md, injected{"the response was lost (read timeout)"}
			}
			return middleware.FinalizeOutput{}, middleware.Metadata{}, f.failure(ctx, op, kind)
		}), middleware.After)
}

func (f *Faults) draw(ctx context.Context, op string) (Fault, bool) {
	if unfaulted[op] || ctx.Value(noFaultsKey{}) != nil {
		return "", false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.loseFirst {
		c, _ := middleware.GetStackValue(ctx, callKey{}).(*call)
		if c == nil || c.lost {
			return "", false
		}
		c.lost = true
		f.counts[LostResponse]++
		return LostResponse, true
	}
	if f.rate <= 0 || f.rng.Float64() >= f.rate {
		return "", false
	}
	kind := []Fault{Throttle, Conflict, ServerError, Timeout, LostResponse}[f.rng.IntN(5)]
	f.counts[kind]++
	return kind, true
}

// failure is the error of a fault injected before sending.
func (f *Faults) failure(ctx context.Context, op string, kind Fault) error {
	msg := aws.String("injected by storetest.Faults")
	switch kind {
	case Throttle:
		if op == "Query" || op == "GetItem" {
			return &smithy.GenericAPIError{Code: "ThrottlingException", Message: *msg}
		}
		return &types.ProvisionedThroughputExceededException{Message: msg}
	case Conflict:
		if tx, ok := middleware.GetStackValue(ctx, inputKey{}).(*dynamodb.TransactWriteItemsInput); ok {
			reasons := make([]types.CancellationReason, len(tx.TransactItems))
			for i := range reasons {
				reasons[i].Code = aws.String("None")
			}
			reasons[0].Code = aws.String("TransactionConflict")
			return &types.TransactionCanceledException{Message: msg, CancellationReasons: reasons}
		}
		return &types.TransactionConflictException{Message: msg}
	case ServerError:
		return &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: http.StatusInternalServerError, Header: http.Header{}}},
			Err:      &types.InternalServerError{Message: msg},
		}
	}
	return injected{"the request timed out"}
}

// injected is a network failure: a timeout, which the SDK retries.
type injected struct{ msg string }

func (e injected) Error() string   { return "injected by storetest.Faults: " + e.msg }
func (e injected) Timeout() bool   { return true }
func (e injected) Temporary() bool { return true }

// WithFaults is st through a client that injects faults, retried by the
// production retry policy with a millisecond between attempts: what is
// retried decides the outcome; the waits (up to 1 s after each injected
// throttle) would only make a test slow. The retry quota counts tokens, not
// time, so it runs out alike.
func WithFaults(t testing.TB, st *store.Store, faults *Faults) *store.Store {
	t.Helper()
	db, err := app.NewDynamoDB(os.Getenv(ddblocal.EndpointEnv), faults.Middleware)
	if err != nil {
		t.Fatal(err)
	}
	db = dynamodb.New(db.Options(), func(o *dynamodb.Options) {
		o.Retryer = app.NewRetryer(func(o *retry.StandardOptions) {
			o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return time.Millisecond, nil })
		})
	})
	return store.New(db, st.Table())
}
