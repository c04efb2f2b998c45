package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"

	"github.com/fleetgroups/fleetgroups/pkg/routes"
)

// Issue 10: tracing, the alarms, their topic and the dashboard.

// functionAlarmGroups is how many alarms of each kind watch the functions:
// one alarm's math reads at most 10 metrics (CloudWatch's hard limit).
var functionAlarmGroups = (len(routes.Functions) + 9) / 10

// functionAlarmKinds are the alarms on the functions, by id prefix.
var functionAlarmKinds = []string{"FunctionErrors", "FunctionThrottles", "FunctionP99Duration"}

// alarmIDs are the construct ids of every alarm of the stack.
var alarmIDs = func() []string {
	out := []string{"ChangeFailuresAlarm", "WebhookDeadLettersAlarm", "Api5xxRate", "Api4xxCount",
		"AuthorizerErrors", "TableThrottles", "TableSystemErrors"}
	for i := 1; i <= functionAlarmGroups; i++ {
		for _, kind := range functionAlarmKinds {
			out = append(out, kind+strconv.Itoa(i))
		}
	}
	return out
}()

// watchedTableOperations are the DynamoDB operations whose throttles and
// system errors the table's alarms add up.
var watchedTableOperations = []string{"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan",
	"BatchGetItem", "BatchWriteItem", "TransactWriteItems"}

const period = float64(300) // every new alarm's, in seconds

func TestEveryFunctionAndTheStageAreTraced(t *testing.T) {
	// GIVEN the synthesised stack
	// WHEN its functions and its stage are read back
	fns := resources(t, tmpl, "AWS::Lambda::Function")
	stages := resources(t, tmpl, "AWS::ApiGateway::Stage")

	// THEN every function traces actively (the X-Ray grant that goes with
	// it is checked with the roles' other statements) ...
	for _, f := range routes.Functions {
		if got, want := props(fns[fnIDs[f.Operation]])["TracingConfig"], map[string]any{"Mode": "Active"}; !reflect.DeepEqual(got, want) {
			t.Errorf("%s: TracingConfig = %v, want %v", f.Operation, got, want)
		}
	}
	// ... and so does the stage, which starts the traces
	if got := props(stages[onlyID(t, stages)])["TracingEnabled"]; got != true {
		t.Errorf("stage TracingEnabled = %v, want true", got)
	}
}

func TestEveryAlarmNotifiesTheAlarmTopic(t *testing.T) {
	// GIVEN the synthesised stack
	topic := ids["Alarms"]
	if got := onlyID(t, resources(t, tmpl, "AWS::SNS::Topic")); got != topic {
		t.Fatalf("topic %s, want the Alarms topic %s", got, topic)
	}

	// WHEN its alarms are read back
	alarms := resources(t, tmpl, "AWS::CloudWatch::Alarm")
	var want []string
	for _, id := range alarmIDs {
		want = append(want, ids[id])
	}
	if got := slices.Sorted(maps.Keys(alarms)); !slices.Equal(got, slices.Sorted(slices.Values(want))) {
		t.Errorf("alarms %v, want %v", got, want)
	}

	// THEN each notifies the topic, is named after the stack, says where
	// the runbook is in a description CloudWatch takes, and judges one period
	// (the queues': a minute; the others': 5 minutes), missing data being no
	// trouble
	for _, id := range alarmIDs {
		t.Run(id, func(t *testing.T) {
			p := props(alarms[ids[id]])
			for _, c := range []valueCheck{
				{"AlarmActions", p["AlarmActions"], []any{ref(topic)}},
				{"AlarmName", p["AlarmName"], "Test-" + id},
				{"EvaluationPeriods", p["EvaluationPeriods"], float64(1)},
				{"TreatMissingData", p["TreatMissingData"], "notBreaching"},
			} {
				if !reflect.DeepEqual(c.got, c.want) {
					t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
				}
			}
			d, _ := p["AlarmDescription"].(string)
			if !strings.Contains(d, "docs/operations.md") || len(d) > 1024 {
				t.Errorf("description (%d characters) does not name docs/operations.md in at most 1024: %q", len(d), d)
			}
		})
	}

	// AND the stack says which topic to subscribe to, and mails the
	// address of the settings
	out := tmpl.FindOutputs(jsii.String("AlarmTopicArn"), nil)
	if o, ok := (*out)["AlarmTopicArn"]; !ok || !reflect.DeepEqual((*o)["Value"], ref(topic)) {
		t.Errorf("output AlarmTopicArn = %v, want a Ref to %s", *out, topic)
	}
	subs := resources(t, tmpl, "AWS::SNS::Subscription")
	wantSub := map[string]any{"Protocol": "email", "Endpoint": testProps.Alarms.Email, "TopicArn": ref(topic)}
	if got := props(subs[onlyID(t, subs)]); !reflect.DeepEqual(got, wantSub) {
		t.Errorf("subscription %v, want %v", got, wantSub)
	}
}

func TestWithoutAnAddressTheTopicMailsNobody(t *testing.T) {
	// GIVEN no alarm address
	s := awscdk.NewStack(awscdk.NewApp(nil), jsii.String("Alarms"), nil)

	// WHEN the topic is declared
	newAlarms(s, "")

	// THEN it has no subscription
	tp := assertions.Template_FromStack(s, nil)
	if n := len(resources(t, tp, "AWS::SNS::Topic")); n != 1 {
		t.Errorf("%d topics, want 1", n)
	}
	if subs := resources(t, tp, "AWS::SNS::Subscription"); len(subs) != 0 {
		t.Errorf("subscriptions %v, want none", subs)
	}
}

// alarmMath is an alarm's metric math: the expression it watches and its
// metrics by id.
type alarmMath struct {
	expression string
	metrics    map[string]map[string]any // MetricStat by id
}

func readMath(t *testing.T, alarm map[string]any) alarmMath {
	t.Helper()
	m := alarmMath{metrics: map[string]map[string]any{}}
	for _, q := range asAnyList(alarm["Metrics"]) {
		q := q.(map[string]any)
		if e, ok := q["Expression"].(string); ok {
			if m.expression != "" || q["ReturnData"] == false {
				t.Errorf("expression %q besides %q, or not returned", e, m.expression)
			}
			m.expression = e
			continue
		}
		if q["ReturnData"] != false {
			t.Errorf("metric %v is returned; the alarm would watch it instead of the expression", q["Id"])
		}
		m.metrics[q["Id"].(string)] = q["MetricStat"].(map[string]any)
	}
	if m.expression == "" {
		t.Fatalf("alarm has no expression: %v", alarm)
	}
	return m
}

func asAnyList(v any) []any { l, _ := v.([]any); return l }

// metricStat is a MetricStat as the template holds it.
func metricStat(namespace, name string, dims []any, stat string) map[string]any {
	return map[string]any{
		"Metric": map[string]any{"Namespace": namespace, "MetricName": name, "Dimensions": dims},
		"Period": period, "Stat": stat,
	}
}

func dim(name string, value any) any { return map[string]any{"Name": name, "Value": value} }

// sameMetric compares MetricStats, their dimensions in any order.
func sameMetric(got, want map[string]any) bool {
	g, w := maps.Clone(got), maps.Clone(want)
	gm, _ := g["Metric"].(map[string]any)
	wm, _ := w["Metric"].(map[string]any)
	if gm == nil || !sameElements(asAnyList(gm["Dimensions"]), asAnyList(wm["Dimensions"])) {
		return false
	}
	gm, wm = maps.Clone(gm), maps.Clone(wm)
	delete(gm, "Dimensions")
	delete(wm, "Dimensions")
	g["Metric"], w["Metric"] = gm, wm
	return reflect.DeepEqual(g, w)
}

// aggregate matches SUM([a, b]) and MAX([a, b]).
var aggregate = regexp.MustCompile(`^(SUM|MAX)\(\[([a-z0-9, ]+)\]\)$`)

// aggregated checks that m's expression is fn over exactly its metrics, of
// which there are at most 10.
func aggregated(t *testing.T, m alarmMath, fn string) {
	t.Helper()
	parts := aggregate.FindStringSubmatch(m.expression)
	if parts == nil || parts[1] != fn {
		t.Errorf("expression %q, want %s([…]) of its metrics", m.expression, fn)
		return
	}
	if got, want := slices.Sorted(slices.Values(strings.Split(parts[2], ", "))), slices.Sorted(maps.Keys(m.metrics)); !slices.Equal(got, want) {
		t.Errorf("expression %q reads %v, want its metrics %v", m.expression, got, want)
	}
	if len(m.metrics) > 10 {
		t.Errorf("%d metrics; CloudWatch allows an alarm 10", len(m.metrics))
	}
}

func TestTheStageAlarmsOn5xxRateAnd4xxSpikes(t *testing.T) {
	// GIVEN the stage's metrics' dimensions: the API's name and the stage
	apis := resources(t, tmpl, "AWS::ApiGateway::RestApi")
	name := props(apis[onlyID(t, apis)])["Name"]
	stageDims := []any{dim("ApiName", name), dim("Stage", ref(onlyID(t, resources(t, tmpl, "AWS::ApiGateway::Stage"))))}
	alarms := resources(t, tmpl, "AWS::CloudWatch::Alarm")

	// WHEN the 5xx alarm is read back
	rate := props(alarms[ids["Api5xxRate"]])
	m := readMath(t, rate)

	// THEN it watches 5XXError / Count over 5 minutes, above the share of
	// the settings
	if m.expression != "serverErrors / requests" {
		t.Errorf("expression %q, want serverErrors / requests", m.expression)
	}
	for id, want := range map[string]map[string]any{
		"serverErrors": metricStat("AWS/ApiGateway", "5XXError", stageDims, "Sum"),
		"requests":     metricStat("AWS/ApiGateway", "Count", stageDims, "Sum"),
	} {
		if !sameMetric(m.metrics[id], want) {
			t.Errorf("%s = %v, want %v", id, m.metrics[id], want)
		}
	}
	if len(m.metrics) != 2 {
		t.Errorf("metrics %v, want serverErrors and requests", m.metrics)
	}
	// AND the 4xx alarm watches 4XXError over 5 minutes, above the count
	// of the settings
	spike := props(alarms[ids["Api4xxCount"]])
	cases := []valueCheck{
		{"5xx Threshold", rate["Threshold"], testProps.Alarms.ServerErrorRate},
		{"5xx ComparisonOperator", rate["ComparisonOperator"], "GreaterThanThreshold"},
		{"4xx Namespace", spike["Namespace"], "AWS/ApiGateway"},
		{"4xx MetricName", spike["MetricName"], "4XXError"},
		{"4xx Statistic", spike["Statistic"], "Sum"},
		{"4xx Period", spike["Period"], period},
		{"4xx Threshold", spike["Threshold"], testProps.Alarms.ClientErrors},
		{"4xx ComparisonOperator", spike["ComparisonOperator"], "GreaterThanThreshold"},
	}
	for _, c := range cases {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if !sameElements(asAnyList(spike["Dimensions"]), stageDims) {
		t.Errorf("4xx Dimensions = %v, want %v", spike["Dimensions"], stageDims)
	}
	if d := rate["AlarmDescription"].(string); !strings.Contains(d, "5%") {
		t.Errorf("description %q does not say the threshold, 5%%", d)
	}
}

func TestFunctionAlarmsWatchEveryFunctionInGroupsOfAtMostTen(t *testing.T) {
	opOf := map[string]routes.Operation{}
	for op, id := range fnIDs {
		opOf[id] = op
	}
	kinds := []struct {
		prefix, metric, stat, fn string
		threshold                float64
		// leftOut is the function the kind does not watch, which its
		// group's description says
		leftOut routes.Operation
		says    string
	}{
		// The authorizer's errors have an alarm of their own.
		{"FunctionErrors", "Errors", "Sum", "SUM", testProps.Alarms.FunctionErrors, routes.Authorizer, "AuthorizerErrors"},
		{"FunctionThrottles", "Throttles", "Sum", "SUM", testProps.Alarms.FunctionThrottles, "", ""},
		// deliver-webhooks waits on partners' endpoints.
		{"FunctionP99Duration", "Duration", "p99", "MAX", testProps.Alarms.FunctionP99Ms, routes.DeliverWebhooks, "deliver-webhooks is left out"},
	}
	alarms := resources(t, tmpl, "AWS::CloudWatch::Alarm")
	groupOf := map[string]map[routes.Operation]int{} // kind → function → group
	for _, k := range kinds {
		t.Run(k.prefix, func(t *testing.T) {
			// GIVEN the kind's alarms, one per group
			watched := map[routes.Operation]int{}
			groupOf[k.prefix] = map[routes.Operation]int{}
			said := 0
			for g := 1; g <= functionAlarmGroups; g++ {
				// WHEN each alarm's math is read back
				a := props(alarms[ids[k.prefix+strconv.Itoa(g)]])
				m := readMath(t, a)
				desc := a["AlarmDescription"].(string)
				// THEN it is the SUM (MAX) of at most 10 metrics, above the
				// threshold of the settings
				aggregated(t, m, k.fn)
				if a["Threshold"] != k.threshold || a["ComparisonOperator"] != "GreaterThanThreshold" {
					t.Errorf("%s%d: %v %v, want GreaterThanThreshold %v", k.prefix, g, a["ComparisonOperator"], a["Threshold"], k.threshold)
				}
				// ... each metric a function's, over 5 minutes, named in
				// the description
				for id, ms := range m.metrics {
					dims := asAnyList(ms["Metric"].(map[string]any)["Dimensions"])
					var fn string
					if len(dims) == 1 {
						fn = refID(dims[0].(map[string]any)["Value"])
					}
					op, ok := opOf[fn]
					if !ok {
						t.Errorf("%s%d: metric %s is not a function's: %v", k.prefix, g, id, ms)
						continue
					}
					if want := metricStat("AWS/Lambda", k.metric, []any{dim("FunctionName", ref(fn))}, k.stat); !sameMetric(ms, want) {
						t.Errorf("%s%d: metric %s = %v, want %v", k.prefix, g, id, ms, want)
					}
					watched[op]++
					groupOf[k.prefix][op] = g
					if !strings.Contains(desc, string(op)) {
						t.Errorf("%s%d: description does not name %s: %q", k.prefix, g, op, desc)
					}
				}
				if k.says != "" && strings.Contains(desc, k.says) {
					said++
				}
			}
			// AND together they watch every function once, but the one
			// left out, which one description explains
			for _, f := range routes.Functions {
				want := 1
				if f.Operation == k.leftOut {
					want = 0
				}
				if watched[f.Operation] != want {
					t.Errorf("%s is watched %d times, want %d", f.Operation, watched[f.Operation], want)
				}
			}
			if k.says != "" && said != 1 {
				t.Errorf("%d descriptions say %q, want 1", said, k.says)
			}
		})
	}
	// AND a function is in the same group for every kind, so that
	// FunctionErrors2 and FunctionThrottles2 watch the same functions
	for _, f := range routes.Functions {
		var gs []int
		for _, k := range kinds {
			if g, ok := groupOf[k.prefix][f.Operation]; ok {
				gs = append(gs, g)
			}
		}
		slices.Sort(gs)
		if len(slices.Compact(slices.Clone(gs))) > 1 {
			t.Errorf("%s is in groups %v", f.Operation, gs)
		}
	}
}

func TestTheAuthorizersErrorsHaveTheirOwnAlarm(t *testing.T) {
	// GIVEN the synthesised stack
	// WHEN the authorizer's alarm is read back
	a := props(resources(t, tmpl, "AWS::CloudWatch::Alarm")[ids["AuthorizerErrors"]])

	// THEN it watches the authorizer's errors over 5 minutes, above the
	// count of the settings
	for _, c := range []valueCheck{
		{"Namespace", a["Namespace"], "AWS/Lambda"},
		{"MetricName", a["MetricName"], "Errors"},
		{"Dimensions", a["Dimensions"], []any{dim("FunctionName", ref(fnIDs[routes.Authorizer]))}},
		{"Statistic", a["Statistic"], "Sum"},
		{"Period", a["Period"], period},
		{"Threshold", a["Threshold"], testProps.Alarms.AuthorizerErrors},
		{"ComparisonOperator", a["ComparisonOperator"], "GreaterThanThreshold"},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestTheTableAlarmsOnAnyThrottleOrSystemError(t *testing.T) {
	// GIVEN the table and the DynamoDB operations the roles may call
	table := onlyID(t, resources(t, tmpl, "AWS::DynamoDB::Table"))
	granted := map[string]bool{}
	for _, pol := range resources(t, tmpl, "AWS::IAM::Policy") {
		for _, st := range asAnyList(props(pol)["PolicyDocument"].(map[string]any)["Statement"]) {
			for _, a := range asList(st.(map[string]any)["Action"]) {
				if op, ok := strings.CutPrefix(a, "dynamodb:"); ok {
					granted[op] = true
				}
			}
		}
	}
	// (not operations DynamoDB reports throttles of: the control plane,
	// the stream's, and the checks inside a transaction)
	for _, op := range []string{"DescribeTable", "DescribeStream", "GetRecords", "GetShardIterator", "ListStreams", "ConditionCheckItem"} {
		delete(granted, op)
	}
	alarms := resources(t, tmpl, "AWS::CloudWatch::Alarm")
	for id, metric := range map[string]string{"TableThrottles": "ThrottledRequests", "TableSystemErrors": "SystemErrors"} {
		t.Run(id, func(t *testing.T) {
			// WHEN its alarm is read back
			a := props(alarms[ids[id]])
			m := readMath(t, a)

			// THEN it is the SUM of the metric over the operations, above 0
			aggregated(t, m, "SUM")
			if a["Threshold"] != float64(0) || a["ComparisonOperator"] != "GreaterThanThreshold" {
				t.Errorf("%v %v, want GreaterThanThreshold 0", a["ComparisonOperator"], a["Threshold"])
			}
			watched := map[string]bool{}
			for mid, ms := range m.metrics {
				var op string
				for _, d := range asAnyList(ms["Metric"].(map[string]any)["Dimensions"]) {
					if d.(map[string]any)["Name"] == "Operation" {
						op, _ = d.(map[string]any)["Value"].(string)
					}
				}
				want := metricStat("AWS/DynamoDB", metric, []any{dim("TableName", ref(table)), dim("Operation", op)}, "Sum")
				if !sameMetric(ms, want) {
					t.Errorf("metric %s = %v, want %v", mid, ms, want)
				}
				watched[op] = true
			}
			if got := slices.Sorted(maps.Keys(watched)); !slices.Equal(got, slices.Sorted(slices.Values(watchedTableOperations))) {
				t.Errorf("operations %v, want %v", got, watchedTableOperations)
			}
			// ... among them every one a role may call
			for op := range granted {
				if !watched[op] {
					t.Errorf("a role may call %s, which the alarm does not watch", op)
				}
			}
		})
	}
}

// dashboardBody is the dashboard's JSON with each reference spelled
// @Ref:id@ or @GetAtt:id.attribute@.
func dashboardBody(t *testing.T) (name any, body map[string]any) {
	t.Helper()
	dashboards := resources(t, tmpl, "AWS::CloudWatch::Dashboard")
	if id := onlyID(t, dashboards); id != ids["Dashboard"] {
		t.Fatalf("dashboard %s, want %s", id, ids["Dashboard"])
	}
	p := props(dashboards[ids["Dashboard"]])
	var b strings.Builder
	join, _ := p["DashboardBody"].(map[string]any)["Fn::Join"].([]any)
	if len(join) != 2 || join[0] != "" {
		t.Fatalf("DashboardBody %v is not a Fn::Join", p["DashboardBody"])
	}
	for _, part := range asAnyList(join[1]) {
		switch v := part.(type) {
		case string:
			b.WriteString(v)
		case map[string]any:
			if id, ok := v["Ref"].(string); ok {
				b.WriteString("@Ref:" + id + "@")
			} else if att := asAnyList(v["Fn::GetAtt"]); len(att) == 2 {
				fmt.Fprintf(&b, "@GetAtt:%v.%v@", att[0], att[1])
			} else {
				t.Fatalf("unexpected intrinsic %v", v)
			}
		}
	}
	if err := json.Unmarshal([]byte(b.String()), &body); err != nil {
		t.Fatalf("dashboard body is not JSON: %v", err)
	}
	return p["DashboardName"], body
}

// accessLogGroup is the log group a stage's DestinationArn names, in
// whichever form it names it (an Fn::GetAtt of its Arn, or an Fn::Join
// around it).
func accessLogGroup(t *testing.T, arn any) string {
	t.Helper()
	groups := resources(t, tmpl, "AWS::Logs::LogGroup")
	var found []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if id, ok := v["Ref"].(string); ok && groups[id] != nil {
				found = append(found, id)
			}
			if att := asAnyList(v["Fn::GetAtt"]); len(att) == 2 && groups[fmt.Sprint(att[0])] != nil {
				found = append(found, fmt.Sprint(att[0]))
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
	walk(arn)
	if len(found) != 1 {
		t.Fatalf("the access log destination %v names log groups %v", arn, found)
	}
	return found[0]
}

func TestTheDashboardShowsTrafficErrorsLatencyCapacityAndTenants(t *testing.T) {
	// GIVEN the dashboard, its references resolved to logical ids
	name, body := dashboardBody(t)
	if name != "Test" {
		t.Errorf("DashboardName = %v, want the stack's name", name)
	}
	stage := "@Ref:" + onlyID(t, resources(t, tmpl, "AWS::ApiGateway::Stage")) + "@"
	table := "@Ref:" + onlyID(t, resources(t, tmpl, "AWS::DynamoDB::Table")) + "@"
	stages := resources(t, tmpl, "AWS::ApiGateway::Stage")
	accessLogs := accessLogGroup(t, props(stages[onlyID(t, stages)])["AccessLogSetting"].(map[string]any)["DestinationArn"])

	// WHEN its widgets' metrics, alarms and queries are collected
	metrics := map[string]bool{} // "namespace name dim value …|stat"
	var alarms []string
	var queries []string
	for _, w := range asAnyList(body["widgets"]) {
		p, _ := w.(map[string]any)["properties"].(map[string]any)
		for _, line := range asAnyList(p["metrics"]) {
			var words []string
			stat := ""
			for _, x := range asAnyList(line) {
				switch x := x.(type) {
				case string:
					words = append(words, x)
				case map[string]any:
					stat, _ = x["stat"].(string)
				}
			}
			metrics[strings.Join(words, " ")+"|"+stat] = true
		}
		for _, a := range asAnyList(p["alarms"]) {
			alarms = append(alarms, a.(string))
		}
		if q, ok := p["query"].(string); ok {
			queries = append(queries, q)
		}
	}

	// THEN it shows every alarm's state
	var wantAlarms []string
	for _, id := range alarmIDs {
		wantAlarms = append(wantAlarms, "@GetAtt:"+ids[id]+".Arn@")
	}
	if !slices.Equal(slices.Sorted(slices.Values(alarms)), slices.Sorted(slices.Values(wantAlarms))) {
		t.Errorf("alarm widget shows %v, want %v", alarms, wantAlarms)
	}
	// AND the stage's requests, errors and latency, each function's errors,
	// throttles and p50 and p99 duration, and the table's consumed capacity
	want := []string{
		"AWS/ApiGateway Count ApiName fleetgroups Stage " + stage + "|Sum",
		"AWS/ApiGateway 4XXError ApiName fleetgroups Stage " + stage + "|Sum",
		"AWS/ApiGateway 5XXError ApiName fleetgroups Stage " + stage + "|Sum",
		"AWS/ApiGateway Latency ApiName fleetgroups Stage " + stage + "|p50",
		"AWS/ApiGateway Latency ApiName fleetgroups Stage " + stage + "|p99",
		"AWS/DynamoDB ConsumedReadCapacityUnits TableName " + table + "|Sum",
		"AWS/DynamoDB ConsumedWriteCapacityUnits TableName " + table + "|Sum",
	}
	for _, f := range routes.Functions {
		fn := "@Ref:" + fnIDs[f.Operation] + "@"
		want = append(want,
			"AWS/Lambda Errors FunctionName "+fn+"|Sum",
			"AWS/Lambda Throttles FunctionName "+fn+"|Sum",
			"AWS/Lambda Duration FunctionName "+fn+"|p50",
			"AWS/Lambda Duration FunctionName "+fn+"|p99")
	}
	for _, w := range want {
		if !metrics[w] {
			t.Errorf("no graph of %s", w)
		}
	}
	// AND, from the access logs, requests and error answers per tenant
	for _, stats := range []string{"stats count(*) as requests by tenant", "stats count(*) as answers by tenant, status"} {
		if !slices.ContainsFunc(queries, func(q string) bool {
			return strings.HasPrefix(q, fmt.Sprintf("SOURCE '@Ref:%s@' | ", accessLogs)) && strings.Contains(q, stats)
		}) {
			t.Errorf("no query of the access logs with %q in %q", stats, queries)
		}
	}
}
