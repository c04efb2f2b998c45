// Package app wires an operation's Lambda: configuration from the
// environment, one DynamoDB client per process, and the handler. The Lambda
// mains, the local server and the invoke tool all build their handlers here,
// so the code that runs locally is the code that runs in AWS.
package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"

	"github.com/fleetgroups/fleetgroups/pkg/api"
	"github.com/fleetgroups/fleetgroups/pkg/auth"
	"github.com/fleetgroups/fleetgroups/pkg/awsjson"
	"github.com/fleetgroups/fleetgroups/pkg/changes"
	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/jsonlog"
	"github.com/fleetgroups/fleetgroups/pkg/routes"
	"github.com/fleetgroups/fleetgroups/pkg/store"
	"github.com/fleetgroups/fleetgroups/pkg/webhooks"
	"github.com/fleetgroups/fleetgroups/pkg/xray"
)

// Config is what a function reads from its environment.
type Config struct {
	Table    string // TABLE_NAME, required
	Endpoint string // DYNAMODB_ENDPOINT: set for DynamoDB Local, empty in AWS
	LogLevel slog.Level
	// Limits are the usage plan's (USAGE_RATE_LIMIT, USAGE_BURST_LIMIT,
	// USAGE_QUOTA_PER_DAY; each defaults to the plan's default).
	Limits api.Limits
	// MaxDepth is the deepest a group may sit (TREE_MAX_DEPTH; see
	// TreeMaxDepth).
	MaxDepth int
}

// ConfigFromEnv reads the Config.
func ConfigFromEnv() (Config, error) {
	c := Config{Table: os.Getenv("TABLE_NAME"), Endpoint: os.Getenv("DYNAMODB_ENDPOINT"), Limits: api.DefaultLimits()}
	if c.Table == "" {
		return c, errors.New("TABLE_NAME is not set")
	}
	if lvl := os.Getenv("LOG_LEVEL"); lvl != "" {
		if err := c.LogLevel.UnmarshalText([]byte(lvl)); err != nil {
			return c, errors.New("LOG_LEVEL must be debug, info, warn or error")
		}
	}
	limits := []struct {
		env string
		dst *float64
	}{
		{routes.EnvUsageRateLimit, &c.Limits.RateLimit},
		{routes.EnvUsageBurstLimit, &c.Limits.BurstLimit},
		{routes.EnvUsageQuotaPerDay, &c.Limits.QuotaPerDay},
	}
	for _, l := range limits {
		v, ok := os.LookupEnv(l.env)
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 || math.IsInf(f, 0) {
			return c, fmt.Errorf("%s must be a positive number, not %q", l.env, v)
		}
		*l.dst = f
	}
	var err error
	c.MaxDepth, err = TreeMaxDepth()
	return c, err
}

// TreeMaxDepth is the deepest a group may sit as the environment sets it
// (routes.EnvTreeMaxDepth): a whole number from 0 to groups.MaxDepth, which
// is the default. The Lambdas and the local server read it alike.
func TreeMaxDepth() (int, error) {
	v, ok := os.LookupEnv(routes.EnvTreeMaxDepth)
	if !ok {
		return groups.MaxDepth, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > groups.MaxDepth {
		return 0, fmt.Errorf("%s must be a whole number from 0 to %d, not %q", routes.EnvTreeMaxDepth, groups.MaxDepth, v)
	}
	return n, nil
}

// NewLogger is the local tools' logger: through slog, which the local
// gateway takes, the JSON lines to stderr that a Lambda writes with
// jsonlog (see start).
func NewLogger(level slog.Level) *slog.Logger {
	return slog.New(jsonlog.ContextHandler(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
}

// AWSConfig is the SDK configuration of a function, built from what Lambda
// provides: the region in AWS_REGION (or AWS_DEFAULT_REGION) and the
// execution role's credentials in AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
// and AWS_SESSION_TOKEN, which is where config.LoadDefaultConfig finds them
// in Lambda too. Not calling it keeps its SSO, STS, SSO-OIDC, sign-in,
// IMDS and credential-process chains (about 2 MB, and their init) out of
// every function; the admin CLI, which runs with profiles, loads the full
// chain itself. When endpoint names DynamoDB Local, the credentials are
// placeholders (which it accepts) and the region defaults to us-east-1.
// apiOptions are added to every call's middleware stack (tests count calls).
func AWSConfig(endpoint string, apiOptions ...func(*middleware.Stack) error) (aws.Config, error) {
	cfg := aws.Config{
		Region:     cmp.Or(os.Getenv("AWS_REGION"), os.Getenv("AWS_DEFAULT_REGION")),
		APIOptions: apiOptions,
	}
	if endpoint != "" {
		cfg.Region = cmp.Or(cfg.Region, "us-east-1")
		cfg.Credentials = credentials.NewStaticCredentialsProvider("local", "local", "")
		return cfg, nil
	}
	key, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	switch {
	case cfg.Region == "":
		return aws.Config{}, errors.New("AWS_REGION is not set")
	case key == "" || secret == "":
		return aws.Config{}, errors.New("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set (Lambda sets them to the execution role's credentials)")
	}
	cfg.Credentials = credentials.NewStaticCredentialsProvider(key, secret, os.Getenv("AWS_SESSION_TOKEN"))
	return cfg, nil
}

// NewDynamoDB returns a DynamoDB client for AWS, or for DynamoDB Local when
// endpoint is set (see AWSConfig).
func NewDynamoDB(endpoint string, apiOptions ...func(*middleware.Stack) error) (*dynamodb.Client, error) {
	cfg, err := AWSConfig(endpoint, apiOptions...)
	if err != nil {
		return nil, err
	}
	return NewDynamoDBFromConfig(cfg, endpoint), nil
}

// NewDynamoDBFromConfig is NewDynamoDB for a configuration already loaded.
func NewDynamoDBFromConfig(cfg aws.Config, endpoint string) *dynamodb.Client {
	return newDynamoDB(cfg, endpoint, ReadTimeout)
}

// ReadTimeout is how long an attempt waits on a silent connection before it
// fails, and the retryer makes another (the SDK sets none for DynamoDB): a
// DynamoDB answer takes milliseconds, so a connection silent this long is
// broken, and without it one stuck attempt would take the request's whole
// 29 s. It is an inactivity limit, reset by every byte, not a deadline.
const ReadTimeout = 5 * time.Second

func newDynamoDB(cfg aws.Config, endpoint string, readTimeout time.Duration) *dynamodb.Client {
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		// The SDK's own client (or one the configuration brought) gains
		// the timeout; another kind of client keeps its own settings.
		if b, ok := o.HTTPClient.(*awshttp.BuildableClient); ok {
			o.HTTPClient = b.WithReadTimeout(readTimeout)
		}
		o.Retryer = NewRetryer()
		o.EndpointResolverV2 = &endpointCache{next: o.EndpointResolverV2}
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
			// DynamoDB Local's CRC32 header does not match some error
			// bodies; the SDK would warn on every cancelled transaction.
			o.DisableValidateResponseChecksum = true
		}
	})
}

// AuthorizerFunc is the signature of the authorizer Lambda's handler.
type AuthorizerFunc = func(context.Context, events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error)

// Handlers are every Lambda handler of the API over one store.
type Handlers struct {
	Authorizer AuthorizerFunc
	Operations map[routes.Operation]api.LambdaFunc
	// Publisher is publish-changes' handler.
	Publisher func(context.Context, events.DynamoDBEvent) error
	// Deliverer is deliver-webhooks' handler.
	Deliverer func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)
	// Queue is the webhook delivery queue, in memory, which the publisher
	// sends to and which feeds the deliverer once it runs
	// (Queue.Run: make run and the tests that deliver).
	Queue *webhooks.LocalQueue
}

// NewHandlers builds every handler over st, for what serves all the
// operations in one process (the local server, cmd/invoke, tests): so
// webhooks may be http://127.0.0.1 (webhooks.Policy.AllowLoopback).
func NewHandlers(st *store.Store, log jsonlog.Logger, opts ...api.Option) Handlers {
	policy := webhooks.Policy{AllowLoopback: true}
	a := api.New(st, log, append([]api.Option{api.WithWebhookPolicy(policy)}, opts...)...)
	d := &webhooks.Deliverer{Sender: webhooks.Sender{Store: st, HTTP: policy.Client()}, Log: log}
	q := webhooks.NewLocalQueue(d.Handle, log, routes.WebhookBatchSize, routes.WebhookMaxReceives)
	d.Queue = q
	h := Handlers{
		Authorizer: (&auth.Authorizer{Store: st, Log: log}).Handle,
		Operations: map[routes.Operation]api.LambdaFunc{},
		Publisher:  (&changes.Publisher{Store: st, Log: log, Queue: q}).Handle,
		Deliverer:  d.Handle,
		Queue:      q,
	}
	for _, o := range api.Operations() {
		h.Operations[o.Name] = a.LambdaHandler(o)
	}
	return h
}

// Start runs o's Lambda (functions/<o.Name>/main.go). Naming the operation
// rather than looking it up by name is what links only its own endpoint.
func Start(o api.Operation) {
	cfg, st, log := start(o.Name)
	lambda.Start(api.New(st, log, api.WithLimits(cfg.Limits)).LambdaHandler(o))
}

// StartAuthorizer runs the authorizer's Lambda.
func StartAuthorizer() {
	_, st, log := start(routes.Authorizer)
	lambda.Start((&auth.Authorizer{Store: st, Log: log}).Handle)
}

// StartPublisher runs the publish-changes Lambda, which the event source
// mapping feeds with the table's stream records; it puts the events on the
// bus routes.EnvEventBusName names, too, and queues webhook deliveries on
// the queue routes.EnvWebhookQueueURL names.
func StartPublisher() {
	_, st, log := start(routes.PublishChanges)
	p := &changes.Publisher{Store: st, Log: log}
	if name := os.Getenv(routes.EnvEventBusName); name != "" {
		cfg := awsConfigOrExit(log, routes.PublishChanges)
		p.Bus = &changes.Bus{Name: name, Client: endpointFromEnv(changes.NewBusClient(cfg.Region, cfg.Credentials, &http.Client{Timeout: awsCallTimeout}), "EVENTBRIDGE")}
	}
	if q := webhookQueue(log, routes.PublishChanges); q != nil {
		p.Queue = q
	}
	lambda.Start(p.Handle)
}

// StartDeliverer runs the deliver-webhooks Lambda, which the webhook queue
// feeds (routes.EnvWebhookQueueURL).
func StartDeliverer() {
	_, st, log := start(routes.DeliverWebhooks)
	q := webhookQueue(log, routes.DeliverWebhooks)
	if q == nil {
		log.ErrorContext(context.Background(), "bad configuration", "op", routes.DeliverWebhooks, "error", routes.EnvWebhookQueueURL+" is not set")
		os.Exit(1)
	}
	d := &webhooks.Deliverer{Sender: webhooks.Sender{Store: st, HTTP: webhooks.Policy{}.Client()}, Log: log, Queue: q}
	lambda.Start(d.Handle)
}

// webhookQueue is the queue routes.EnvWebhookQueueURL names, nil if none.
func webhookQueue(log jsonlog.Logger, op routes.Operation) *webhooks.SQS {
	url := os.Getenv(routes.EnvWebhookQueueURL)
	if url == "" {
		return nil
	}
	cfg := awsConfigOrExit(log, op)
	return &webhooks.SQS{URL: url, Client: endpointFromEnv(webhooks.NewSQSClient(cfg.Region, cfg.Credentials, &http.Client{Timeout: awsCallTimeout}), "SQS")}
}

// endpointFromEnv points c at the endpoint that the standard variable
// AWS_ENDPOINT_URL_<serviceID> names, if set, as the SDKs do for
// service-specific endpoints
// (https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html):
// a stand-in such as make bench-coldstart's, or a VPC endpoint.
func endpointFromEnv(c *awsjson.Client, serviceID string) *awsjson.Client {
	if ep := os.Getenv("AWS_ENDPOINT_URL_" + serviceID); ep != "" {
		c.Endpoint = ep
	}
	return c
}

func awsConfigOrExit(log jsonlog.Logger, op routes.Operation) aws.Config {
	cfg, err := AWSConfig("")
	if err != nil {
		log.ErrorContext(context.Background(), "no AWS configuration", "op", op, "error", err)
		os.Exit(1)
	}
	return cfg
}

// awsCallTimeout bounds one call of EventBridge or SQS, which answer in
// milliseconds.
const awsCallTimeout = 5 * time.Second

// start makes what op's Lambda keeps for its lifetime, outside the handler:
// the configuration, the logger, and the store over one DynamoDB client
// whose connections are warmed (see WarmUp). A configuration that cannot
// work ends the process, which Lambda reports as an init error.
func start(op routes.Operation) (Config, *store.Store, jsonlog.Logger) {
	cfg, err := ConfigFromEnv()
	// Lambda sends stderr to CloudWatch.
	log := jsonlog.New(os.Stderr, cfg.LogLevel)
	ctx := context.Background()
	if err != nil {
		log.ErrorContext(ctx, "bad configuration", "op", op, "error", err)
		os.Exit(1)
	}
	// With active tracing, every DynamoDB call of a sampled invocation is
	// a subsegment of the function's segment (pkg/xray).
	var traced []func(*middleware.Stack) error
	if addr := os.Getenv(xray.EnvDaemonAddress); addr != "" {
		traced = append(traced, xray.NewEmitter(addr).Middleware)
	}
	db, err := NewDynamoDB(cfg.Endpoint, traced...)
	if err != nil {
		log.ErrorContext(ctx, "no AWS configuration", "op", op, "error", err)
		os.Exit(1)
	}
	st := store.New(db, cfg.Table)
	st.MaxDepth = cfg.MaxDepth
	WarmUp(ctx, WarmPing(op, st), WarmConnections(op), log)
	// Init has had the machine's CPUs; the invocations get the share of
	// one that the function's memory buys.
	if n, ok := invocationProcs(os.Getenv("GOMAXPROCS"), os.Getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"), runtime.NumCPU()); ok {
		runtime.GOMAXPROCS(n)
	}
	return cfg, st, log
}

// memoryPerVCPUMB is the memory at which Lambda gives a function one vCPU
// of time: "At 1,769 MB, a function has the equivalent of one vCPU"
// (https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html).
const memoryPerVCPUMB = 1769

// invocationProcs is the GOMAXPROCS of a function's invocations: as many
// Ps as the vCPUs of time its memory buys (1 up to 1,769 MB), at most the
// CPUs the VM shows, unless the GOMAXPROCS variable says otherwise. Lambda
// shows a function of 256 MB two vCPUs and lets it use 0.145 of one. Go
// sets GOMAXPROCS from the CPUs it sees, and even where it sees a cgroup's
// limit it keeps at least 2: with two Ps, each request's goroutines (the
// handler, the count, each connection's reader and writer) wake threads on
// the other P, and the threads that spin looking for work spend the
// function's small share. make bench-coldstart (where Go sees the limit)
// measured get-group at 2.37 ms of CPU per warm call with two Ps and
// 1.63 ms with one, the baseline at 1.46–1.48 ms.
func invocationProcs(gomaxprocs, memoryMB string, numCPU int) (int, bool) {
	mb, err := strconv.Atoi(memoryMB)
	if gomaxprocs != "" || err != nil || mb <= 0 {
		return 0, false
	}
	return min(numCPU, (mb+memoryPerVCPUMB-1)/memoryPerVCPUMB), true
}

// The DynamoDB client's retry policy, chosen here rather than left to the
// SDK's defaults, which have changed between SDK versions.
const (
	// RetryMaxAttempts is 5 (the SDK's default for DynamoDB is 4): each
	// attempt fails independently, so at a failure rate p a call still fails
	// with p⁵ (1 in 100,000 at 10%), while the worst case stays within one
	// request's budget (below).
	RetryMaxAttempts = 5
	// RetryBaseDelay is DynamoDB's own base delay (the SDK's for DynamoDB):
	// attempt n waits a random time up to RetryBaseDelay·2ⁿ. Throttling
	// errors start from 1 s instead (the SDK's rule).
	RetryBaseDelay = 25 * time.Millisecond
	// RetryMaxBackoff caps one wait at 1 s (the SDK's default is 20 s): API
	// Gateway gives a request 29 s, and an operation makes several calls in
	// turn (authorizer, count, read, write), so four waits of at most 1 s
	// each keep even an unlucky call well inside it.
	RetryMaxBackoff = time.Second
)

// NewRetryer is the SDK's standard retryer with the settings above. It
// retries what a repeat can cure and what the store makes safe to repeat:
//
//   - throttling (ProvisionedThroughputExceededException,
//     ThrottlingException, RequestLimitExceeded, …), HTTP 500, 502, 503 and
//     504, and connection errors and timeouts, as the SDK does by default.
//     A timeout or a lost response may follow an attempt DynamoDB committed:
//     transactions repeat with the same ClientRequestToken, and the other
//     writes are idempotent or guarded (see store/repeat.go), so no write
//     applies twice;
//   - TransactionConflictException, added here: a single-item write
//     refused because a transaction held the item; it applied nothing.
//
// It does not retry a TransactionCanceledException: its reasons decide. The
// store repeats a cancellation caused only by conflicts itself, with
// backoff and the same token (store.transact), and a failed condition is
// an answer, not a failure. What is still failing after the last attempt
// the store reports as unavailable, and the API answers 503 with
// Retry-After.
//
// The retry quota stays the SDK's token bucket (500 tokens, 14 per retry, 5
// per throttling retry, refunded when the retry succeeds): if DynamoDB is
// truly down, one execution environment stops multiplying its load after
// about 35 failed retries and answers 503 at once instead.
//
// opts change the settings after these (tests shorten the waits).
func NewRetryer(opts ...func(*retry.StandardOptions)) aws.Retryer {
	return retry.NewStandard(append([]func(*retry.StandardOptions){func(o *retry.StandardOptions) {
		o.MaxAttempts = RetryMaxAttempts
		o.BaseDelay = RetryBaseDelay
		o.MaxBackoff = RetryMaxBackoff
		o.Retryables = append(o.Retryables, retry.RetryableErrorCode{
			Codes: map[string]struct{}{"TransactionConflictException": {}},
		})
	}}, opts...)...)
}
