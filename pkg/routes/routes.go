// Package routes is the one route table of the API. The Lambda mains, the
// local server, the CDK stack, the SAM template and the sample events are all
// generated from, or checked against, the lists here: add an operation here
// first and the tests name every place that is still missing it.
package routes

import (
	"strings"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
)

// Operation names one Lambda function; it is also the folder under functions/,
// the build output folder and the sample event's file name.
type Operation string

// The operations, one Lambda each.
const (
	CreateGroup        Operation = "create-group"
	GetGroup           Operation = "get-group"
	UpdateGroup        Operation = "update-group"
	DeleteGroup        Operation = "delete-group"
	ListGroups         Operation = "list-groups"
	AddMember          Operation = "add-member"
	RemoveMember       Operation = "remove-member"
	ListMembers        Operation = "list-members"
	ListItemGroups     Operation = "list-item-groups"
	PutItem            Operation = "put-item"
	GetItem            Operation = "get-item"
	DeleteItem         Operation = "delete-item"
	ListItems          Operation = "list-items"
	BatchMembers       Operation = "batch-members"
	CreateAssociations Operation = "create-associations"
	DeleteAssociations Operation = "delete-associations"
	ListAssociations   Operation = "list-associations"
	// Issue 3 §7: OpenAPI.
	GetOpenAPI Operation = "get-openapi"
	// Issue 3 §6: usage metering.
	GetUsage Operation = "get-usage"
	// Issue 8: the group hierarchy.
	ListChildren    Operation = "list-children"
	ListDescendants Operation = "list-descendants"
	GetAncestors    Operation = "get-ancestors"
	CheckMembership Operation = "check-membership"
	// Issue 9: the change feed.
	ListChanges    Operation = "list-changes"
	PublishChanges Operation = "publish-changes"
	// Issue 9 §4: webhooks.
	CreateWebhook       Operation = "create-webhook"
	ListWebhooks        Operation = "list-webhooks"
	GetWebhook          Operation = "get-webhook"
	UpdateWebhook       Operation = "update-webhook"
	DeleteWebhook       Operation = "delete-webhook"
	RotateWebhookSecret Operation = "rotate-webhook-secret"
	TestWebhook         Operation = "test-webhook"
	ListDeliveries      Operation = "list-webhook-deliveries"
	RetryDelivery       Operation = "retry-webhook-delivery"
	DeliverWebhooks     Operation = "deliver-webhooks"
	// Authorizer is the API Gateway REQUEST authorizer; it serves no route.
	Authorizer Operation = "authorizer"
)

// Access is the table access a function needs; IAM grants follow it.
type Access int

const (
	// ReadOnly functions are granted read actions only, except that every
	// function serving authenticated routes also counts its calls: it may
	// UpdateItem the usage counters of a tenant's own partition, and nothing
	// else (see store.MeterLeadingKeys).
	ReadOnly Access = iota
	// ReadWrite functions may also write.
	ReadWrite
	// ReadTree functions are ReadOnly functions that read groups. A read
	// that meets a move of groups in progress carries it on first
	// (store/move.go), so they may also write what a move writes, and
	// nothing else (see store.MoveLeadingKeys).
	ReadTree
	// StreamPublisher functions read the table's stream (the event source
	// mapping's role) and append to the tenants' change feeds
	// (store.FeedLeadingKeys); they read groups and held edges for
	// effective-member events, as ReadTree functions do, moves included.
	StreamPublisher
	// WebhookDeliverer functions are fed by the webhook queue: they read
	// the tenants' webhooks and feeds, write webhooks (to disable a failing
	// one) and delivery records, and send catch-ups to their own queue
	// (store.WebhookLeadingKeys).
	WebhookDeliverer
	// TokenLookup functions may only GetItem: the authorizer reads one token
	// item per (uncached) call and nothing else.
	TokenLookup
	// NoTable functions have no access to the table: public operations
	// serve static content.
	NoTable
)

// Function describes one Lambda.
type Function struct {
	Operation   Operation
	Access      Access
	Description string
}

// Functions lists every Lambda: one per operation plus the authorizer.
var Functions = []Function{
	{CreateGroup, ReadWrite, "Creates a group, optionally with initial members"},
	{GetGroup, ReadTree, "Returns a group with its member counts"},
	{UpdateGroup, ReadWrite, "Renames, describes or moves a group"},
	{DeleteGroup, ReadWrite, "Deletes a group and all its memberships"},
	{ListGroups, ReadTree, "Lists the tenant's groups"},
	{AddMember, ReadWrite, "Adds an item to a group"},
	{RemoveMember, ReadWrite, "Removes an item from a group"},
	{ListMembers, ReadTree, "Lists a group's members"},
	{ListItemGroups, ReadTree, "Lists the groups that hold an item"},
	{PutItem, ReadWrite, "Registers or replaces an item's name, enterprise and attributes"},
	{GetItem, ReadOnly, "Returns an item's registration"},
	{DeleteItem, ReadWrite, "Removes an item from every group and deletes its registration"},
	{ListItems, ReadOnly, "Lists the registered items of a type"},
	{BatchMembers, ReadWrite, "Adds and removes up to 100 members at once"},
	{CreateAssociations, ReadWrite, "Associates vehicles with users"},
	{DeleteAssociations, ReadWrite, "Removes vehicle–user associations"},
	{ListAssociations, ReadOnly, "Lists a vehicle's users or a user's vehicles"},
	// Issue 3 §7: OpenAPI.
	{GetOpenAPI, NoTable, "Serves the API's OpenAPI document"},
	// Issue 3 §6: usage metering.
	{GetUsage, ReadOnly, "Returns the tenant's call counts and usage plan limits"},
	// Issue 8: the group hierarchy.
	{ListChildren, ReadTree, "Lists a group's direct children"},
	{ListDescendants, ReadTree, "Lists a group's whole subtree, depth-first"},
	{GetAncestors, ReadTree, "Lists a group's ancestors, from its top-level group down"},
	{CheckMembership, ReadTree, "Checks whether an item is an effective member of up to 100 groups"},
	// Issue 9: the change feed.
	{ListChanges, ReadOnly, "Lists the tenant's change events, oldest first"},
	{PublishChanges, StreamPublisher, "Turns the table's stream records into change events"},
	// Issue 9 §4: webhooks.
	{CreateWebhook, ReadWrite, "Registers a webhook and returns its signing secret"},
	{ListWebhooks, ReadOnly, "Lists the tenant's webhooks"},
	{GetWebhook, ReadOnly, "Returns a webhook"},
	{UpdateWebhook, ReadWrite, "Changes a webhook's url, events, description or whether it is enabled"},
	{DeleteWebhook, ReadWrite, "Deletes a webhook"},
	{RotateWebhookSecret, ReadWrite, "Gives a webhook a new signing secret; the old one signs for 24 hours more"},
	{TestWebhook, ReadWrite, "Sends a webhook.test event to a webhook now"},
	{ListDeliveries, ReadOnly, "Lists a webhook's recent deliveries and their attempts"},
	{RetryDelivery, ReadWrite, "Delivers one event to a webhook again, now"},
	{DeliverWebhooks, WebhookDeliverer, "Delivers queued events to webhooks, with retries"},
	{Authorizer, TokenLookup, "Authenticates bearer tokens and names the tenant"},
}

// Route binds a method and an API Gateway resource path to an operation. The
// path syntax ({name} for one segment) is both API Gateway's and Go 1.22
// ServeMux's, so the same string serves the deployed API and the local server.
type Route struct {
	Method    string
	Path      string
	Operation Operation
}

// Pattern is the route as a net/http ServeMux pattern.
func (r Route) Pattern() string { return r.Method + " " + r.Path }

// Routes is the route table. The reverse lookup is registered once per item
// type (/v1/vehicles/{itemId}/groups, ...) because "/v1/{itemType}/{itemId}/groups"
// would conflict with "/v1/groups/{groupId}/{itemType}" in ServeMux and in API
// Gateway alike: a static first segment keeps both unambiguous.
var Routes = buildRoutes()

func buildRoutes() []Route {
	rs := []Route{
		{"POST", "/v1/groups", CreateGroup},
		{"GET", "/v1/groups", ListGroups},
		{"GET", "/v1/groups/{groupId}", GetGroup},
		{"PATCH", "/v1/groups/{groupId}", UpdateGroup},
		{"DELETE", "/v1/groups/{groupId}", DeleteGroup},
		{"GET", "/v1/groups/{groupId}/members", ListMembers},
		{"GET", "/v1/groups/{groupId}/{itemType}", ListMembers},
		{"PUT", "/v1/groups/{groupId}/{itemType}/{itemId}", AddMember},
		{"DELETE", "/v1/groups/{groupId}/{itemType}/{itemId}", RemoveMember},
		{"POST", "/v1/groups/{groupId}/members:batch", BatchMembers},
		{"GET", "/v1/groups/{groupId}/children", ListChildren},
		{"GET", "/v1/groups/{groupId}/descendants", ListDescendants},
		{"GET", "/v1/groups/{groupId}/ancestors", GetAncestors},
	}
	for _, t := range groups.ItemTypes {
		rs = append(rs, Route{"GET", "/v1/" + string(t) + "/{itemId}/groups", ListItemGroups})
	}
	// Issue 8: membership checks, per item type for the same reason.
	for _, t := range groups.ItemTypes {
		rs = append(rs, Route{"POST", "/v1/" + string(t) + "/{itemId}/groups:check", CheckMembership})
	}
	// The item registry, per item type for the same reason.
	for _, t := range groups.ItemTypes {
		base := "/v1/" + string(t)
		rs = append(rs,
			Route{"PUT", base + "/{itemId}", PutItem},
			Route{"GET", base + "/{itemId}", GetItem},
			Route{"DELETE", base + "/{itemId}", DeleteItem},
			Route{"GET", base, ListItems},
		)
	}
	// Vehicle–user associations. {itemId} (not {vehicleId}) because API
	// Gateway allows one variable name per path level.
	rs = append(rs,
		Route{"POST", "/v1/vehicles/associations/users", CreateAssociations},
		Route{"DELETE", "/v1/vehicles/associations/users", DeleteAssociations},
		Route{"GET", "/v1/vehicles/{itemId}/associations/users", ListAssociations},
		Route{"GET", "/v1/users/{itemId}/associations/vehicles", ListAssociations},
	)
	// Issue 3 §7: OpenAPI.
	rs = append(rs, Route{"GET", "/v1/openapi.json", GetOpenAPI})
	// Issue 3 §6: usage metering.
	rs = append(rs, Route{"GET", "/v1/usage", GetUsage})
	// Issue 9: the change feed.
	rs = append(rs, Route{"GET", "/v1/changes", ListChanges})
	// Issue 9 §4: webhooks. A path variable is a whole segment (API
	// Gateway's rule and ServeMux's), so "{webhookId}:rotate-secret" and
	// "{deliveryId}:retry" are POSTs to the resource itself, whose
	// handlers require the suffix.
	rs = append(rs,
		Route{"POST", "/v1/webhooks", CreateWebhook},
		Route{"GET", "/v1/webhooks", ListWebhooks},
		Route{"GET", "/v1/webhooks/{webhookId}", GetWebhook},
		Route{"PATCH", "/v1/webhooks/{webhookId}", UpdateWebhook},
		Route{"DELETE", "/v1/webhooks/{webhookId}", DeleteWebhook},
		Route{"POST", "/v1/webhooks/{webhookId}", RotateWebhookSecret},
		Route{"POST", "/v1/webhooks/{webhookId}/test", TestWebhook},
		Route{"GET", "/v1/webhooks/{webhookId}/deliveries", ListDeliveries},
		Route{"POST", "/v1/webhooks/{webhookId}/deliveries/{deliveryId}", RetryDelivery},
	)
	return rs
}

// publicOperations answer without a token: API Gateway runs no authorizer and
// requires no API key for their routes (so no usage plan meters them), the
// local gateway does the same, and the Lambda serves them without a tenant.
// A public operation must therefore never touch tenant data. It is a set of
// its own rather than a field of Function or Route so that the positional
// entries above (and those added on other branches) keep compiling.
var publicOperations = map[Operation]bool{GetOpenAPI: true}

// Routeless reports whether op's function serves no route: API Gateway
// calls the authorizer, the table's stream feeds the publisher, and the
// webhook queue the deliverer.
func Routeless(op Operation) bool {
	return op == Authorizer || op == PublishChanges || op == DeliverWebhooks
}

// IsPublic reports whether op is served without authentication.
func IsPublic(op Operation) bool { return publicOperations[op] }

// Issue 3 §6: usage metering.

// Metered reports whether op counts its calls against the tenant's usage,
// and so needs the metering grant: every operation that serves routes does,
// except public ones, which have no tenant to count for.
func Metered(op Operation) bool { return len(For(op)) > 0 && !IsPublic(op) }

// For returns the routes served by op.
func For(op Operation) []Route {
	var rs []Route
	for _, r := range Routes {
		if r.Operation == op {
			rs = append(rs, r)
		}
	}
	return rs
}

// LogicalName is the CamelCase name of op used for CloudFormation logical ids
// and Makefile targets: "create-group" becomes "CreateGroup".
func LogicalName(op Operation) string {
	var b strings.Builder
	for _, part := range strings.Split(string(op), "-") {
		if part == "" {
			continue
		}
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}
