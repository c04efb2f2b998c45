// Command infra is the CDK app of fleetgroups: one stack, Fleetgroups, with
// the DynamoDB table, one arm64 Go Lambda per operation of pkg/routes, a
// regional REST API whose every method goes through a REQUEST authorizer and
// needs the tenant's API key (supplied by the authorizer, not the client),
// the usage plan those keys are attached to, and the change feed's event
// source mapping from the table's stream to publish-changes, with a queue and
// an alarm for the batches it loses. Everything that lists operations
// or paths is generated from pkg/routes; stack_test.go checks the result.
//
// Run it through the CDK CLI from this folder (make synth / make deploy build
// the Lambdas first). Settings come from CDK context (-c key=value or
// cdk.json), else from the environment, else from the defaults below:
//
//	context key          environment variable          default
//	assetsDir            FLEETGROUPS_ASSETS_DIR        ../build
//	deletionProtection   FLEETGROUPS_DELETION_PROTECTION true
//	rateLimit            FLEETGROUPS_RATE_LIMIT        50 (requests/s per key, at most 1000)
//	burstLimit           FLEETGROUPS_BURST_LIMIT       100 (at most 1000)
//	quotaPerDay          FLEETGROUPS_QUOTA_PER_DAY     100000 (requests/day per key)
//	treeMaxDepth         FLEETGROUPS_TREE_MAX_DEPTH    9 (the deepest a group may sit, 0–9)
//
// The rate and the burst are refused above routes.MaxTenantCallRate: each
// call writes its tenant's usage item, which takes about 1,000 writes a
// second.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/routes"
)

const stackName = "Fleetgroups"

// featureFlags are set in code rather than cdk.json so the tests synthesise
// exactly what the CLI deploys.
var featureFlags = map[string]any{
	// Without it a changed authorizer is not redeployed to the stage.
	"@aws-cdk/aws-apigateway:authorizerChangeDeploymentLogicalId": true,
}

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
	return props, nil
}

func checkAssets(dir string) error {
	for _, f := range routes.Functions {
		p := filepath.Join(dir, string(f.Operation), "bootstrap")
		if _, err := os.Stat(p); err != nil {
			return fmt.Errorf("missing Lambda binary: %w", err)
		}
	}
	return nil
}
