// Package groups holds the domain of the Groups API: what a group, a membership
// and an item type are, and the rules every input must satisfy before it reaches
// the store. It knows nothing of HTTP or DynamoDB.
package groups

import (
	"maps"
	"time"
)

// ItemType is a kind of thing a partner assigns to groups.
type ItemType string

// The item types, defined once: routes, validation, counts and the reverse
// lookup paths are all derived from ItemTypes.
const (
	Vehicles ItemType = "vehicles"
	Users    ItemType = "users"
	Services ItemType = "services"
	Products ItemType = "products"
	Devices  ItemType = "devices"
)

// ItemTypes lists every item type in the order they are shown in responses.
var ItemTypes = []ItemType{Vehicles, Users, Services, Products, Devices}

// Limits that validation enforces.
const (
	MaxNameLength        = 128
	MaxDescriptionLength = 1024
	MaxIDLength          = 128
	// MaxInitialMembers keeps create-group one TransactWriteItems: the group,
	// its name guard, the tenant's group counter and the parent take 4 of
	// DynamoDB's 100 actions, and each member two (its membership and the
	// item's edge to the group, which keeps membership checks strongly
	// consistent).
	MaxInitialMembers = 48
	MaxPageSize       = 100
	DefaultPageSize   = 100
	// MaxSearchLength bounds a list's search (a name prefix).
	MaxSearchLength = 100
	// MaxFilters and MaxFilterValueLength bound a list's filters.
	MaxFilters           = 10
	MaxFilterValueLength = 256
	// MaxPageNumberDepth bounds page-number pagination (page × per_page):
	// page N reads every entry before it, so deeper reads take cursors.
	MaxPageNumberDepth = 10000
	// MaxDepth is the deepest a group may sit: a tree has at most
	// MaxDepth+1 levels (top-level groups are at depth 0). It is the default
	// and the ceiling of a deployment's setting (routes.EnvTreeMaxDepth).
	MaxDepth = 9
	// MaxMoveSize is the most groups (the moved group and its descendants)
	// that move in one TransactWriteItems of 100 actions, of which the two
	// parents and the name guards of a rename take four. A larger subtree
	// moves step by step (store/move.go).
	MaxMoveSize = 96
)

// Group is a named set of items inside one tenant.
type Group struct {
	ID          string
	Name        string
	Description string
	// Attributes are the partner's own settings for the group (a role, a
	// region code): string values under keys, as registered items have.
	Attributes map[string]string
	// Ancestors are the ids of the group's ancestors, from its top-level
	// group down to its parent; none for a top-level group.
	Ancestors []string
	// ChildCount is the number of groups whose parent this is, kept in the
	// transactions that create, move and delete them.
	ChildCount int
	// Counts holds the number of members per item type; it is maintained in
	// the same transactions that add and remove members, so it never drifts.
	Counts    map[ItemType]int
	CreatedAt time.Time
	UpdatedAt time.Time
	Version   int
}

// ParentID is the id of the group's parent, "" for a top-level group.
func (g Group) ParentID() string {
	if len(g.Ancestors) == 0 {
		return ""
	}
	return g.Ancestors[len(g.Ancestors)-1]
}

// Depth is how many ancestors the group has: 0 at top level.
func (g Group) Depth() int { return len(g.Ancestors) }

// MemberCount is the total number of members over all item types.
func (g Group) MemberCount() int {
	n := 0
	for _, c := range g.Counts {
		n += c
	}
	return n
}

// Item identifies one of the partner's things by type and the partner's own id.
type Item struct {
	Type ItemType
	ID   string
}

// Membership says that an item belongs to a group.
type Membership struct {
	GroupID string
	Item    Item
	AddedAt time.Time
}

// GroupName is a group's id and name, as an ancestor chain shows it.
type GroupName struct {
	ID   string
	Name string
}

// EffectiveGroup is a group an item is an effective member of: the item is
// a member of it or of one of its descendants.
type EffectiveGroup struct {
	ID   string
	Name string
	// Direct: the item is a member of this group itself.
	Direct bool
	// Path is the ids from this group down to a group that holds the item
	// directly (the shortest such path; [ID] when Direct).
	Path []string
}

// SubtreeMember is an item that is a member of a group or of one of its
// descendants (list-members ?scope=subtree).
type SubtreeMember struct {
	Item Item
	// Via are (up to 10 of) the subtree's groups that hold the item, by
	// id; ViaCount is how many do.
	Via      []string
	ViaCount int
}

// Membership checks: at most MaxCheckGroups groups per call.
const MaxCheckGroups = 100

// CheckResult answers one group of a membership check.
type CheckResult struct {
	GroupID string
	// Exists is false when the tenant has no such group (or it is being
	// deleted); the rest is then unset.
	Exists bool
	Member bool
	Direct bool
	Path   []string
}

// GroupRef is what the reverse lookup returns for each group holding an item.
type GroupRef struct {
	ID      string
	Name    string
	AddedAt time.Time
}

// NewGroup is a validated create-group request.
type NewGroup struct {
	// ParentID is the group to create it under, "" for top level.
	ParentID    string
	Name        string
	Description string
	Attributes  map[string]string
	Members     []Item
}

// GroupPatch is a validated update-group request; nil fields stay unchanged.
type GroupPatch struct {
	Name        *string
	Description *string
	// Attributes is a JSON merge patch (RFC 7396) of the group's attributes:
	// a key with a value sets it, a key with nil removes it. ClearAttributes
	// (`"attributes": null`) removes them all first.
	Attributes      map[string]*string
	ClearAttributes bool
	// Parent, when set, moves the group (and its subtree) under the group
	// it names, or to top level when it names "".
	Parent *string
}

// ChangesAttributes reports whether the patch touches the attributes.
func (p GroupPatch) ChangesAttributes() bool { return p.ClearAttributes || len(p.Attributes) > 0 }

// PatchedAttributes applies the patch's attributes to attrs and returns the
// result (nil when none are left); attrs is not changed.
func (p GroupPatch) PatchedAttributes(attrs map[string]string) map[string]string {
	out := map[string]string{}
	if !p.ClearAttributes {
		maps.Copy(out, attrs)
	}
	for k, v := range p.Attributes {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = *v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// Tenant is a partner: the owner of every group, token and key in its partition.
type Tenant struct {
	ID        string
	Name      string
	APIKey    string
	CreatedAt time.Time
}

// Token is one of a tenant's bearer tokens as the table keeps it: by its
// SHA-256, never the token itself.
type Token struct {
	Hash      string
	Label     string
	CreatedAt time.Time
	// ReadOnly tokens may only read: every write answers 403
	// read_only_token.
	ReadOnly bool
	// Scope is the group whose subtree alone the token sees ("" for the
	// whole tenant).
	Scope string
}

// Usage is a tenant's metered calls: all of them, and those of one UTC day.
type Usage struct {
	Total int64
	// Day is the counted day's midnight UTC; DayCount its calls.
	Day      time.Time
	DayCount int64
}

// MaxBatchEntries bounds one bulk membership request: with the group's count
// update it fits one or two transactions.
const MaxBatchEntries = 100

// MemberChange is one entry of a bulk membership request.
type MemberChange struct {
	Remove bool
	Item   Item
}

// Outcome is what became of one MemberChange.
type Outcome string

// The outcomes of bulk membership entries.
const (
	Added         Outcome = "added"
	AlreadyMember Outcome = "already_member"
	Removed       Outcome = "removed"
	NotMember     Outcome = "not_member"
	Invalid       Outcome = "invalid"
)

// Association links a vehicle and a user ("user_permission" in fleet
// platforms' terms). It is stored as an edge in each item's partition, so
// that both directions list with one Query.
type Association struct {
	ID        string
	VehicleID string
	UserID    string
	CreatedAt time.Time
}

// AssociationType is the type clients name associations by.
const AssociationType = "user_permission"

// MaxAssociationEntries bounds one association request.
const MaxAssociationEntries = 100
