// Command infra is the CDK app of fleetgroups: one stack, Fleetgroups, with
// the DynamoDB table, one arm64 Go Lambda per operation of pkg/routes, a
// regional REST API whose every method goes through a REQUEST authorizer and
// needs the tenant's API key (supplied by the authorizer, not the client),
// the usage plan those keys are attached to, and the change feed's event
// source mapping from the table's stream to publish-changes, with a queue and
// an alarm for the batches it loses, and the monitoring of monitoring.go
// (X-Ray tracing, the alarms, their SNS topic and the dashboard). Everything
// that lists operations or paths is generated from pkg/routes; stack_test.go
// checks the result.
//
// Run it through the CDK CLI from this folder (make synth / make deploy build
// the Lambdas first). Settings come from CDK context (-c key=value or
// cdk.json), else from the environment, else from the defaults below:
//
//	context key             environment variable                   default
//	assetsDir               FLEETGROUPS_ASSETS_DIR                 ../build
//	deletionProtection      FLEETGROUPS_DELETION_PROTECTION        true
//	rateLimit               FLEETGROUPS_RATE_LIMIT                 50 (requests/s per key, at most 1000)
//	burstLimit              FLEETGROUPS_BURST_LIMIT                100 (at most 1000)
//	quotaPerDay             FLEETGROUPS_QUOTA_PER_DAY              100000 (requests/day per key)
//	treeMaxDepth            FLEETGROUPS_TREE_MAX_DEPTH             9 (the deepest a group may sit, 0–9)
//	alarmEmail              FLEETGROUPS_ALARM_EMAIL                none (an address the Alarms topic mails)
//	alarm5xxRate            FLEETGROUPS_ALARM_5XX_RATE             0.01 (share of requests answered 5xx in 5 min)
//	alarm4xxCount           FLEETGROUPS_ALARM_4XX_COUNT            500 (4xx answers in 5 min)
//	alarmFunctionErrors     FLEETGROUPS_ALARM_FUNCTION_ERRORS      5 (errors of a group of functions in 5 min)
//	alarmFunctionThrottles  FLEETGROUPS_ALARM_FUNCTION_THROTTLES   1 (throttles of a group of functions in 5 min)
//	alarmFunctionP99Ms      FLEETGROUPS_ALARM_FUNCTION_P99_MS      10000 (a function's p99 duration, below 29000)
//	alarmAuthorizerErrors   FLEETGROUPS_ALARM_AUTHORIZER_ERRORS    1 (the authorizer's errors in 5 min)
//
// The rate and the burst are refused above routes.MaxTenantCallRate: each
// call writes its tenant's usage item, which takes about 1,000 writes a
// second. An alarm goes off when its metric is above its threshold.
package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/routes"
)

const stackName = "Fleetgroups"

// featureFlags are set in code rather than cdk.json so the tests synthesise
// exactly what the CLI deploys: the recommended ones (flags.go) and the
// app's own.
var featureFlags = func() map[string]any {
	flags := map[string]any{
		// Without it a changed authorizer is not redeployed to the stage.
		"@aws-cdk/aws-apigateway:authorizerChangeDeploymentLogicalId": true,
	}
	for k, v := range recommendedFlags {
		flags[k] = v
	}
	return flags
}()

func main() {
	defer jsii.Close()

	app := awscdk.NewApp(&awscdk.AppProps{Context: &featureFlags})
	props, err := propsFrom(setting(app))
	if err != nil {
		fmt.Fprintln(os.Stderr, "infra:", err)
		os.Exit(1)
	}
	// Code_FromAsset would also fail on a missing folder, but deep inside
	// jsii; say what to do instead.
	if err := checkAssets(props.AssetsDir); err != nil {
		fmt.Fprintln(os.Stderr, "infra:", err, "(run make build from the repository root)")
		os.Exit(1)
	}
	NewFleetgroupsStack(app, stackName, props)
	app.Synth(nil)
}

// setting looks a key up in the CDK context, then in the environment.
func setting(app awscdk.App) func(key, env string) (string, bool) {
	return func(key, env string) (string, bool) {
		if v := app.Node().TryGetContext(jsii.String(key)); v != nil {
			// -c gives strings, cdk.json may give booleans or numbers.
			return fmt.Sprint(v), true
		}
		return os.LookupEnv(env)
	}
}

func propsFrom(lookup func(key, env string) (string, bool)) (*FleetgroupsStackProps, error) {
	props := &FleetgroupsStackProps{
		AssetsDir:          "../build",
		DeletionProtection: true,
		RateLimit:          routes.DefaultRateLimit,
		BurstLimit:         routes.DefaultBurstLimit,
		QuotaPerDay:        routes.DefaultQuotaPerDay,
		TreeMaxDepth:       groups.MaxDepth,
		Alarms:             defaultAlarmSettings,
	}
	if v, ok := lookup("assetsDir", "FLEETGROUPS_ASSETS_DIR"); ok {
		props.AssetsDir = v
	}
	if v, ok := lookup("deletionProtection", "FLEETGROUPS_DELETION_PROTECTION"); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("deletionProtection: %w", err)
		}
		props.DeletionProtection = b
	}
	numbers := []struct {
		key, env string
		dst      *float64
		max      float64 // none if 0
	}{
		{"rateLimit", "FLEETGROUPS_RATE_LIMIT", &props.RateLimit, routes.MaxTenantCallRate},
		{"burstLimit", "FLEETGROUPS_BURST_LIMIT", &props.BurstLimit, routes.MaxTenantCallRate},
		{"quotaPerDay", "FLEETGROUPS_QUOTA_PER_DAY", &props.QuotaPerDay, 0},
	}
	for _, n := range numbers {
		v, ok := lookup(n.key, n.env)
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 {
			return nil, fmt.Errorf("%s: want a positive number, got %q", n.key, v)
		}
		if n.max > 0 && f > n.max {
			return nil, fmt.Errorf("%s: %s is over %v calls/s, what one tenant's usage item takes: every call writes it once (routes.MaxTenantCallRate)", n.key, v, n.max)
		}
		*n.dst = f
	}
	if v, ok := lookup("treeMaxDepth", "FLEETGROUPS_TREE_MAX_DEPTH"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > groups.MaxDepth {
			return nil, fmt.Errorf("treeMaxDepth: want a whole number from 0 to %d, got %q", groups.MaxDepth, v)
		}
		props.TreeMaxDepth = n
	}
	if err := alarmSettingsFrom(lookup, &props.Alarms); err != nil {
		return nil, err
	}
	return props, nil
}

// alarmSettingsFrom reads the alarms' settings over the defaults in a.
func alarmSettingsFrom(lookup func(key, env string) (string, bool), a *AlarmSettings) error {
	if v, ok := lookup("alarmEmail", "FLEETGROUPS_ALARM_EMAIL"); ok {
		// SNS wants a bare address; an empty one means none.
		if v != "" && (strings.Count(v, "@") != 1 || strings.ContainsAny(v, " \t<>,;")) {
			return fmt.Errorf("alarmEmail: want one bare e-mail address, got %q", v)
		}
		a.Email = v
	}
	// Each alarm goes off above its threshold, so 0 means "any".
	thresholds := []struct {
		key, env string
		dst      *float64
		ok       func(float64) bool
		want     string
	}{
		{"alarm5xxRate", "FLEETGROUPS_ALARM_5XX_RATE", &a.ServerErrorRate,
			func(f float64) bool { return f >= 0 && f < 1 }, "a share of requests from 0 to below 1 (0.01 is 1 %)"},
		{"alarm4xxCount", "FLEETGROUPS_ALARM_4XX_COUNT", &a.ClientErrors, nonNegative, "a number of answers, 0 or more"},
		{"alarmFunctionErrors", "FLEETGROUPS_ALARM_FUNCTION_ERRORS", &a.FunctionErrors, nonNegative, "a number of errors, 0 or more"},
		{"alarmFunctionThrottles", "FLEETGROUPS_ALARM_FUNCTION_THROTTLES", &a.FunctionThrottles, nonNegative, "a number of throttles, 0 or more"},
		// A function answering API Gateway is stopped at its timeout:
		// a threshold there or above could never be crossed.
		{"alarmFunctionP99Ms", "FLEETGROUPS_ALARM_FUNCTION_P99_MS", &a.FunctionP99Ms,
			func(f float64) bool { return f > 0 && f < routes.LambdaTimeoutSeconds*1000 },
			fmt.Sprintf("milliseconds above 0 and below the functions' timeout, %d", routes.LambdaTimeoutSeconds*1000)},
		{"alarmAuthorizerErrors", "FLEETGROUPS_ALARM_AUTHORIZER_ERRORS", &a.AuthorizerErrors, nonNegative, "a number of errors, 0 or more"},
	}
	for _, t := range thresholds {
		v, ok := lookup(t.key, t.env)
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsInf(f, 0) || !t.ok(f) {
			return fmt.Errorf("%s: want %s, got %q", t.key, t.want, v)
		}
		*t.dst = f
	}
	return nil
}

func nonNegative(f float64) bool { return f >= 0 }

func checkAssets(dir string) error {
	for _, f := range routes.Functions {
		p := filepath.Join(dir, string(f.Operation), "bootstrap")
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("missing Lambda binary: %w", err)
		}
	}
	return nil
}
