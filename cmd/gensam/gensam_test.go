package main

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/problem"
	"github.com/fleetgroups/fleetgroups/pkg/routes"
	"github.com/fleetgroups/fleetgroups/pkg/store"
)

// Tests run in cmd/gensam; the files they check live at the repository root.
const repoRoot = "../.."

func TestTemplateIsUpToDate(t *testing.T) {
	generated, err := generate()
	if err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(filepath.Join(repoRoot, "template.yaml"))
	if err != nil {
		t.Fatalf("%v; run `make template` to create it", err)
	}
	if d := firstDifference(file, generated); d != "" {
		t.Errorf("template.yaml is not what ./cmd/gensam generates (%s); run `make template`", d)
	}
}

// firstDifference describes the first line where the checked-in file and the
// generator's output differ, or returns "" when they are identical.
func firstDifference(file, generated []byte) string {
	if bytes.Equal(file, generated) {
		return ""
	}
	fl := slices.Collect(strings.Lines(string(file)))
	gl := slices.Collect(strings.Lines(string(generated)))
	for i := 0; ; i++ {
		switch {
		case i >= len(fl):
			return fmt.Sprintf("line %d: file ends, generator continues with %q", i+1, gl[i])
		case i >= len(gl):
			return fmt.Sprintf("line %d: generator ends, file continues with %q", i+1, fl[i])
		case fl[i] != gl[i]:
			return fmt.Sprintf("line %d: file has %q, generator gives %q", i+1, fl[i], gl[i])
		}
	}
}

func TestFirstDifference(t *testing.T) {
	const base = "a: 1\nb: 2\n"
	tests := []struct {
		name, file, want string
	}{
		{"identical", base, ""},
		{"line-changed", "a: 1\nb: 3\n", `line 2: file has "b: 3\n"`},
		{"file-shorter", "a: 1\n", `line 2: file ends`},
		{"file-longer", base + "c: 3\n", `line 3: generator ends`},
		{"newline-missing", "a: 1\nb: 2", `line 2: file has "b: 2"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := firstDifference([]byte(tt.file), []byte(base))
			if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
				t.Errorf("firstDifference = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestTemplateMatchesRouteTable reads template.yaml as SAM will, without the
// generator's help: the generator could be wrong in the same way as its own
// up-to-date check.
func TestTemplateMatchesRouteTable(t *testing.T) {
	doc := readTemplate(t)
	for _, p := range checkTemplate(doc, routes.Functions, routes.Routes) {
		t.Error(p)
	}
}

// TestAccessLogsWorkInAFreshAccount: API Gateway writes access logs with
// the account's CloudWatch role, which a fresh account lacks: the template
// sets it (AWS::ApiGateway::Account, with a role API Gateway may assume
// and that may push to CloudWatch Logs, kept when the stack goes, as the
// CDK stack keeps its own) before the API's stage.
func TestAccessLogsWorkInAFreshAccount(t *testing.T) {
	doc := readTemplate(t)
	role := mapAt(t, doc, "Resources", apiLogsRoleID)
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"account type", at(doc, "Resources", apiAccountID, "Type"), "AWS::ApiGateway::Account"},
		{"account role", at(doc, "Resources", apiAccountID, "Properties", "CloudWatchRoleArn"), map[string]any{"Fn::GetAtt": []any{apiLogsRoleID, "Arn"}}},
		{"role type", role["Type"], "AWS::IAM::Role"},
		{"role kept", role["DeletionPolicy"], "Retain"},
		{"role trust", at(role, "Properties", "AssumeRolePolicyDocument", "Statement"),
			[]any{map[string]any{"Effect": "Allow", "Principal": map[string]any{"Service": "apigateway.amazonaws.com"}, "Action": "sts:AssumeRole"}}},
		{"role policy", at(role, "Properties", "ManagedPolicyArns"),
			[]any{map[string]any{"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"}}},
		{"api after the account", at(doc, "Resources", apiID, "DependsOn"), apiAccountID},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: %#v, want %#v", c.name, c.got, c.want)
		}
	}
}

// TestGatewayResponsesAreProblems: API Gateway's own errors in the template
// answer a problem document with the headers every response carries.
func TestGatewayResponsesAreProblems(t *testing.T) {
	responses := mapAt(t, readTemplate(t), "Resources", "Api", "Properties", "GatewayResponses")
	if len(responses) != len(problem.GatewayResponses) {
		t.Errorf("%d gateway responses, want %d", len(responses), len(problem.GatewayResponses))
	}
	for _, g := range problem.GatewayResponses {
		t.Run(g.Type, func(t *testing.T) {
			want := map[string]any{"Content-Type": "'application/problem+json'",
				"Cache-Control": "'no-store'", "X-Content-Type-Options": "'nosniff'"}
			for k, v := range g.Headers {
				want[k] = "'" + v + "'"
			}
			if got := mapAt(t, responses, g.Type, "ResponseParameters", "Headers"); !reflect.DeepEqual(got, want) {
				t.Errorf("headers %v, want %v", got, want)
			}
			if got := at(responses, g.Type, "StatusCode"); got != fmt.Sprint(g.Status()) {
				t.Errorf("status %v, want %d", got, g.Status())
			}
		})
	}
}

// TestCheckTemplateReportsDrift proves checkTemplate can fail: each case
// breaks the checked-in template, or the route table it is compared with, in
// one way and names a problem it must report.
func TestCheckTemplateReportsDrift(t *testing.T) {
	const (
		create   = "CreateGroupFunction"
		get      = "GetGroupFunction"
		list     = "ListGroupsFunction"
		authzFn  = "AuthorizerFunction"
		extraEvt = "ExtraEvent"
		// The public route (routes.IsPublic).
		openapiFn  = "GetOpenapiFunction"
		openapiEvt = "GetV1OpenapiJson"
		// Issue 9: the change feed's publisher, its event and queue.
		publishFn = "PublishChangesFunction"
		streamEvt = "Stream"
		queue     = "ChangeFailures"
		alarm     = "ChangeFailuresAlarm"
		// Issue 9 §6: the webhook deliverer, its event and queues.
		deliverFn    = "DeliverWebhooksFunction"
		queueEvt     = "Queue"
		webhookQueue = "WebhookQueue"
		deadLetters  = "WebhookDeadLetters"
		dlqAlarm     = "WebhookDeadLettersAlarm"
	)
	// streamProps is the publisher's stream event's properties.
	streamProps := func(t *testing.T, doc map[string]any) map[string]any {
		return mapAt(t, doc, "Resources", publishFn, "Properties", "Events", streamEvt, "Properties")
	}
	// queueProps is the deliverer's queue event's properties.
	queueProps := func(t *testing.T, doc map[string]any) map[string]any {
		return mapAt(t, doc, "Resources", deliverFn, "Properties", "Events", queueEvt, "Properties")
	}
	// statement is one statement of fn's own grants.
	statement := func(t *testing.T, doc map[string]any, fn, sid string) map[string]any {
		for _, p := range mapAt(t, doc, "Resources", fn, "Properties")["Policies"].([]any) {
			for _, st := range asList(at(p, "Statement")) {
				if at(st, "Sid") == sid {
					return st.(map[string]any)
				}
			}
		}
		t.Fatalf("no statement %s", sid)
		return nil
	}
	publisherStatement := func(t *testing.T, doc map[string]any, sid string) map[string]any {
		return statement(t, doc, publishFn, sid)
	}
	apiEvent := func(api, method, path string) map[string]any {
		return map[string]any{"Type": "Api", "Properties": map[string]any{
			"RestApiId": map[string]any{"Ref": api}, "Method": method, "Path": path,
		}}
	}
	tests := []struct {
		name       string
		editDoc    func(t *testing.T, doc map[string]any)
		editRoutes func([]routes.Route) []routes.Route
		editFns    func([]routes.Function) []routes.Function
		want       []string // each must be part of some problem; none means no problem at all
	}{
		{name: "checked-in-template-passes"},
		{
			name: "method-compared-case-insensitively-passes",
			editDoc: func(t *testing.T, doc map[string]any) {
				for _, ev := range mapAt(t, doc, "Resources", create, "Properties", "Events") {
					ev.(map[string]any)["Properties"].(map[string]any)["Method"] = "POST"
				}
			},
		},
		{
			name: "handler-set-on-function-passes",
			editDoc: func(t *testing.T, doc map[string]any) {
				mapAt(t, doc, "Resources", create, "Properties")["Handler"] = "bootstrap"
			},
		},
		{
			name: "event-removed",
			editDoc: func(t *testing.T, doc map[string]any) {
				events := mapAt(t, doc, "Resources", create, "Properties", "Events")
				for name := range events {
					delete(events, name)
				}
			},
			want: []string{"CreateGroupFunction POST /v1/groups: in routes.Routes but no Api event"},
		},
		{
			name: "event-added",
			editDoc: func(t *testing.T, doc map[string]any) {
				mapAt(t, doc, "Resources", get, "Properties", "Events")[extraEvt] = apiEvent("Api", "get", "/v1/extra")
			},
			want: []string{"GetGroupFunction GET /v1/extra: Api event not in routes.Routes"},
		},
		{
			name: "event-on-authorizer",
			editDoc: func(t *testing.T, doc map[string]any) {
				mapAt(t, doc, "Resources", authzFn, "Properties")["Events"] = map[string]any{
					extraEvt: apiEvent("Api", "get", "/v1/groups"),
				}
			},
			want: []string{"AuthorizerFunction GET /v1/groups: Api event not in routes.Routes"},
		},
		{
			name: "route-added-to-table",
			editRoutes: func(rs []routes.Route) []routes.Route {
				return append(rs, routes.Route{Method: "GET", Path: "/v1/groups/{groupId}/audit", Operation: routes.GetGroup})
			},
			want: []string{"GetGroupFunction GET /v1/groups/{groupId}/audit: in routes.Routes but no Api event"},
		},
		{
			name: "route-moved-to-other-operation",
			editRoutes: func(rs []routes.Route) []routes.Route {
				rs = slices.Clone(rs)
				rs[0].Operation = routes.ListGroups
				return rs
			},
			want: []string{
				"ListGroupsFunction POST /v1/groups: in routes.Routes but no Api event",
				"CreateGroupFunction POST /v1/groups: Api event not in routes.Routes",
			},
		},
		{
			name: "event-on-other-api",
			editDoc: func(t *testing.T, doc map[string]any) {
				mapAt(t, doc, "Resources", list, "Properties", "Events")[extraEvt] = apiEvent("OtherApi", "get", "/v1/groups")
			},
			want: []string{"ListGroupsFunction event ExtraEvent: RestApiId is not a Ref to Api"},
		},
		{
			name: "event-name-not-alphanumeric",
			editDoc: func(t *testing.T, doc map[string]any) {
				mapAt(t, doc, "Resources", list, "Properties", "Events")["Get_V1"] = apiEvent("Api", "get", "/v1/x")
			},
			want: []string{`ListGroupsFunction event "Get_V1": not a valid logical id`},
		},
		{
			name: "event-not-api",
			editDoc: func(t *testing.T, doc map[string]any) {
				ev := apiEvent("Api", "get", "/v1/groups")
				ev["Type"] = "HttpApi"
				mapAt(t, doc, "Resources", list, "Properties", "Events")[extraEvt] = ev
			},
			want: []string{"ListGroupsFunction event ExtraEvent: type HttpApi, want Api"},
		},
		{
			name: "function-removed",
			editDoc: func(t *testing.T, doc map[string]any) {
				delete(mapAt(t, doc, "Resources"), list)
			},
			want: []string{
				"ListGroupsFunction: routes.Functions has list-groups but the template has no such function",
				"ListGroupsFunction GET /v1/groups: in routes.Routes but no Api event",
			},
		},
		{
			name: "function-added",
			editDoc: func(t *testing.T, doc map[string]any) {
				mapAt(t, doc, "Resources")["StrayFunction"] = map[string]any{"Type": "AWS::Serverless::Function"}
			},
			want: []string{"StrayFunction: AWS::Serverless::Function not in routes.Functions"},
		},
		{
			name: "function-added-to-table",
			editFns: func(fns []routes.Function) []routes.Function {
				return append(fns, routes.Function{Operation: "archive-group", Access: routes.ReadWrite})
			},
			want: []string{"ArchiveGroupFunction: routes.Functions has archive-group but the template has no such function"},
		},
		{
			name: "read-only-function-granted-crud",
			editDoc: func(t *testing.T, doc map[string]any) {
				mapAt(t, doc, "Resources", get, "Properties")["Policies"] = []any{
					map[string]any{"DynamoDBCrudPolicy": map[string]any{"TableName": map[string]any{"Ref": "Table"}}},
				}
			},
			want: []string{"GetGroupFunction: policy DynamoDBCrudPolicy, want only DynamoDBReadPolicy"},
		},
		{
			name: "read-write-function-granted-read",
			editFns: func(fns []routes.Function) []routes.Function {
				fns = slices.Clone(fns)
				for i := range fns {
					if fns[i].Operation == routes.GetGroup {
						fns[i].Access = routes.ReadWrite
					}
				}
				return fns
			},
			want: []string{"GetGroupFunction: policy DynamoDBReadPolicy, want only DynamoDBCrudPolicy"},
		},
		{
			name: "managed-policy-added",
			editDoc: func(t *testing.T, doc map[string]any) {
				props := mapAt(t, doc, "Resources", create, "Properties")
				props["Policies"] = append(props["Policies"].([]any), "AmazonDynamoDBFullAccess")
			},
			want: []string{"CreateGroupFunction: policy AmazonDynamoDBFullAccess, want only DynamoDBCrudPolicy"},
		},
		{
			name: "policy-on-other-table",
			editDoc: func(t *testing.T, doc map[string]any) {
				props := mapAt(t, doc, "Resources", create, "Properties")
				props["Policies"] = []any{map[string]any{"DynamoDBCrudPolicy": map[string]any{"TableName": "hard-coded"}}}
			},
			want: []string{"CreateGroupFunction: DynamoDBCrudPolicy TableName is not a Ref to Table"},
		},
		{
			name: "metering-grant-missing",
			editDoc: func(t *testing.T, doc map[string]any) {
				props := mapAt(t, doc, "Resources", get, "Properties")
				props["Policies"] = props["Policies"].([]any)[:1]
			},
			want: []string{"GetGroupFunction: 0 metering grants, want 1"},
		},
		{
			name: "metering-grant-on-authorizer",
			editDoc: func(t *testing.T, doc map[string]any) {
				props := mapAt(t, doc, "Resources", authzFn, "Properties")
				props["Policies"] = append(props["Policies"].([]any), wantMeteringPolicy("Table"))
			},
			want: []string{"AuthorizerFunction: metering grant on a function that counts no calls"},
		},
		{
			name: "metering-grant-on-public-function",
			editDoc: func(t *testing.T, doc map[string]any) {
				props := mapAt(t, doc, "Resources", "GetOpenapiFunction", "Properties")
				props["Policies"] = append(props["Policies"].([]any), wantMeteringPolicy("Table"))
			},
			want: []string{"GetOpenapiFunction: metering grant on a function that counts no calls"},
		},
		{
			name: "metering-grant-widened",
			editDoc: func(t *testing.T, doc map[string]any) {
				grant := mapAt(t, doc, "Resources", get, "Properties")["Policies"].([]any)[1]
				st := grant.(map[string]any)["Statement"].([]any)[0].(map[string]any)
				delete(st["Condition"].(map[string]any), "ForAllValues:StringNotLike")
			},
			want: []string{"GetGroupFunction: inline policy"},
		},
		{
			name: "usage-limits-disagree-with-plan",
			editDoc: func(t *testing.T, doc map[string]any) {
				mapAt(t, doc, "Globals", "Function", "Environment", "Variables")[routes.EnvUsageQuotaPerDay] = "5"
			},
			want: []string{"GetGroupFunction: environment USAGE_QUOTA_PER_DAY is 5, but the usage plan's Quota.Limit is 100000"},
		},
		{
			name: "rate-limit-over-the-usage-item-ceiling",
			editDoc: func(t *testing.T, doc map[string]any) {
				mapAt(t, doc, "Resources", "Api", "Properties", "Auth", "UsagePlan", "Throttle")["RateLimit"] = 1001
			},
			want: []string{"Api: usage plan RateLimit is 1001, want at most 1000"},
		},
		{
			name: "usage-limit-missing",
			editDoc: func(t *testing.T, doc map[string]any) {
				delete(mapAt(t, doc, "Globals", "Function", "Environment", "Variables"), routes.EnvUsageRateLimit)
			},
			want: []string{"GetUsageFunction: environment USAGE_RATE_LIMIT is <nil>"},
		},
		{
			name: "build-method-missing",
			editDoc: func(t *testing.T, doc map[string]any) {
				delete(mapAt(t, doc, "Resources", create), "Metadata")
			},
			want: []string{"CreateGroupFunction: Metadata.BuildMethod is <nil>, want makefile"},
		},
		{
			name: "code-uri-not-root",
			editDoc: func(t *testing.T, doc map[string]any) {
				mapAt(t, doc, "Resources", create, "Properties")["CodeUri"] = "functions/create-group"
			},
			want: []string{`CreateGroupFunction: CodeUri is "functions/create-group", want "."`},
		},
		{
			name: "runtime-missing-from-globals",
			editDoc: func(t *testing.T, doc map[string]any) {
				delete(mapAt(t, doc, "Globals", "Function"), "Runtime")
			},
			want: []string{"CreateGroupFunction: Runtime is <nil>, want provided.al2023", "AuthorizerFunction: Runtime is <nil>"},
		},
		{
			name: "architecture-overridden",
			editDoc: func(t *testing.T, doc map[string]any) {
				mapAt(t, doc, "Resources", get, "Properties")["Architectures"] = []any{"x86_64"}
			},
			want: []string{"GetGroupFunction: Architectures is [x86_64], want [arm64]"},
		},
		{
			name: "tracing-missing-from-globals",
			editDoc: func(t *testing.T, doc map[string]any) {
				delete(mapAt(t, doc, "Globals", "Function"), "Tracing")
			},
			want: []string{"CreateGroupFunction: Tracing is <nil>, want Active", "AuthorizerFunction: Tracing is <nil>"},
		},
		{
			name: "tracing-passed-through-by-a-function",
			editDoc: func(t *testing.T, doc map[string]any) {
				mapAt(t, doc, "Resources", get, "Properties")["Tracing"] = "PassThrough"
			},
			want: []string{"GetGroupFunction: Tracing is PassThrough, want Active"},
		},
		{
			name: "stage-not-traced",
			editDoc: func(t *testing.T, doc map[string]any) {
				delete(mapAt(t, doc, "Resources", "Api", "Properties"), "TracingEnabled")
			},
			want: []string{"Api: TracingEnabled is <nil>, want true"},
		},
		{
			name: "table-name-variable-missing",
			editDoc: func(t *testing.T, doc map[string]any) {
				delete(mapAt(t, doc, "Globals", "Function", "Environment", "Variables"), "TABLE_NAME")
			},
			want: []string{"GetGroupFunction: environment TABLE_NAME is not a Ref to Table"},
		},
		{
			name: "gsi-key-changed",
			editDoc: func(t *testing.T, doc map[string]any) {
				gsi := mapAt(t, doc, "Resources", "Table", "Properties")["GlobalSecondaryIndexes"].([]any)[0]
				ks := gsi.(map[string]any)["KeySchema"].([]any)
				ks[1].(map[string]any)["AttributeName"] = "GSI1XX"
			},
			want: []string{"Table: GlobalSecondaryIndexes"},
		},
		{
			name: "range-key-dropped",
			editDoc: func(t *testing.T, doc map[string]any) {
				props := mapAt(t, doc, "Resources", "Table", "Properties")
				props["KeySchema"] = props["KeySchema"].([]any)[:1]
			},
			want: []string{"Table: KeySchema is [PK HASH], want [PK HASH SK RANGE]"},
		},
		{
			name: "attribute-type-changed",
			editDoc: func(t *testing.T, doc map[string]any) {
				attrs := mapAt(t, doc, "Resources", "Table", "Properties")["AttributeDefinitions"].([]any)
				attrs[0].(map[string]any)["AttributeType"] = "N"
			},
			want: []string{"Table: AttributeDefinitions"},
		},
		{
			name: "ttl-attribute-changed",
			editDoc: func(t *testing.T, doc map[string]any) {
				mapAt(t, doc, "Resources", "Table", "Properties", "TimeToLiveSpecification")["AttributeName"] = "ttl"
			},
			want: []string{"Table: TimeToLiveSpecification"},
		},
		{
			name: "stream-disabled",
			editDoc: func(t *testing.T, doc map[string]any) {
				delete(mapAt(t, doc, "Resources", "Table", "Properties"), "StreamSpecification")
			},
			want: []string{"Table: StreamSpecification is <nil>, want map[StreamViewType:NEW_AND_OLD_IMAGES]"},
		},
		{
			name: "stream-without-old-images",
			editDoc: func(t *testing.T, doc map[string]any) {
				mapAt(t, doc, "Resources", "Table", "Properties", "StreamSpecification")["StreamViewType"] = "NEW_IMAGE"
			},
			want: []string{"Table: StreamSpecification is map[StreamViewType:NEW_IMAGE]"},
		},
		{
			name: "stream-event-removed",
			editDoc: func(t *testing.T, doc map[string]any) {
				delete(mapAt(t, doc, "Resources", publishFn, "Properties"), "Events")
			},
			want: []string{"PublishChangesFunction: 0 DynamoDB stream events, want 1"},
		},
		{
			name: "stream-event-on-a-route-function",
			editDoc: func(t *testing.T, doc map[string]any) {
				ev := mapAt(t, doc, "Resources", publishFn, "Properties", "Events", streamEvt)
				mapAt(t, doc, "Resources", get, "Properties", "Events")[streamEvt] = ev
			},
			want: []string{"GetGroupFunction event Stream: type DynamoDB, want Api"},
		},
		{
			name: "stream-of-another-table",
			editDoc: func(t *testing.T, doc map[string]any) {
				streamProps(t, doc)["Stream"] = map[string]any{"Fn::GetAtt": []any{"OtherTable", "StreamArn"}}
			},
			want: []string{"PublishChangesFunction event Stream: Stream is map[Fn::GetAtt:[OtherTable StreamArn]], not the StreamArn of Table"},
		},
		{
			name: "stream-read-from-latest",
			editDoc: func(t *testing.T, doc map[string]any) {
				streamProps(t, doc)["StartingPosition"] = "LATEST"
			},
			want: []string{"PublishChangesFunction event Stream: StartingPosition is LATEST, want TRIM_HORIZON"},
		},
		{
			name: "stream-batches-wait",
			editDoc: func(t *testing.T, doc map[string]any) {
				streamProps(t, doc)["MaximumBatchingWindowInSeconds"] = 5
			},
			want: []string{"PublishChangesFunction event Stream: MaximumBatchingWindowInSeconds is 5, want 0"},
		},
		{
			name: "stream-batch-not-bisected",
			editDoc: func(t *testing.T, doc map[string]any) {
				delete(streamProps(t, doc), "BisectBatchOnFunctionError")
			},
			want: []string{"PublishChangesFunction event Stream: BisectBatchOnFunctionError is <nil>, want true"},
		},
		{
			name: "stream-retried-forever",
			editDoc: func(t *testing.T, doc map[string]any) {
				streamProps(t, doc)["MaximumRetryAttempts"] = -1
			},
			want: []string{"PublishChangesFunction event Stream: MaximumRetryAttempts is -1, want 10"},
		},
		{
			name: "stream-shards-in-parallel",
			editDoc: func(t *testing.T, doc map[string]any) {
				streamProps(t, doc)["ParallelizationFactor"] = 10
			},
			want: []string{"PublishChangesFunction event Stream: ParallelizationFactor is 10, want 1"},
		},
		{
			name: "stream-filter-passes-usage-counters",
			editDoc: func(t *testing.T, doc map[string]any) {
				f := asList(at(streamProps(t, doc), "FilterCriteria", "Filters"))[0].(map[string]any)
				f["Pattern"] = strings.Replace(f["Pattern"].(string), `"ITEM"`, `"ITEM","USAGE"`, 1)
			},
			want: []string{`PublishChangesFunction event Stream: FilterCriteria pattern "{\"dynamodb\":{\"Keys\":{\"SK\":{\"S\":[\"#GROUP\",\"ITEM\",\"USAGE\"`},
		},
		{
			name: "stream-filter-removed",
			editDoc: func(t *testing.T, doc map[string]any) {
				delete(streamProps(t, doc), "FilterCriteria")
			},
			want: []string{"PublishChangesFunction event Stream: FilterCriteria has 0 filters, want 1"},
		},
		{
			name: "lost-batches-dropped",
			editDoc: func(t *testing.T, doc map[string]any) {
				delete(streamProps(t, doc), "DestinationConfig")
			},
			want: []string{"PublishChangesFunction event Stream: OnFailure destination is <nil>, not the Arn of ChangeFailures"},
		},
		{
			name: "lost-batches-typed-for-a-sam-policy",
			editDoc: func(t *testing.T, doc map[string]any) {
				mapAt(t, streamProps(t, doc), "DestinationConfig", "OnFailure")["Type"] = "SQS"
			},
			want: []string{"PublishChangesFunction event Stream: OnFailure Type SQS"},
		},
		{
			name: "publisher-writes-outside-feeds",
			editDoc: func(t *testing.T, doc map[string]any) {
				c := publisherStatement(t, doc, "AppendToFeeds")["Condition"].(map[string]any)
				c["ForAllValues:StringLike"] = map[string]any{"dynamodb:LeadingKeys": []any{"T#*"}}
			},
			want: []string{"PublishChangesFunction: inline policy", "PublishChangesFunction: 0 publisher grants"},
		},
		{
			name: "publisher-puts-on-every-bus",
			editDoc: func(t *testing.T, doc map[string]any) {
				publisherStatement(t, doc, "PutChangeEvents")["Resource"] = "*"
			},
			want: []string{"PublishChangesFunction: 0 publisher grants"},
		},
		{
			name: "publisher-names-no-bus",
			editDoc: func(t *testing.T, doc map[string]any) {
				delete(mapAt(t, doc, "Resources", "PublishChangesFunction", "Properties", "Environment", "Variables"), routes.EnvEventBusName)
			},
			want: []string{"PublishChangesFunction: environment EVENT_BUS_NAME"},
		},
		{
			name: "publisher-reads-every-stream",
			editDoc: func(t *testing.T, doc map[string]any) {
				publisherStatement(t, doc, "ReadChangeStream")["Resource"] = "*"
			},
			want: []string{"PublishChangesFunction: 0 publisher grants"},
		},
		{
			name: "publisher-granted-crud",
			editDoc: func(t *testing.T, doc map[string]any) {
				props := mapAt(t, doc, "Resources", publishFn, "Properties")
				props["Policies"].([]any)[0] = map[string]any{"DynamoDBCrudPolicy": map[string]any{"TableName": map[string]any{"Ref": "Table"}}}
			},
			want: []string{"PublishChangesFunction: policy DynamoDBCrudPolicy, want only DynamoDBReadPolicy"},
		},
		{
			name: "publisher-without-move-grant",
			editDoc: func(t *testing.T, doc map[string]any) {
				props := mapAt(t, doc, "Resources", publishFn, "Properties")
				props["Policies"] = slices.DeleteFunc(props["Policies"].([]any), func(p any) bool {
					return reflect.DeepEqual(p, wantMovesPolicy("Table"))
				})
			},
			want: []string{"PublishChangesFunction: 0 move grants, want 1"},
		},
		{
			name: "metering-grant-on-publisher",
			editDoc: func(t *testing.T, doc map[string]any) {
				props := mapAt(t, doc, "Resources", publishFn, "Properties")
				props["Policies"] = append(props["Policies"].([]any), wantMeteringPolicy("Table"))
			},
			want: []string{"PublishChangesFunction: metering grant on a function that counts no calls"},
		},
		{
			name: "publisher-grant-on-a-route-function",
			editDoc: func(t *testing.T, doc map[string]any) {
				props := mapAt(t, doc, "Resources", get, "Properties")
				props["Policies"] = append(props["Policies"].([]any), wantPublisherPolicy("Table", queue, "ChangeBus", webhookQueue))
			},
			want: []string{"GetGroupFunction: inline policy"},
		},
		{
			name: "failure-queue-removed",
			editDoc: func(t *testing.T, doc map[string]any) {
				delete(mapAt(t, doc, "Resources"), queue)
			},
			want: []string{"want AWS::SQS::Queue ChangeFailures, found [WebhookDeadLetters WebhookQueue]"},
		},
		{
			name: "failure-queue-keeps-4-days",
			editDoc: func(t *testing.T, doc map[string]any) {
				delete(mapAt(t, doc, "Resources", queue, "Properties"), "MessageRetentionPeriod")
			},
			want: []string{"ChangeFailures: MessageRetentionPeriod is <nil>, want 1209600"},
		},
		{
			name: "failure-queue-unencrypted",
			editDoc: func(t *testing.T, doc map[string]any) {
				mapAt(t, doc, "Resources", queue, "Properties")["SqsManagedSseEnabled"] = false
			},
			want: []string{"ChangeFailures: SqsManagedSseEnabled is false, want true"},
		},
		{
			name: "failure-alarm-removed",
			editDoc: func(t *testing.T, doc map[string]any) {
				delete(mapAt(t, doc, "Resources"), alarm)
			},
			want: []string{"want AWS::CloudWatch::Alarm ChangeFailuresAlarm, found [WebhookDeadLettersAlarm]"},
		},
		{
			name: "failure-alarm-on-another-queue",
			editDoc: func(t *testing.T, doc map[string]any) {
				dim := asList(mapAt(t, doc, "Resources", alarm, "Properties")["Dimensions"])[0].(map[string]any)
				dim["Value"] = map[string]any{"Fn::GetAtt": []any{"OtherQueue", "QueueName"}}
			},
			want: []string{"ChangeFailuresAlarm: Dimensions"},
		},
		{
			name: "failure-alarm-waits-for-ten-messages",
			editDoc: func(t *testing.T, doc map[string]any) {
				mapAt(t, doc, "Resources", alarm, "Properties")["Threshold"] = 10
			},
			want: []string{"ChangeFailuresAlarm: Threshold is 10, want 1"},
		},
		{
			name: "failure-alarm-breaches-without-data",
			editDoc: func(t *testing.T, doc map[string]any) {
				mapAt(t, doc, "Resources", alarm, "Properties")["TreatMissingData"] = "breaching"
			},
			want: []string{"ChangeFailuresAlarm: TreatMissingData is breaching, want notBreaching"},
		},
		{
			name: "publisher-queues-no-webhook-deliveries",
			editDoc: func(t *testing.T, doc map[string]any) {
				publisherStatement(t, doc, "QueueWebhookDeliveries")["Resource"] = map[string]any{"Fn::GetAtt": []any{queue, "Arn"}}
			},
			want: []string{"PublishChangesFunction: 0 publisher grants"},
		},
		{
			name: "publisher-names-no-webhook-queue",
			editDoc: func(t *testing.T, doc map[string]any) {
				delete(mapAt(t, doc, "Resources", publishFn, "Properties", "Environment", "Variables"), routes.EnvWebhookQueueURL)
			},
			want: []string{"PublishChangesFunction: environment WEBHOOK_QUEUE_URL is <nil>"},
		},
		// Issue 9 §6: webhook delivery.
		{
			name: "webhook-queue-url-on-every-function",
			editDoc: func(t *testing.T, doc map[string]any) {
				mapAt(t, doc, "Globals", "Function", "Environment", "Variables")[routes.EnvWebhookQueueURL] = map[string]any{"Ref": webhookQueue}
			},
			want: []string{"GetGroupFunction: environment WEBHOOK_QUEUE_URL is map[Ref:WebhookQueue]; the publisher and the deliverer alone"},
		},
		{
			name: "deliverer-names-another-queue",
			editDoc: func(t *testing.T, doc map[string]any) {
				mapAt(t, doc, "Resources", deliverFn, "Properties", "Environment", "Variables")[routes.EnvWebhookQueueURL] = map[string]any{"Ref": queue}
			},
			want: []string{"DeliverWebhooksFunction: environment WEBHOOK_QUEUE_URL is map[Ref:ChangeFailures]"},
		},
		{
			name: "deliverer-times-out-like-a-route",
			editDoc: func(t *testing.T, doc map[string]any) {
				delete(mapAt(t, doc, "Resources", deliverFn, "Properties"), "Timeout")
			},
			want: []string{"DeliverWebhooksFunction: Timeout is 29, want 60"},
		},
		{
			name: "route-outlives-api-gateway",
			editDoc: func(t *testing.T, doc map[string]any) {
				mapAt(t, doc, "Resources", get, "Properties")["Timeout"] = 60
			},
			want: []string{"GetGroupFunction: Timeout is 60, want 29"},
		},
		{
			name: "queue-event-removed",
			editDoc: func(t *testing.T, doc map[string]any) {
				delete(mapAt(t, doc, "Resources", deliverFn, "Properties"), "Events")
			},
			want: []string{"DeliverWebhooksFunction: 0 SQS events, want 1"},
		},
		{
			name: "queue-event-on-a-route-function",
			editDoc: func(t *testing.T, doc map[string]any) {
				ev := mapAt(t, doc, "Resources", deliverFn, "Properties", "Events", queueEvt)
				mapAt(t, doc, "Resources", get, "Properties", "Events")[queueEvt] = ev
			},
			want: []string{"GetGroupFunction event Queue: type SQS, want Api"},
		},
		{
			name: "queue-event-of-the-failure-queue",
			editDoc: func(t *testing.T, doc map[string]any) {
				queueProps(t, doc)["Queue"] = map[string]any{"Fn::GetAtt": []any{queue, "Arn"}}
			},
			want: []string{"DeliverWebhooksFunction event Queue: Queue is map[Fn::GetAtt:[ChangeFailures Arn]], not the Arn of WebhookQueue"},
		},
		{
			name: "queue-batch-fails-whole",
			editDoc: func(t *testing.T, doc map[string]any) {
				delete(queueProps(t, doc), "FunctionResponseTypes")
			},
			want: []string{"DeliverWebhooksFunction event Queue: FunctionResponseTypes is <nil>, want [ReportBatchItemFailures]"},
		},
		{
			name: "queue-feeds-unbounded-concurrency",
			editDoc: func(t *testing.T, doc map[string]any) {
				delete(queueProps(t, doc), "ScalingConfig")
			},
			want: []string{"DeliverWebhooksFunction event Queue: ScalingConfig is <nil>, want map[MaximumConcurrency:20]"},
		},
		{
			name: "queue-batches-grow",
			editDoc: func(t *testing.T, doc map[string]any) {
				queueProps(t, doc)["BatchSize"] = 100
			},
			want: []string{"DeliverWebhooksFunction event Queue: BatchSize is 100, want 10"},
		},
		{
			name: "deliverer-writes-groups",
			editDoc: func(t *testing.T, doc map[string]any) {
				c := statement(t, doc, deliverFn, "KeepWebhookDeliveries")["Condition"].(map[string]any)
				c["ForAllValues:StringLike"] = map[string]any{"dynamodb:LeadingKeys": []any{"T#*"}}
			},
			want: []string{"DeliverWebhooksFunction: inline policy", "DeliverWebhooksFunction: 0 deliverer grants"},
		},
		{
			name: "deliverer-writes-name-guards",
			editDoc: func(t *testing.T, doc map[string]any) {
				delete(statement(t, doc, deliverFn, "KeepWebhookDeliveries")["Condition"].(map[string]any), "ForAllValues:StringNotLike")
			},
			want: []string{"DeliverWebhooksFunction: 0 deliverer grants"},
		},
		{
			name: "deliverer-writes-feeds",
			editDoc: func(t *testing.T, doc map[string]any) {
				statement(t, doc, deliverFn, "ReadFeedsToCatchUp")["Action"] = []any{"dynamodb:Query", "dynamodb:PutItem"}
			},
			want: []string{"DeliverWebhooksFunction: 0 deliverer grants"},
		},
		{
			name: "deliverer-receives-from-every-queue",
			editDoc: func(t *testing.T, doc map[string]any) {
				statement(t, doc, deliverFn, "ConsumeWebhookQueue")["Resource"] = "*"
			},
			want: []string{"DeliverWebhooksFunction: 0 deliverer grants"},
		},
		{
			name: "deliverer-granted-crud",
			editDoc: func(t *testing.T, doc map[string]any) {
				props := mapAt(t, doc, "Resources", deliverFn, "Properties")
				props["Policies"] = append(props["Policies"].([]any), map[string]any{"DynamoDBCrudPolicy": map[string]any{"TableName": map[string]any{"Ref": "Table"}}})
			},
			want: []string{"DeliverWebhooksFunction: policy DynamoDBCrudPolicy, want only its own grants"},
		},
		{
			name: "deliverer-without-policies",
			editDoc: func(t *testing.T, doc map[string]any) {
				delete(mapAt(t, doc, "Resources", deliverFn, "Properties"), "Policies")
			},
			want: []string{"DeliverWebhooksFunction: no Policies, want its own grant"},
		},
		{
			name: "metering-grant-on-deliverer",
			editDoc: func(t *testing.T, doc map[string]any) {
				props := mapAt(t, doc, "Resources", deliverFn, "Properties")
				props["Policies"] = append(props["Policies"].([]any), wantMeteringPolicy("Table"))
			},
			want: []string{"DeliverWebhooksFunction: metering grant on a function that counts no calls"},
		},
		{
			name: "deliverer-grant-on-a-route-function",
			editDoc: func(t *testing.T, doc map[string]any) {
				props := mapAt(t, doc, "Resources", get, "Properties")
				props["Policies"] = append(props["Policies"].([]any), wantDelivererPolicy("Table", webhookQueue))
			},
			want: []string{"GetGroupFunction: inline policy"},
		},
		{
			name: "webhook-queue-removed",
			editDoc: func(t *testing.T, doc map[string]any) {
				delete(mapAt(t, doc, "Resources"), webhookQueue)
			},
			want: []string{"want AWS::SQS::Queue WebhookQueue, found [ChangeFailures WebhookDeadLetters]"},
		},
		{
			name: "stray-queue-added",
			editDoc: func(t *testing.T, doc map[string]any) {
				mapAt(t, doc, "Resources")["StrayQueue"] = map[string]any{"Type": "AWS::SQS::Queue"}
			},
			want: []string{"want exactly the AWS::SQS::Queue [ChangeFailures WebhookDeadLetters WebhookQueue], found [ChangeFailures StrayQueue WebhookDeadLetters WebhookQueue]"},
		},
		{
			name: "webhook-queue-without-dead-letters",
			editDoc: func(t *testing.T, doc map[string]any) {
				delete(mapAt(t, doc, "Resources", webhookQueue, "Properties"), "RedrivePolicy")
			},
			want: []string{"WebhookQueue: RedrivePolicy is <nil>, want the Arn of WebhookDeadLetters after 50 receives"},
		},
		{
			name: "webhook-queue-dead-letters-after-3-receives",
			editDoc: func(t *testing.T, doc map[string]any) {
				mapAt(t, doc, "Resources", webhookQueue, "Properties", "RedrivePolicy")["maxReceiveCount"] = 3
			},
			want: []string{"WebhookQueue: RedrivePolicy is map[deadLetterTargetArn:map[Fn::GetAtt:[WebhookDeadLetters Arn]] maxReceiveCount:3]"},
		},
		{
			name: "webhook-queue-hides-messages-30-seconds",
			editDoc: func(t *testing.T, doc map[string]any) {
				mapAt(t, doc, "Resources", webhookQueue, "Properties")["VisibilityTimeout"] = 30
			},
			want: []string{"WebhookQueue: VisibilityTimeout is 30, want 360"},
		},
		{
			name: "webhook-queue-keeps-4-days",
			editDoc: func(t *testing.T, doc map[string]any) {
				delete(mapAt(t, doc, "Resources", webhookQueue, "Properties"), "MessageRetentionPeriod")
			},
			want: []string{"WebhookQueue: MessageRetentionPeriod is <nil>, want 172800"},
		},
		{
			name: "webhook-queue-unencrypted",
			editDoc: func(t *testing.T, doc map[string]any) {
				mapAt(t, doc, "Resources", webhookQueue, "Properties")["SqsManagedSseEnabled"] = false
			},
			want: []string{"WebhookQueue: SqsManagedSseEnabled is false, want true"},
		},
		{
			name: "webhook-queue-fifo",
			editDoc: func(t *testing.T, doc map[string]any) {
				mapAt(t, doc, "Resources", webhookQueue, "Properties")["FifoQueue"] = true
			},
			want: []string{"WebhookQueue: FifoQueue is true, want <nil>"},
		},
		{
			name: "dead-letters-keep-4-days",
			editDoc: func(t *testing.T, doc map[string]any) {
				delete(mapAt(t, doc, "Resources", deadLetters, "Properties"), "MessageRetentionPeriod")
			},
			want: []string{"WebhookDeadLetters: MessageRetentionPeriod is <nil>, want 1209600"},
		},
		{
			name: "dead-letters-unencrypted",
			editDoc: func(t *testing.T, doc map[string]any) {
				mapAt(t, doc, "Resources", deadLetters, "Properties")["SqsManagedSseEnabled"] = false
			},
			want: []string{"WebhookDeadLetters: SqsManagedSseEnabled is false, want true"},
		},
		{
			name: "dead-letters-alarm-removed",
			editDoc: func(t *testing.T, doc map[string]any) {
				delete(mapAt(t, doc, "Resources"), dlqAlarm)
			},
			want: []string{"want AWS::CloudWatch::Alarm WebhookDeadLettersAlarm, found [ChangeFailuresAlarm]"},
		},
		{
			name: "dead-letters-alarm-on-the-webhook-queue",
			editDoc: func(t *testing.T, doc map[string]any) {
				dim := asList(mapAt(t, doc, "Resources", dlqAlarm, "Properties")["Dimensions"])[0].(map[string]any)
				dim["Value"] = map[string]any{"Fn::GetAtt": []any{webhookQueue, "QueueName"}}
			},
			want: []string{"WebhookDeadLettersAlarm: Dimensions"},
		},
		{
			name: "dead-letters-alarm-with-the-failure-queue's-description",
			editDoc: func(t *testing.T, doc map[string]any) {
				mapAt(t, doc, "Resources", dlqAlarm, "Properties")["AlarmDescription"] = routes.ChangeFailureAlarmDescription
			},
			want: []string{"WebhookDeadLettersAlarm: AlarmDescription is The change feed lost a batch"},
		},
		{
			name: "dead-letters-alarm-waits-for-ten-messages",
			editDoc: func(t *testing.T, doc map[string]any) {
				mapAt(t, doc, "Resources", dlqAlarm, "Properties")["Threshold"] = 10
			},
			want: []string{"WebhookDeadLettersAlarm: Threshold is 10, want 1"},
		},
		{
			name: "public-route-authorized",
			editDoc: func(t *testing.T, doc map[string]any) {
				delete(mapAt(t, doc, "Resources", openapiFn, "Properties", "Events", openapiEvt, "Properties"), "Auth")
			},
			want: []string{"GetOpenapiFunction event GetV1OpenapiJson: public route, but Auth is <nil>"},
		},
		{
			name: "public-route-requires-api-key",
			editDoc: func(t *testing.T, doc map[string]any) {
				mapAt(t, doc, "Resources", openapiFn, "Properties", "Events", openapiEvt, "Properties", "Auth")["ApiKeyRequired"] = true
			},
			want: []string{"GetOpenapiFunction event GetV1OpenapiJson: public route, but Auth is map[ApiKeyRequired:true Authorizer:NONE]"},
		},
		{
			name: "private-route-opts-out-of-authorizer",
			editDoc: func(t *testing.T, doc map[string]any) {
				for _, ev := range mapAt(t, doc, "Resources", get, "Properties", "Events") {
					ev.(map[string]any)["Properties"].(map[string]any)["Auth"] = map[string]any{"Authorizer": "NONE"}
				}
			},
			want: []string{"GetGroupFunction event GetV1GroupsByGroupId: Auth map[Authorizer:NONE] overrides the default authorizer"},
		},
		{
			name: "no-default-authorizer",
			editDoc: func(t *testing.T, doc map[string]any) {
				delete(mapAt(t, doc, "Resources", "Api", "Properties", "Auth"), "DefaultAuthorizer")
			},
			want: []string{"Api: no DefaultAuthorizer"},
		},
		{
			name: "default-authorizer-is-other-function",
			editDoc: func(t *testing.T, doc map[string]any) {
				auth := mapAt(t, doc, "Resources", "Api", "Properties", "Auth")
				name := auth["DefaultAuthorizer"].(string)
				mapAt(t, auth, "Authorizers", name)["FunctionArn"] = map[string]any{"Fn::GetAtt": []any{get, "Arn"}}
			},
			want: []string{"FunctionArn is not the Arn of AuthorizerFunction"},
		},
	}
	file, err := os.ReadFile(filepath.Join(repoRoot, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := parseTemplate(file) // fresh per case: edits mutate it
			if err != nil {
				t.Fatal(err)
			}
			rs, fns := routes.Routes, routes.Functions
			if tt.editDoc != nil {
				tt.editDoc(t, doc)
			}
			if tt.editRoutes != nil {
				rs = tt.editRoutes(rs)
			}
			if tt.editFns != nil {
				fns = tt.editFns(fns)
			}
			problems := checkTemplate(doc, fns, rs)
			if len(tt.want) == 0 && len(problems) > 0 {
				t.Errorf("want no problems, got:\n%s", strings.Join(problems, "\n"))
			}
			for _, w := range tt.want {
				if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, w) }) {
					t.Errorf("no problem mentions %q; got:\n%s", w, strings.Join(problems, "\n"))
				}
			}
		})
	}
}

func TestEventName(t *testing.T) {
	tests := []struct{ method, path, want string }{
		{"POST", "/v1/groups", "PostV1Groups"},
		{"GET", "/v1/groups/{groupId}/members", "GetV1GroupsByGroupIdMembers"},
		{"DELETE", "/v1/groups/{groupId}/{itemType}/{itemId}", "DeleteV1GroupsByGroupIdByItemTypeByItemId"},
		{"GET", "/v1/item-types/{item_id}", "GetV1ItemTypesByItemId"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := eventName(routes.Route{Method: tt.method, Path: tt.path}); got != tt.want {
				t.Errorf("eventName(%s %s) = %s, want %s", tt.method, tt.path, got, tt.want)
			}
		})
	}
}

func TestFunctionResourceRejectsEventNameCollision(t *testing.T) {
	rs := []routes.Route{
		{Method: "GET", Path: "/v1/item-types", Operation: routes.ListGroups},
		{Method: "GET", Path: "/v1/itemTypes", Operation: routes.ListGroups},
	}
	_, err := functionResource(routes.Function{Operation: routes.ListGroups}, rs)
	if err == nil || !strings.Contains(err.Error(), "both get event name GetV1ItemTypes") {
		t.Errorf("err = %v, want a collision on GetV1ItemTypes", err)
	}
}

func TestParseTemplateShortAndLongFormsAgree(t *testing.T) {
	tests := []struct{ name, short, long string }{
		{"ref", "v: !Ref Table", "v: {Ref: Table}"},
		{"get-att", "v: !GetAtt AuthorizerFunction.Arn", `v: {"Fn::GetAtt": [AuthorizerFunction, Arn]}`},
		{"sub", "v: !Sub https://${Api}/live", `v: {"Fn::Sub": "https://${Api}/live"}`},
		{"select-sequence", "v: !Select [0, [a, b]]", `v: {"Fn::Select": [0, [a, b]]}`},
		{"plain-values", "v: {n: 29, b: true, s: '29'}", "v: {n: 29, b: true, s: \"29\"}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			short, err := parseTemplate([]byte(tt.short))
			if err != nil {
				t.Fatal(err)
			}
			long, err := parseTemplate([]byte(tt.long))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(short, long) {
				t.Errorf("short form %v, long form %v", short, long)
			}
		})
	}
	if _, err := parseTemplate([]byte("a: 1\na: 2\n")); err == nil {
		t.Error("duplicate key accepted; CloudFormation rejects it")
	}
}

func readTemplate(t *testing.T) map[string]any {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := parseTemplate(data)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// parseTemplate decodes a CloudFormation YAML template into maps, slices and
// scalars, spelling intrinsic functions the long way whichever way the file
// wrote them (!Ref X and {Ref: X} both become map[Ref:X]), so the checks below
// hold for hand-written and generated templates alike.
func parseTemplate(data []byte) (map[string]any, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, err
	}
	v, err := plain(&root)
	if err != nil {
		return nil, err
	}
	doc, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("template is %T, not a mapping", v)
	}
	return doc, nil
}

func plain(n *yaml.Node) (any, error) {
	var v any
	switch n.Kind {
	case yaml.DocumentNode:
		return plain(n.Content[0])
	case yaml.AliasNode:
		return plain(n.Alias)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i < len(n.Content); i += 2 {
			k := n.Content[i].Value
			if _, dup := m[k]; dup {
				return nil, fmt.Errorf("line %d: duplicate key %q", n.Content[i].Line, k)
			}
			val, err := plain(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[k] = val
		}
		v = m
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			val, err := plain(c)
			if err != nil {
				return nil, err
			}
			s = append(s, val)
		}
		v = s
	case yaml.ScalarNode:
		if isIntrinsic(n.Tag) {
			v = n.Value
		} else if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
	}
	if !isIntrinsic(n.Tag) {
		return v, nil
	}
	name := strings.TrimPrefix(n.Tag, "!")
	switch name {
	case "Ref", "Condition":
		return map[string]any{name: v}, nil
	case "GetAtt":
		if s, ok := v.(string); ok {
			res, attr, _ := strings.Cut(s, ".")
			v = []any{res, attr}
		}
	}
	return map[string]any{"Fn::" + name: v}, nil
}

// isIntrinsic reports whether tag is a CloudFormation short form such as !Ref,
// as opposed to YAML's own !!str, !!int and so on.
func isIntrinsic(tag string) bool {
	return strings.HasPrefix(tag, "!") && !strings.HasPrefix(tag, "!!")
}

// checkTemplate compares a parsed template with the route table and the table
// definition and returns every difference it finds, so that a test can feed it
// a broken document and see each check fail.
func checkTemplate(doc map[string]any, fns []routes.Function, rs []routes.Route) []string {
	var problems []string
	report := func(format string, args ...any) {
		problems = append(problems, fmt.Sprintf(format, args...))
	}
	resources, _ := doc["Resources"].(map[string]any)
	ofType := func(typ string) []string {
		var ids []string
		for id, r := range resources {
			if at(r, "Type") == typ {
				ids = append(ids, id)
			}
		}
		slices.Sort(ids)
		return ids
	}
	single := func(typ string) string {
		ids := ofType(typ)
		if len(ids) != 1 {
			report("want exactly one %s, found %v", typ, ids)
			return ""
		}
		return ids[0]
	}
	// named is id if the template declares it as a typ.
	named := func(typ, id string) string {
		if at(resources[id], "Type") != typ {
			report("want %s %s, found %v", typ, id, ofType(typ))
			return ""
		}
		return id
	}
	apiID := single("AWS::Serverless::Api")
	tableID := single("AWS::DynamoDB::Table")
	has := func(access routes.Access) bool {
		return slices.ContainsFunc(fns, func(fn routes.Function) bool { return fn.Access == access })
	}
	// Issue 9: a stream publisher sends lost batches to the failure queue
	// and puts every event on the one bus. Issue 9 §6: it queues webhook
	// deliveries on the webhook queue, which feeds the deliverer and hands
	// what it cannot handle to its dead-letter queue. Queues and alarms
	// are told apart by their logical ids.
	var queueID, busID, failureAlarm, webhookQueue, deadLetters, deadLettersAlarm string
	var wantQueues, wantAlarms []string
	if has(routes.StreamPublisher) {
		queueID = named("AWS::SQS::Queue", failureQueueID)
		failureAlarm = named("AWS::CloudWatch::Alarm", failureAlarmID)
		busID = single("AWS::Events::EventBus")
		wantQueues, wantAlarms = append(wantQueues, failureQueueID), append(wantAlarms, failureAlarmID)
	}
	if has(routes.StreamPublisher) || has(routes.WebhookDeliverer) {
		webhookQueue = named("AWS::SQS::Queue", webhookQueueID)
		deadLetters = named("AWS::SQS::Queue", webhookDeadLettersID)
		deadLettersAlarm = named("AWS::CloudWatch::Alarm", webhookAlarmID)
		wantQueues, wantAlarms = append(wantQueues, webhookQueueID, webhookDeadLettersID), append(wantAlarms, webhookAlarmID)
	}
	for typ, want := range map[string][]string{"AWS::SQS::Queue": wantQueues, "AWS::CloudWatch::Alarm": wantAlarms} {
		if got := ofType(typ); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
			report("want exactly the %s %v, found %v", typ, slices.Sorted(slices.Values(want)), got)
		}
	}

	served := map[routes.Operation]bool{}
	for _, r := range rs {
		served[r.Operation] = true
	}

	// Functions: exactly one per entry of routes.Functions.
	want := map[string]routes.Function{}
	for _, fn := range fns {
		want[routes.LogicalName(fn.Operation)+"Function"] = fn
	}
	gotIDs := ofType("AWS::Serverless::Function")
	for _, id := range gotIDs {
		if _, ok := want[id]; !ok {
			report("%s: AWS::Serverless::Function not in routes.Functions", id)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(want)) {
		if !slices.Contains(gotIDs, id) {
			report("%s: routes.Functions has %s but the template has no such function", id, want[id].Operation)
		}
	}

	// Settings each function needs, on the function or inherited from Globals.
	globals, _ := at(doc, "Globals", "Function").(map[string]any)
	inherited := func(props map[string]any, path ...string) any {
		if v := at(props, path...); v != nil {
			return v
		}
		return at(globals, path...)
	}
	type route struct{ fn, method, path string }
	gotRoutes := map[route]bool{}
	for _, id := range gotIDs {
		res := resources[id]
		props, _ := at(res, "Properties").(map[string]any)
		if v := at(res, "Metadata", "BuildMethod"); v != "makefile" {
			report("%s: Metadata.BuildMethod is %v, want makefile", id, v)
		}
		if v := props["CodeUri"]; v != "." {
			report("%s: CodeUri is %q, want \".\"", id, v)
		}
		for _, s := range []struct {
			key  string
			want any
		}{
			{"Runtime", "provided.al2023"},
			{"Handler", "bootstrap"},
			{"Architectures", []any{"arm64"}},
		} {
			if v := inherited(props, s.key); !reflect.DeepEqual(v, s.want) {
				report("%s: %s is %v, want %v", id, s.key, v, s.want)
			}
		}
		// Issue 10: every function traces actively.
		if v := inherited(props, "Tracing"); v != "Active" {
			report("%s: Tracing is %v, want Active", id, v)
		}
		if !isRef(inherited(props, "Environment", "Variables", "TABLE_NAME"), tableID) {
			report("%s: environment TABLE_NAME is not a Ref to %s", id, tableID)
		}
		fn, known := want[id]
		if known {
			meters := served[fn.Operation] && !routes.IsPublic(fn.Operation)
			problems = append(problems, checkPolicies(id, fn.Access, meters, props["Policies"], tableID, queueID, busID, webhookQueue)...)
			bus := inherited(props, "Environment", "Variables", routes.EnvEventBusName)
			if publishes := fn.Access == routes.StreamPublisher; publishes != (bus != nil) || publishes && !isRef(bus, busID) {
				report("%s: environment %s is %v; the publisher alone names the bus, by a Ref to %s", id, routes.EnvEventBusName, bus, busID)
			}
			// The publisher queues webhook deliveries, the deliverer
			// catch-ups; no other function knows the queue.
			queueURL := inherited(props, "Environment", "Variables", routes.EnvWebhookQueueURL)
			if queues := fn.Access == routes.StreamPublisher || fn.Access == routes.WebhookDeliverer; queues != (queueURL != nil) || queues && !isRef(queueURL, webhookQueue) {
				report("%s: environment %s is %v; the publisher and the deliverer alone name the webhook queue, by a Ref to %s",
					id, routes.EnvWebhookQueueURL, queueURL, webhookQueue)
			}
			// The deliverer waits on receivers; the others answer API
			// Gateway (or would gain nothing from longer).
			wantTimeout := routes.LambdaTimeoutSeconds
			if fn.Operation == routes.DeliverWebhooks {
				wantTimeout = routes.WebhookTimeoutSeconds
			}
			if v := inherited(props, "Timeout"); v != wantTimeout {
				report("%s: Timeout is %v, want %d", id, v, wantTimeout)
			}
		}
		// get-usage reports the limits the usage plan enforces.
		for env, plan := range map[string][]string{
			routes.EnvUsageRateLimit:   {"Throttle", "RateLimit"},
			routes.EnvUsageBurstLimit:  {"Throttle", "BurstLimit"},
			routes.EnvUsageQuotaPerDay: {"Quota", "Limit"},
		} {
			got := inherited(props, "Environment", "Variables", env)
			limit := at(resources[apiID], append([]string{"Properties", "Auth", "UsagePlan"}, plan...)...)
			if s, ok := got.(string); !ok || limit == nil || s != fmt.Sprint(limit) {
				report("%s: environment %s is %v, but the usage plan's %s is %v", id, env, got, strings.Join(plan, "."), limit)
			}
		}
		// The tree's depth limit is one the API allows.
		if d, err := strconv.Atoi(fmt.Sprint(inherited(props, "Environment", "Variables", routes.EnvTreeMaxDepth))); err != nil || d < 0 || d > groups.MaxDepth {
			report("%s: environment %s is %v, want 0–%d", id, routes.EnvTreeMaxDepth, inherited(props, "Environment", "Variables", routes.EnvTreeMaxDepth), groups.MaxDepth)
		}
		events, _ := props["Events"].(map[string]any)
		streams, queues := 0, 0
		for _, name := range slices.Sorted(maps.Keys(events)) {
			ev := events[name]
			if !logicalID.MatchString(name) {
				report("%s event %q: not a valid logical id (alphanumeric)", id, name)
			}
			// The stream publisher's one event is the table's stream.
			if typ := at(ev, "Type"); typ == "DynamoDB" && known && fn.Access == routes.StreamPublisher {
				streams++
				problems = append(problems, checkStreamEvent(id, name, at(ev, "Properties"), tableID, queueID)...)
				continue
			}
			// The deliverer's one event is the webhook queue.
			if typ := at(ev, "Type"); typ == "SQS" && known && fn.Access == routes.WebhookDeliverer {
				queues++
				problems = append(problems, checkQueueEvent(id, name, at(ev, "Properties"), webhookQueue)...)
				continue
			}
			if typ := at(ev, "Type"); typ != "Api" {
				report("%s event %s: type %v, want Api", id, name, typ)
				continue
			}
			if !isRef(at(ev, "Properties", "RestApiId"), apiID) {
				report("%s event %s: RestApiId is not a Ref to %s", id, name, apiID)
			}
			if fn, ok := want[id]; ok {
				problems = append(problems, checkEventAuth(id, name, routes.IsPublic(fn.Operation), at(ev, "Properties", "Auth"))...)
			}
			method, _ := at(ev, "Properties", "Method").(string)
			path, _ := at(ev, "Properties", "Path").(string)
			r := route{id, strings.ToUpper(method), path}
			if gotRoutes[r] {
				report("%s %s %s: declared by two events", id, r.method, r.path)
			}
			gotRoutes[r] = true
		}
		if known && fn.Access == routes.StreamPublisher && streams != 1 {
			report("%s: %d DynamoDB stream events, want 1 (the table's stream)", id, streams)
		}
		if known && fn.Access == routes.WebhookDeliverer && queues != 1 {
			report("%s: %d SQS events, want 1 (the webhook queue)", id, queues)
		}
	}

	// Api events: exactly the routes of routes.Routes, each on its operation's function.
	wantRoutes := map[route]bool{}
	for _, r := range rs {
		wantRoutes[route{routes.LogicalName(r.Operation) + "Function", strings.ToUpper(r.Method), r.Path}] = true
	}
	routeKeys := func(m map[route]bool) []route {
		return slices.SortedFunc(maps.Keys(m), func(a, b route) int {
			return strings.Compare(a.fn+" "+a.path+" "+a.method, b.fn+" "+b.path+" "+b.method)
		})
	}
	for _, r := range routeKeys(wantRoutes) {
		if !gotRoutes[r] {
			report("%s %s %s: in routes.Routes but no Api event", r.fn, r.method, r.path)
		}
	}
	for _, r := range routeKeys(gotRoutes) {
		if !wantRoutes[r] {
			report("%s %s %s: Api event not in routes.Routes", r.fn, r.method, r.path)
		}
	}

	if tableID != "" {
		problems = append(problems, checkTable(tableID, at(resources[tableID], "Properties"))...)
	}
	if queueID != "" {
		problems = append(problems, checkFailureQueue(queueID, at(resources[queueID], "Properties"))...)
	}
	if failureAlarm != "" {
		problems = append(problems, checkQueueAlarm(failureAlarm, at(resources[failureAlarm], "Properties"), queueID, routes.ChangeFailureAlarmDescription)...)
	}
	if webhookQueue != "" {
		problems = append(problems, checkWebhookQueue(webhookQueue, at(resources[webhookQueue], "Properties"), deadLetters)...)
	}
	if deadLetters != "" {
		problems = append(problems, checkDeadLetters(deadLetters, at(resources[deadLetters], "Properties"))...)
	}
	if deadLettersAlarm != "" {
		problems = append(problems, checkQueueAlarm(deadLettersAlarm, at(resources[deadLettersAlarm], "Properties"), deadLetters, routes.WebhookDLQAlarmDescription)...)
	}
	if apiID != "" {
		problems = append(problems, checkAuthorizer(apiID, at(resources[apiID], "Properties", "Auth"))...)
		// Issue 10: the stage starts the traces the functions continue.
		if v := at(resources[apiID], "Properties", "TracingEnabled"); v != true {
			report("%s: TracingEnabled is %v, want true", apiID, v)
		}
		// Every call writes the tenant's usage item, which takes about
		// routes.MaxTenantCallRate writes a second.
		for _, limit := range []string{"RateLimit", "BurstLimit"} {
			v, ok := at(resources[apiID], "Properties", "Auth", "UsagePlan", "Throttle", limit).(int)
			if !ok || v > routes.MaxTenantCallRate {
				report("%s: usage plan %s is %v, want at most %d (routes.MaxTenantCallRate)", apiID, limit, v, routes.MaxTenantCallRate)
			}
		}
	}
	return problems
}

// logicalID is what CloudFormation accepts as a logical id; SAM builds
// resource ids from event names, so they must be one too.
var logicalID = regexp.MustCompile(`^[A-Za-z0-9]+$`)

// checkPolicies holds each function to least privilege: exactly one policy
// template, the one matching its access, scoped to the table, and, if it
// meters (it serves authenticated routes), the metering grant in the store's
// terms as its only other policy.
func checkPolicies(id string, access routes.Access, meters bool, policies any, tableID, queueID, busID, webhookQueueID string) []string {
	wantPolicy := map[routes.Access]string{routes.ReadOnly: "DynamoDBReadPolicy", routes.ReadTree: "DynamoDBReadPolicy",
		routes.StreamPublisher: "DynamoDBReadPolicy", routes.ReadWrite: "DynamoDBCrudPolicy"}[access]
	readsTree := access == routes.ReadTree || access == routes.StreamPublisher
	list, _ := policies.([]any)
	if len(list) == 0 && (wantPolicy != "" || access == routes.TokenLookup || access == routes.WebhookDeliverer) {
		return []string{fmt.Sprintf("%s: no Policies, want %s", id, cmp.Or(wantPolicy, "its own grant"))}
	}
	var problems []string
	metering, lookup, moves, publisher, deliverer := 0, 0, 0, 0, 0
	for _, p := range list {
		if m, ok := p.(map[string]any); ok && m["Statement"] != nil {
			switch {
			case reflect.DeepEqual(p, wantMeteringPolicy(tableID)):
				metering++
			case readsTree && reflect.DeepEqual(p, wantMovesPolicy(tableID)):
				moves++
			case access == routes.StreamPublisher && reflect.DeepEqual(p, wantPublisherPolicy(tableID, queueID, busID, webhookQueueID)):
				publisher++
			case access == routes.WebhookDeliverer && reflect.DeepEqual(p, wantDelivererPolicy(tableID, webhookQueueID)):
				deliverer++
			case access == routes.TokenLookup && reflect.DeepEqual(p, wantTokenLookupPolicy(tableID)):
				lookup++
			default:
				problems = append(problems, fmt.Sprintf("%s: inline policy %v, want only the metering grant %v", id, p, wantMeteringPolicy(tableID)))
			}
			continue
		}
		name := fmt.Sprint(p) // a managed policy is a plain string
		if m, ok := p.(map[string]any); ok && len(m) == 1 {
			for name = range m {
			}
		}
		if name != wantPolicy {
			problems = append(problems, fmt.Sprintf("%s: policy %s, want only %s", id, name, cmp.Or(wantPolicy, "its own grants")))
			continue
		}
		if !isRef(at(p, name, "TableName"), tableID) {
			problems = append(problems, fmt.Sprintf("%s: %s TableName is not a Ref to %s", id, name, tableID))
		}
	}
	if want := map[bool]int{true: 1}[readsTree]; moves != want {
		problems = append(problems, fmt.Sprintf("%s: %d move grants, want %d", id, moves, want))
	}
	if want := map[bool]int{true: 1}[access == routes.StreamPublisher]; publisher != want {
		problems = append(problems, fmt.Sprintf("%s: %d publisher grants (feeds, stream, failure queue, bus, webhook queue), want %d", id, publisher, want))
	}
	if want := map[bool]int{true: 1}[access == routes.WebhookDeliverer]; deliverer != want {
		problems = append(problems, fmt.Sprintf("%s: %d deliverer grants (webhooks and deliveries, feeds, webhook queue), want %d", id, deliverer, want))
	}
	if access == routes.TokenLookup && lookup != 1 {
		problems = append(problems, fmt.Sprintf("%s: %d token lookup grants, want 1 (GetItem only)", id, lookup))
	}
	switch {
	case meters && metering != 1:
		problems = append(problems, fmt.Sprintf("%s: %d metering grants, want 1: it serves authenticated routes, so it counts calls", id, metering))
	case !meters && metering != 0:
		problems = append(problems, fmt.Sprintf("%s: metering grant on a function that counts no calls", id))
	}
	return problems
}

// anyList is ss as parseTemplate reads a list of strings.
func anyList(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// wantMovesPolicy is the move grant as parseTemplate reads it.
func wantMovesPolicy(tableID string) map[string]any {
	statement := func(sid, action string, keys []string) map[string]any {
		return map[string]any{
			"Sid": sid, "Effect": "Allow", "Action": action,
			"Resource": map[string]any{"Fn::GetAtt": []any{tableID, "Arn"}},
			"Condition": map[string]any{
				"ForAllValues:StringLike": map[string]any{
					"dynamodb:LeadingKeys": anyList(keys),
					"dynamodb:Attributes":  anyList(store.MoveAttributes()),
				},
				"ForAllValues:StringNotLike": map[string]any{"dynamodb:LeadingKeys": anyList(store.MoveExcludedLeadingKeys)},
				"StringEqualsIfExists":       map[string]any{"dynamodb:ReturnValues": []any{"NONE"}},
			},
		}
	}
	return map[string]any{"Statement": []any{
		statement("CarryOnMoves", "dynamodb:UpdateItem", store.MoveLeadingKeys),
		statement("EndMoves", "dynamodb:DeleteItem", store.MoveEndLeadingKeys),
	}}
}

// wantPublisherPolicy is the change feed publisher's grant as parseTemplate
// reads it: PutItem and BatchWriteItem in feed partitions only (in the
// store's terms), the table's stream and no other, SendMessage to the
// failure queue and PutEvents on the change bus alone, and SendMessage to
// the webhook queue alone.
func wantPublisherPolicy(tableID, queueID, busID, webhookQueueID string) map[string]any {
	return map[string]any{"Statement": []any{
		map[string]any{
			"Sid": "AppendToFeeds", "Effect": "Allow", "Action": []any{"dynamodb:PutItem", "dynamodb:BatchWriteItem"},
			"Resource": map[string]any{"Fn::GetAtt": []any{tableID, "Arn"}},
			"Condition": map[string]any{
				"ForAllValues:StringLike":    map[string]any{"dynamodb:LeadingKeys": []any{store.FeedLeadingKeys}},
				"ForAllValues:StringNotLike": map[string]any{"dynamodb:LeadingKeys": anyList(store.MoveExcludedLeadingKeys)},
			},
		},
		map[string]any{
			"Sid": "ReadChangeStream", "Effect": "Allow",
			"Action":   []any{"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"},
			"Resource": map[string]any{"Fn::GetAtt": []any{tableID, "StreamArn"}},
		},
		map[string]any{
			"Sid": "ListChangeStreams", "Effect": "Allow", "Action": "dynamodb:ListStreams",
			"Resource": map[string]any{"Fn::Sub": "${" + tableID + ".Arn}/stream/*"},
		},
		map[string]any{
			"Sid": "ReportLostBatches", "Effect": "Allow", "Action": "sqs:SendMessage",
			"Resource": map[string]any{"Fn::GetAtt": []any{queueID, "Arn"}},
		},
		map[string]any{
			"Sid": "PutChangeEvents", "Effect": "Allow", "Action": "events:PutEvents",
			"Resource": map[string]any{"Fn::GetAtt": []any{busID, "Arn"}},
		},
		map[string]any{
			"Sid": "QueueWebhookDeliveries", "Effect": "Allow", "Action": "sqs:SendMessage",
			"Resource": map[string]any{"Fn::GetAtt": []any{webhookQueueID, "Arn"}},
		},
	}}
}

// wantDelivererPolicy is the webhook deliverer's grant as parseTemplate
// reads it, and all the access it has: reads and writes (TransactWriteItems
// checks each item against these actions) in the webhook and delivery
// partitions only, and Query in the feeds only, in the store's terms, never
// in a name guard's or an idempotency record's partition; and the webhook
// queue's actions on that queue alone.
func wantDelivererPolicy(tableID, webhookQueueID string) map[string]any {
	table := func(sid string, actions any, keys []string) map[string]any {
		return map[string]any{
			"Sid": sid, "Effect": "Allow", "Action": actions,
			"Resource": map[string]any{"Fn::GetAtt": []any{tableID, "Arn"}},
			"Condition": map[string]any{
				"ForAllValues:StringLike":    map[string]any{"dynamodb:LeadingKeys": anyList(keys)},
				"ForAllValues:StringNotLike": map[string]any{"dynamodb:LeadingKeys": anyList(store.MoveExcludedLeadingKeys)},
			},
		}
	}
	return map[string]any{"Statement": []any{
		table("KeepWebhookDeliveries", []any{"dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem"}, store.WebhookLeadingKeys),
		table("ReadFeedsToCatchUp", "dynamodb:Query", []string{store.FeedLeadingKeys}),
		map[string]any{
			"Sid": "ConsumeWebhookQueue", "Effect": "Allow",
			"Action": []any{"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
				"sqs:ChangeMessageVisibility", "sqs:SendMessage"},
			"Resource": map[string]any{"Fn::GetAtt": []any{webhookQueueID, "Arn"}},
		},
	}}
}

// checkStreamEvent holds the publisher's DynamoDB event to the event source
// mapping both deployments declare (routes' deploy.go): the table's stream
// from its oldest record, lost batches to the failure queue, and only the
// records of items that make events (store.ChangeSortKeys).
func checkStreamEvent(id, name string, props any, tableID, queueID string) []string {
	var problems []string
	if !isGetAtt(at(props, "Stream"), tableID, "StreamArn") {
		problems = append(problems, fmt.Sprintf("%s event %s: Stream is %v, not the StreamArn of %s", id, name, at(props, "Stream"), tableID))
	}
	if !isGetAtt(at(props, "DestinationConfig", "OnFailure", "Destination"), queueID, "Arn") {
		problems = append(problems, fmt.Sprintf("%s event %s: OnFailure destination is %v, not the Arn of %s", id, name,
			at(props, "DestinationConfig", "OnFailure", "Destination"), queueID))
	}
	if typ := at(props, "DestinationConfig", "OnFailure", "Type"); typ != nil {
		// SAM would add a policy of its own for it.
		problems = append(problems, fmt.Sprintf("%s event %s: OnFailure Type %v; the publisher's grant covers the queue", id, name, typ))
	}
	for _, s := range []struct {
		key  string
		want any
	}{
		{"StartingPosition", "TRIM_HORIZON"},
		{"BatchSize", routes.ChangeBatchSize},
		{"MaximumBatchingWindowInSeconds", routes.ChangeBatchingWindowSeconds},
		{"ParallelizationFactor", routes.ChangeParallelizationFactor},
		{"BisectBatchOnFunctionError", true},
		{"MaximumRetryAttempts", routes.ChangeMaxRetryAttempts},
		{"MaximumRecordAgeInSeconds", routes.ChangeMaxRecordAgeSeconds},
	} {
		if v := at(props, s.key); !reflect.DeepEqual(v, s.want) {
			problems = append(problems, fmt.Sprintf("%s event %s: %s is %v, want %v", id, name, s.key, v, s.want))
		}
	}
	filters := asList(at(props, "FilterCriteria", "Filters"))
	if len(filters) != 1 {
		return append(problems, fmt.Sprintf("%s event %s: FilterCriteria has %d filters, want 1", id, name, len(filters)))
	}
	pattern, _ := at(filters[0], "Pattern").(string)
	var got any
	if err := json.Unmarshal([]byte(pattern), &got); err != nil || !reflect.DeepEqual(got, wantChangeFilter()) {
		problems = append(problems, fmt.Sprintf("%s event %s: FilterCriteria pattern %q, want %v", id, name, pattern, wantChangeFilter()))
	}
	return problems
}

// wantChangeFilter is the stream filter, decoded: the records whose SK is
// one of store.ChangeSortKeys.Exact or starts with one of its Prefixes.
func wantChangeFilter() any {
	var sks []any
	for _, sk := range store.ChangeSortKeys.Exact {
		sks = append(sks, sk)
	}
	for _, p := range store.ChangeSortKeys.Prefixes {
		sks = append(sks, map[string]any{"prefix": p})
	}
	return map[string]any{"dynamodb": map[string]any{"Keys": map[string]any{store.AttrSK: map[string]any{"S": sks}}}}
}

// checkFailureQueue: the queue keeps a lost batch's record for
// routes.ChangeFailureRetentionDays, encrypted.
func checkFailureQueue(id string, props any) []string {
	var problems []string
	for _, s := range []struct {
		key  string
		want any
	}{
		{"MessageRetentionPeriod", routes.ChangeFailureRetentionDays * 24 * 60 * 60},
		{"SqsManagedSseEnabled", true},
	} {
		if v := at(props, s.key); !reflect.DeepEqual(v, s.want) {
			problems = append(problems, fmt.Sprintf("%s: %s is %v, want %v", id, s.key, v, s.want))
		}
	}
	return problems
}

// checkQueueEvent holds the deliverer's SQS event to the event source
// mapping both deployments declare (routes' deploy.go): the webhook queue,
// in batches whose failed messages are reported alone, to a bounded number
// of functions at once.
func checkQueueEvent(id, name string, props any, queueID string) []string {
	var problems []string
	if !isGetAtt(at(props, "Queue"), queueID, "Arn") {
		problems = append(problems, fmt.Sprintf("%s event %s: Queue is %v, not the Arn of %s", id, name, at(props, "Queue"), queueID))
	}
	for _, s := range []struct {
		key  string
		want any
	}{
		{"BatchSize", routes.WebhookBatchSize},
		{"FunctionResponseTypes", []any{"ReportBatchItemFailures"}},
		{"ScalingConfig", map[string]any{"MaximumConcurrency": routes.WebhookMaxConcurrency}},
		// A window would hold deliveries back.
		{"MaximumBatchingWindowInSeconds", nil},
	} {
		if v := at(props, s.key); !reflect.DeepEqual(v, s.want) {
			problems = append(problems, fmt.Sprintf("%s event %s: %s is %v, want %v", id, name, s.key, v, s.want))
		}
	}
	return problems
}

// checkWebhookQueue: the webhook queue hides a message the deliverer holds
// for routes.WebhookVisibilitySeconds, keeps it as long as its deliveries
// are retried, encrypted, and hands one received routes.WebhookMaxReceives
// times to the dead-letter queue; a standard queue, which the messages'
// group ids make fair.
func checkWebhookQueue(id string, props any, deadLettersID string) []string {
	var problems []string
	redrive := at(props, "RedrivePolicy")
	if !isGetAtt(at(redrive, "deadLetterTargetArn"), deadLettersID, "Arn") || at(redrive, "maxReceiveCount") != routes.WebhookMaxReceives {
		problems = append(problems, fmt.Sprintf("%s: RedrivePolicy is %v, want the Arn of %s after %d receives", id, redrive, deadLettersID, routes.WebhookMaxReceives))
	}
	for _, s := range []struct {
		key  string
		want any
	}{
		{"VisibilityTimeout", routes.WebhookVisibilitySeconds},
		{"MessageRetentionPeriod", routes.WebhookRetentionSeconds},
		{"SqsManagedSseEnabled", true},
		{"FifoQueue", nil},
	} {
		if v := at(props, s.key); !reflect.DeepEqual(v, s.want) {
			problems = append(problems, fmt.Sprintf("%s: %s is %v, want %v", id, s.key, v, s.want))
		}
	}
	return problems
}

// checkDeadLetters: the dead-letter queue keeps what the deliverer could
// not handle for routes.WebhookDLQRetentionDays, encrypted.
func checkDeadLetters(id string, props any) []string {
	var problems []string
	for _, s := range []struct {
		key  string
		want any
	}{
		{"MessageRetentionPeriod", routes.WebhookDLQRetentionDays * 24 * 60 * 60},
		{"SqsManagedSseEnabled", true},
		{"RedrivePolicy", nil},
	} {
		if v := at(props, s.key); !reflect.DeepEqual(v, s.want) {
			problems = append(problems, fmt.Sprintf("%s: %s is %v, want %v", id, s.key, v, s.want))
		}
	}
	return problems
}

// checkQueueAlarm: the alarm goes off on the queue's first message, and
// not for want of data, and says what to do.
func checkQueueAlarm(id string, props any, queueID, description string) []string {
	var problems []string
	dims := asList(at(props, "Dimensions"))
	if len(dims) != 1 || at(dims[0], "Name") != "QueueName" || !isGetAtt(at(dims[0], "Value"), queueID, "QueueName") {
		problems = append(problems, fmt.Sprintf("%s: Dimensions %v, want the QueueName of %s", id, dims, queueID))
	}
	for _, s := range []struct {
		key  string
		want any
	}{
		{"Namespace", "AWS/SQS"},
		{"MetricName", "ApproximateNumberOfMessagesVisible"},
		{"Statistic", "Maximum"},
		{"Period", 60},
		{"EvaluationPeriods", 1},
		{"Threshold", 1},
		{"ComparisonOperator", "GreaterThanOrEqualToThreshold"},
		{"TreatMissingData", "notBreaching"},
		{"AlarmDescription", description + " " + runbook},
	} {
		if v := at(props, s.key); !reflect.DeepEqual(v, s.want) {
			problems = append(problems, fmt.Sprintf("%s: %s is %v, want %v", id, s.key, v, s.want))
		}
	}
	return problems
}

// wantTokenLookupPolicy is the authorizer's grant as parseTemplate reads it.
func wantTokenLookupPolicy(tableID string) map[string]any {
	return map[string]any{"Statement": []any{map[string]any{
		"Sid": "LookUpTokens", "Effect": "Allow", "Action": "dynamodb:GetItem",
		"Resource": map[string]any{"Fn::GetAtt": []any{tableID, "Arn"}},
	}}}
}

// wantMeteringPolicy is the metering grant as parseTemplate reads it.
func wantMeteringPolicy(tableID string) map[string]any {
	return map[string]any{"Statement": []any{map[string]any{
		"Sid": "CountCalls", "Effect": "Allow", "Action": "dynamodb:UpdateItem",
		"Resource": map[string]any{"Fn::GetAtt": []any{tableID, "Arn"}},
		"Condition": map[string]any{
			"ForAllValues:StringLike": map[string]any{
				"dynamodb:LeadingKeys": anyList([]string{store.MeterLeadingKeys}),
				"dynamodb:Attributes":  anyList(store.MeterAttributes()),
			},
			"ForAllValues:StringNotLike": map[string]any{"dynamodb:LeadingKeys": anyList([]string{store.MeterExcludedLeadingKeys})},
			"StringEqualsIfExists":       map[string]any{"dynamodb:ReturnValues": anyList(store.MeterReturnValues())},
		},
	}}}
}

// checkEventAuth holds an Api event to its route's access: a public route
// opts out of the default authorizer and the API key, and no other route may
// touch either.
func checkEventAuth(id, event string, public bool, auth any) []string {
	if public {
		if at(auth, "Authorizer") != "NONE" || at(auth, "ApiKeyRequired") != false {
			return []string{fmt.Sprintf("%s event %s: public route, but Auth is %v; want Authorizer NONE and ApiKeyRequired false", id, event, auth)}
		}
		return nil
	}
	if auth != nil {
		return []string{fmt.Sprintf("%s event %s: Auth %v overrides the default authorizer or API key", id, event, auth)}
	}
	return nil
}

// checkTable compares the table's schema with store.TableDefinition, the one
// the tests and the local server create.
func checkTable(id string, props any) []string {
	def := store.TableDefinition("x")
	var problems []string
	differ := func(what string, got, want any) {
		if !reflect.DeepEqual(got, want) {
			problems = append(problems, fmt.Sprintf("%s: %s is %v, want %v", id, what, got, want))
		}
	}
	differ("BillingMode", at(props, "BillingMode"), string(def.BillingMode))

	// Attribute definitions are a set; key schemas are ordered (HASH first).
	wantAttrs := map[string]string{}
	for _, a := range def.AttributeDefinitions {
		wantAttrs[*a.AttributeName] = string(a.AttributeType)
	}
	gotAttrs := map[string]string{}
	for _, a := range asList(at(props, "AttributeDefinitions")) {
		gotAttrs[fmt.Sprint(at(a, "AttributeName"))] = fmt.Sprint(at(a, "AttributeType"))
	}
	differ("AttributeDefinitions", gotAttrs, wantAttrs)

	var wantKeys []string
	for _, k := range def.KeySchema {
		wantKeys = append(wantKeys, *k.AttributeName, string(k.KeyType))
	}
	differ("KeySchema", keyList(at(props, "KeySchema")), wantKeys)

	wantGSIs := map[string][]string{}
	for _, g := range def.GlobalSecondaryIndexes {
		var ks []string
		for _, k := range g.KeySchema {
			ks = append(ks, *k.AttributeName, string(k.KeyType))
		}
		wantGSIs[*g.IndexName] = append(ks, "projection", string(g.Projection.ProjectionType))
	}
	gotGSIs := map[string][]string{}
	for _, g := range asList(at(props, "GlobalSecondaryIndexes")) {
		gotGSIs[fmt.Sprint(at(g, "IndexName"))] = append(keyList(at(g, "KeySchema")),
			"projection", fmt.Sprint(at(g, "Projection", "ProjectionType")))
	}
	differ("GlobalSecondaryIndexes", gotGSIs, wantGSIs)

	differ("TimeToLiveSpecification", at(props, "TimeToLiveSpecification"),
		map[string]any{"AttributeName": store.AttrExpires, "Enabled": true})

	// CloudFormation names only the view type of an enabled stream.
	var wantStream any
	if st := def.StreamSpecification; st != nil && st.StreamEnabled != nil && *st.StreamEnabled {
		wantStream = map[string]any{"StreamViewType": string(st.StreamViewType)}
	}
	differ("StreamSpecification", at(props, "StreamSpecification"), wantStream)
	return problems
}

// checkAuthorizer requires the authorizer Lambda to guard every route: it is
// the API's default authorizer, called with the request.
func checkAuthorizer(apiID string, auth any) []string {
	fnID := routes.LogicalName(routes.Authorizer) + "Function"
	name, _ := at(auth, "DefaultAuthorizer").(string)
	if name == "" {
		return []string{fmt.Sprintf("%s: no DefaultAuthorizer; want the Lambda authorizer %s", apiID, fnID)}
	}
	var problems []string
	a := at(auth, "Authorizers", name)
	if !isGetAtt(at(a, "FunctionArn"), fnID, "Arn") {
		problems = append(problems, fmt.Sprintf("%s: default authorizer %s: FunctionArn is not the Arn of %s", apiID, name, fnID))
	}
	if v := at(a, "FunctionPayloadType"); v != "REQUEST" {
		problems = append(problems, fmt.Sprintf("%s: default authorizer %s: FunctionPayloadType is %v, want REQUEST", apiID, name, v))
	}
	if v := at(auth, "ApiKeyRequired"); v != true {
		problems = append(problems, fmt.Sprintf("%s: Auth.ApiKeyRequired is %v, want true", apiID, v))
	}
	return problems
}

// at walks nested mappings; it returns nil where a key is missing.
func at(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func asList(v any) []any { l, _ := v.([]any); return l }

// keyList flattens a key schema to [name type name type ...].
func keyList(v any) []string {
	var out []string
	for _, k := range asList(v) {
		out = append(out, fmt.Sprint(at(k, "AttributeName")), fmt.Sprint(at(k, "KeyType")))
	}
	return out
}

func isRef(v any, id string) bool {
	m, ok := v.(map[string]any)
	return ok && id != "" && len(m) == 1 && m["Ref"] == id
}

func isGetAtt(v any, id, attribute string) bool {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return false
	}
	switch ga := m["Fn::GetAtt"].(type) {
	case string:
		return ga == id+"."+attribute
	case []any:
		return reflect.DeepEqual(ga, []any{id, attribute})
	}
	return false
}

// mapAt is at for test edits: it fails the test where the path is missing.
func mapAt(t *testing.T, v any, keys ...string) map[string]any {
	t.Helper()
	m, ok := at(v, keys...).(map[string]any)
	if !ok {
		t.Fatalf("template has no mapping at %s", strings.Join(keys, "."))
	}
	return m
}

// artifactsDir is where SAM would want the binary; make -n only prints it.
const artifactsDir = "/tmp/x"

func TestMakefileBuildsEveryFunction(t *testing.T) {
	t.Run("folders-match-route-table", func(t *testing.T) {
		entries, err := os.ReadDir(filepath.Join(repoRoot, "functions"))
		if err != nil {
			t.Fatal(err)
		}
		var dirs, ops []string
		for _, e := range entries {
			if e.IsDir() {
				dirs = append(dirs, e.Name())
			}
		}
		for _, fn := range routes.Functions {
			ops = append(ops, string(fn.Operation))
		}
		for _, d := range dirs {
			if !slices.Contains(ops, d) {
				t.Errorf("functions/%s is not an operation in routes.Functions", d)
			}
		}
		for _, op := range ops {
			if !slices.Contains(dirs, op) {
				t.Errorf("routes.Functions has %s but there is no functions/%s", op, op)
			}
		}
	})

	makefile, err := os.ReadFile(filepath.Join(repoRoot, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^build-%Function:`).Match(makefile) {
		t.Fatalf("Makefile has no %s rule; SAM's makefile builder runs build-<LogicalId>", "build-%Function")
	}
	makeCmd, err := exec.LookPath("make")
	if err != nil {
		t.Skip("make is not installed:", err)
	}
	for _, fn := range routes.Functions {
		target := "build-" + routes.LogicalName(fn.Operation) + "Function"
		t.Run(target, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(makeCmd, "-n", "--no-print-directory", target, "ARTIFACTS_DIR="+artifactsDir)
			cmd.Dir = repoRoot
			cmd.Env = makeEnv()
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("make -n %s: %v\n%s", target, err, stderr.String())
			}
			for _, p := range checkBuildCommand(fn.Operation, string(out)) {
				t.Error(p)
			}
		})
	}
}

// makeEnv is the test's environment without what a parent make (make test)
// passes down, which would change how the child make runs.
func makeEnv() []string {
	return slices.DeleteFunc(os.Environ(), func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		return name == "MAKEFLAGS" || name == "MFLAGS" || name == "MAKELEVEL" || name == "ARTIFACTS_DIR"
	})
}

// goBuildValueFlags are the go build flags whose value may follow as the next
// word (-o file rather than -o=file).
var goBuildValueFlags = map[string]bool{
	"C": true, "o": true, "p": true, "tags": true, "ldflags": true, "gcflags": true,
	"asmflags": true, "gccgoflags": true, "buildmode": true, "compiler": true,
	"installsuffix": true, "mod": true, "modfile": true, "overlay": true, "pgo": true,
	"pkgdir": true, "toolexec": true, "covermode": true, "coverpkg": true,
}

// envAssignment is a NAME=value word in front of a command.
var envAssignment = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)

// checkBuildCommand checks what make -n printed for op's build target: one go
// build of functions/<op> for Lambda's arm64 runtime, without the RPC shim,
// writing bootstrap where SAM collects it.
func checkBuildCommand(op routes.Operation, output string) []string {
	type build struct {
		env   map[string]string
		flags map[string][]string
		pkgs  []string
	}
	var builds []build
	for _, line := range strings.Split(output, "\n") {
		words, err := shellWords(line)
		if err != nil {
			return []string{fmt.Sprintf("%s: cannot split %q: %v", op, line, err)}
		}
		if len(words) > 0 && words[0] == "env" {
			words = words[1:]
		}
		b := build{env: map[string]string{}, flags: map[string][]string{}}
		i := 0
		for ; i < len(words) && envAssignment.MatchString(words[i]); i++ {
			k, v, _ := strings.Cut(words[i], "=")
			b.env[k] = v
		}
		if i+1 >= len(words) || words[i+1] != "build" {
			continue
		}
		for j := i + 2; j < len(words); j++ {
			w := words[j]
			if !strings.HasPrefix(w, "-") {
				b.pkgs = append(b.pkgs, w)
				continue
			}
			name, value, hasValue := strings.Cut(strings.TrimLeft(w, "-"), "=")
			if !hasValue && goBuildValueFlags[name] && j+1 < len(words) {
				j++
				value = words[j]
			}
			b.flags[name] = append(b.flags[name], value)
		}
		builds = append(builds, b)
	}
	if len(builds) != 1 {
		return []string{fmt.Sprintf("%s: want exactly one go build command, make printed:\n%s", op, output)}
	}
	b := builds[0]
	var problems []string
	report := func(format string, args ...any) {
		problems = append(problems, fmt.Sprintf("%s: ", op)+fmt.Sprintf(format, args...))
	}
	for k, v := range map[string]string{"GOOS": "linux", "GOARCH": "arm64", "CGO_ENABLED": "0"} {
		if b.env[k] != v {
			report("%s=%q, want %s", k, b.env[k], v)
		}
	}
	var tags []string
	for _, v := range b.flags["tags"] {
		tags = append(tags, strings.Split(v, ",")...)
	}
	for _, want := range []string{"lambda.norpc", "nethttpomithttp2"} {
		if !slices.Contains(tags, want) {
			report("build tags %v lack %s", tags, want)
		}
	}
	if v, ok := b.flags["trimpath"]; !ok || slices.Contains(v, "false") {
		report("no -trimpath")
	}
	if o := b.flags["o"]; len(o) != 1 || o[0] != artifactsDir+"/bootstrap" {
		report("-o %v, want %s/bootstrap", o, artifactsDir)
	}
	if want := "./functions/" + string(op); !slices.Equal(b.pkgs, []string{want}) {
		report("builds %v, want %s", b.pkgs, want)
	}
	return problems
}

func TestCheckBuildCommand(t *testing.T) {
	const good = `CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build -tags lambda.norpc,nethttpomithttp2 -trimpath -ldflags "-s -w" -o /tmp/x/bootstrap ./functions/get-group`
	tests := []struct {
		name, output, want string // want "" means no problem
	}{
		{"makefile-line-passes", good + "\n", ""},
		{"equals-form-passes", `env GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build -tags=foo,nethttpomithttp2,lambda.norpc -trimpath=true -o=/tmp/x/bootstrap ./functions/get-group`, ""},
		{"wrong-arch", strings.Replace(good, "arm64", "amd64", 1), `GOARCH="amd64", want arm64`},
		{"cgo-enabled", strings.Replace(good, "CGO_ENABLED=0 ", "", 1), `CGO_ENABLED="", want 0`},
		{"no-norpc-tag", strings.Replace(good, "lambda.norpc,", "", 1), "lack lambda.norpc"},
		{"http2-left-in", strings.Replace(good, ",nethttpomithttp2", "", 1), "lack nethttpomithttp2"},
		{"no-trimpath", strings.Replace(good, "-trimpath ", "", 1), "no -trimpath"},
		{"output-elsewhere", strings.Replace(good, "/tmp/x/bootstrap", "bootstrap", 1), "-o [bootstrap]"},
		{"other-package", strings.Replace(good, "get-group", "list-groups", 1), "builds [./functions/list-groups]"},
		{"ldflags-value-not-a-package", strings.Replace(good, `"-s -w"`, "-s", 1), ""},
		{"no-build", "echo nothing\n", "want exactly one go build"},
		{"two-builds", good + "\n" + good + "\n", "want exactly one go build"},
		{"unterminated-quote", `go build -ldflags "-s`, "cannot split"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			problems := checkBuildCommand(routes.GetGroup, tt.output)
			if tt.want == "" {
				if len(problems) > 0 {
					t.Errorf("want no problems, got %q", problems)
				}
				return
			}
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tt.want) }) {
				t.Errorf("no problem mentions %q; got %q", tt.want, problems)
			}
		})
	}
}

// shellWords splits a command line as sh would for the quoting make -n
// prints: single and double quotes and backslash escapes, no expansions. It
// simplifies one rule: inside double quotes a backslash always escapes the
// next character, where sh keeps it unless $, `, ", \ or a newline follows.
func shellWords(line string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	escaped := false
	for _, r := range line {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case quote == '\'':
			if r == '\'' {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case quote == '"':
			switch r {
			case '"':
				quote = 0
			case '\\':
				escaped = true
			default:
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == '\\':
			escaped, inWord = true, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 || escaped {
		return nil, fmt.Errorf("unterminated quote or escape")
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}
