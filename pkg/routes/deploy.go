package routes

import (
	"bytes"
	"encoding/json"
	"strings"
)

// Deployment settings that the CDK stack (infra/) and the SAM template
// (cmd/gensam → template.yaml) both declare; keeping them here keeps the two
// deployments alike.
const (
	// Stage is the REST API's stage; the local gateway mirrors it in events.
	Stage = "live"
	// LambdaTimeoutSeconds matches API Gateway's 29 s integration limit: a
	// Lambda running longer only burns money after the client got a 504.
	LambdaTimeoutSeconds = 29
	// AnswerReserveSeconds is the part of a request's time that long work (the
	// usage count, a purge, a move step by step) leaves unused, so that the
	// function still answers before the deadline, past which API Gateway
	// would answer for it. In seconds.
	AnswerReserveSeconds = 3
	LambdaMemoryMB       = 256
	// AuthorizerCacheSeconds trades revocation latency for one authorizer
	// run per token per 5 minutes instead of one per request.
	AuthorizerCacheSeconds = 300
	// Per-tenant usage plan defaults (the authorizer hands API Gateway the
	// tenant's key, so one noisy tenant is throttled alone).
	DefaultRateLimit   = 50
	DefaultBurstLimit  = 100
	DefaultQuotaPerDay = 100_000
	// MaxTenantCallRate is the ceiling of a tenant's rate and burst limits,
	// in calls per second: every call writes the tenant's one usage item
	// once (pkg/store/usage.go), and DynamoDB takes about 1,000 writes a
	// second on one item. The burst is held to it too, since a burst's calls
	// come at once. Beyond it DynamoDB throttles the counts, which then
	// retry and may miss their deadline, and the calls lose their usage
	// headers. The CDK stack refuses limits above it; the SAM template's
	// test checks them.
	MaxTenantCallRate = 1000
)

// The environment variables through which the deployments tell the functions
// the usage plan's limits, for get-usage to report (API Gateway enforces
// them; the functions cannot read the plan themselves without more rights).
const (
	EnvUsageRateLimit   = "USAGE_RATE_LIMIT"
	EnvUsageBurstLimit  = "USAGE_BURST_LIMIT"
	EnvUsageQuotaPerDay = "USAGE_QUOTA_PER_DAY"
)

// EnvTreeMaxDepth is the environment variable through which the
// deployments set how deep a group may sit (0 to groups.MaxDepth, which is
// the default): a platform whose trees have four levels sets 3.
const EnvTreeMaxDepth = "TREE_MAX_DEPTH"

// accessLogFields are the access log's JSON fields and their API Gateway
// variables, named as the functions' log lines name the same things
// (request_id, method, path, status, tenant, …_ms); tenant is what the
// authorizer resolved, so every line can be traced to a tenant.
var accessLogFields = [][2]string{
	{"request_id", "$context.requestId"},
	{"ip", "$context.identity.sourceIp"},
	{"caller", "$context.identity.caller"},
	{"user", "$context.identity.user"},
	{"request_time", "$context.requestTime"},
	{"method", "$context.httpMethod"},
	{"resource_path", "$context.resourcePath"},
	{"path", "$context.path"},
	{"status", "$context.status"},
	{"protocol", "$context.protocol"},
	{"response_length", "$context.responseLength"},
	{"tenant", "$context.authorizer.tenantId"},
	{"api_key_id", "$context.identity.apiKeyId"},
	{"response_latency_ms", "$context.responseLatency"},
	{"integration_latency_ms", "$context.integrationLatency"},
	{"error_type", "$context.error.responseType"},
}

// AccessLogFormat is the access log format: one JSON object per request.
func AccessLogFormat() string {
	parts := make([]string, len(accessLogFields))
	for i, f := range accessLogFields {
		parts[i] = jsonString(f[0]) + ":" + jsonString(f[1])
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func jsonString(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

// EnvEventBusName names the EventBridge bus publish-changes puts every
// event on (issue 9 §6); the deployments set it, make run has no bus.
const EnvEventBusName = "EVENT_BUS_NAME"

// Issue 9: the change feed's event source mapping, from the table's stream
// to publish-changes, as both deployments declare it.
const (
	// ChangeBatchSize is the most stream records one invocation gets.
	ChangeBatchSize = 100
	// ChangeBatchingWindowSeconds is 0: a batch goes as soon as there are
	// records, since an event should reach the feed within a second
	// (groups.ChangeSettleWindow).
	ChangeBatchingWindowSeconds = 0
	// ChangeParallelizationFactor is 1: one batch per shard at a time, so
	// that a stored item's records are published in commit order.
	ChangeParallelizationFactor = 1
	// ChangeMaxRetryAttempts bounds the retries of a failing batch (halved
	// on each failure) before its records go to the failure queue.
	ChangeMaxRetryAttempts = 10
	// ChangeMaxRecordAgeSeconds is as long as DynamoDB Streams keeps a
	// record (24 h): older records are gone from the stream anyway.
	ChangeMaxRecordAgeSeconds = 86400
	// ChangeFailureRetentionDays is how long the failure queue keeps the
	// record of a lost batch (SQS's most, 14 days).
	ChangeFailureRetentionDays = 14
	// ChangeFailureAlarmDescription explains the failure queue's alarm.
	ChangeFailureAlarmDescription = "The change feed lost a batch: publish-changes failed on stream records " +
		"past its retries. The message in the failure queue names the shard and the sequence number range; " +
		"replay that range while the stream still retains it (24 h)."
)

// EnvWebhookQueueURL names the webhook delivery queue (issue 9 §6):
// publish-changes sends deliveries to it and deliver-webhooks, fed by it,
// sends catch-ups; make run has an in-memory queue instead.
const EnvWebhookQueueURL = "WEBHOOK_QUEUE_URL"

// Issue 9 §6: the webhook delivery queue and its event source mapping to
// deliver-webhooks, as both deployments declare them.
const (
	// WebhookBatchSize is the most messages one invocation gets.
	WebhookBatchSize = 10
	// WebhookTimeoutSeconds is deliver-webhooks' timeout: a batch's
	// deliveries run at once, each bounded by groups.WebhookTimeout (10 s),
	// a tenant's four at a time.
	WebhookTimeoutSeconds = 60
	// WebhookVisibilitySeconds is the queue's visibility timeout: six times
	// the function's, as Lambda advises; a failed delivery sets its own
	// (its backoff) before it is reported failed.
	WebhookVisibilitySeconds = 6 * WebhookTimeoutSeconds
	// WebhookMaxReceives sends a message to the dead-letter queue: a day
	// of backoff (5 s doubling to 1 h) is about 33 attempts, after which
	// the function gives up by itself; a message that fails more often
	// than that is one it cannot handle.
	WebhookMaxReceives = 50
	// WebhookMaxConcurrency bounds the deliver-webhooks functions that
	// the queue feeds at once.
	WebhookMaxConcurrency = 20
	// WebhookRetentionSeconds keeps messages for as long as deliveries are
	// retried, and then some (2 days).
	WebhookRetentionSeconds = 2 * 86400
	// WebhookDLQRetentionDays is SQS's most.
	WebhookDLQRetentionDays = 14
	// WebhookDLQAlarmDescription explains the dead-letter queue's alarm.
	WebhookDLQAlarmDescription = "A webhook delivery message failed 50 times without being handled (not a receiver's failure, " +
		"which deliver-webhooks retries and records itself): look at deliver-webhooks' errors."
)
