package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/fleetgroups/fleetgroups/pkg/problem"
	"github.com/fleetgroups/fleetgroups/pkg/routes"
	"github.com/fleetgroups/fleetgroups/pkg/store"
)

// testProps differ from the defaults so the tests see the props flow through.
var testProps = FleetgroupsStackProps{
	DeletionProtection: true,
	RateLimit:          7,
	BurstLimit:         11,
	QuotaPerDay:        1234,
	TreeMaxDepth:       4,
	Alarms: AlarmSettings{
		Email:             "oncall@example.com",
		ServerErrorRate:   0.05,
		ClientErrors:      250,
		FunctionErrors:    3,
		FunctionThrottles: 2,
		FunctionP99Ms:     8000,
		AuthorizerErrors:  4,
	},
}

// Synthesis through jsii takes seconds, so TestMain does it once and every
// test reads the same templates.
var (
	app       awscdk.App                       // the app that holds it, and any nested stacks
	tmpl      assertions.Template              // the full stack with testProps
	fnIDs     map[routes.Operation]string      // logical id of each operation's Lambda
	ids       map[string]string                // logical id of each namedConstructs entry
	tableTmpl = map[bool]assertions.Template{} // table alone, by deletion protection
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	defer jsii.Close()
	dir, err := os.MkdirTemp("", "fleetgroups-infra-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)

	start := time.Now()
	if err := placeholderAssets(dir); err != nil {
		fmt.Fprintln(os.Stderr, "infra tests:", err)
		return 1
	}

	props := testProps
	props.AssetsDir = dir
	app = awscdk.NewApp(&awscdk.AppProps{Context: &featureFlags, Outdir: jsii.String(filepath.Join(dir, "cdk.out"))})
	stack := NewFleetgroupsStack(app, "Test", &props)
	tmpl = assertions.Template_FromStack(stack, nil)
	fnIDs = make(map[routes.Operation]string)
	for _, f := range routes.Functions {
		fn := stack.Node().FindChild(jsii.String(routes.LogicalName(f.Operation) + "Function"))
		fnIDs[f.Operation] = *stack.GetLogicalId(fn.Node().DefaultChild().(awscdk.CfnElement))
	}
	ids = make(map[string]string)
	for _, name := range namedConstructs {
		c := stack.Node().FindChild(jsii.String(name))
		el, ok := c.Node().DefaultChild().(awscdk.CfnElement) // an L2 construct's resource
		if !ok {
			el = c.(awscdk.CfnElement) // an L1 construct is its resource
		}
		ids[name] = *stack.GetLogicalId(el)
	}

	// The table is all that deletion protection changes; a stack with only
	// the table checks the unprotected case without a second full synth.
	for _, protected := range []bool{true, false} {
		s := awscdk.NewStack(awscdk.NewApp(nil), jsii.String("Table"), nil)
		newTable(s, protected)
		tableTmpl[protected] = assertions.Template_FromStack(s, nil)
	}
	fmt.Fprintf(os.Stderr, "infra tests: synthesised in %v\n", time.Since(start).Round(time.Millisecond))
	return m.Run()
}

// namedConstructs are the constructs that the tests tell apart from others
// of their type by their construct id (ids holds their logical ids).
var namedConstructs = append([]string{
	"ChangeBus", "ChangeFailures", "PublishChangesStream",
	"WebhookQueue", "WebhookDeadLetters", "DeliverWebhooksQueue",
	"Alarms", "Dashboard", // issue 10: the alarms' topic, the dashboard
}, alarmIDs...)

// placeholderAssets writes dir/<op>/bootstrap for every function, as make
// build lays them out, so the stack can be synthesised without building 20
// binaries: what the tests check is the template, not the code. Each
// placeholder names its operation, so the assets differ as real ones would.
// That every function builds for Lambda's linux/arm64 is checked by make test
// (the lambda-check target), and make synth and make deploy build the real
// binaries.
func placeholderAssets(dir string) error {
	for _, f := range routes.Functions {
		op := string(f.Operation)
		if err := os.MkdirAll(filepath.Join(dir, op), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, op, "bootstrap"), []byte("placeholder for "+op+"\n"), 0o755); err != nil {
			return err
		}
	}
	return checkAssets(dir)
}

// jsii reports failed assertions as panics; turn them into test failures.
func check(t *testing.T, assertion func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("%v", r)
		}
	}()
	assertion()
}

type resource = map[string]any

func resources(t *testing.T, tp assertions.Template, typ string) map[string]resource {
	t.Helper()
	found := tp.FindResources(jsii.String(typ), nil)
	out := make(map[string]resource, len(*found))
	for id, r := range *found {
		out[id] = *r
	}
	return out
}

func props(r resource) map[string]any {
	p, _ := r["Properties"].(map[string]any)
	return p
}

// ref is {"Ref": id}; getAtt is {"Fn::GetAtt": [id, attr]}: how CloudFormation
// writes references between resources.
func ref(id string) any { return map[string]any{"Ref": id} }

func getAtt(id, attr string) any { return map[string]any{"Fn::GetAtt": []any{id, attr}} }

// refsTo collects every logical id that v references, leaving out pseudo
// parameters such as AWS::Region.
func refsTo(v any) map[string]bool {
	ids := map[string]bool{}
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if id, ok := v["Ref"].(string); ok && !strings.HasPrefix(id, "AWS::") {
				ids[id] = true
			}
			if att, ok := v["Fn::GetAtt"].([]any); ok && len(att) > 0 {
				ids[fmt.Sprint(att[0])] = true
			}
			for _, x := range v {
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(v)
	return ids
}

func onlyID(t *testing.T, m map[string]resource) string {
	t.Helper()
	if len(m) != 1 {
		t.Fatalf("want exactly one resource, got %d", len(m))
	}
	for id := range m {
		return id
	}
	return ""
}

// methodPaths gives every AWS::ApiGateway::Method as "METHOD /full/path",
// the path rebuilt by walking the resources' ParentId up to the API root.
func methodPaths(t *testing.T) map[string]resource {
	t.Helper()
	res := resources(t, tmpl, "AWS::ApiGateway::Resource")
	var path func(parent any) string
	path = func(parent any) string {
		m, _ := parent.(map[string]any)
		id, isRef := m["Ref"].(string)
		if !isRef {
			return "" // Fn::GetAtt [api, RootResourceId]
		}
		r, ok := res[id]
		if !ok {
			t.Fatalf("resource %s is not an AWS::ApiGateway::Resource", id)
		}
		return path(props(r)["ParentId"]) + "/" + props(r)["PathPart"].(string)
	}
	out := map[string]resource{}
	for id, m := range resources(t, tmpl, "AWS::ApiGateway::Method") {
		p := path(props(m)["ResourceId"])
		if p == "" {
			p = "/"
		}
		key := props(m)["HttpMethod"].(string) + " " + p
		if _, dup := out[key]; dup {
			t.Errorf("%s is declared twice (again as %s)", key, id)
		}
		out[key] = m
	}
	return out
}

func TestEveryRouteIsAnAuthorizedProxyMethodOfItsOperationsLambda(t *testing.T) {
	// GIVEN the synthesised stack
	authorizer := onlyID(t, resources(t, tmpl, "AWS::ApiGateway::Authorizer"))

	// WHEN its methods are read back as full paths
	methods := methodPaths(t)

	// THEN each route is one method with its operation's Lambda behind it
	for _, r := range routes.Routes {
		key := r.Method + " " + r.Path
		t.Run(key, func(t *testing.T) {
			m, ok := methods[key]
			if !ok {
				t.Fatalf("no method %s", key)
			}
			p := props(m)
			integ, _ := p["Integration"].(map[string]any)
			if integ["Type"] != "AWS_PROXY" || integ["IntegrationHttpMethod"] != "POST" {
				t.Errorf("integration = %v %v, want AWS_PROXY POST", integ["Type"], integ["IntegrationHttpMethod"])
			}
			if got, want := refsTo(integ["Uri"]), map[string]bool{fnIDs[r.Operation]: true}; !reflect.DeepEqual(got, want) {
				t.Errorf("integration invokes %v, want the %s Lambda %v", got, r.Operation, want)
			}
			if routes.IsPublic(r.Operation) {
				// Public: neither authorized nor metered.
				if p["AuthorizationType"] != "NONE" || p["AuthorizerId"] != nil {
					t.Errorf("authorization = %v %v, want NONE for a public route", p["AuthorizationType"], p["AuthorizerId"])
				}
				if p["ApiKeyRequired"] != false {
					t.Errorf("ApiKeyRequired = %v, want false for a public route", p["ApiKeyRequired"])
				}
				return
			}
			if p["AuthorizationType"] != "CUSTOM" || !reflect.DeepEqual(p["AuthorizerId"], ref(authorizer)) {
				t.Errorf("authorization = %v %v, want CUSTOM by %s", p["AuthorizationType"], p["AuthorizerId"], authorizer)
			}
			if p["ApiKeyRequired"] != true {
				t.Errorf("ApiKeyRequired = %v, want true", p["ApiKeyRequired"])
			}
		})
	}

	// AND nothing but the route table and the 405 fallbacks is routed
	want := map[string]bool{}
	for _, r := range routes.Routes {
		want[r.Method+" "+r.Path] = true
	}
	for key := range methods {
		if !want[key] && !strings.HasPrefix(key, "ANY ") {
			t.Errorf("method %s is not in routes.Routes", key)
		}
	}
}

func TestWrongMethodsOnRoutedPathsAnswer405(t *testing.T) {
	// GIVEN the methods the route table allows per path
	allowed := map[string][]string{}
	for _, r := range routes.Routes {
		allowed[r.Path] = append(allowed[r.Path], r.Method)
	}

	// WHEN the ANY methods are read back
	methods := methodPaths(t)
	var anyPaths []string
	for key := range methods {
		if p, ok := strings.CutPrefix(key, "ANY "); ok {
			anyPaths = append(anyPaths, p)
		}
	}

	// THEN every routed path, and only those, has one answering 405 from a
	// MOCK, open to anyone, with the Allow header and a problem body
	if len(anyPaths) != len(allowed) {
		t.Errorf("%d ANY methods, want one per routed path (%d)", len(anyPaths), len(allowed))
	}
	for path, verbs := range allowed {
		t.Run(path, func(t *testing.T) {
			m, ok := methods["ANY "+path]
			if !ok {
				t.Fatal("no ANY method")
			}
			p := props(m)
			if p["AuthorizationType"] != "NONE" || p["ApiKeyRequired"] == true {
				t.Errorf("authorization = %v, api key %v; want NONE without key", p["AuthorizationType"], p["ApiKeyRequired"])
			}
			integ := p["Integration"].(map[string]any)
			if integ["Type"] != "MOCK" {
				t.Fatalf("integration %v, want MOCK", integ["Type"])
			}
			responses := integ["IntegrationResponses"].([]any)
			if len(responses) != 1 {
				t.Fatalf("%d integration responses, want 1", len(responses))
			}
			resp := responses[0].(map[string]any)
			if resp["StatusCode"] != "405" {
				t.Errorf("status %v, want 405", resp["StatusCode"])
			}
			params := resp["ResponseParameters"].(map[string]any)
			sort.Strings(verbs)
			if got, want := params["method.response.header.Allow"], "'"+strings.Join(verbs, ", ")+"'"; got != want {
				t.Errorf("Allow = %v, want %s", got, want)
			}
			for name, want := range map[string]string{"Content-Type": "'application/problem+json'",
				"Cache-Control": "'no-store'", "X-Content-Type-Options": "'nosniff'"} {
				if got := params["method.response.header."+name]; got != want {
					t.Errorf("%s = %v, want %s", name, got, want)
				}
			}
			body := resp["ResponseTemplates"].(map[string]any)["application/json"].(string)
			checkProblem(t, body, 405, "method_not_allowed")
		})
	}
}

// checkProblem parses a response template as RFC 9457 problem details.
func checkProblem(t *testing.T, body string, status int, code string) {
	t.Helper()
	var p problem.Problem
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("body is not a problem object: %v\n%s", err, body)
	}
	if p.Status != status || string(p.Code) != code || p.Type != problem.TypeBase+code || p.Title == "" || p.Detail == "" {
		t.Errorf("problem = %+v, want status %d code %s", p, status, code)
	}
	if p.RequestID != "$context.requestId" {
		t.Errorf("request_id = %q, want $context.requestId", p.RequestID)
	}
}

func TestOneLambdaPerFunctionAndNoMore(t *testing.T) {
	// GIVEN the synthesised stack
	table := onlyID(t, resources(t, tmpl, "AWS::DynamoDB::Table"))

	// WHEN the Lambdas are counted
	// THEN there is one per routes.Functions entry, each a Go arm64 binary
	// that finds the table through TABLE_NAME
	check(t, func() {
		tmpl.ResourceCountIs(jsii.String("AWS::Lambda::Function"), jsii.Number(len(routes.Functions)))
	})
	fns := resources(t, tmpl, "AWS::Lambda::Function")
	for _, f := range routes.Functions {
		t.Run(string(f.Operation), func(t *testing.T) {
			fn, ok := fns[fnIDs[f.Operation]]
			if !ok {
				t.Fatalf("no Lambda %s", fnIDs[f.Operation])
			}
			p := props(fn)
			want := map[string]any{
				"Runtime":       "provided.al2023",
				"Architectures": []any{"arm64"},
				"Handler":       "bootstrap",
				"MemorySize":    float64(routes.LambdaMemoryMB),
				"Timeout":       float64(routes.LambdaTimeoutSeconds),
				"Description":   f.Description,
				"Environment": map[string]any{"Variables": map[string]any{
					"TABLE_NAME": ref(table),
					"LOG_LEVEL":  "info",
					// get-usage reports the usage plan's limits: testProps'.
					routes.EnvUsageRateLimit:   "7",
					routes.EnvUsageBurstLimit:  "11",
					routes.EnvUsageQuotaPerDay: "1234",
					// and the tree's depth limit
					routes.EnvTreeMaxDepth: "4",
				}},
			}
			vars := want["Environment"].(map[string]any)["Variables"].(map[string]any)
			if f.Operation == routes.PublishChanges {
				// The publisher alone puts events on the change bus.
				vars[routes.EnvEventBusName] = ref(onlyID(t, resources(t, tmpl, "AWS::Events::EventBus")))
			}
			if f.Operation == routes.PublishChanges || f.Operation == routes.DeliverWebhooks {
				// The publisher queues webhook deliveries, the deliverer
				// catch-ups; no other function knows the queue.
				vars[routes.EnvWebhookQueueURL] = ref(ids["WebhookQueue"])
			}
			if f.Operation == routes.DeliverWebhooks {
				// The deliverer waits on receivers, not on API Gateway.
				want["Timeout"] = float64(routes.WebhookTimeoutSeconds)
			}
			for k, v := range want {
				if !reflect.DeepEqual(p[k], v) {
					t.Errorf("%s = %v, want %v", k, p[k], v)
				}
			}
			logs := p["LoggingConfig"].(map[string]any)["LogGroup"]
			if lg, ok := resources(t, tmpl, "AWS::Logs::LogGroup")[refID(logs)]; !ok || props(lg)["RetentionInDays"] == nil {
				t.Errorf("log group %v is not a log group with retention", logs)
			}
		})
	}
}

func refID(v any) string {
	m, _ := v.(map[string]any)
	id, _ := m["Ref"].(string)
	return id
}

// readActions is everything a ReadOnly function may do with the table.
var readActions = []string{
	"dynamodb:BatchGetItem", "dynamodb:ConditionCheckItem", "dynamodb:DescribeTable",
	"dynamodb:GetItem", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
	"dynamodb:Query", "dynamodb:Scan",
}

var writeActions = []string{
	"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem",
}

// meteringGrant is the statement that lets a function count its calls, in
// the store's terms: the one write of read-only functions.
func meteringGrant(table string) map[string]any {
	attrs, returnValues := anyList(store.MeterAttributes()), anyList(store.MeterReturnValues())
	return map[string]any{
		"Sid": "CountCalls", "Effect": "Allow", "Action": "dynamodb:UpdateItem", "Resource": getAtt(table, "Arn"),
		"Condition": map[string]any{
			"ForAllValues:StringLike": map[string]any{
				"dynamodb:LeadingKeys": []any{store.MeterLeadingKeys},
				"dynamodb:Attributes":  attrs,
			},
			"ForAllValues:StringNotLike": map[string]any{"dynamodb:LeadingKeys": []any{store.MeterExcludedLeadingKeys}},
			"StringEqualsIfExists":       map[string]any{"dynamodb:ReturnValues": returnValues},
		},
	}
}

// anyList is ss as a synthesised template holds a list of strings.
func anyList(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// moveGrants are the statements that let a function that reads groups
// carry a move of groups on, in the store's terms, by Sid.
func moveGrants(table string) map[string]map[string]any {
	grant := func(sid, action string, keys []string) map[string]any {
		return map[string]any{
			"Sid": sid, "Effect": "Allow", "Action": action, "Resource": getAtt(table, "Arn"),
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
	return map[string]map[string]any{
		"CarryOnMoves": grant("CarryOnMoves", "dynamodb:UpdateItem", store.MoveLeadingKeys),
		"EndMoves":     grant("EndMoves", "dynamodb:DeleteItem", store.MoveEndLeadingKeys),
	}
}

// publisherGrants are the statements that only the change feed's publisher
// gets, by Sid: appending to the feeds, in the store's terms, and nowhere
// else; reading the table's stream and no other; reporting a lost batch to
// the failure queue alone; and queueing webhook deliveries on the webhook
// queue alone.
func publisherGrants(table, queue, bus, webhookQueue string) map[string]map[string]any {
	return map[string]map[string]any{
		"AppendToFeeds": {
			"Sid": "AppendToFeeds", "Effect": "Allow", "Action": []any{"dynamodb:PutItem", "dynamodb:BatchWriteItem"},
			"Resource": getAtt(table, "Arn"),
			"Condition": map[string]any{
				"ForAllValues:StringLike":    map[string]any{"dynamodb:LeadingKeys": []any{store.FeedLeadingKeys}},
				"ForAllValues:StringNotLike": map[string]any{"dynamodb:LeadingKeys": anyList(store.MoveExcludedLeadingKeys)},
			},
		},
		"ReadChangeStream": {
			"Sid": "ReadChangeStream", "Effect": "Allow",
			"Action":   []any{"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"},
			"Resource": getAtt(table, "StreamArn"),
		},
		"ListChangeStreams": {
			"Sid": "ListChangeStreams", "Effect": "Allow", "Action": "dynamodb:ListStreams",
			"Resource": map[string]any{"Fn::Join": []any{"", []any{getAtt(table, "Arn"), "/stream/*"}}},
		},
		"ReportLostBatches": {
			"Sid": "ReportLostBatches", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": getAtt(queue, "Arn"),
		},
		"PutChangeEvents": {
			"Sid": "PutChangeEvents", "Effect": "Allow", "Action": "events:PutEvents", "Resource": getAtt(bus, "Arn"),
		},
		"QueueWebhookDeliveries": {
			"Sid": "QueueWebhookDeliveries", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": getAtt(webhookQueue, "Arn"),
		},
	}
}

// delivererGrants are the statements that only the webhook deliverer gets,
// by Sid, and all the access it has besides its logs: reading and writing
// (TransactWriteItems checks each item against these actions) only in the
// webhook and delivery partitions, and querying only the feeds, in the
// store's terms, never in a name guard's or an idempotency record's
// partition; and the webhook queue's actions on that queue alone.
func delivererGrants(table, webhookQueue string) map[string]map[string]any {
	grant := func(sid string, actions any, keys []string) map[string]any {
		return map[string]any{
			"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": getAtt(table, "Arn"),
			"Condition": map[string]any{
				"ForAllValues:StringLike":    map[string]any{"dynamodb:LeadingKeys": anyList(keys)},
				"ForAllValues:StringNotLike": map[string]any{"dynamodb:LeadingKeys": anyList(store.MoveExcludedLeadingKeys)},
			},
		}
	}
	return map[string]map[string]any{
		"KeepWebhookDeliveries": grant("KeepWebhookDeliveries", []any{"dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem"}, store.WebhookLeadingKeys),
		"ReadFeedsToCatchUp":    grant("ReadFeedsToCatchUp", "dynamodb:Query", []string{store.FeedLeadingKeys}),
		"ConsumeWebhookQueue": {
			"Sid": "ConsumeWebhookQueue", "Effect": "Allow",
			"Action": []any{"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
				"sqs:ChangeMessageVisibility", "sqs:SendMessage"},
			"Resource": getAtt(webhookQueue, "Arn"),
		},
	}
}

func TestLambdasMayTouchOnlyTheTableAndTheirLogs(t *testing.T) {
	// GIVEN the table, the Lambdas, their roles and policies
	table := onlyID(t, resources(t, tmpl, "AWS::DynamoDB::Table"))
	tableARNs := []any{
		getAtt(table, "Arn"),
		map[string]any{"Fn::Join": []any{"", []any{getAtt(table, "Arn"), "/index/*"}}},
	}
	wantMetering := meteringGrant(table)
	wantMoves := moveGrants(table)
	wantPublisher := publisherGrants(table, ids["ChangeFailures"], onlyID(t, resources(t, tmpl, "AWS::Events::EventBus")), ids["WebhookQueue"])
	wantDeliverer := delivererGrants(table, ids["WebhookQueue"])
	fns := resources(t, tmpl, "AWS::Lambda::Function")
	roles := resources(t, tmpl, "AWS::IAM::Role")
	policies := resources(t, tmpl, "AWS::IAM::Policy")

	for _, f := range routes.Functions {
		t.Run(string(f.Operation), func(t *testing.T) {
			// WHEN the statements of the function's role are collected
			fn := props(fns[fnIDs[f.Operation]])
			role := fmt.Sprint(fn["Role"].(map[string]any)["Fn::GetAtt"].([]any)[0])
			if managed := props(roles[role])["ManagedPolicyArns"]; managed != nil {
				t.Errorf("role has managed policies %v", managed)
			}
			logGroup := refID(fn["LoggingConfig"].(map[string]any)["LogGroup"])
			var dynamo []string
			metering, moves, tracing := 0, 0, 0
			publisher, deliverer := map[string]int{}, map[string]int{}
			for _, pol := range policies {
				if !refsTo(props(pol)["Roles"])[role] {
					continue
				}
				doc := props(pol)["PolicyDocument"].(map[string]any)
				for _, s := range doc["Statement"].([]any) {
					st := s.(map[string]any)
					actions, targets := asList(st["Action"]), asList(st["Resource"])
					// THEN it carries moves on in the store's terms only ...
					if want, ok := wantMoves[fmt.Sprint(st["Sid"])]; ok {
						if !reflect.DeepEqual(sortedActions(st), sortedActions(want)) {
							t.Errorf("statement %v, want the move grant %v", st, want)
						}
						moves++
						continue
					}
					// ... appends to feeds, reads the stream and reports
					// lost batches in those terms only ...
					if want, ok := wantPublisher[fmt.Sprint(st["Sid"])]; ok {
						if !reflect.DeepEqual(sortedActions(st), sortedActions(want)) {
							t.Errorf("statement %v, want the publisher's grant %v", st, want)
						}
						publisher[fmt.Sprint(st["Sid"])]++
						continue
					}
					// ... delivers webhooks in those terms only ...
					if want, ok := wantDeliverer[fmt.Sprint(st["Sid"])]; ok {
						if !reflect.DeepEqual(sortedActions(st), sortedActions(want)) {
							t.Errorf("statement %v, want the deliverer's grant %v", st, want)
						}
						deliverer[fmt.Sprint(st["Sid"])]++
						continue
					}
					// ... counts calls in the store's terms only ...
					if st["Condition"] != nil || st["Sid"] == wantMetering["Sid"] {
						if !reflect.DeepEqual(sortedActions(st), sortedActions(wantMetering)) {
							t.Errorf("conditional statement %v, want the metering grant %v", st, wantMetering)
						}
						metering++
						continue
					}
					// ... sends its traces to X-Ray, which has no
					// resources to name ...
					if strings.HasPrefix(actions[0], "xray:") {
						if !reflect.DeepEqual(sortedActions(st), sortedActions(xrayGrant)) {
							t.Errorf("statement %v, want the X-Ray grant %v", st, xrayGrant)
						}
						tracing++
						continue
					}
					// ... writes only its own logs ...
					if strings.HasPrefix(actions[0], "logs:") {
						if !slices.Equal(actions, []string{"logs:CreateLogStream", "logs:PutLogEvents"}) ||
							!reflect.DeepEqual(st["Resource"], getAtt(logGroup, "Arn")) {
							t.Errorf("logs statement %v on %v, want writes to its log group", actions, st["Resource"])
						}
						continue
					}
					// ... and every other statement is on the table or its indexes
					for _, a := range actions {
						if !strings.HasPrefix(a, "dynamodb:") {
							t.Errorf("action %s is neither logs nor dynamodb", a)
						}
					}
					dynamo = append(dynamo, actions...)
					for _, r := range st["Resource"].([]any) {
						if !slices.ContainsFunc(tableARNs, func(a any) bool { return reflect.DeepEqual(a, r) }) {
							t.Errorf("%v is granted on %v, which is not the table or its indexes", actions, r)
						}
					}
					if st["Effect"] != "Allow" || len(targets) == 0 {
						t.Errorf("statement %v", st)
					}
				}
			}
			if tracing != 1 {
				t.Errorf("%d X-Ray grants, want 1", tracing)
			}
			// ... reading only, unless the operation writes
			readsTree := f.Access == routes.ReadTree || f.Access == routes.StreamPublisher
			if want := map[bool]int{true: len(wantMoves)}[readsTree]; moves != want {
				t.Errorf("%d move grants, want %d", moves, want)
			}
			// ... and the feed, the stream and the failure queue are the
			// publisher's alone, each granted once, and the webhooks,
			// their deliveries and the webhook queue's messages the
			// deliverer's
			for sid := range wantPublisher {
				if want := map[bool]int{true: 1}[f.Access == routes.StreamPublisher]; publisher[sid] != want {
					t.Errorf("%d %s grants, want %d", publisher[sid], sid, want)
				}
			}
			for sid := range wantDeliverer {
				if want := map[bool]int{true: 1}[f.Access == routes.WebhookDeliverer]; deliverer[sid] != want {
					t.Errorf("%d %s grants, want %d", deliverer[sid], sid, want)
				}
			}
			switch f.Access {
			case routes.ReadOnly, routes.ReadTree, routes.StreamPublisher:
				for _, a := range dynamo {
					if !slices.Contains(readActions, a) {
						t.Errorf("read-only function may %s", a)
					}
				}
			case routes.ReadWrite:
				for _, a := range writeActions {
					if !slices.Contains(dynamo, a) {
						t.Errorf("read-write function may not %s", a)
					}
				}
			case routes.WebhookDeliverer:
				if len(dynamo) > 0 {
					t.Errorf("the deliverer may %v beyond its webhook grants", dynamo)
				}
			case routes.TokenLookup:
				if !slices.Equal(dynamo, []string{"dynamodb:GetItem"}) {
					t.Errorf("token lookup may %v, want only dynamodb:GetItem", dynamo)
				}
			case routes.NoTable:
				if len(dynamo) > 0 {
					t.Errorf("function without table access may %v", dynamo)
				}
			}
			if (f.Access == routes.ReadOnly || readsTree || f.Access == routes.ReadWrite) && !slices.Contains(dynamo, "dynamodb:Query") {
				t.Errorf("function may not even query the table: %v", dynamo)
			}
			// ... and every function serving authenticated routes, and only
			// those, meters (the authorizer and public operations have no
			// tenant to count for)
			want := 0
			if len(routes.For(f.Operation)) > 0 && !routes.IsPublic(f.Operation) {
				want = 1
			}
			if metering != want {
				t.Errorf("%d metering grants, want %d", metering, want)
			}
		})
	}
}

// sortedActions is st with its Action list sorted: IAM reads the actions
// as a set, and @aws-cdk/aws-iam:minimizePolicies writes them sorted.
func sortedActions(st map[string]any) map[string]any {
	out := maps.Clone(st)
	if l, ok := st["Action"].([]any); ok {
		sorted := slices.Clone(l)
		slices.SortFunc(sorted, func(a, b any) int { return strings.Compare(fmt.Sprint(a), fmt.Sprint(b)) })
		out["Action"] = sorted
	}
	return out
}

// xrayGrant is what active tracing adds to every function's role: X-Ray's
// writes, on "*" (X-Ray has no resource-level permissions), its actions
// sorted as @aws-cdk/aws-iam:minimizePolicies writes them.
var xrayGrant = map[string]any{
	"Effect": "Allow", "Action": []any{"xray:PutTelemetryRecords", "xray:PutTraceSegments"}, "Resource": "*",
}

// asList reads an IAM Action or Resource, which is a string or a list;
// non-string entries (intrinsics) come back as their JSON.
func asList(v any) []string {
	items, ok := v.([]any)
	if !ok {
		items = []any{v}
	}
	out := make([]string, len(items))
	for i, x := range items {
		if s, ok := x.(string); ok {
			out[i] = s
		} else {
			b, _ := json.Marshal(x)
			out[i] = string(b)
		}
	}
	return out
}

func TestAPIGatewayMayInvokeEachLambdaOncePerMethod(t *testing.T) {
	// GIVEN the Lambda permissions
	perms := resources(t, tmpl, "AWS::Lambda::Permission")

	// WHEN they are counted per function
	got := map[string]int{}
	for _, p := range perms {
		if props(p)["Principal"] != "apigateway.amazonaws.com" {
			t.Errorf("permission for %v", props(p)["Principal"])
		}
		for id := range refsTo(props(p)["FunctionName"]) {
			got[id]++
		}
	}

	// THEN a function has one per route (no test-invoke duplicates), and
	// the authorizer one for the authorizer
	for _, f := range routes.Functions {
		want := len(routes.For(f.Operation))
		if f.Operation == routes.Authorizer {
			want = 1
		}
		if got[fnIDs[f.Operation]] != want {
			t.Errorf("%s: %d permissions, want %d", f.Operation, got[fnIDs[f.Operation]], want)
		}
	}
}

func TestTableMatchesTheStoreDefinition(t *testing.T) {
	// GIVEN the table the store tests and the local server create
	def := store.TableDefinition("x")
	var wantAttrs, wantKeys []any
	for _, a := range def.AttributeDefinitions {
		wantAttrs = append(wantAttrs, map[string]any{"AttributeName": *a.AttributeName, "AttributeType": string(a.AttributeType)})
	}
	for _, k := range def.KeySchema {
		wantKeys = append(wantKeys, map[string]any{"AttributeName": *k.AttributeName, "KeyType": string(k.KeyType)})
	}
	var wantGSIs []any
	for _, g := range def.GlobalSecondaryIndexes {
		var keys []any
		for _, k := range g.KeySchema {
			keys = append(keys, map[string]any{"AttributeName": *k.AttributeName, "KeyType": string(k.KeyType)})
		}
		wantGSIs = append(wantGSIs, map[string]any{
			"IndexName":  *g.IndexName,
			"KeySchema":  keys,
			"Projection": map[string]any{"ProjectionType": string(g.Projection.ProjectionType)},
		})
	}
	// The change feed reads the table's stream (CloudFormation names only
	// the view type of an enabled stream).
	var wantStream any
	if st := def.StreamSpecification; st != nil && st.StreamEnabled != nil && *st.StreamEnabled {
		wantStream = map[string]any{"StreamViewType": string(st.StreamViewType)}
	}
	if wantStream == nil {
		t.Fatal("store.TableDefinition has no stream; the change feed needs one")
	}

	cases := []struct {
		name           string
		tmpl           assertions.Template
		protected      bool
		deletionPolicy string
	}{
		{"full-stack-protected", tmpl, true, "Retain"},
		{"table-protected", tableTmpl[true], true, "Retain"},
		{"table-unprotected", tableTmpl[false], false, "Delete"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// WHEN the synthesised table is read back
			tables := resources(t, c.tmpl, "AWS::DynamoDB::Table")
			tbl := tables[onlyID(t, tables)]
			p := props(tbl)

			// THEN its schema is the store's, and its protection the props'
			if got := p["AttributeDefinitions"].([]any); !sameElements(got, wantAttrs) {
				t.Errorf("AttributeDefinitions = %v, want %v", got, wantAttrs)
			}
			checks := map[string][2]any{
				"KeySchema":                 {p["KeySchema"], wantKeys},
				"GlobalSecondaryIndexes":    {p["GlobalSecondaryIndexes"], wantGSIs},
				"BillingMode":               {p["BillingMode"], string(def.BillingMode)},
				"PITR":                      {p["PointInTimeRecoverySpecification"], map[string]any{"PointInTimeRecoveryEnabled": true}},
				"TTL":                       {p["TimeToLiveSpecification"], map[string]any{"AttributeName": store.AttrExpires, "Enabled": true}},
				"StreamSpecification":       {p["StreamSpecification"], wantStream},
				"DeletionProtectionEnabled": {p["DeletionProtectionEnabled"], c.protected},
				"DeletionPolicy":            {tbl["DeletionPolicy"], c.deletionPolicy},
				"UpdateReplacePolicy":       {tbl["UpdateReplacePolicy"], c.deletionPolicy},
			}
			for name, gw := range checks {
				if !reflect.DeepEqual(gw[0], gw[1]) {
					t.Errorf("%s = %v, want %v", name, gw[0], gw[1])
				}
			}
		})
	}
}

// Issue 9: the change feed.

func TestTheStreamFeedsThePublisherWithEventRecordsOnly(t *testing.T) {
	// GIVEN the synthesised stack
	table := onlyID(t, resources(t, tmpl, "AWS::DynamoDB::Table"))
	queue := ids["ChangeFailures"]

	// WHEN its event source mappings are read back
	mappings := resources(t, tmpl, "AWS::Lambda::EventSourceMapping")
	if got, want := slices.Sorted(maps.Keys(mappings)), []string{ids["DeliverWebhooksQueue"], ids["PublishChangesStream"]}; !sameElements(anyList(got), anyList(want)) {
		t.Fatalf("event source mappings %v, want the stream's and the webhook queue's %v", got, want)
	}
	m, p := mappings[ids["PublishChangesStream"]], props(mappings[ids["PublishChangesStream"]])

	// THEN the stream's mapping feeds the table's stream to publish-changes ...
	if got, want := p["FunctionName"], ref(fnIDs[routes.PublishChanges]); !reflect.DeepEqual(got, want) {
		t.Errorf("FunctionName = %v, want the publish-changes Lambda %v", got, want)
	}
	// ... with the settings of routes' deploy.go, from the oldest record kept
	cases := []struct {
		property string
		want     any
	}{
		{"EventSourceArn", getAtt(table, "StreamArn")},
		{"StartingPosition", "TRIM_HORIZON"},
		{"BatchSize", float64(routes.ChangeBatchSize)},
		{"MaximumBatchingWindowInSeconds", float64(routes.ChangeBatchingWindowSeconds)},
		{"ParallelizationFactor", float64(routes.ChangeParallelizationFactor)},
		{"BisectBatchOnFunctionError", true},
		{"MaximumRetryAttempts", float64(routes.ChangeMaxRetryAttempts)},
		{"MaximumRecordAgeInSeconds", float64(routes.ChangeMaxRecordAgeSeconds)},
		{"DestinationConfig", map[string]any{"OnFailure": map[string]any{"Destination": getAtt(queue, "Arn")}}},
	}
	for _, c := range cases {
		t.Run(c.property, func(t *testing.T) {
			if !reflect.DeepEqual(p[c.property], c.want) {
				t.Errorf("%s = %v, want %v", c.property, p[c.property], c.want)
			}
		})
	}
	// ... which hold what the feed's latency and the stream allow
	if routes.ChangeBatchingWindowSeconds != 0 || routes.ChangeMaxRecordAgeSeconds > 24*60*60 ||
		routes.ChangeBatchSize < 1 || routes.ChangeBatchSize > 10000 || routes.ChangeMaxRetryAttempts > 10000 {
		t.Errorf("deploy.go's mapping settings are out of range: window %d s, record age %d s, batch %d, retries %d",
			routes.ChangeBatchingWindowSeconds, routes.ChangeMaxRecordAgeSeconds, routes.ChangeBatchSize, routes.ChangeMaxRetryAttempts)
	}
	// ... created once the publisher's role may read the stream, which
	// Lambda checks when it creates the mapping
	checkMappingWaitsForPolicies(t, m, routes.PublishChanges)

	// AND its one filter passes exactly the records whose SK is one of
	// store.ChangeSortKeys, whole or as a prefix
	var criteria struct{ Filters []struct{ Pattern any } }
	raw, _ := json.Marshal(p["FilterCriteria"])
	if err := json.Unmarshal(raw, &criteria); err != nil || len(criteria.Filters) != 1 {
		t.Fatalf("FilterCriteria %s: want one filter (%v)", raw, err)
	}
	checkChangeFilter(t, criteria.Filters[0].Pattern)
}

// checkMappingWaitsForPolicies: Lambda checks that the function's role may
// read the event source when it creates the mapping m, so m must depend on
// every policy of op's role.
func checkMappingWaitsForPolicies(t *testing.T, m resource, op routes.Operation) {
	t.Helper()
	role := fmt.Sprint(props(resources(t, tmpl, "AWS::Lambda::Function")[fnIDs[op]])["Role"].(map[string]any)["Fn::GetAtt"].([]any)[0])
	var rolePolicies []string
	for pid, pol := range resources(t, tmpl, "AWS::IAM::Policy") {
		if refsTo(props(pol)["Roles"])[role] {
			rolePolicies = append(rolePolicies, pid)
		}
	}
	var dependsOn []string
	if m["DependsOn"] != nil {
		dependsOn = asList(m["DependsOn"])
	}
	if len(rolePolicies) == 0 {
		t.Errorf("the role of %s has no policy", op)
	}
	for _, pid := range rolePolicies {
		if !slices.Contains(dependsOn, pid) {
			t.Errorf("mapping DependsOn %v lacks the policy %s of %s", dependsOn, pid, op)
		}
	}
}

// checkChangeFilter parses a Lambda filter pattern and compares it with
// store.ChangeSortKeys.
func checkChangeFilter(t *testing.T, pattern any) {
	t.Helper()
	s, ok := pattern.(string)
	if !ok {
		t.Fatalf("pattern %v is not a string", pattern)
	}
	var got map[string]any
	dec := json.NewDecoder(strings.NewReader(s))
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("pattern %q is not JSON: %v", s, err)
	}
	var sks []any
	for _, sk := range store.ChangeSortKeys.Exact {
		sks = append(sks, sk)
	}
	for _, prefix := range store.ChangeSortKeys.Prefixes {
		sks = append(sks, map[string]any{"prefix": prefix})
	}
	want := map[string]any{"dynamodb": map[string]any{"Keys": map[string]any{store.AttrSK: map[string]any{"S": sks}}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("filter pattern %s, want %v", s, want)
	}
}

// valueCheck is one value of the template and what it must be.
type valueCheck struct {
	name      string
	got, want any
}

// queueAlarmChecks: alarm (its properties) fires on queue's first visible
// message, and not for want of data, says description and where the
// runbook is, and notifies the Alarms topic.
func queueAlarmChecks(alarm map[string]any, queue, description string) []valueCheck {
	return []valueCheck{
		{"alarm Namespace", alarm["Namespace"], "AWS/SQS"},
		{"alarm MetricName", alarm["MetricName"], "ApproximateNumberOfMessagesVisible"},
		{"alarm Dimensions", alarm["Dimensions"], []any{map[string]any{"Name": "QueueName", "Value": getAtt(queue, "QueueName")}}},
		{"alarm Statistic", alarm["Statistic"], "Maximum"},
		{"alarm Period", alarm["Period"], float64(60)},
		{"alarm EvaluationPeriods", alarm["EvaluationPeriods"], float64(1)},
		{"alarm Threshold", alarm["Threshold"], float64(1)},
		{"alarm ComparisonOperator", alarm["ComparisonOperator"], "GreaterThanOrEqualToThreshold"},
		{"alarm TreatMissingData", alarm["TreatMissingData"], "notBreaching"},
		{"alarm AlarmDescription", alarm["AlarmDescription"], description + " " + runbook},
		{"alarm AlarmActions", alarm["AlarmActions"], []any{ref(ids["Alarms"])}},
	}
}

func TestALostBatchIsKeptAndRaisesTheAlarm(t *testing.T) {
	// GIVEN the synthesised stack
	// WHEN the failure queue and its alarm are read back
	queues := resources(t, tmpl, "AWS::SQS::Queue")
	queue := ids["ChangeFailures"]
	alarm := props(resources(t, tmpl, "AWS::CloudWatch::Alarm")[ids["ChangeFailuresAlarm"]])

	// THEN the queue keeps a lost batch's record for 14 days, encrypted
	cases := []valueCheck{
		{"queue MessageRetentionPeriod", props(queues[queue])["MessageRetentionPeriod"], float64(routes.ChangeFailureRetentionDays * 24 * 60 * 60)},
		{"queue SqsManagedSseEnabled", props(queues[queue])["SqsManagedSseEnabled"], true},
	}
	// AND the alarm fires on the first message, and not for want of data
	cases = append(cases, queueAlarmChecks(alarm, queue, routes.ChangeFailureAlarmDescription)...)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !reflect.DeepEqual(c.got, c.want) {
				t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
			}
		})
	}
	for _, word := range []string{"shard", "sequence", "replay", "24 h"} {
		if !strings.Contains(routes.ChangeFailureAlarmDescription, word) {
			t.Errorf("alarm description %q does not say %q", routes.ChangeFailureAlarmDescription, word)
		}
	}
}

// Issue 9 §6: webhook delivery.

func TestTheWebhookQueueFeedsTheDelivererAndKeepsWhatItCannotHandle(t *testing.T) {
	// GIVEN the synthesised stack
	// WHEN the webhook queue, its dead-letter queue, their alarm and the
	// queue's event source mapping are read back
	queues := resources(t, tmpl, "AWS::SQS::Queue")
	queue, deadLetters := ids["WebhookQueue"], ids["WebhookDeadLetters"]
	if got, want := slices.Sorted(maps.Keys(queues)), []string{ids["ChangeFailures"], deadLetters, queue}; !sameElements(anyList(got), anyList(want)) {
		t.Fatalf("queues %v, want the failure queue, the webhook queue and its dead letters %v", got, want)
	}
	q, dlq := props(queues[queue]), props(queues[deadLetters])
	alarms := resources(t, tmpl, "AWS::CloudWatch::Alarm")
	onQueues := 0
	for _, a := range alarms {
		if props(a)["Namespace"] == "AWS/SQS" {
			onQueues++
		}
	}
	if onQueues != 2 {
		t.Errorf("%d alarms on queues, want the failure queue's and the dead letters'", onQueues)
	}
	alarm := props(alarms[ids["WebhookDeadLettersAlarm"]])
	mappings := resources(t, tmpl, "AWS::Lambda::EventSourceMapping")
	m := mappings[ids["DeliverWebhooksQueue"]]
	mp := props(m)

	cases := []valueCheck{
		// THEN the queue hides a message the deliverer holds for the
		// settings of routes' deploy.go, keeps it for as long as its
		// deliveries are retried, encrypted, and hands one it received too
		// often to the dead-letter queue; a standard queue, which the
		// messages' group ids make fair
		{"queue VisibilityTimeout", q["VisibilityTimeout"], float64(routes.WebhookVisibilitySeconds)},
		{"queue MessageRetentionPeriod", q["MessageRetentionPeriod"], float64(routes.WebhookRetentionSeconds)},
		{"queue SqsManagedSseEnabled", q["SqsManagedSseEnabled"], true},
		{"queue RedrivePolicy", q["RedrivePolicy"], map[string]any{
			"deadLetterTargetArn": getAtt(deadLetters, "Arn"), "maxReceiveCount": float64(routes.WebhookMaxReceives)}},
		{"queue FifoQueue", q["FifoQueue"], nil},
		// AND the dead-letter queue keeps its messages 14 days, encrypted
		{"dead letters MessageRetentionPeriod", dlq["MessageRetentionPeriod"], float64(routes.WebhookDLQRetentionDays * 24 * 60 * 60)},
		{"dead letters SqsManagedSseEnabled", dlq["SqsManagedSseEnabled"], true},
		{"dead letters RedrivePolicy", dlq["RedrivePolicy"], nil},
		// AND the queue feeds deliver-webhooks in batches, which report
		// the messages that failed alone, with bounded concurrency
		{"mapping FunctionName", mp["FunctionName"], ref(fnIDs[routes.DeliverWebhooks])},
		{"mapping EventSourceArn", mp["EventSourceArn"], getAtt(queue, "Arn")},
		{"mapping BatchSize", mp["BatchSize"], float64(routes.WebhookBatchSize)},
		{"mapping FunctionResponseTypes", mp["FunctionResponseTypes"], []any{"ReportBatchItemFailures"}},
		{"mapping ScalingConfig", mp["ScalingConfig"], map[string]any{"MaximumConcurrency": float64(routes.WebhookMaxConcurrency)}},
		{"mapping MaximumBatchingWindowInSeconds", mp["MaximumBatchingWindowInSeconds"], nil},
	}
	// AND the dead-letter queue's alarm fires on the first message
	cases = append(cases, queueAlarmChecks(alarm, deadLetters, routes.WebhookDLQAlarmDescription)...)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !reflect.DeepEqual(c.got, c.want) {
				t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
			}
		})
	}
	// ... which hold what SQS and Lambda allow: a visibility timeout no
	// shorter than the function's (Lambda refuses the mapping otherwise),
	// at most 10 messages a batch without a batching window, a maximum
	// concurrency of 2 to 1000, and a function timeout Lambda allows
	if routes.WebhookVisibilitySeconds < routes.WebhookTimeoutSeconds || routes.WebhookVisibilitySeconds > 12*60*60 ||
		routes.WebhookBatchSize < 1 || routes.WebhookBatchSize > 10 ||
		routes.WebhookMaxConcurrency < 2 || routes.WebhookMaxConcurrency > 1000 ||
		routes.WebhookTimeoutSeconds > 900 || routes.WebhookRetentionSeconds > 14*24*60*60 || routes.WebhookMaxReceives < 1 {
		t.Errorf("deploy.go's webhook settings are out of range: visibility %d s, batch %d, concurrency %d, timeout %d s, retention %d s, receives %d",
			routes.WebhookVisibilitySeconds, routes.WebhookBatchSize, routes.WebhookMaxConcurrency, routes.WebhookTimeoutSeconds,
			routes.WebhookRetentionSeconds, routes.WebhookMaxReceives)
	}
	// ... and the alarm says how often a message failed and where to look
	for _, word := range []string{fmt.Sprintf("%d times", routes.WebhookMaxReceives), string(routes.DeliverWebhooks)} {
		if !strings.Contains(routes.WebhookDLQAlarmDescription, word) {
			t.Errorf("alarm description %q does not say %q", routes.WebhookDLQAlarmDescription, word)
		}
	}
	// ... created once the deliverer's role may receive from the queue,
	// which Lambda checks when it creates the mapping
	checkMappingWaitsForPolicies(t, m, routes.DeliverWebhooks)
}

// cloudFormationResourceLimit is the most resources one stack may hold;
// resourceBudget is what the stacks keep to, leaving room for what the next
// issues add.
const (
	cloudFormationResourceLimit = 500
	resourceBudget              = 450
)

func TestEveryStackStaysUnderTheResourceBudget(t *testing.T) {
	// GIVEN every stack of the app, nested ones included
	var stacks []awscdk.Stack
	for _, c := range *app.Node().FindAll(constructs.ConstructOrder_PREORDER) {
		if *awscdk.Stack_IsStack(c) {
			stacks = append(stacks, awscdk.Stack_Of(c))
		}
	}
	if len(stacks) == 0 {
		t.Fatal("no stacks")
	}
	for _, s := range stacks {
		t.Run(*s.Node().Path(), func(t *testing.T) {
			// WHEN its resources are counted
			raw, err := json.Marshal(assertions.Template_FromStack(s, nil).ToJSON())
			if err != nil {
				t.Fatal(err)
			}
			var doc struct{ Resources map[string]any }
			if err := json.Unmarshal(raw, &doc); err != nil {
				t.Fatal(err)
			}
			n := len(doc.Resources)
			t.Logf("%d resources (CloudFormation allows %d, the budget is %d)", n, cloudFormationResourceLimit, resourceBudget)
			// THEN CloudFormation can deploy it, with room to grow
			if n >= resourceBudget {
				t.Errorf("%d resources, want fewer than %d (CloudFormation allows %d per stack): "+
					"move monitoring into a nested stack or combine alarms with metric math", n, resourceBudget, cloudFormationResourceLimit)
			}
		})
	}
}

// sameElements compares two lists ignoring order.
func sameElements(a, b []any) bool {
	key := func(xs []any) []string {
		out := make([]string, len(xs))
		for i, x := range xs {
			j, _ := json.Marshal(x)
			out[i] = string(j)
		}
		sort.Strings(out)
		return out
	}
	return slices.Equal(key(a), key(b))
}

func TestRequestAuthorizerSuppliesTheAPIKey(t *testing.T) {
	// GIVEN the synthesised stack
	// WHEN the authorizer and the API are read back
	auths := resources(t, tmpl, "AWS::ApiGateway::Authorizer")
	auth := props(auths[onlyID(t, auths)])

	// THEN the authorizer is the authorizer Lambda, cached per token for 5
	// minutes, and the API takes the API key from it
	want := map[string]any{
		"Type":                         "REQUEST",
		"IdentitySource":               "method.request.header.Authorization",
		"AuthorizerResultTtlInSeconds": float64(300),
	}
	for k, v := range want {
		if auth[k] != v {
			t.Errorf("%s = %v, want %v", k, auth[k], v)
		}
	}
	if got := refsTo(auth["AuthorizerUri"]); !reflect.DeepEqual(got, map[string]bool{fnIDs[routes.Authorizer]: true}) {
		t.Errorf("authorizer invokes %v, want the authorizer Lambda", got)
	}
	check(t, func() {
		tmpl.HasResourceProperties(jsii.String("AWS::ApiGateway::RestApi"), &map[string]any{
			"ApiKeySourceType":      "AUTHORIZER",
			"EndpointConfiguration": map[string]any{"Types": []any{"REGIONAL"}},
		})
	})
}

func TestUsagePlanThrottlesTheLiveStage(t *testing.T) {
	// GIVEN the stack synthesised with testProps
	api := onlyID(t, resources(t, tmpl, "AWS::ApiGateway::RestApi"))
	stages := resources(t, tmpl, "AWS::ApiGateway::Stage")
	stage := onlyID(t, stages)
	if got := props(stages[stage])["StageName"]; got != routes.Stage {
		t.Errorf("stage %v, want %s", got, routes.Stage)
	}

	// WHEN the usage plan is read back
	// THEN it throttles and limits per day as configured, on the live stage
	check(t, func() {
		tmpl.ResourceCountIs(jsii.String("AWS::ApiGateway::UsagePlan"), jsii.Number(1))
		tmpl.HasResourceProperties(jsii.String("AWS::ApiGateway::UsagePlan"), &map[string]any{
			"Throttle": map[string]any{"RateLimit": testProps.RateLimit, "BurstLimit": testProps.BurstLimit},
			"Quota":    map[string]any{"Limit": testProps.QuotaPerDay, "Period": "DAY"},
			"ApiStages": assertions.Match_ArrayWith(&[]any{
				assertions.Match_ObjectLike(&map[string]any{"ApiId": ref(api), "Stage": ref(stage)}),
			}),
		})
	})
	// AND tenants' keys come from the admin command, so the stack has none
	// but says which plan to attach them to
	check(t, func() {
		tmpl.ResourceCountIs(jsii.String("AWS::ApiGateway::ApiKey"), jsii.Number(0))
	})
	plan := onlyID(t, resources(t, tmpl, "AWS::ApiGateway::UsagePlan"))
	table := onlyID(t, resources(t, tmpl, "AWS::DynamoDB::Table"))
	outputs := map[string]any{"UsagePlanId": ref(plan), "TableName": ref(table), "ApiUrl": nil}
	for name, want := range outputs {
		out := tmpl.FindOutputs(jsii.String(name), nil)
		if len(*out) != 1 {
			t.Errorf("output %s missing", name)
			continue
		}
		if got := (*(*out)[name])["Value"]; want != nil && !reflect.DeepEqual(got, want) {
			t.Errorf("output %s = %v, want %v", name, got, want)
		}
	}
}

func TestGatewayErrorsAreProblemDetails(t *testing.T) {
	cases := []struct {
		responseType string
		status       int
		code         string
		headers      map[string]any
	}{
		{"MISSING_AUTHENTICATION_TOKEN", 404, "route_not_found", nil},
		{"UNAUTHORIZED", 401, "unauthenticated", map[string]any{"WWW-Authenticate": "'Bearer'"}},
		{"ACCESS_DENIED", 403, "forbidden", nil},
		{"INVALID_API_KEY", 403, "forbidden", nil},
		{"THROTTLED", 429, "throttled", map[string]any{"Retry-After": "'1'"}},
		{"QUOTA_EXCEEDED", 429, "quota_exceeded", nil},
		{"REQUEST_TOO_LARGE", 413, "payload_too_large", nil},
		{"DEFAULT_4XX", 400, "bad_request", nil},
		{"DEFAULT_5XX", 503, "unavailable", map[string]any{"Retry-After": "'1'"}},
	}
	// GIVEN the synthesised stack
	// WHEN its gateway responses are read back by type
	byType := map[string]map[string]any{}
	for _, r := range resources(t, tmpl, "AWS::ApiGateway::GatewayResponse") {
		byType[props(r)["ResponseType"].(string)] = props(r)
	}
	if len(byType) != len(cases) {
		t.Errorf("%d gateway responses, want %d", len(byType), len(cases))
	}
	// THEN each answers its status with a problem body of its code
	for _, c := range cases {
		t.Run(c.responseType, func(t *testing.T) {
			p, ok := byType[c.responseType]
			if !ok {
				t.Fatal("missing")
			}
			if p["StatusCode"] != fmt.Sprint(c.status) {
				t.Errorf("status %v, want %d", p["StatusCode"], c.status)
			}
			headers := map[string]any{"Content-Type": "'application/problem+json'",
				"Cache-Control": "'no-store'", "X-Content-Type-Options": "'nosniff'"}
			for k, v := range c.headers {
				headers[k] = v
			}
			got := map[string]any{}
			for k, v := range p["ResponseParameters"].(map[string]any) {
				got[strings.TrimPrefix(k, "gatewayresponse.header.")] = v
			}
			if !reflect.DeepEqual(got, headers) {
				t.Errorf("headers %v, want %v", got, headers)
			}
			checkProblem(t, p["ResponseTemplates"].(map[string]any)["application/json"].(string), c.status, c.code)
		})
	}
}

func TestAccessLogsAreJSONWithTheTenant(t *testing.T) {
	// GIVEN the synthesised stack
	// WHEN the live stage's access log setting is read back
	stages := resources(t, tmpl, "AWS::ApiGateway::Stage")
	p := props(stages[onlyID(t, stages)])
	setting := p["AccessLogSetting"].(map[string]any)

	// THEN it writes one JSON object per request to a log group, naming
	// the tenant
	var format map[string]string
	if err := json.Unmarshal([]byte(setting["Format"].(string)), &format); err != nil {
		t.Fatalf("access log format is not a JSON object: %v", err)
	}
	want := map[string]string{
		"request_id":             "$context.requestId",
		"ip":                     "$context.identity.sourceIp",
		"caller":                 "$context.identity.caller",
		"user":                   "$context.identity.user",
		"request_time":           "$context.requestTime",
		"method":                 "$context.httpMethod",
		"resource_path":          "$context.resourcePath",
		"path":                   "$context.path",
		"status":                 "$context.status",
		"protocol":               "$context.protocol",
		"response_length":        "$context.responseLength",
		"tenant":                 "$context.authorizer.tenantId",
		"api_key_id":             "$context.identity.apiKeyId",
		"response_latency_ms":    "$context.responseLatency",
		"integration_latency_ms": "$context.integrationLatency",
		"error_type":             "$context.error.responseType",
	}
	if len(format) != len(want) {
		t.Errorf("access log fields %v, want %v", format, want)
	}
	for k, v := range want {
		if format[k] != v {
			t.Errorf("%s = %q, want %q", k, format[k], v)
		}
	}
	// (accessLogGroup fails the test unless it names one log group.)
	accessLogGroup(t, setting["DestinationArn"])
	check(t, func() {
		tmpl.HasResourceProperties(jsii.String("AWS::ApiGateway::Stage"), &map[string]any{
			"MethodSettings": assertions.Match_ArrayWith(&[]any{
				assertions.Match_ObjectLike(&map[string]any{"MetricsEnabled": true}),
			}),
		})
	})
}

func TestEveryFunctionFolderIsDeployed(t *testing.T) {
	// GIVEN the folders make build turns into Lambdas
	dirs, err := os.ReadDir("../functions")
	if err != nil {
		t.Fatal(err)
	}
	// WHEN they are compared with routes.Functions
	// THEN none is built without being deployed
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		if _, ok := fnIDs[routes.Operation(d.Name())]; !ok {
			t.Errorf("functions/%s is not in routes.Functions", d.Name())
		}
	}
}

func TestPropsFromContextOrEnvironment(t *testing.T) {
	// The alarms' documented defaults (README, main.go).
	alarms := AlarmSettings{ServerErrorRate: 0.01, ClientErrors: 500, FunctionErrors: 5, FunctionThrottles: 1,
		FunctionP99Ms: 10000, AuthorizerErrors: 1}
	defaults := FleetgroupsStackProps{AssetsDir: "../build", DeletionProtection: true, RateLimit: 50, BurstLimit: 100, QuotaPerDay: 100000, TreeMaxDepth: 9,
		Alarms: alarms}
	with := func(edit func(*FleetgroupsStackProps)) FleetgroupsStackProps {
		p := defaults
		edit(&p)
		return p
	}
	cases := []struct {
		name    string
		set     map[string]string
		want    FleetgroupsStackProps
		wantErr bool
	}{
		{"defaults", nil, defaults, false},
		{"overrides", map[string]string{
			"assetsDir": "/tmp/x", "deletionProtection": "false",
			"rateLimit": "5", "burstLimit": "10", "quotaPerDay": "1000", "treeMaxDepth": "3",
			"alarmEmail": "ops@example.com", "alarm5xxRate": "0.05", "alarm4xxCount": "1000",
			"alarmFunctionErrors": "10", "alarmFunctionThrottles": "0", "alarmFunctionP99Ms": "5000", "alarmAuthorizerErrors": "3",
		}, FleetgroupsStackProps{AssetsDir: "/tmp/x", RateLimit: 5, BurstLimit: 10, QuotaPerDay: 1000, TreeMaxDepth: 3,
			Alarms: AlarmSettings{Email: "ops@example.com", ServerErrorRate: 0.05, ClientErrors: 1000, FunctionErrors: 10,
				FunctionThrottles: 0, FunctionP99Ms: 5000, AuthorizerErrors: 3}}, false},
		{"bad-bool", map[string]string{"deletionProtection": "maybe"}, FleetgroupsStackProps{}, true},
		{"bad-number", map[string]string{"rateLimit": "fast"}, FleetgroupsStackProps{}, true},
		{"zero-quota", map[string]string{"quotaPerDay": "0"}, FleetgroupsStackProps{}, true},
		// One item takes every count of a tenant: about 1,000 writes a second.
		{"rate-at-the-usage-item-ceiling", map[string]string{"rateLimit": "1000", "burstLimit": "1000"},
			with(func(p *FleetgroupsStackProps) { p.RateLimit, p.BurstLimit = 1000, 1000 }), false},
		{"rate-over-the-usage-item-ceiling", map[string]string{"rateLimit": "1001"}, FleetgroupsStackProps{}, true},
		{"burst-over-the-usage-item-ceiling", map[string]string{"burstLimit": "5000"}, FleetgroupsStackProps{}, true},
		{"flat-trees", map[string]string{"treeMaxDepth": "0"},
			with(func(p *FleetgroupsStackProps) { p.TreeMaxDepth = 0 }), false},
		{"deeper-than-the-api", map[string]string{"treeMaxDepth": "10"}, FleetgroupsStackProps{}, true},
		{"negative-depth", map[string]string{"treeMaxDepth": "-1"}, FleetgroupsStackProps{}, true},
		{"depth-not-a-number", map[string]string{"treeMaxDepth": "deep"}, FleetgroupsStackProps{}, true},
		// Issue 10: the alarms. Each goes off above its threshold, so 0
		// means any; an empty address means no subscription.
		{"no-alarm-email", map[string]string{"alarmEmail": ""}, defaults, false},
		{"any-5xx", map[string]string{"alarm5xxRate": "0"},
			with(func(p *FleetgroupsStackProps) { p.Alarms.ServerErrorRate = 0 }), false},
		{"5xx-rate-as-a-percentage", map[string]string{"alarm5xxRate": "1"}, FleetgroupsStackProps{}, true},
		{"negative-5xx-rate", map[string]string{"alarm5xxRate": "-0.1"}, FleetgroupsStackProps{}, true},
		{"negative-4xx-count", map[string]string{"alarm4xxCount": "-1"}, FleetgroupsStackProps{}, true},
		{"errors-not-a-number", map[string]string{"alarmFunctionErrors": "some"}, FleetgroupsStackProps{}, true},
		{"infinite-throttles", map[string]string{"alarmFunctionThrottles": "Inf"}, FleetgroupsStackProps{}, true},
		{"nan-authorizer-errors", map[string]string{"alarmAuthorizerErrors": "NaN"}, FleetgroupsStackProps{}, true},
		{"p99-zero", map[string]string{"alarmFunctionP99Ms": "0"}, FleetgroupsStackProps{}, true},
		// A function answering the API is stopped at 29 s.
		{"p99-just-under-the-timeout", map[string]string{"alarmFunctionP99Ms": "28999"},
			with(func(p *FleetgroupsStackProps) { p.Alarms.FunctionP99Ms = 28999 }), false},
		{"p99-at-the-timeout", map[string]string{"alarmFunctionP99Ms": "29000"}, FleetgroupsStackProps{}, true},
		{"email-with-a-name", map[string]string{"alarmEmail": "Ops <ops@example.com>"}, FleetgroupsStackProps{}, true},
		{"email-without-at", map[string]string{"alarmEmail": "ops.example.com"}, FleetgroupsStackProps{}, true},
		{"two-emails", map[string]string{"alarmEmail": "a@example.com,b@example.com"}, FleetgroupsStackProps{}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// GIVEN settings by context key
			lookup := func(key, _ string) (string, bool) { v, ok := c.set[key]; return v, ok }
			// WHEN the props are read
			got, err := propsFrom(lookup)
			// THEN they are the settings over the defaults, or an error
			if c.wantErr {
				if err == nil {
					t.Fatalf("want an error, got %+v", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, c.want) {
				t.Errorf("props = %+v, want %+v", *got, c.want)
			}
		})
	}
}
