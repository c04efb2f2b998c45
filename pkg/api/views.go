package api

import (
	"time"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
)

// The JSON shapes of responses. Resource fields are camelCase; the list
// envelope uses items, next_cursor and total_count, and with page numbers
// page, per_page, total_pages and response_count.

type groupView struct {
	ID           string                  `json:"id"`
	ParentID     *string                 `json:"parentId"`
	Depth        int                     `json:"depth"`
	ChildCount   int                     `json:"childCount"`
	Name         string                  `json:"name"`
	Description  string                  `json:"description"`
	Attributes   map[string]string       `json:"attributes"`
	MemberCounts map[groups.ItemType]int `json:"memberCounts"`
	MemberCount  int                     `json:"memberCount"`
	CreatedAt    string                  `json:"createdAt"`
	UpdatedAt    string                  `json:"updatedAt"`
	Version      int                     `json:"version"`
}

func viewGroup(g groups.Group) groupView {
	counts := make(map[groups.ItemType]int, len(groups.ItemTypes))
	for _, t := range groups.ItemTypes {
		counts[t] = g.Counts[t]
	}
	attrs := g.Attributes
	if attrs == nil {
		attrs = map[string]string{} // always an object, as an item's
	}
	var parent *string
	if p := g.ParentID(); p != "" {
		parent = &p
	}
	return groupView{
		ID: g.ID, ParentID: parent, Depth: g.Depth(), ChildCount: g.ChildCount, Name: g.Name, Description: g.Description, Attributes: attrs, MemberCounts: counts, MemberCount: g.MemberCount(),
		CreatedAt: rfc3339(g.CreatedAt), UpdatedAt: rfc3339(g.UpdatedAt), Version: g.Version,
	}
}

type memberView struct {
	GroupID  string          `json:"groupId"`
	ItemType groups.ItemType `json:"itemType"`
	ItemID   string          `json:"itemId"`
	AddedAt  string          `json:"addedAt"`
	Item     *itemSummary    `json:"item,omitempty"`
}

func viewMember(m groups.Membership) memberView {
	return memberView{GroupID: m.GroupID, ItemType: m.Item.Type, ItemID: m.Item.ID, AddedAt: rfc3339(m.AddedAt)}
}

// subtreeMemberView is an item of a group's subtree (list-members
// ?scope=subtree): once, with the groups that hold it.
type subtreeMemberView struct {
	ItemType groups.ItemType `json:"itemType"`
	ItemID   string          `json:"itemId"`
	Via      []string        `json:"via"`
	ViaCount int             `json:"viaCount"`
	Item     *itemSummary    `json:"item,omitempty"`
}

type groupNameView struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// effectiveGroupView is a group an item is an effective member of
// (list-item-groups ?scope=effective).
type effectiveGroupView struct {
	ID     string   `json:"id"`
	Name   string   `json:"name"`
	Direct bool     `json:"direct"`
	Path   []string `json:"path"`
}

func viewEffectiveGroup(g groups.EffectiveGroup) effectiveGroupView {
	return effectiveGroupView{ID: g.ID, Name: g.Name, Direct: g.Direct, Path: g.Path}
}

// checkResultView answers one group of a membership check: member, direct
// and path, or an error of its own.
type checkResultView struct {
	GroupID string        `json:"groupId"`
	Member  *bool         `json:"member,omitempty"`
	Direct  *bool         `json:"direct,omitempty"`
	Path    []string      `json:"path,omitzero"`
	Error   *entryProblem `json:"error,omitempty"`
}

type checkResultsView struct {
	Results []checkResultView `json:"results"`
}

func viewCheckResult(c groups.CheckResult) checkResultView {
	if !c.Exists {
		return checkResultView{GroupID: c.GroupID, Error: &entryProblem{Code: groups.CodeNotFound, Detail: "the tenant has no such group"}}
	}
	path := c.Path
	if path == nil {
		path = []string{}
	}
	return checkResultView{GroupID: c.GroupID, Member: &c.Member, Direct: &c.Direct, Path: path}
}

type groupRefView struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	AddedAt string `json:"addedAt"`
}

func viewGroupRef(g groups.GroupRef) groupRefView {
	return groupRefView{ID: g.ID, Name: g.Name, AddedAt: rfc3339(g.AddedAt)}
}

type listView[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
	TotalCount *int   `json:"total_count,omitempty"`
	*PageNumbers
}

// PageNumbers place a page-number page (?page=&per_page=) in its list;
// total_pages is 0 for an empty list.
type PageNumbers struct {
	Page          int `json:"page"`
	PerPage       int `json:"per_page"`
	TotalPages    int `json:"total_pages"`
	ResponseCount int `json:"response_count"`
}

func rfc3339(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

type itemView struct {
	ItemType   groups.ItemType   `json:"itemType"`
	ItemID     string            `json:"itemId"`
	Name       string            `json:"name"`
	Enterprise string            `json:"enterprise,omitempty"`
	Attributes map[string]string `json:"attributes"`
	CreatedAt  string            `json:"createdAt"`
	UpdatedAt  string            `json:"updatedAt"`
	Version    int               `json:"version"`
}

func viewItem(ri groups.RegisteredItem) itemView {
	attrs := ri.Attributes
	if attrs == nil {
		attrs = map[string]string{}
	}
	return itemView{
		ItemType: ri.Type, ItemID: ri.ID, Name: ri.Name, Enterprise: ri.Enterprise, Attributes: attrs,
		CreatedAt: rfc3339(ri.CreatedAt), UpdatedAt: rfc3339(ri.UpdatedAt), Version: ri.Version,
	}
}

type deletedItemView struct {
	ItemType            groups.ItemType `json:"itemType"`
	ItemID              string          `json:"itemId"`
	RemovedFromGroups   int             `json:"removedFromGroups"`
	RemovedAssociations int             `json:"removedAssociations"`
}

// itemSummary is what ?include=item adds to a membership: the registered
// name and enterprise, when the item is registered.
type itemSummary struct {
	Name       string `json:"name"`
	Enterprise string `json:"enterprise,omitempty"`
}
