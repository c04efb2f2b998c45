package api

import (
	"net/http"

	"github.com/fleetgroups/fleetgroups/pkg/routes"
)

// Operation is one operation as its Lambda serves it: its name in the route
// table, its endpoint and, if it writes, Idempotency-Key handling. The values
// below are initialised statically (a constant and method expressions, no
// init code), so the linker keeps only those a program names: a Lambda main
// that starts api.GetGroup links get-group's endpoint and the store calls it
// makes, and none of the other operations' nor the idempotency records, which
// only writes use.
type Operation struct {
	Name     routes.Operation
	endpoint func(a *API, w http.ResponseWriter, r *http.Request, tenant string) error
	// idempotent is (*API).idempotent for an operation with a route that
	// writes, nil for one that only reads (a safe method ignores the key).
	idempotent func(a *API, op routes.Operation, next http.Handler) http.Handler
}

// The operations, each named as its constant in pkg/routes
// (TestOperationsAreNamedAfterTheirRoutes holds them to it).
var (
	CreateGroup        = Operation{routes.CreateGroup, (*API).createGroup, (*API).idempotent}
	GetGroup           = Operation{routes.GetGroup, (*API).getGroup, nil}
	UpdateGroup        = Operation{routes.UpdateGroup, (*API).updateGroup, (*API).idempotent}
	DeleteGroup        = Operation{routes.DeleteGroup, (*API).deleteGroup, (*API).idempotent}
	ListGroups         = Operation{routes.ListGroups, (*API).listGroups, nil}
	AddMember          = Operation{routes.AddMember, (*API).addMember, (*API).idempotent}
	RemoveMember       = Operation{routes.RemoveMember, (*API).removeMember, (*API).idempotent}
	ListMembers        = Operation{routes.ListMembers, (*API).listMembers, nil}
	ListItemGroups     = Operation{routes.ListItemGroups, (*API).listItemGroups, nil}
	PutItem            = Operation{routes.PutItem, (*API).putItem, (*API).idempotent}
	GetItem            = Operation{routes.GetItem, (*API).getItem, nil}
	DeleteItem         = Operation{routes.DeleteItem, (*API).deleteItem, (*API).idempotent}
	ListItems          = Operation{routes.ListItems, (*API).listItems, nil}
	BatchMembers       = Operation{routes.BatchMembers, (*API).batchMembers, (*API).idempotent}
	CreateAssociations = Operation{routes.CreateAssociations, (*API).createAssociations, (*API).idempotent}
	DeleteAssociations = Operation{routes.DeleteAssociations, (*API).deleteAssociations, (*API).idempotent}
	ListAssociations   = Operation{routes.ListAssociations, (*API).listAssociations, nil}
	// Issue 3 §7: OpenAPI.
	GetOpenAPI = Operation{routes.GetOpenAPI, (*API).getOpenAPI, nil}
	// Issue 3 §6: usage metering.
	GetUsage = Operation{routes.GetUsage, (*API).getUsage, nil}
	// Issue 8: the group hierarchy.
	ListChildren    = Operation{routes.ListChildren, (*API).listChildren, nil}
	ListDescendants = Operation{routes.ListDescendants, (*API).listDescendants, nil}
	GetAncestors    = Operation{routes.GetAncestors, (*API).getAncestors, nil}
	// A check only reads: a repeat answers anew, so it ignores
	// Idempotency-Key like a GET.
	CheckMembership = Operation{routes.CheckMembership, (*API).checkMembership, nil}
	// Issue 9: the change feed.
	ListChanges = Operation{routes.ListChanges, (*API).listChanges, nil}
	// Issue 9 §4: webhooks.
	CreateWebhook       = Operation{routes.CreateWebhook, (*API).createWebhook, (*API).idempotent}
	ListWebhooks        = Operation{routes.ListWebhooks, (*API).listWebhooks, nil}
	GetWebhook          = Operation{routes.GetWebhook, (*API).getWebhook, nil}
	UpdateWebhook       = Operation{routes.UpdateWebhook, (*API).updateWebhook, (*API).idempotent}
	DeleteWebhook       = Operation{routes.DeleteWebhook, (*API).deleteWebhook, (*API).idempotent}
	RotateWebhookSecret = Operation{routes.RotateWebhookSecret, (*API).rotateWebhookSecret, (*API).idempotent}
	TestWebhook         = Operation{routes.TestWebhook, (*API).testWebhook, (*API).idempotent}
	ListDeliveries      = Operation{routes.ListDeliveries, (*API).listDeliveries, nil}
	RetryDelivery       = Operation{routes.RetryDelivery, (*API).retryDelivery, (*API).idempotent}
)

// Operations lists every operation, in the route table's order of
// routes.Functions, for what serves them all (the local gateway,
// cmd/invoke, tests). A Lambda names its own instead: calling this links
// every endpoint. TestOperationsCoverTheRouteTable holds the list to the
// route table.
func Operations() []Operation {
	return []Operation{
		CreateGroup, GetGroup, UpdateGroup, DeleteGroup, ListGroups, AddMember, RemoveMember, ListMembers,
		ListItemGroups, PutItem, GetItem, DeleteItem, ListItems, BatchMembers, CreateAssociations,
		DeleteAssociations, ListAssociations, GetOpenAPI, GetUsage, ListChildren, ListDescendants, GetAncestors,
		CheckMembership, ListChanges, CreateWebhook, ListWebhooks, GetWebhook, UpdateWebhook, DeleteWebhook,
		RotateWebhookSecret, TestWebhook, ListDeliveries, RetryDelivery,
	}
}
