package store

import (
	"strings"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
)

// Every key format of the table lives in this file. Each key starts with the
// tenant ("T#<tenant>"), so no query, get or condition can reach another
// tenant's items. Tenant, group and item ids never contain '#' (validated at
// the edge), so the separators are unambiguous.
//
//	item                PK                          SK                    GSI1PK                     GSI1SK
//	tenant              T#<t>                       TENANT
//	token               T#<t>                       TOKEN#<sha256>
//	group directory     T#<t>                       DIR                   T#<t>#GROUPS               #DIR
//	group               T#<t>#G#<group>             #GROUP                T#<t>#GROUPS               N#<lower name>
//	membership          T#<t>#G#<group>             M#<type>#<item>       T#<t>#I#<type>#<item>      G#<group>
//	name guard          T#<t>#NAME#<lower name>     NAME
//	cursor key          #SYSTEM                     CURSOR_KEY
//
// GSI2 is the created-order index of every list: GSI2PK is the list, GSI2SK
// "C#" + the creation time (timeFormat, which sorts as a string) + "#" + the
// entry's id, so entries created in the same millisecond still sort apart.
//
//	item                GSI2PK                      GSI2SK
//	group               T#<t>#GROUPS                C#<createdAt>#<group>
//	membership          T#<t>#G#<group>#MEMBERS     C#<addedAt>#<type>#<item>
//
// A group's index keys (GSI1 and GSI2) go when it becomes a tombstone, so
// no list shows a group being deleted.
//
// The group item sorts before its memberships ("#" < "M"), so one Query of the
// group's partition returns the group (with its counts) followed by its
// members; the directory item sorts before every group name in GSI1, so one
// Query of the tenant's groups returns the group count followed by the groups.
const (
	skTenant      = "TENANT"
	skTokenPrefix = "TOKEN#"
	skDirectory   = "DIR"
	skGroup       = "#GROUP"
	skNameGuard   = "NAME"
	skMemberRoot  = "M#"
	skMemberEnd   = "M$" // sorts just after every "M#..." key
	gsiDirectory  = "#DIR"
	gsiNamePrefix = "N#"
	gsiGroupRoot  = "G#"
	gsiCreated    = "C#"
	pkSystem      = "#SYSTEM"
	skCursorKey   = "CURSOR_KEY"
)

func tenantPK(tenant string) string { return "T#" + tenant }

func tokenSK(tokenHash string) string { return skTokenPrefix + tokenHash }

func groupPK(tenant, groupID string) string { return tenantPK(tenant) + "#G#" + groupID }

func groupsGSI1PK(tenant string) string { return tenantPK(tenant) + "#GROUPS" }

func groupGSI1SK(name string) string { return gsiNamePrefix + groups.NormalizeName(name) }

// createdSK is the GSI2 sort key of a list entry created at (timeFormat)
// with id.
func createdSK(at, id string) string { return gsiCreated + at + "#" + id }

// membersGSI2PK is the GSI2 partition of a group's members in created order.
func membersGSI2PK(tenant, groupID string) string { return groupPK(tenant, groupID) + "#MEMBERS" }

func memberGSI2SK(addedAt string, it groups.Item) string {
	return createdSK(addedAt, string(it.Type)+"#"+it.ID)
}

func nameGuardPK(tenant, name string) string {
	return tenantPK(tenant) + "#NAME#" + groups.NormalizeName(name)
}

func memberSK(it groups.Item) string { return memberTypePrefix(it.Type) + it.ID }

// memberTypePrefix is the sort-key prefix of one item type's memberships.
func memberTypePrefix(t groups.ItemType) string { return skMemberRoot + string(t) + "#" }

func itemGSI1PK(tenant string, it groups.Item) string {
	return tenantPK(tenant) + "#I#" + string(it.Type) + "#" + it.ID
}

func memberGSI1SK(groupID string) string { return gsiGroupRoot + groupID }

// parseMemberSK is the inverse of memberSK.
func parseMemberSK(sk string) (groups.Item, bool) {
	rest, ok := strings.CutPrefix(sk, skMemberRoot)
	if !ok {
		return groups.Item{}, false
	}
	typ, id, ok := strings.Cut(rest, "#")
	if !ok || id == "" {
		return groups.Item{}, false
	}
	return groups.Item{Type: groups.ItemType(typ), ID: id}, true
}

// parseGroupPK returns the group id of a group partition key of tenant.
func parseGroupPK(tenant, pk string) (string, bool) {
	return strings.CutPrefix(pk, groupPK(tenant, ""))
}
