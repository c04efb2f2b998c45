package app

import (
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/fleetgroups/fleetgroups/pkg/api"
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
