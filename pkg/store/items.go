package store

import (
	"github.com/fleetgroups/fleetgroups/pkg/groups"
)

// Item structs carry the DynamoDB layout; the domain types in pkg/groups carry
// none. Each kind has its mapper pair here.

type groupItem struct {
	PK          string         `dynamodbav:"PK"`
	SK          string         `dynamodbav:"SK"`
	GSI1PK      string         `dynamodbav:"GSI1PK,omitempty"`
	GSI1SK      string         `dynamodbav:"GSI1SK,omitempty"`
	GSI2PK      string         `dynamodbav:"GSI2PK,omitempty"`
	GSI2SK      string         `dynamodbav:"GSI2SK,omitempty"`
	Kind        string         `dynamodbav:"kind"`
	ID          string         `dynamodbav:"id"`
	Name        string         `dynamodbav:"name"`
	NameLower   string         `dynamodbav:"nameLower"`
	Description string         `dynamodbav:"description"`
	Counts      map[string]int `dynamodbav:"counts"`
	MemberCount int            `dynamodbav:"memberCount"`
	CreatedAt   string         `dynamodbav:"createdAt"`
	UpdatedAt   string         `dynamodbav:"updatedAt"`
	Version     int            `dynamodbav:"version"`
	// DeletingAt marks a tombstone: the group is gone for every reader while
	// its memberships are being purged (see DeleteGroup).
	DeletingAt string `dynamodbav:"deletingAt,omitempty"`
}

// Attribute names used in expressions; they must match the tags above.
const (
	attrCounts      = "counts"
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
		Kind: "group", ID: g.ID, Name: g.Name, NameLower: groups.NormalizeName(g.Name), Description: g.Description,
		Counts: counts, MemberCount: g.MemberCount(),
		CreatedAt: createdAt, UpdatedAt: formatTime(g.UpdatedAt), Version: g.Version,
	}
}

func (it groupItem) toGroup() groups.Group {
	counts := make(map[groups.ItemType]int, len(groups.ItemTypes))
	for _, t := range groups.ItemTypes {
		counts[t] = it.Counts[string(t)]
	}
	return groups.Group{
		ID: it.ID, Name: it.Name, Description: it.Description, Counts: counts,
		CreatedAt: parseTime(it.CreatedAt), UpdatedAt: parseTime(it.UpdatedAt), Version: it.Version,
	}
}

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
// partner's own identifier); nameLower is its lower-case copy for the
// case-insensitive filter.
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
		NameLower: groups.NormalizeName(m.Item.ID), AddedAt: addedAt,
	}
}

func (it memberItem) toMembership() groups.Membership {
	return groups.Membership{
		GroupID: it.GroupID,
		Item:    groups.Item{Type: groups.ItemType(it.ItemType), ID: it.ItemID},
		AddedAt: parseTime(it.AddedAt),
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
}
