package store

import (
	"strings"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
)

// Item structs carry the DynamoDB layout; the domain types in pkg/groups carry
// none. Each kind has its mapper pair here.

type groupItem struct {
	PK     string `dynamodbav:"PK"`
	SK     string `dynamodbav:"SK"`
	GSI1PK string `dynamodbav:"GSI1PK,omitempty"`
	GSI1SK string `dynamodbav:"GSI1SK,omitempty"`
	GSI2PK string `dynamodbav:"GSI2PK,omitempty"`
	GSI2SK string `dynamodbav:"GSI2SK,omitempty"`
	// GSI3SK is the group's tree path (treePath): its ancestors are read
	// off it. Groups written before the hierarchy have none until
	// fleetgroups-admin migrate gives them theirs (a top-level path).
	GSI3PK string `dynamodbav:"GSI3PK,omitempty"`
	GSI3SK string `dynamodbav:"GSI3SK,omitempty"`
	Kind   string `dynamodbav:"kind"`
	ID     string `dynamodbav:"id"`
	// ParentID repeats the path's last ancestor, for list filters; absent
	// at top level.
	ParentID string `dynamodbav:"parentId,omitempty"`
	// ChildCount counts the groups whose parent this is.
	ChildCount int    `dynamodbav:"childCount,omitempty"`
	Name       string `dynamodbav:"name"`
	// NameLower is the folded name (groups.FoldName) that the ilk filter and
	// a search in created order match. It is named for the lower-case copy
	// it was before names were folded; the name stayed so that memberships,
	// whose ASCII ids fold to lower case, need no rewrite.
	NameLower   string `dynamodbav:"nameLower"`
	Description string `dynamodbav:"description"`
	// Attributes is absent on groups without any (and on groups written
	// before groups had attributes).
	Attributes  map[string]string `dynamodbav:"attributes,omitempty"`
	Counts      map[string]int    `dynamodbav:"counts"`
	MemberCount int               `dynamodbav:"memberCount"`
	CreatedAt   string            `dynamodbav:"createdAt"`
	UpdatedAt   string            `dynamodbav:"updatedAt"`
	Version     int               `dynamodbav:"version"`
	// DeletingAt marks a tombstone: the group is gone for every reader while
	// its memberships are being purged (see DeleteGroup).
	DeletingAt string `dynamodbav:"deletingAt,omitempty"`
	// DeletedPath keeps a tombstone's tree path, which left with its GSI3
	// keys, so that a scoped caller can still finish its purge.
	DeletedPath string `dynamodbav:"deletedPath,omitempty"`
	// Moving marks a group that a move of more than one transaction holds
	// (move.go): "<tenant>#<move id>". A reader that meets it finishes the
	// move first.
	Moving string `dynamodbav:"moving,omitempty"`
}

// Attribute names used in expressions; they must match the tags above.
const (
	attrCounts      = "counts"
	attrParentID    = "parentId"
	attrChildCount  = "childCount"
	attrDeletedPath = "deletedPath"
	attrMoving      = "moving"
	attrMemberCount = "memberCount"
	attrVersion     = "version"
	attrUpdatedAt   = "updatedAt"
	attrName        = "name"
	attrNameLower   = "nameLower"
	attrItemType    = "itemType"
	attrItemID      = "itemId"
	attrDescription = "description"
	attrDeletingAt  = "deletingAt"
	attrGroupID     = "groupId"
	attrGroupCount  = "groupCount"
	attrEnterprise  = "enterprise"
	attrAttributes  = "attributes"
	attrCreatedAt   = "createdAt"
	attrCalls       = "calls"
	attrAPIKey      = "apiKey"
)

func toGroupItem(tenant string, g groups.Group) groupItem {
	counts := make(map[string]int, len(groups.ItemTypes))
	for _, t := range groups.ItemTypes {
		counts[string(t)] = g.Counts[t]
	}
	createdAt := formatTime(g.CreatedAt)
	return groupItem{
		PK: groupPK(tenant, g.ID), SK: skGroup,
		GSI1PK: groupsGSI1PK(tenant), GSI1SK: groupGSI1SK(g.Name),
		GSI2PK: groupsGSI1PK(tenant), GSI2SK: createdSK(createdAt, g.ID),
		GSI3PK: treeGSI3PK(tenant), GSI3SK: treePath(g.Ancestors, g.ID),
		Kind: "group", ID: g.ID, ParentID: g.ParentID(), ChildCount: g.ChildCount, Name: g.Name, NameLower: groups.FoldName(g.Name), Description: g.Description,
		Attributes: g.Attributes, Counts: counts, MemberCount: g.MemberCount(),
		CreatedAt: createdAt, UpdatedAt: formatTime(g.UpdatedAt), Version: g.Version,
	}
}

func (it groupItem) toGroup() groups.Group {
	counts := make(map[groups.ItemType]int, len(groups.ItemTypes))
	for _, t := range groups.ItemTypes {
		counts[t] = it.Counts[string(t)]
	}
	return groups.Group{
		ID: it.ID, Name: it.Name, Description: it.Description, Attributes: it.Attributes, Counts: counts,
		Ancestors: it.ancestors(), ChildCount: it.ChildCount,
		CreatedAt: parseTime(it.CreatedAt), UpdatedAt: parseTime(it.UpdatedAt), Version: it.Version,
	}
}

// path is the group's tree path: its GSI3 key, or, for a group written
// before the hierarchy and not migrated yet, the path of a top-level group.
func (it groupItem) path() string {
	switch {
	case it.GSI3SK != "":
		return it.GSI3SK
	case it.DeletedPath != "":
		return it.DeletedPath
	}
	return it.ID
}

func (it groupItem) ancestors() []string { return parseTreePath(it.path()) }

type nameGuardItem struct {
	PK      string `dynamodbav:"PK"`
	SK      string `dynamodbav:"SK"`
	Kind    string `dynamodbav:"kind"`
	GroupID string `dynamodbav:"groupId"`
}

func toNameGuardItem(tenant, name, groupID string) nameGuardItem {
	return nameGuardItem{PK: nameGuardPK(tenant, name), SK: skNameGuard, Kind: "name", GroupID: groupID}
}

// A membership's name, for search, sort and filters, is its item id (the
// partner's own identifier); nameLower is its folded copy for the ilk
// filter (for an id, which is ASCII, its lower-case form).
type memberItem struct {
	PK        string `dynamodbav:"PK"`
	SK        string `dynamodbav:"SK"`
	GSI1PK    string `dynamodbav:"GSI1PK"`
	GSI1SK    string `dynamodbav:"GSI1SK"`
	GSI2PK    string `dynamodbav:"GSI2PK"`
	GSI2SK    string `dynamodbav:"GSI2SK"`
	Kind      string `dynamodbav:"kind"`
	GroupID   string `dynamodbav:"groupId"`
	ItemType  string `dynamodbav:"itemType"`
	ItemID    string `dynamodbav:"itemId"`
	NameLower string `dynamodbav:"nameLower"`
	AddedAt   string `dynamodbav:"addedAt"`
}

func toMemberItem(tenant string, m groups.Membership) memberItem {
	addedAt := formatTime(m.AddedAt)
	return memberItem{
		PK: groupPK(tenant, m.GroupID), SK: memberSK(m.Item),
		GSI1PK: itemGSI1PK(tenant, m.Item), GSI1SK: memberGSI1SK(m.GroupID),
		GSI2PK: membersGSI2PK(tenant, m.GroupID), GSI2SK: memberGSI2SK(addedAt, m.Item),
		Kind: "member", GroupID: m.GroupID, ItemType: string(m.Item.Type), ItemID: m.Item.ID,
		NameLower: groups.FoldName(m.Item.ID), AddedAt: addedAt,
	}
}

func (it memberItem) toMembership() groups.Membership {
	return groups.Membership{
		GroupID: it.GroupID,
		Item:    groups.Item{Type: groups.ItemType(it.ItemType), ID: it.ItemID},
		AddedAt: parseTime(it.AddedAt),
	}
}

// heldItem is an item's edge to a group holding it (keys.go, heldSK): the
// membership mirrored into the item's partition.
type heldItem struct {
	PK       string `dynamodbav:"PK"`
	SK       string `dynamodbav:"SK"`
	Kind     string `dynamodbav:"kind"`
	GroupID  string `dynamodbav:"groupId"`
	ItemType string `dynamodbav:"itemType"`
	ItemID   string `dynamodbav:"itemId"`
	AddedAt  string `dynamodbav:"addedAt"`
}

func toHeldItem(tenant string, m groups.Membership) heldItem {
	return heldItem{
		PK: itemPK(tenant, m.Item), SK: heldSK(m.GroupID), Kind: "held", GroupID: m.GroupID,
		ItemType: string(m.Item.Type), ItemID: m.Item.ID, AddedAt: formatTime(m.AddedAt),
	}
}

type tenantItem struct {
	PK        string `dynamodbav:"PK"`
	SK        string `dynamodbav:"SK"`
	Kind      string `dynamodbav:"kind"`
	ID        string `dynamodbav:"id"`
	Name      string `dynamodbav:"name"`
	APIKey    string `dynamodbav:"apiKey"`
	CreatedAt string `dynamodbav:"createdAt"`
}

// tokenItem is stored under the SHA-256 of the token, never the token. It
// copies the tenant's API key so that the authorizer needs one GetItem.
type tokenItem struct {
	PK        string `dynamodbav:"PK"`
	SK        string `dynamodbav:"SK"`
	Kind      string `dynamodbav:"kind"`
	TenantID  string `dynamodbav:"tenantId"`
	APIKey    string `dynamodbav:"apiKey"`
	CreatedAt string `dynamodbav:"createdAt"`
	Label     string `dynamodbav:"label,omitempty"` // for people telling tokens apart
	// ReadOnly tokens may only read (absent on tokens that may write).
	ReadOnly bool `dynamodbav:"readOnly,omitempty"`
	// Scope is the group whose subtree alone the token sees.
	Scope string `dynamodbav:"scope,omitempty"`
}

func (it tokenItem) toToken() groups.Token {
	hash, _ := strings.CutPrefix(it.SK, skTokenPrefix)
	return groups.Token{Hash: hash, Label: it.Label, CreatedAt: parseTime(it.CreatedAt), ReadOnly: it.ReadOnly, Scope: it.Scope}
}

// usageItem is a tenant's call counters (usage.go), but for the day
// counters, whose names vary. It has no kind attribute, unlike the other
// items: the metering grant names every attribute the counters write, and
// the fewer it names the less a read-only function may write.
type usageItem struct {
	PK      string `dynamodbav:"PK"`
	SK      string `dynamodbav:"SK"`
	Calls   int64  `dynamodbav:"calls"`
	LastDay string `dynamodbav:"lastDay,omitempty"` // yyyymmdd
}

type registeredItem struct {
	PK         string            `dynamodbav:"PK"`
	SK         string            `dynamodbav:"SK"`
	Kind       string            `dynamodbav:"kind"`
	ItemType   string            `dynamodbav:"itemType"`
	ItemID     string            `dynamodbav:"itemId"`
	Name       string            `dynamodbav:"name"`
	Enterprise string            `dynamodbav:"enterprise,omitempty"`
	Attributes map[string]string `dynamodbav:"attributes"`
	CreatedAt  string            `dynamodbav:"createdAt"`
	UpdatedAt  string            `dynamodbav:"updatedAt"`
	Version    int               `dynamodbav:"version"`
}

func (it registeredItem) toRegistered() groups.RegisteredItem {
	return groups.RegisteredItem{
		Item: groups.Item{Type: groups.ItemType(it.ItemType), ID: it.ItemID},
		Name: it.Name, Enterprise: it.Enterprise, Attributes: it.Attributes,
		CreatedAt: parseTime(it.CreatedAt), UpdatedAt: parseTime(it.UpdatedAt), Version: it.Version,
	}
}

type associationItem struct {
	PK        string `dynamodbav:"PK"`
	SK        string `dynamodbav:"SK"`
	Kind      string `dynamodbav:"kind"`
	ID        string `dynamodbav:"id"`
	VehicleID string `dynamodbav:"vehicleId"`
	UserID    string `dynamodbav:"userId"`
	CreatedAt string `dynamodbav:"createdAt"`
}

func (it associationItem) toAssociation() groups.Association {
	return groups.Association{ID: it.ID, VehicleID: it.VehicleID, UserID: it.UserID, CreatedAt: parseTime(it.CreatedAt)}
}

// edgeItem is one direction of an association, in the partition of the item
// it starts from; it copies the association so either direction lists
// without another read.
type edgeItem struct {
	associationItem
	GSI2PK string `dynamodbav:"GSI2PK"`
	GSI2SK string `dynamodbav:"GSI2SK"`
}

func toEdgeItems(tenant string, a groups.Association) [2]edgeItem {
	v := groups.Item{Type: groups.Vehicles, ID: a.VehicleID}
	u := groups.Item{Type: groups.Users, ID: a.UserID}
	rec := associationItem{Kind: "edge", ID: a.ID, VehicleID: a.VehicleID, UserID: a.UserID, CreatedAt: formatTime(a.CreatedAt)}
	edge := func(from, to groups.Item) edgeItem {
		e := edgeItem{associationItem: rec, GSI2PK: edgesGSI2PK(tenant, from, to.Type), GSI2SK: createdSK(rec.CreatedAt, to.ID)}
		e.PK, e.SK = itemPK(tenant, from), edgeSK(to)
		return e
	}
	return [2]edgeItem{edge(v, u), edge(u, v)}
}

// idempotencyItem is the outcome of a request made with an Idempotency-Key:
// a claim while the request runs, then the response to replay. It expires at
// ExpiresAt (TTL); since TTL deletes lazily, reads and conditions treat an
// expired item as absent.
type idempotencyItem struct {
	PK          string            `dynamodbav:"PK"`
	SK          string            `dynamodbav:"SK"`
	Kind        string            `dynamodbav:"kind"`
	Fingerprint string            `dynamodbav:"fingerprint"`
	Claim       string            `dynamodbav:"claim"`
	State       string            `dynamodbav:"state"`
	Status      int               `dynamodbav:"status,omitempty"`
	Header      map[string]string `dynamodbav:"header,omitempty"`
	Body        []byte            `dynamodbav:"body,omitempty"`
	CreatedAt   string            `dynamodbav:"createdAt"`
	ExpiresAt   int64             `dynamodbav:"expiresAt"`
}

// Attribute names and states of idempotency items; they must match the tags above.
const (
	attrClaim       = "claim"
	attrState       = "state"
	attrStatus      = "status"
	attrHeader      = "header"
	attrBody        = "body"
	stateInProgress = "in_progress"
	stateDone       = "done"
)

func (it idempotencyItem) toRecord() IdempotencyRecord {
	return IdempotencyRecord{
		Fingerprint: it.Fingerprint, Claim: it.Claim, Done: it.State == stateDone,
		Response: StoredResponse{Status: it.Status, Header: it.Header, Body: it.Body},
	}
}
