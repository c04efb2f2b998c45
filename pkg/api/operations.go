package api

import (
	"net/http"

	"github.com/fleetgroups/fleetgroups/pkg/routes"
)

// Operation is one operation as its Lambda serves it: its name in the route
// table and its endpoint. The values below are initialised statically (a
// constant and a method expression, no init code), so the linker keeps only
// those a program names: a Lambda main that starts api.GetGroup links
// get-group's endpoint and the store calls it makes, and none of the other
// operations'.
type Operation struct {
	Name     routes.Operation
	endpoint func(a *API, w http.ResponseWriter, r *http.Request, tenant string) error
}

// The operations, each named as routes.LogicalName names its route table
// entry (TestOperationsAreNamedAfterTheirRoutes holds them to it).
var (
	CreateGroup        = Operation{routes.CreateGroup, (*API).createGroup}
	GetGroup           = Operation{routes.GetGroup, (*API).getGroup}
	UpdateGroup        = Operation{routes.UpdateGroup, (*API).updateGroup}
	DeleteGroup        = Operation{routes.DeleteGroup, (*API).deleteGroup}
	ListGroups         = Operation{routes.ListGroups, (*API).listGroups}
	AddMember          = Operation{routes.AddMember, (*API).addMember}
	RemoveMember       = Operation{routes.RemoveMember, (*API).removeMember}
	ListMembers        = Operation{routes.ListMembers, (*API).listMembers}
	ListItemGroups     = Operation{routes.ListItemGroups, (*API).listItemGroups}
	PutItem            = Operation{routes.PutItem, (*API).putItem}
	GetItem            = Operation{routes.GetItem, (*API).getItem}
	DeleteItem         = Operation{routes.DeleteItem, (*API).deleteItem}
	ListItems          = Operation{routes.ListItems, (*API).listItems}
	BatchMembers       = Operation{routes.BatchMembers, (*API).batchMembers}
	CreateAssociations = Operation{routes.CreateAssociations, (*API).createAssociations}
	DeleteAssociations = Operation{routes.DeleteAssociations, (*API).deleteAssociations}
	ListAssociations   = Operation{routes.ListAssociations, (*API).listAssociations}
	// Issue 3 §7: OpenAPI.
	GetOpenAPI = Operation{routes.GetOpenAPI, (*API).getOpenAPI}
	// Issue 3 §6: usage metering.
	GetUsage = Operation{routes.GetUsage, (*API).getUsage}
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
		DeleteAssociations, ListAssociations, GetOpenAPI, GetUsage,
	}
}
