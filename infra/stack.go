package main

import (
	"encoding/json"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapigateway"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsdynamodb"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslambda"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"

	"github.com/fleetgroups/fleetgroups/pkg/problem"
	"github.com/fleetgroups/fleetgroups/pkg/routes"
)

// Names only, not store.TableDefinition: pkg/store would pull the AWS SDK into
// the CDK app, and the test compares the synthesised table to it instead.
const (
	attrPK      = "PK"
	attrSK      = "SK"
	attrGSI1PK  = "GSI1PK"
	attrGSI1SK  = "GSI1SK"
	attrGSI2PK  = "GSI2PK"
	attrGSI2SK  = "GSI2SK"
	attrGSI3PK  = "GSI3PK"
	attrGSI3SK  = "GSI3SK"
	indexGSI1   = "GSI1"
	indexGSI2   = "GSI2"
	indexGSI3   = "GSI3"
	attrExpires = "expiresAt"
	// The metering grant's terms (store.MeterLeadingKeys and friends).
	meterLeadingKeys         = "T#*"
	meterExcludedLeadingKeys = "T#*#*"
	// The feed grant's terms (store.FeedLeadingKeys): the partitions where
	// the publisher appends change events.
	feedLeadingKeys = "T#*#FEED"
)

// webhookLeadingKeys are the webhook grant's terms (store.WebhookLeadingKeys):
// the partitions of the tenants' webhooks and of their delivery records,
// which deliver-webhooks reads and writes.
var webhookLeadingKeys = []string{"T#*#HOOKS", "T#*#HOOK#*"}

// changeSortKeys are the sort keys of the items whose stream records make
// change events (store.ChangeSortKeys): whole keys and starts of keys. The
// event source mapping's filter drops every other record.
var changeSortKeys = struct{ Exact, Prefixes []string }{
	Exact:    []string{"#GROUP", "ITEM", "ASSOC"},
	Prefixes: []string{"M#", "W#"},
}

// meterAttributes are the attributes counting calls writes, as StringLike
// patterns (store.MeterAttributes): each day's counter has a name of its own.
var meterAttributes = []string{attrPK, attrSK, "calls", "lastDay", "day_*"}

// The move grant's terms (store.MoveLeadingKeys and friends): what a read
// of groups writes when it carries a move of groups on.
var (
	moveLeadingKeys         = []string{"T#*#G#*", "T#*#MOVE"}
	moveEndLeadingKeys      = []string{"T#*#MOVE"}
	moveExcludedLeadingKeys = []string{"T#*#NAME#*", "T#*#IDEM#*"}
	moveAttributes          = []string{attrPK, attrSK, attrGSI3PK, attrGSI3SK, "moving", "parentId", "childCount",
		"version", "updatedAt", "deletingAt", "mark", "state", "to"}
)

const logRetention = awslogs.RetentionDays_ONE_MONTH

// FleetgroupsStackProps configures NewFleetgroupsStack.
type FleetgroupsStackProps struct {
	awscdk.StackProps
	// AssetsDir holds <op>/bootstrap for every routes.Functions entry
	// (make build writes them to build/).
	AssetsDir string
	// DeletionProtection keeps the table (and the logs) when the stack or the
	// resource is deleted; only throw-away stacks should turn it off.
	DeletionProtection bool
	// RateLimit and BurstLimit are the usage plan's per-key throttle.
	RateLimit  float64
	BurstLimit float64
	// QuotaPerDay is the usage plan's per-key request quota per day.
	QuotaPerDay float64
	// TreeMaxDepth is the deepest a group may sit, 0 to groups.MaxDepth.
	TreeMaxDepth int
	// Alarms are the alarms' thresholds and who they mail (monitoring.go).
	Alarms AlarmSettings
}

// NewFleetgroupsStack declares the whole API: the table, one Lambda per
// operation, the REST API with its authorizer, the usage plan tenants' API
// keys are attached to, the change feed's publisher on the table's stream,
// the webhook delivery queue with its deliverer, and their monitoring: the
// alarms, the topic they notify and the dashboard (monitoring.go).
func NewFleetgroupsStack(scope constructs.Construct, id string, props *FleetgroupsStackProps) awscdk.Stack {
	stack := awscdk.NewStack(scope, jsii.String(id), &props.StackProps)

	alarms := newAlarms(stack, props.Alarms.Email)
	table := newTable(stack, props.DeletionProtection)
	fns := newFunctions(stack, table, props)
	newChangeFeed(stack, table, fns[routes.PublishChanges], alarms)
	newWebhookDelivery(stack, fns[routes.PublishChanges], fns[routes.DeliverWebhooks], alarms)
	api, accessLogs := newAPI(stack, fns, props.DeletionProtection)
	plan := newUsagePlan(api, props)
	newMonitoring(stack, alarms, props.Alarms, monitored{table: table, fns: fns, api: api, accessLogs: accessLogs})

	awscdk.NewCfnOutput(stack, jsii.String("ApiUrl"), &awscdk.CfnOutputProps{
		Value:       api.Url(),
		Description: jsii.String("Base URL of the live stage"),
	})
	awscdk.NewCfnOutput(stack, jsii.String("UsagePlanId"), &awscdk.CfnOutputProps{
		Value:       plan.UsagePlanId(),
		Description: jsii.String("Usage plan the admin command attaches tenants' API keys to"),
	})
	awscdk.NewCfnOutput(stack, jsii.String("TableName"), &awscdk.CfnOutputProps{
		Value: table.TableName(),
	})
	awscdk.NewCfnOutput(stack, jsii.String("AlarmTopicArn"), &awscdk.CfnOutputProps{
		Value:       alarms.topic.TopicArn(),
		Description: jsii.String("SNS topic every alarm notifies; subscribe on-call to it"),
	})
	return stack
}

func removalPolicy(protected bool) awscdk.RemovalPolicy {
	if protected {
		return awscdk.RemovalPolicy_RETAIN
	}
	return awscdk.RemovalPolicy_DESTROY
}

// newTable declares the single table with the schema of store.TableDefinition,
// which is what the local server and the store tests create.
func newTable(scope constructs.Construct, protected bool) awsdynamodb.Table {
	table := awsdynamodb.NewTable(scope, jsii.String("Table"), &awsdynamodb.TableProps{
		PartitionKey: stringAttr(attrPK),
		SortKey:      stringAttr(attrSK),
		BillingMode:  awsdynamodb.BillingMode_PAY_PER_REQUEST,
		PointInTimeRecoverySpecification: &awsdynamodb.PointInTimeRecoverySpecification{
			PointInTimeRecoveryEnabled: jsii.Bool(true),
		},
		DeletionProtection:  jsii.Bool(protected),
		RemovalPolicy:       removalPolicy(protected),
		TimeToLiveAttribute: jsii.String(attrExpires),
		// Issue 9: the change feed reads every write, with both images.
		Stream: awsdynamodb.StreamViewType_NEW_AND_OLD_IMAGES,
	})
	// CloudFormation adds at most one GSI per stack update: a stack
	// deployed before GSI3 (the tree order) gains it in one deploy.
	for _, gsi := range [][3]string{{indexGSI1, attrGSI1PK, attrGSI1SK}, {indexGSI2, attrGSI2PK, attrGSI2SK}, {indexGSI3, attrGSI3PK, attrGSI3SK}} {
		table.AddGlobalSecondaryIndex(&awsdynamodb.GlobalSecondaryIndexProps{
			IndexName:      jsii.String(gsi[0]),
			PartitionKey:   stringAttr(gsi[1]),
			SortKey:        stringAttr(gsi[2]),
			ProjectionType: awsdynamodb.ProjectionType_ALL,
		})
	}
	return table
}

func stringAttr(name string) *awsdynamodb.Attribute {
	return &awsdynamodb.Attribute{Name: jsii.String(name), Type: awsdynamodb.AttributeType_STRING}
}

// newFunctions declares one Lambda per routes.Functions entry, keyed by
// operation. Several routes may share one function; the API wires them.
func newFunctions(scope constructs.Construct, table awsdynamodb.Table, props *FleetgroupsStackProps) map[routes.Operation]awslambda.Function {
	fns := make(map[routes.Operation]awslambda.Function, len(routes.Functions))
	for _, f := range routes.Functions {
		fns[f.Operation] = newFunction(scope, table, f, props)
	}
	return fns
}

func newFunction(scope constructs.Construct, table awsdynamodb.Table, f routes.Function, props *FleetgroupsStackProps) awslambda.Function {
	name := routes.LogicalName(f.Operation)
	logs := awslogs.NewLogGroup(scope, jsii.String(name+"Logs"), &awslogs.LogGroupProps{
		Retention:     logRetention,
		RemovalPolicy: removalPolicy(props.DeletionProtection),
	})
	// An own role instead of the default one: the default attaches
	// AWSLambdaBasicExecutionRole, which may create and write any log group
	// in the account. This one may only write to the function's own group.
	role := awsiam.NewRole(scope, jsii.String(name+"Role"), &awsiam.RoleProps{
		AssumedBy: awsiam.NewServicePrincipal(jsii.String("lambda.amazonaws.com"), nil),
	})
	logs.GrantWrite(role)

	fn := awslambda.NewFunction(scope, jsii.String(name+"Function"), &awslambda.FunctionProps{
		Description:  jsii.String(f.Description),
		Runtime:      awslambda.Runtime_PROVIDED_AL2023(),
		Architecture: awslambda.Architecture_ARM_64(),
		Handler:      jsii.String("bootstrap"),
		Code:         awslambda.Code_FromAsset(jsii.String(filepath.Join(props.AssetsDir, string(f.Operation))), nil),
		MemorySize:   jsii.Number(routes.LambdaMemoryMB),
		Timeout:      awscdk.Duration_Seconds(jsii.Number(timeoutSeconds(f.Operation))),
		Role:         role,
		LogGroup:     logs,
		// Issue 10: a trace of every sampled request, from API Gateway's
		// stage through the function (and its DynamoDB calls, as far as
		// the code records them as subsegments). ACTIVE also grants the role
		// xray:PutTraceSegments and xray:PutTelemetryRecords, on "*": X-Ray
		// has no resources to name.
		Tracing: awslambda.Tracing_ACTIVE,
		Environment: &map[string]*string{
			"TABLE_NAME":               table.TableName(),
			"LOG_LEVEL":                jsii.String("info"),
			routes.EnvUsageRateLimit:   jsii.String(number(props.RateLimit)),
			routes.EnvUsageBurstLimit:  jsii.String(number(props.BurstLimit)),
			routes.EnvUsageQuotaPerDay: jsii.String(number(props.QuotaPerDay)),
			routes.EnvTreeMaxDepth:     jsii.String(strconv.Itoa(props.TreeMaxDepth)),
		},
	})
	switch f.Access {
	case routes.ReadWrite:
		table.GrantReadWriteData(fn)
	case routes.ReadOnly:
		table.GrantReadData(fn)
	case routes.ReadTree:
		table.GrantReadData(fn)
		grantMoves(fn, table)
	case routes.StreamPublisher:
		// It reads groups as ReadTree functions do, moves included, and
		// appends to the feeds; newChangeFeed grants the stream and the
		// failure queue.
		table.GrantReadData(fn)
		grantMoves(fn, table)
		grantFeed(fn, table)
	case routes.WebhookDeliverer:
		// Webhooks, delivery records and feeds only, in the store's terms;
		// newWebhookDelivery grants the queue.
		grantWebhooks(fn, table)
	case routes.TokenLookup:
		table.Grant(fn, jsii.String("dynamodb:GetItem"))
	case routes.NoTable:
	}
	if routes.Metered(f.Operation) {
		grantMetering(fn, table)
	}
	return fn
}

func number(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// timeoutSeconds is op's Lambda timeout: API Gateway's limit for the
// functions that answer requests (and the publisher), longer for
// deliver-webhooks, whose batch waits on receivers.
func timeoutSeconds(op routes.Operation) int {
	if op == routes.DeliverWebhooks {
		return routes.WebhookTimeoutSeconds
	}
	return routes.LambdaTimeoutSeconds
}

// grantMetering lets fn count its calls, the one write that every function
// serving authenticated routes makes, read-only ones included: UpdateItem only in a
// tenant's own partition and only of the counters' attributes (see
// store.MeterLeadingKeys), returning nothing but the counters it names.
func grantMetering(fn awslambda.Function, table awsdynamodb.Table) {
	fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("CountCalls"),
		Actions:   jsii.Strings("dynamodb:UpdateItem"),
		Resources: &[]*string{table.TableArn()},
		Conditions: &map[string]any{
			"ForAllValues:StringLike": map[string]any{
				"dynamodb:LeadingKeys": []string{meterLeadingKeys},
				"dynamodb:Attributes":  meterAttributes,
			},
			"ForAllValues:StringNotLike": map[string]any{"dynamodb:LeadingKeys": []string{meterExcludedLeadingKeys}},
			"StringEqualsIfExists":       map[string]any{"dynamodb:ReturnValues": []string{"NONE", "UPDATED_OLD"}},
		},
	}))
}

// grantMoves lets fn, which reads groups, carry a move of groups on when its
// reads meet one (store/move.go): UpdateItem of the tree attributes of
// group items and of the move item, DeleteItem of the move item, in the
// store's terms (store.MoveLeadingKeys and the rest), returning nothing.
func grantMoves(fn awslambda.Function, table awsdynamodb.Table) {
	for _, g := range []struct {
		sid, action string
		keys        []string
	}{
		{"CarryOnMoves", "dynamodb:UpdateItem", moveLeadingKeys},
		{"EndMoves", "dynamodb:DeleteItem", moveEndLeadingKeys},
	} {
		fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String(g.sid),
			Actions:   jsii.Strings(g.action),
			Resources: &[]*string{table.TableArn()},
			Conditions: &map[string]any{
				"ForAllValues:StringLike": map[string]any{
					"dynamodb:LeadingKeys": g.keys,
					"dynamodb:Attributes":  moveAttributes,
				},
				"ForAllValues:StringNotLike": map[string]any{"dynamodb:LeadingKeys": moveExcludedLeadingKeys},
				"StringEqualsIfExists":       map[string]any{"dynamodb:ReturnValues": []string{"NONE"}},
			},
		}))
	}
}

// grantFeed lets fn append change events: PutItem and BatchWriteItem only
// in the tenants' feed partitions (store.FeedLeadingKeys), never in a name
// guard's or an idempotency record's partition, whose keys may hold any '#'
// and so could end in "#FEED" (the move grant's exclusions).
func grantFeed(fn awslambda.Function, table awsdynamodb.Table) {
	fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("AppendToFeeds"),
		Actions:   jsii.Strings("dynamodb:PutItem", "dynamodb:BatchWriteItem"),
		Resources: &[]*string{table.TableArn()},
		Conditions: &map[string]any{
			"ForAllValues:StringLike":    map[string]any{"dynamodb:LeadingKeys": []string{feedLeadingKeys}},
			"ForAllValues:StringNotLike": map[string]any{"dynamodb:LeadingKeys": moveExcludedLeadingKeys},
		},
	}))
}

// grantWebhooks lets fn deliver webhooks (issue 9 §6): read and put items
// (its only writes: conditional Puts in TransactWriteItems, which IAM
// checks item by item) only in the tenants' webhook and delivery
// partitions (store.WebhookLeadingKeys), and Query the tenants' feeds (store.FeedLeadingKeys)
// for catch-ups; never in a name guard's or an idempotency record's
// partition, whose keys may hold any '#' and so could end in "#HOOKS" (the
// move grant's exclusions).
func grantWebhooks(fn awslambda.Function, table awsdynamodb.Table) {
	for _, g := range []struct {
		sid     string
		actions []string
		keys    []string
	}{
		{"KeepWebhookDeliveries", []string{"dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem"}, webhookLeadingKeys},
		{"ReadFeedsToCatchUp", []string{"dynamodb:Query"}, []string{feedLeadingKeys}},
	} {
		fn.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String(g.sid),
			Actions:   jsii.Strings(g.actions...),
			Resources: &[]*string{table.TableArn()},
			Conditions: &map[string]any{
				"ForAllValues:StringLike":    map[string]any{"dynamodb:LeadingKeys": g.keys},
				"ForAllValues:StringNotLike": map[string]any{"dynamodb:LeadingKeys": moveExcludedLeadingKeys},
			},
		}))
	}
}

// newChangeFeed feeds the table's stream to publisher (issue 9): an event
// source mapping that hands it only the records of items that make events
// (changeSortKeys), retries a failing batch halved, and sends what still
// fails to the ChangeFailures queue, whose alarm says a batch was lost; the
// publisher puts every event on the ChangeBus too.
// The publisher's role gets the stream reads and the queue's SendMessage
// here, by name, rather than through DynamoEventSource and SqsDlq, which
// would add ListStreams on "*" and the queue's other actions.
func newChangeFeed(scope constructs.Construct, table awsdynamodb.Table, publisher awslambda.Function, alarms *alarms) {
	// The same events, for AWS-native consumers: detail-type the event's
	// type, the tenant in the detail (pkg/changes.Bus).
	bus := awsevents.NewEventBus(scope, jsii.String("ChangeBus"), &awsevents.EventBusProps{})
	publisher.AddEnvironment(jsii.String(routes.EnvEventBusName), bus.EventBusName(), nil)
	failures := awssqs.NewQueue(scope, jsii.String("ChangeFailures"), &awssqs.QueueProps{
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(routes.ChangeFailureRetentionDays)),
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
	})
	for _, s := range []struct {
		sid       string
		actions   []string
		resources []*string
	}{
		{"ReadChangeStream", []string{"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"},
			[]*string{table.TableStreamArn()}},
		{"ListChangeStreams", []string{"dynamodb:ListStreams"},
			[]*string{awscdk.Fn_Join(jsii.String(""), &[]*string{table.TableArn(), jsii.String("/stream/*")})}},
		{"ReportLostBatches", []string{"sqs:SendMessage"}, []*string{failures.QueueArn()}},
		{"PutChangeEvents", []string{"events:PutEvents"}, []*string{bus.EventBusArn()}},
	} {
		publisher.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid:       jsii.String(s.sid),
			Actions:   jsii.Strings(s.actions...),
			Resources: &s.resources,
		}))
	}

	mapping := awslambda.NewCfnEventSourceMapping(scope, jsii.String("PublishChangesStream"), &awslambda.CfnEventSourceMappingProps{
		FunctionName:                   publisher.FunctionName(),
		EventSourceArn:                 table.TableStreamArn(),
		StartingPosition:               jsii.String("TRIM_HORIZON"),
		BatchSize:                      jsii.Number(routes.ChangeBatchSize),
		MaximumBatchingWindowInSeconds: jsii.Number(routes.ChangeBatchingWindowSeconds),
		ParallelizationFactor:          jsii.Number(routes.ChangeParallelizationFactor),
		BisectBatchOnFunctionError:     jsii.Bool(true),
		MaximumRetryAttempts:           jsii.Number(routes.ChangeMaxRetryAttempts),
		MaximumRecordAgeInSeconds:      jsii.Number(routes.ChangeMaxRecordAgeSeconds),
		DestinationConfig: &awslambda.CfnEventSourceMapping_DestinationConfigProperty{
			OnFailure: &awslambda.CfnEventSourceMapping_OnFailureProperty{Destination: failures.QueueArn()},
		},
		FilterCriteria: &awslambda.CfnEventSourceMapping_FilterCriteriaProperty{
			Filters: &[]any{&awslambda.CfnEventSourceMapping_FilterProperty{Pattern: jsii.String(changeFilterPattern())}},
		},
	})
	// Lambda checks the role's access to the stream when the mapping is
	// created, so the role's policy must exist first.
	mapping.Node().AddDependency(publisher.Role())

	alarms.queue("ChangeFailuresAlarm", routes.ChangeFailureAlarmDescription, failures)
}

// newWebhookDelivery declares the webhook delivery queue (issue 9 §6):
// publisher sends it a message per delivery, and deliverer, which the queue
// feeds, sends it catch-ups. A message is retried with the backoff the
// deliverer sets (its visibility), and one it fails routes.WebhookMaxReceives
// times goes to the WebhookDeadLetters queue, whose alarm says so. The queue
// is a standard one: the messages' group ids (the tenants) make it a fair
// queue, with nothing to declare.
// The roles get the queue's actions here, by name, rather than through
// SqsEventSource and GrantSendMessages, which would add actions the
// functions do not use (and KMS ones for a key the queue does not have).
func newWebhookDelivery(scope constructs.Construct, publisher, deliverer awslambda.Function, alarms *alarms) {
	deadLetters := awssqs.NewQueue(scope, jsii.String("WebhookDeadLetters"), &awssqs.QueueProps{
		RetentionPeriod: awscdk.Duration_Days(jsii.Number(routes.WebhookDLQRetentionDays)),
		Encryption:      awssqs.QueueEncryption_SQS_MANAGED,
	})
	queue := awssqs.NewQueue(scope, jsii.String("WebhookQueue"), &awssqs.QueueProps{
		VisibilityTimeout: awscdk.Duration_Seconds(jsii.Number(routes.WebhookVisibilitySeconds)),
		RetentionPeriod:   awscdk.Duration_Seconds(jsii.Number(routes.WebhookRetentionSeconds)),
		Encryption:        awssqs.QueueEncryption_SQS_MANAGED,
		DeadLetterQueue: &awssqs.DeadLetterQueue{
			Queue:           deadLetters,
			MaxReceiveCount: jsii.Number(routes.WebhookMaxReceives),
		},
	})
	for _, fn := range []awslambda.Function{publisher, deliverer} {
		fn.AddEnvironment(jsii.String(routes.EnvWebhookQueueURL), queue.QueueUrl(), nil)
	}
	publisher.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:       jsii.String("QueueWebhookDeliveries"),
		Actions:   jsii.Strings("sqs:SendMessage"),
		Resources: &[]*string{queue.QueueArn()},
	}))
	// The event source mapping's actions, and SendMessage and
	// ChangeMessageVisibility for catch-ups and backoff.
	deliverer.AddToRolePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: jsii.String("ConsumeWebhookQueue"),
		Actions: jsii.Strings("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes",
			"sqs:ChangeMessageVisibility", "sqs:SendMessage"),
		Resources: &[]*string{queue.QueueArn()},
	}))

	mapping := awslambda.NewCfnEventSourceMapping(scope, jsii.String("DeliverWebhooksQueue"), &awslambda.CfnEventSourceMappingProps{
		FunctionName:          deliverer.FunctionName(),
		EventSourceArn:        queue.QueueArn(),
		BatchSize:             jsii.Number(routes.WebhookBatchSize),
		FunctionResponseTypes: jsii.Strings("ReportBatchItemFailures"),
		ScalingConfig: &awslambda.CfnEventSourceMapping_ScalingConfigProperty{
			MaximumConcurrency: jsii.Number(routes.WebhookMaxConcurrency),
		},
	})
	// Lambda checks the role's access to the queue when the mapping is
	// created, so the role's policy must exist first.
	mapping.Node().AddDependency(deliverer.Role())

	alarms.queue("WebhookDeadLettersAlarm", routes.WebhookDLQAlarmDescription, deadLetters)
}

// changeFilterPattern is the event source mapping's one filter, in Lambda's
// filter syntax: a record passes if its key's SK is one of
// changeSortKeys.Exact or starts with one of changeSortKeys.Prefixes.
func changeFilterPattern() string {
	var sks []any
	for _, sk := range changeSortKeys.Exact {
		sks = append(sks, sk)
	}
	for _, p := range changeSortKeys.Prefixes {
		sks = append(sks, map[string]string{"prefix": p})
	}
	b, err := json.Marshal(map[string]any{"dynamodb": map[string]any{"Keys": map[string]any{attrSK: map[string]any{"S": sks}}}})
	if err != nil {
		panic(err) // strings and maps of strings always encode
	}
	return string(b)
}

// newAPI declares the REST API and one method per routes.Routes entry; it
// returns the API and the log group of its access logs.
func newAPI(scope constructs.Construct, fns map[routes.Operation]awslambda.Function, protected bool) (awsapigateway.RestApi, awslogs.LogGroup) {
	accessLogs := awslogs.NewLogGroup(scope, jsii.String("ApiAccessLogs"), &awslogs.LogGroupProps{
		Retention:     logRetention,
		RemovalPolicy: removalPolicy(protected),
	})
	api := awsapigateway.NewRestApi(scope, jsii.String("Api"), &awsapigateway.RestApiProps{
		RestApiName:   jsii.String("fleetgroups"),
		Description:   jsii.String("Groups API"),
		EndpointTypes: &[]awsapigateway.EndpointType{awsapigateway.EndpointType_REGIONAL},
		// The authorizer returns the tenant's key as usageIdentifierKey, so
		// clients send one bearer token and never an x-api-key header.
		ApiKeySourceType: awsapigateway.ApiKeySourceType_AUTHORIZER,
		// Access logs need the account-wide API Gateway CloudWatch role. It
		// is shared by every API in the region, so it outlives this stack.
		CloudWatchRole:              jsii.Bool(true),
		CloudWatchRoleRemovalPolicy: awscdk.RemovalPolicy_RETAIN,
		DeployOptions: &awsapigateway.StageOptions{
			StageName:            jsii.String(routes.Stage),
			MetricsEnabled:       jsii.Bool(true),
			AccessLogDestination: awsapigateway.NewLogGroupLogDestination(accessLogs),
			AccessLogFormat:      awsapigateway.AccessLogFormat_Custom(jsii.String(routes.AccessLogFormat())),
			// Issue 10: the stage starts the traces the functions continue.
			TracingEnabled: jsii.Bool(true),
		},
	})

	authorizer := awsapigateway.NewRequestAuthorizer(scope, jsii.String("Authorizer"), &awsapigateway.RequestAuthorizerProps{
		Handler:         fns[routes.Authorizer],
		IdentitySources: &[]*string{awsapigateway.IdentitySource_Header(jsii.String("Authorization"))},
		ResultsCacheTtl: awscdk.Duration_Seconds(jsii.Number(routes.AuthorizerCacheSeconds)),
	})

	addRoutes(api, authorizer, fns)
	addGatewayResponses(api)
	return api, accessLogs
}

// addRoutes builds the resource tree from the route paths, puts each route's
// method on its resource (authorized, unless routes.IsPublic), and answers
// every other method there with 405.
func addRoutes(api awsapigateway.RestApi, authorizer awsapigateway.IAuthorizer, fns map[routes.Operation]awslambda.Function) {
	// One integration per function: the routes that share an operation share
	// its Lambda. AllowTestInvoke false halves the Lambda permissions (the
	// console test-invoke ones), keeping the resource policy small.
	integrations := make(map[routes.Operation]awsapigateway.Integration)
	integration := func(op routes.Operation) awsapigateway.Integration {
		if in, ok := integrations[op]; ok {
			return in
		}
		in := awsapigateway.NewLambdaIntegration(fns[op], &awsapigateway.LambdaIntegrationOptions{
			Proxy:           jsii.Bool(true),
			AllowTestInvoke: jsii.Bool(false),
		})
		integrations[op] = in
		return in
	}

	tree := resourceTree{"/": api.Root()}
	allowed := make(map[string][]string) // path → methods, for the 405s
	var paths []string
	for _, r := range routes.Routes {
		res := tree.resource(r.Path)
		opts := &awsapigateway.MethodOptions{
			Authorizer:     authorizer,
			ApiKeyRequired: jsii.Bool(true),
			OperationName:  jsii.String(routes.LogicalName(r.Operation)),
		}
		if routes.IsPublic(r.Operation) {
			// No authorizer and no API key: anyone may call it, and no
			// tenant's usage plan counts it.
			opts.Authorizer = nil
			opts.AuthorizationType = awsapigateway.AuthorizationType_NONE
			opts.ApiKeyRequired = jsii.Bool(false)
		}
		res.AddMethod(jsii.String(r.Method), integration(r.Operation), opts)
		if _, seen := allowed[r.Path]; !seen {
			paths = append(paths, r.Path)
		}
		allowed[r.Path] = append(allowed[r.Path], r.Method)
	}
	for _, p := range paths {
		addMethodNotAllowed(tree[p], allowed[p])
	}
}

// resourceTree maps full paths to their resources so routes with a common
// prefix share the resources of that prefix.
type resourceTree map[string]awsapigateway.IResource

func (t resourceTree) resource(path string) awsapigateway.IResource {
	if res, ok := t[path]; ok {
		return res
	}
	i := strings.LastIndex(path, "/")
	parentPath := path[:i]
	if parentPath == "" {
		parentPath = "/"
	}
	res := t.resource(parentPath).AddResource(jsii.String(path[i+1:]), nil)
	t[path] = res
	return res
}

// addMethodNotAllowed answers any method the route table does not list for a
// resource with 405. API Gateway prefers an explicit method over ANY, and
// without this a wrong method would get the same 403/404 as a wrong path. The
// mock needs no authorizer: it reveals only which methods exist, which the
// Allow header has to say anyway (RFC 9110).
func addMethodNotAllowed(res awsapigateway.IResource, methods []string) {
	sort.Strings(methods)
	body := problem.MethodNotAllowedBody()
	headers := problem.CommonHeaders()
	headers["Content-Type"] = problem.MediaType
	headers["Allow"] = strings.Join(methods, ", ")
	values := map[string]*string{} // the mock's literal values
	declared := map[string]*bool{} // the method response must declare each
	for k, v := range headers {
		values["method.response.header."+k] = jsii.String("'" + v + "'")
		declared["method.response.header."+k] = jsii.Bool(true)
	}
	mock := awsapigateway.NewMockIntegration(&awsapigateway.IntegrationOptions{
		// Any request body is ignored: WHEN_NO_MATCH keeps an unexpected
		// Content-Type from turning the 405 into a 415.
		PassthroughBehavior: awsapigateway.PassthroughBehavior_WHEN_NO_MATCH,
		RequestTemplates:    &map[string]*string{"application/json": jsii.String(`{"statusCode": 200}`)},
		IntegrationResponses: &[]*awsapigateway.IntegrationResponse{{
			StatusCode:         jsii.String("405"),
			ResponseParameters: &values,
			ResponseTemplates:  &map[string]*string{"application/json": jsii.String(body)},
		}},
	})
	res.AddMethod(jsii.String("ANY"), mock, &awsapigateway.MethodOptions{
		AuthorizationType: awsapigateway.AuthorizationType_NONE,
		ApiKeyRequired:    jsii.Bool(false),
		MethodResponses: &[]*awsapigateway.MethodResponse{{
			StatusCode:         jsii.String("405"),
			ResponseParameters: &declared,
		}},
	})
}

// addGatewayResponses rewrites API Gateway's own errors as problems in the
// API's code vocabulary (problem.GatewayResponses).
func addGatewayResponses(api awsapigateway.RestApi) {
	for _, g := range problem.GatewayResponses {
		headers := map[string]*string{}
		for k, v := range g.AllHeaders() {
			headers[k] = jsii.String("'" + v + "'")
		}
		typ := awsapigateway.ResponseType_Of(jsii.String(g.Type))
		api.AddGatewayResponse(jsii.String(g.Type), &awsapigateway.GatewayResponseOptions{
			Type:            typ,
			StatusCode:      jsii.String(strconv.Itoa(g.Status())),
			ResponseHeaders: &headers,
			Templates:       &map[string]*string{"application/json": jsii.String(g.Body())},
		})
	}
}

// newUsagePlan declares the plan the admin command attaches each tenant's API
// key to; the stack itself creates no keys.
func newUsagePlan(api awsapigateway.RestApi, props *FleetgroupsStackProps) awsapigateway.UsagePlan {
	return api.AddUsagePlan(jsii.String("UsagePlan"), &awsapigateway.UsagePlanProps{
		Name:        jsii.String("fleetgroups-tenants"),
		Description: jsii.String("Per-tenant throttle and daily quota"),
		Throttle: &awsapigateway.ThrottleSettings{
			RateLimit:  jsii.Number(props.RateLimit),
			BurstLimit: jsii.Number(props.BurstLimit),
		},
		Quota: &awsapigateway.QuotaSettings{
			Limit:  jsii.Number(props.QuotaPerDay),
			Period: awsapigateway.Period_DAY,
		},
		ApiStages: &[]*awsapigateway.UsagePlanPerApiStage{{
			Api:   api,
			Stage: api.DeploymentStage(),
		}},
	})
}
