package app

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/fleetgroups/fleetgroups/pkg/api"
	"github.com/fleetgroups/fleetgroups/pkg/awsjson"
	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/jsonlog"
	"github.com/fleetgroups/fleetgroups/pkg/routes"
)

func TestConfigFromEnvReadsTheUsagePlanLimits(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		want    api.Limits
		wantErr string
	}{
		{"defaults", nil, api.Limits{RateLimit: 50, BurstLimit: 100, QuotaPerDay: 100000}, ""},
		{"set", map[string]string{routes.EnvUsageRateLimit: "7.5", routes.EnvUsageBurstLimit: "11", routes.EnvUsageQuotaPerDay: "1234"},
			api.Limits{RateLimit: 7.5, BurstLimit: 11, QuotaPerDay: 1234}, ""},
		{"one-set", map[string]string{routes.EnvUsageQuotaPerDay: "5"}, api.Limits{RateLimit: 50, BurstLimit: 100, QuotaPerDay: 5}, ""},
		{"not-a-number", map[string]string{routes.EnvUsageRateLimit: "fast"}, api.Limits{}, `USAGE_RATE_LIMIT must be a positive number, not "fast"`},
		{"zero", map[string]string{routes.EnvUsageBurstLimit: "0"}, api.Limits{}, "USAGE_BURST_LIMIT must be a positive number"},
		{"infinite", map[string]string{routes.EnvUsageQuotaPerDay: "Inf"}, api.Limits{}, "USAGE_QUOTA_PER_DAY must be a positive number"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("TABLE_NAME", "t")
			for _, k := range []string{routes.EnvUsageRateLimit, routes.EnvUsageBurstLimit, routes.EnvUsageQuotaPerDay} {
				t.Setenv(k, "") // so that the test restores it …
				os.Unsetenv(k)  // … after running without it
			}
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			cfg, err := ConfigFromEnv()
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil || cfg.Limits != c.want {
				t.Fatalf("limits %+v, %v; want %+v", cfg.Limits, err, c.want)
			}
		})
	}
}

// TestRetryer pins the retry policy NewRetryer documents.
func TestRetryer(t *testing.T) {
	r := NewRetryer()
	if r.MaxAttempts() != RetryMaxAttempts {
		t.Errorf("MaxAttempts = %d, want %d", r.MaxAttempts(), RetryMaxAttempts)
	}
	for _, c := range []struct {
		err  error
		want bool
	}{
		{&types.ProvisionedThroughputExceededException{}, true},
		{&smithy.GenericAPIError{Code: "ThrottlingException"}, true},
		{&types.TransactionConflictException{}, true},
		{&types.InternalServerError{}, false}, // retried by its HTTP status (500), not its code
		{&smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: 500}}, Err: &types.InternalServerError{}}, true},
		{&types.TransactionCanceledException{}, false},
		{&types.ConditionalCheckFailedException{}, false},
	} {
		if got := r.IsErrorRetryable(c.err); got != c.want {
			t.Errorf("IsErrorRetryable(%T) = %v, want %v", c.err, got, c.want)
		}
	}
}

// TestAWSConfigTakesLambdasEnvironment: in AWS the configuration is what
// Lambda sets in the environment; for DynamoDB Local, placeholders.
func TestAWSConfigTakesLambdasEnvironment(t *testing.T) {
	lambdaEnv := map[string]string{"AWS_REGION": "eu-central-1", "AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "token"}
	cases := []struct {
		name, endpoint string
		env            map[string]string
		wantRegion     string
		wantCreds      aws.Credentials
		wantErr        string
	}{
		{"lambda", "", lambdaEnv, "eu-central-1", aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret", SessionToken: "token"}, ""},
		{"default-region", "", map[string]string{"AWS_DEFAULT_REGION": "us-west-2", "AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "secret"},
			"us-west-2", aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret"}, ""},
		{"no-region", "", map[string]string{"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "secret"}, "", aws.Credentials{}, "AWS_REGION is not set"},
		{"no-credentials", "", map[string]string{"AWS_REGION": "eu-central-1"}, "", aws.Credentials{}, "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set"},
		{"local", "http://127.0.0.1:8000", nil, "us-east-1", aws.Credentials{AccessKeyID: "local", SecretAccessKey: "local"}, ""},
		{"local-region", "http://127.0.0.1:8000", lambdaEnv, "eu-central-1", aws.Credentials{AccessKeyID: "local", SecretAccessKey: "local"}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, k := range []string{"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} {
				t.Setenv(k, c.env[k])
			}
			cfg, err := AWSConfig(c.endpoint)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			creds, err := cfg.Credentials.Retrieve(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			creds.Source = ""
			if cfg.Region != c.wantRegion || creds != c.wantCreds {
				t.Errorf("region %q, credentials %+v; want %q, %+v", cfg.Region, creds, c.wantRegion, c.wantCreds)
			}
		})
	}
}

func TestTreeMaxDepthFromEnv(t *testing.T) {
	cases := []struct {
		name    string
		value   *string
		want    int
		wantErr bool
	}{
		{"unset", nil, groups.MaxDepth, false},
		{"flat", ptr("0"), 0, false},
		{"four levels", ptr("3"), 3, false},
		{"the API's ceiling", ptr("9"), 9, false},
		{"deeper than the API", ptr("10"), 0, true},
		{"negative", ptr("-1"), 0, true},
		{"not a number", ptr("deep"), 0, true},
		{"empty", ptr(""), 0, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(routes.EnvTreeMaxDepth, "")
			if c.value == nil {
				os.Unsetenv(routes.EnvTreeMaxDepth)
			} else {
				t.Setenv(routes.EnvTreeMaxDepth, *c.value)
			}
			got, err := TreeMaxDepth()
			if (err != nil) != c.wantErr || got != c.want {
				t.Fatalf("TreeMaxDepth() = %d, %v; want %d (error: %v)", got, err, c.want, c.wantErr)
			}
		})
	}
}

func ptr(s string) *string { return &s }

// TestSilentConnectionIsRetried: an attempt whose connection goes silent
// fails after the read timeout and the retryer makes another, instead of
// waiting out the request (seen failing without the timeout: the first
// GetItem waited until the test's deadline).
func TestSilentConnectionIsRetried(t *testing.T) {
	var requests atomic.Int32
	stall := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if requests.Add(1) == 1 {
			<-stall // the first attempt's connection stays silent
			return
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		_, _ = w.Write([]byte(`{"Item":{"PK":{"S":"k"},"SK":{"S":"s"}}}`))
	}))
	defer srv.Close()
	defer close(stall) // before Close, which waits for the stalled handler
	cfg, err := AWSConfig(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	const readTimeout = 2 * time.Second
	db := newDynamoDB(cfg, srv.URL, readTimeout)
	// The request's own deadline is far off: only the read timeout can end
	// the first attempt.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String("t"),
		Key: map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "k"}, "SK": &types.AttributeValueMemberS{Value: "s"}}})
	if err != nil || out.Item == nil {
		t.Fatalf("GetItem = %v, %v; want the item from the second attempt", out, err)
	}
	if n := requests.Load(); n != 2 {
		t.Errorf("%d attempts, want 2", n)
	}
}

func TestInvocationProcs(t *testing.T) {
	cases := []struct {
		name       string
		gomaxprocs string
		memoryMB   string
		numCPU     int
		want       int
		set        bool
	}{
		{"256-mb-one-p", "", "256", 2, 1, true},
		{"128-mb", "", "128", 2, 1, true},
		{"one-vcpu", "", "1769", 2, 1, true},
		{"past-one-vcpu", "", "1770", 2, 2, true},
		{"no-more-than-the-vm-shows", "", "10240", 2, 2, true},
		{"largest", "", "10240", 6, 6, true},
		{"gomaxprocs-set-by-the-deployer", "4", "256", 2, 0, false},
		{"not-on-lambda", "", "", 2, 0, false},
		{"nonsense", "", "lots", 2, 0, false},
		{"zero", "", "0", 2, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, set := invocationProcs(c.gomaxprocs, c.memoryMB, c.numCPU)
			if got != c.want || set != c.set {
				t.Errorf("invocationProcs(%q, %q, %d) = %d, %v; want %d, %v", c.gomaxprocs, c.memoryMB, c.numCPU, got, set, c.want, c.set)
			}
		})
	}
}

// TestServiceEndpointsFromTheEnvironment: the SQS and EventBridge clients
// take the standard AWS_ENDPOINT_URL_<service> variables, and the public
// endpoints otherwise.
func TestServiceEndpointsFromTheEnvironment(t *testing.T) {
	t.Setenv("AWS_REGION", "eu-west-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKID")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "SECRET")
	t.Setenv(routes.EnvWebhookQueueURL, "https://sqs.eu-west-1.amazonaws.com/000000000000/q")
	log := jsonlog.New(io.Discard, slog.LevelInfo)
	if got, want := webhookQueue(log, routes.DeliverWebhooks).Client.Endpoint, "https://sqs.eu-west-1.amazonaws.com/"; got != want {
		t.Errorf("SQS endpoint %q, want %q", got, want)
	}
	t.Setenv("AWS_ENDPOINT_URL_SQS", "http://127.0.0.1:4566")
	if got, want := webhookQueue(log, routes.DeliverWebhooks).Client.Endpoint, "http://127.0.0.1:4566"; got != want {
		t.Errorf("SQS endpoint %q, want %q", got, want)
	}
	c := endpointFromEnv(awsjson.NewClient("events", "1.1", "eu-west-1", nil, nil), "EVENTBRIDGE")
	if got, want := c.Endpoint, "https://events.eu-west-1.amazonaws.com/"; got != want {
		t.Errorf("EventBridge endpoint %q, want %q", got, want)
	}
	t.Setenv("AWS_ENDPOINT_URL_EVENTBRIDGE", "http://127.0.0.1:4010")
	if got, want := endpointFromEnv(awsjson.NewClient("events", "1.1", "eu-west-1", nil, nil), "EVENTBRIDGE").Endpoint, "http://127.0.0.1:4010"; got != want {
		t.Errorf("EventBridge endpoint %q, want %q", got, want)
	}
}
