package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssnssubscriptions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/aws-cdk-go/awscdk/v2/interfaces/interfacesawscloudwatch"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/fleetgroups/fleetgroups/pkg/routes"
)

// Issue 10: the stack's monitoring. Every alarm notifies one SNS topic,
// Alarms; the dashboard shows what the alarms watch and a little more.
// The alarms on the functions watch groups of them through metric math
// rather than one alarm per function and metric, which would add three
// resources a function (over a hundred) to a stack that CloudFormation
// caps at 500.

// AlarmSettings are the alarms' thresholds, each the most that does not
// yet raise its alarm, and the address their topic mails.
type AlarmSettings struct {
	// Email, if not empty, is subscribed to the Alarms topic (SNS mails
	// it a confirmation link first).
	Email string
	// ServerErrorRate is the share of the stage's requests answered 5xx
	// in 5 minutes, 0.01 being 1 %.
	ServerErrorRate float64
	// ClientErrors is the number of 4xx answers in 5 minutes.
	ClientErrors float64
	// FunctionErrors and FunctionThrottles are the errors and throttles of
	// a group of functions together, in 5 minutes.
	FunctionErrors    float64
	FunctionThrottles float64
	// FunctionP99Ms is the p99 duration of any function, in milliseconds.
	FunctionP99Ms float64
	// AuthorizerErrors is the authorizer's errors in 5 minutes.
	AuthorizerErrors float64
}

// defaultAlarmSettings are the thresholds unless CDK context or the
// environment sets others (main.go).
var defaultAlarmSettings = AlarmSettings{
	ServerErrorRate:   0.01,
	ClientErrors:      500,
	FunctionErrors:    5,
	FunctionThrottles: 1,
	FunctionP99Ms:     10_000,
	AuthorizerErrors:  1,
}

const (
	// runbook is where each alarm's description sends the operator.
	runbook = "Runbook: docs/operations.md, What the alarms mean."
	// maxAlarmMetrics is the most metrics one alarm's math may read
	// (CloudWatch's hard limit).
	maxAlarmMetrics = 10
)

// alarmPeriod is the period of every alarm but the queues' and of the
// dashboard's graphs.
var alarmPeriod = awscdk.Duration_Minutes(jsii.Number(5))

// tableOperations are the DynamoDB operations the functions and the admin
// command call (Scan: migrations alone); DynamoDB reports throttles and
// system errors per operation.
var tableOperations = []string{
	"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan",
	"BatchGetItem", "BatchWriteItem", "TransactWriteItems",
}

// alarms declares the stack's alarms, each named after the stack and its
// id and notifying the Alarms topic.
type alarms struct {
	scope     constructs.Construct
	stackName string
	topic     awssns.Topic
	action    awscloudwatch.IAlarmAction
	all       []awscloudwatch.Alarm
}

// newAlarms declares the Alarms topic, with email subscribed unless it is
// empty. The topic is not encrypted: CloudWatch could publish to a KMS
// encrypted one only through a customer managed key, and alarms carry no
// tenant's data.
func newAlarms(scope constructs.Construct, email string) *alarms {
	topic := awssns.NewTopic(scope, jsii.String("Alarms"), &awssns.TopicProps{
		DisplayName: jsii.String("fleetgroups alarms"),
	})
	if email != "" {
		topic.AddSubscription(awssnssubscriptions.NewEmailSubscription(jsii.String(email), nil))
	}
	return &alarms{
		scope:     scope,
		stackName: *awscdk.Stack_Of(scope).StackName(),
		topic:     topic,
		action:    awscloudwatchactions.NewSnsAction(topic),
	}
}

func (a *alarms) add(id string, props *awscloudwatch.AlarmProps) awscloudwatch.Alarm {
	props.AlarmName = jsii.String(a.stackName + "-" + id)
	props.EvaluationPeriods = jsii.Number(1)
	props.TreatMissingData = awscloudwatch.TreatMissingData_NOT_BREACHING
	alarm := awscloudwatch.NewAlarm(a.scope, jsii.String(id), props)
	alarm.AddAlarmAction(a.action)
	a.all = append(a.all, alarm)
	return alarm
}

// queue goes off as soon as queue holds a message (a lost batch, a message
// no function could handle); description (pkg/routes', which the SAM
// template shares) gains the runbook's place.
func (a *alarms) queue(id, description string, queue awssqs.Queue) {
	a.add(id, &awscloudwatch.AlarmProps{
		AlarmDescription: jsii.String(description + " " + runbook),
		Metric: queue.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{
			Period:    awscdk.Duration_Seconds(jsii.Number(60)),
			Statistic: awscloudwatch.Stats_MAXIMUM(),
		}),
		Threshold:          jsii.Number(1),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
	})
}

// above goes off when metric, over one period, is above threshold, and not
// for want of data (no traffic is no trouble).
func (a *alarms) above(id, description string, metric awscloudwatch.IMetric, threshold float64) {
	a.add(id, &awscloudwatch.AlarmProps{
		AlarmDescription:   jsii.String(description),
		Metric:             metric,
		Threshold:          jsii.Number(threshold),
		ComparisonOperator: awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD,
	})
}

// monitored is what newMonitoring watches.
type monitored struct {
	table      awsdynamodb.Table
	fns        map[routes.Operation]awslambda.Function
	api        awsapigateway.RestApi
	accessLogs awslogs.LogGroup
}

// newMonitoring declares the alarms on the API, the functions and the
// table, and the dashboard.
func newMonitoring(scope constructs.Construct, a *alarms, s AlarmSettings, m monitored) {
	stage := m.api.DeploymentStage()
	sum := &awscloudwatch.MetricOptions{Statistic: awscloudwatch.Stats_SUM(), Period: alarmPeriod}

	// The API, at the stage.
	a.above("Api5xxRate", fmt.Sprintf("More than %s of the %s stage's requests were answered 5xx in 5 minutes "+
		"(5XXError / Count). Find the failing routes in the access logs (status, error_type, resource_path), then the "+
		"function's errors in its log group and its X-Ray traces. %s", percent(s.ServerErrorRate), routes.Stage, runbook),
		awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
			Expression: jsii.String("serverErrors / requests"),
			UsingMetrics: &map[string]awscloudwatch.IMetric{
				"serverErrors": stage.MetricServerError(sum),
				"requests":     stage.MetricCount(sum),
			},
			Label:  jsii.String("Share of requests answered 5xx"),
			Period: alarmPeriod,
		}), s.ServerErrorRate)
	a.above("Api4xxCount", fmt.Sprintf("More than %s of the %s stage's answers were 4xx in 5 minutes (4XXError). "+
		"A partner sending bad requests or a revoked token (401, 403), a tenant over its throttle or quota (429), or a "+
		"deploy that broke a route: the access logs say which tenant (tenant) and why (status, error_type). %s",
		number(s.ClientErrors), routes.Stage, runbook),
		stage.MetricClientError(sum), s.ClientErrors)

	// The functions, in groups of at most maxAlarmMetrics.
	for i, group := range functionGroups(routes.Functions) {
		n := strconv.Itoa(i + 1)
		errs, errNote := without(group, routes.Authorizer,
			" The authorizer's errors have an alarm of their own, AuthorizerErrors.")
		a.above("FunctionErrors"+n, fmt.Sprintf("The functions %s together failed more than %s times in 5 minutes "+
			"(the SUM of their Errors): invocations that crashed, timed out or ran out of memory, which API Gateway "+
			"answered with a 5xx, or a stream or queue batch that is retried. Look for \"level\":\"ERROR\" and "+
			"\"Task timed out\" in their log groups, and at their X-Ray traces.%s %s",
			opNames(errs), number(s.FunctionErrors), errNote, runbook),
			combined("SUM", "e", errs, m.fns, func(fn awslambda.Function, op string) awscloudwatch.IMetric {
				return fn.MetricErrors(withLabel(sum, op))
			}), s.FunctionErrors)
		a.above("FunctionThrottles"+n, fmt.Sprintf("Lambda throttled the functions %s more than %s times in 5 minutes "+
			"together (the SUM of their Throttles): the region's concurrency, which every function of the account "+
			"shares, ran out, and their requests failed. Find what took it (the account's other functions, a load "+
			"test) or raise the account's Lambda concurrency quota. %s",
			opNames(group), number(s.FunctionThrottles), runbook),
			combined("SUM", "t", group, m.fns, func(fn awslambda.Function, op string) awscloudwatch.IMetric {
				return fn.MetricThrottles(withLabel(sum, op))
			}), s.FunctionThrottles)
		timed, timedNote := without(group, routes.DeliverWebhooks,
			" deliver-webhooks is left out: it waits on partners' endpoints, up to 10 s a delivery, so its duration "+
				"is theirs; its timeouts count as its errors.")
		a.above("FunctionP99Duration"+n, fmt.Sprintf("The p99 duration of one of the functions %s was over %s ms in "+
			"5 minutes (the MAX of their p99 Duration); those answering the API stop at %d s, where API Gateway "+
			"answers 504. Its X-Ray traces show what it waits on (DynamoDB, a large subtree, a move).%s %s",
			opNames(timed), number(s.FunctionP99Ms), routes.LambdaTimeoutSeconds, timedNote, runbook),
			combined("MAX", "d", timed, m.fns, func(fn awslambda.Function, op string) awscloudwatch.IMetric {
				return fn.MetricDuration(withLabel(&awscloudwatch.MetricOptions{
					Statistic: awscloudwatch.Stats_Percentile(jsii.Number(99)), Period: alarmPeriod,
				}, op))
			}), s.FunctionP99Ms)
	}
	a.above("AuthorizerErrors", fmt.Sprintf("The authorizer failed more than %s times in 5 minutes (Errors): API "+
		"Gateway refuses with a 5xx every request whose token it has not cached. Look at the authorizer's log group "+
		"and X-Ray traces; it reads one token item (GetItem), so look at TableThrottles and TableSystemErrors too. %s",
		number(s.AuthorizerErrors), runbook),
		m.fns[routes.Authorizer].MetricErrors(sum), s.AuthorizerErrors)

	// The table.
	ops := strings.Join(tableOperations, ", ")
	a.above("TableThrottles", fmt.Sprintf("DynamoDB throttled requests to the table in 5 minutes (the SUM of "+
		"ThrottledRequests of %s). The table is on demand: it throttles a partition hotter than 3,000 reads or "+
		"1,000 writes a second (one tenant's usage item, a very busy group) and traffic more than double its "+
		"previous peak at once. The SDK retries; the functions' logs and DynamoDB's Contributor Insights show the "+
		"hot keys. %s", ops, runbook),
		tableMetric(m.table, "ThrottledRequests", "t"), 0)
	a.above("TableSystemErrors", fmt.Sprintf("DynamoDB failed requests to the table with a 500 in 5 minutes (the "+
		"SUM of SystemErrors of %s): a fault on AWS's side, which the SDK retries. If it persists, look at the AWS "+
		"Health Dashboard for DynamoDB in the region. %s", ops, runbook),
		tableMetric(m.table, "SystemErrors", "s"), 0)

	newDashboard(scope, a, m)
}

// functionGroups splits fs into the fewest groups of at most
// maxAlarmMetrics functions, as even as they go, in fs's order.
func functionGroups(fs []routes.Function) [][]routes.Function {
	n := (len(fs) + maxAlarmMetrics - 1) / maxAlarmMetrics
	out := make([][]routes.Function, n)
	for i := range out {
		out[i] = fs[i*len(fs)/n : (i+1)*len(fs)/n]
	}
	return out
}

// without is group less op, and note if op was in it.
func without(group []routes.Function, op routes.Operation, note string) ([]routes.Function, string) {
	var out []routes.Function
	for _, f := range group {
		if f.Operation != op {
			out = append(out, f)
		}
	}
	if len(out) == len(group) {
		note = ""
	}
	return out, note
}

func opNames(fs []routes.Function) string {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = string(f.Operation)
	}
	return strings.Join(names, ", ")
}

// combined is fn(SUM or MAX) over the metric of each function of group,
// whose ids in the expression are prefix1, prefix2, …
func combined(fn, prefix string, group []routes.Function, fns map[routes.Operation]awslambda.Function,
	metric func(awslambda.Function, string) awscloudwatch.IMetric) awscloudwatch.IMetric {
	using := map[string]awscloudwatch.IMetric{}
	ids := make([]string, len(group))
	for i, f := range group {
		ids[i] = prefix + strconv.Itoa(i+1)
		using[ids[i]] = metric(fns[f.Operation], string(f.Operation))
	}
	return awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
		Expression:   jsii.String(fn + "([" + strings.Join(ids, ", ") + "])"),
		UsingMetrics: &using,
		Period:       alarmPeriod,
	})
}

// tableMetric is the SUM of the table's metric name over tableOperations,
// whose ids in the expression are prefix1, prefix2, …
func tableMetric(table awsdynamodb.Table, name, prefix string) awscloudwatch.IMetric {
	using := map[string]awscloudwatch.IMetric{}
	ids := make([]string, len(tableOperations))
	for i, op := range tableOperations {
		ids[i] = prefix + strconv.Itoa(i+1)
		using[ids[i]] = table.Metric(jsii.String(name), &awscloudwatch.MetricOptions{
			DimensionsMap: &map[string]*string{"TableName": table.TableName(), "Operation": jsii.String(op)},
			Statistic:     awscloudwatch.Stats_SUM(),
			Period:        alarmPeriod,
			Label:         jsii.String(op),
		})
	}
	return awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
		Expression:   jsii.String("SUM([" + strings.Join(ids, ", ") + "])"),
		UsingMetrics: &using,
		Label:        jsii.String(name),
		Period:       alarmPeriod,
	})
}

func withLabel(o *awscloudwatch.MetricOptions, label string) *awscloudwatch.MetricOptions {
	c := *o
	c.Label = jsii.String(label)
	return &c
}

// percent spells a share as a percentage: 0.01 is "1%".
func percent(f float64) string { return strconv.FormatFloat(f*100, 'g', 4, 64) + "%" }

// newDashboard declares the dashboard, named after the stack: the alarms'
// states; requests, errors and latency at the stage; errors, throttles and
// p50 and p99 duration per function; the table's consumed capacity,
// throttles and system errors; and requests and error answers per tenant,
// from the access logs.
func newDashboard(scope constructs.Construct, a *alarms, m monitored) {
	stage := m.api.DeploymentStage()
	opts := func(stat *string, label string) *awscloudwatch.MetricOptions {
		return &awscloudwatch.MetricOptions{Statistic: stat, Period: alarmPeriod, Label: jsii.String(label)}
	}
	sum, p50, p99 := awscloudwatch.Stats_SUM(), awscloudwatch.Stats_Percentile(jsii.Number(50)), awscloudwatch.Stats_Percentile(jsii.Number(99))
	perFunction := func(metric func(awslambda.Function, *awscloudwatch.MetricOptions) awscloudwatch.Metric, stat *string) *[]awscloudwatch.IMetric {
		var ms []awscloudwatch.IMetric
		for _, f := range routes.Functions {
			ms = append(ms, metric(m.fns[f.Operation], opts(stat, string(f.Operation))))
		}
		return &ms
	}
	graph := func(title string, width float64, metrics *[]awscloudwatch.IMetric) awscloudwatch.IWidget {
		return awscloudwatch.NewGraphWidget(&awscloudwatch.GraphWidgetProps{
			Title: jsii.String(title), Width: jsii.Number(width), Height: jsii.Number(6), Left: metrics,
		})
	}
	tenants := func(title string, lines ...string) awscloudwatch.IWidget {
		return awscloudwatch.NewLogQueryWidget(&awscloudwatch.LogQueryWidgetProps{
			Title:         jsii.String(title),
			LogGroupNames: &[]*string{m.accessLogs.LogGroupName()},
			QueryLines:    jsii.Strings(lines...),
			View:          awscloudwatch.LogQueryVisualizationType_TABLE,
			Width:         jsii.Number(12),
			Height:        jsii.Number(6),
		})
	}
	alarmRefs := make([]interfacesawscloudwatch.IAlarmRef, len(a.all))
	for i, al := range a.all {
		alarmRefs[i] = al
	}
	// Requests without a tenant (public routes, refused tokens) log "-".
	const tenantFilter = `filter ispresent(tenant) and tenant != "-" and tenant != ""`

	d := awscloudwatch.NewDashboard(scope, jsii.String("Dashboard"), &awscloudwatch.DashboardProps{
		DashboardName:   jsii.String(a.stackName),
		DefaultInterval: awscdk.Duration_Hours(jsii.Number(3)),
	})
	d.AddWidgets(awscloudwatch.NewTextWidget(&awscloudwatch.TextWidgetProps{
		Markdown: jsii.String("Every alarm notifies the `Alarms` SNS topic (stack output `AlarmTopicArn`); " +
			"what each means and what to do is in the runbook, docs/operations.md. Traces of sampled requests: " +
			"CloudWatch → X-Ray traces."),
		Width: jsii.Number(24), Height: jsii.Number(2),
	}))
	d.AddWidgets(awscloudwatch.NewAlarmStatusWidget(&awscloudwatch.AlarmStatusWidgetProps{
		Title: jsii.String("Alarms"), Alarms: &alarmRefs, Width: jsii.Number(24), Height: jsii.Number(4),
	}))
	d.AddWidgets(
		graph("Requests (API Count)", 8, &[]awscloudwatch.IMetric{stage.MetricCount(opts(sum, "requests"))}),
		graph("API errors (4xx, 5xx)", 8, &[]awscloudwatch.IMetric{
			stage.MetricClientError(opts(sum, "4xx")), stage.MetricServerError(opts(sum, "5xx")),
		}),
		graph("API latency (ms)", 8, &[]awscloudwatch.IMetric{
			stage.MetricLatency(opts(p50, "p50")), stage.MetricLatency(opts(p99, "p99")),
			stage.MetricIntegrationLatency(opts(p99, "integration p99")),
		}),
	)
	d.AddWidgets(
		graph("Function errors", 12, perFunction(awslambda.Function.MetricErrors, sum)),
		graph("Function throttles", 12, perFunction(awslambda.Function.MetricThrottles, sum)),
	)
	d.AddWidgets(
		graph("Function duration p50 (ms)", 12, perFunction(awslambda.Function.MetricDuration, p50)),
		graph("Function duration p99 (ms)", 12, perFunction(awslambda.Function.MetricDuration, p99)),
	)
	d.AddWidgets(
		graph("DynamoDB consumed capacity", 12, &[]awscloudwatch.IMetric{
			m.table.MetricConsumedReadCapacityUnits(opts(sum, "read units")),
			m.table.MetricConsumedWriteCapacityUnits(opts(sum, "write units")),
		}),
		graph("DynamoDB throttles and system errors", 12, &[]awscloudwatch.IMetric{
			tableMetric(m.table, "ThrottledRequests", "t"), tableMetric(m.table, "SystemErrors", "s"),
		}),
	)
	d.AddWidgets(
		tenants("Requests per tenant (access logs)",
			"fields tenant", tenantFilter,
			"stats count(*) as requests by tenant", "sort requests desc", "limit 100"),
		tenants("Error answers per tenant (access logs)",
			"fields tenant, status", tenantFilter, "filter status like /^[45]/",
			"stats count(*) as answers by tenant, status", "sort answers desc", "limit 100"),
	)
}
