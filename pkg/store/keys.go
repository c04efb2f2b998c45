package store

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
)

// Every key format of the table lives in this file. Each key starts with the
// tenant ("T#<tenant>"), so no query, get or condition can reach another
// tenant's items. Tenant, group and item ids never contain '#' (validated at
// the edge), so the separators are unambiguous. Names may contain '#' and
// anything else printable, so a name is either the last part of its key
// (group GSI1SK, name guard) or ends with nameSep (␟ below, U+001F), which
// no name contains and which sorts before every character a name can hold.
// A name is keyed in its folded form (groups.FoldName), so that lookalikes
// share a name guard, and search and name order compare what people see.
//
//	item                PK                          SK                    GSI1PK                     GSI1SK
//	tenant              T#<t>                       TENANT
//	token               T#<t>                       TOKEN#<sha256>
//	usage counters      T#<t>                       USAGE
//	group directory     T#<t>                       DIR                   T#<t>#GROUPS               #DIR
//	group               T#<t>#G#<group>             #GROUP                T#<t>#GROUPS               N#<folded name>
//	membership          T#<t>#G#<group>             M#<type>#<item>       T#<t>#I#<type>#<item>      G#<group>
//	name guard          T#<t>#NAME#<folded name>    NAME
//	registered item     T#<t>#I#<type>#<item>       ITEM                  T#<t>#ITEMS#<type>         N#<folded name>␟<item>
//	                    (and GSI2: T#<t>#ITEMS#<type> / C#<createdAt>#<item>, the created order)
//	held edge           T#<t>#I#<type>#<item>       G#<group>
//	association         T#<t>#ASSOC#<id>            ASSOC
//	association edge    T#<t>#I#<type>#<item>       A#<other type>#<other item>
//	                    (and GSI2: T#<t>#I#<type>#<item>#A#<other type> / C#<createdAt>#<other item>)
//	idempotency record  T#<t>#IDEM#<key>            IDEM
//	move in progress    T#<t>#MOVE                  MOVE
//	change event        T#<t>#FEED                  F#<ms>#<nnnnn>#<event id>   (changes.go)
//	webhook count       T#<t>#HOOKS                 COUNT                         (webhooks.go)
//	webhook             T#<t>#HOOKS                 W#<webhook>
//	delivery            T#<t>#HOOK#<webhook>        D#<ms>_<event id>
//	cursor key          #SYSTEM                     CURSOR_KEY
//	schema version      #SYSTEM                     SCHEMA
//
// GSI2 is the created-order index of every list: GSI2PK is the list, GSI2SK
// "C#" + the creation time (timeFormat, which sorts as a string) + "#" + the
// entry's id, so entries created in the same millisecond still sort apart.
//
//	item                GSI2PK                      GSI2SK
//	group               T#<t>#GROUPS                C#<createdAt>#<group>
//	membership          T#<t>#G#<group>#MEMBERS     C#<addedAt>#<type>#<item>
//
// GSI3 is the tree order of a tenant's groups: GSI3SK is the group's path,
// the ids of its ancestors and its own joined by treeSep, so a group sorts
// just before its subtree, depth-first (a subtree is one begins_with range),
// and its ancestors, parent and depth are read off its own item.
//
//	item                GSI3PK                      GSI3SK
//	group               T#<t>#TREE                  <top>/…/<parent>/<group>
//
// A group's index keys (GSI1, GSI2 and GSI3) go when it becomes a
// tombstone, so no list shows a group being deleted.
//
// The group item sorts before its memberships ("#" < "M"), so one Query of the
// group's partition returns the group (with its counts) followed by its
// members; the directory item sorts before every group name in GSI1, so one
// Query of the tenant's groups returns the group count followed by the groups.
//
// The usage counters sit in the tenant's own partition, where IAM can let
// every function count calls without letting it write groups; the total and
// the day's count are attributes of the one item (usage.go).
//
// An idempotency key is the client's own string (printable ASCII, '#'
// included): it is the last part of its key, after the tenant, so it can
// reach no other tenant's items and no other kind of item.
const (
	skTenant      = "TENANT"
	skTokenPrefix = "TOKEN#"
	skDirectory   = "DIR"
	skGroup       = "#GROUP"
	skNameGuard   = "NAME"
	skItem        = "ITEM"
	skAssociation = "ASSOC"
	skEdgeRoot    = "A#"
	skMemberRoot  = "M#"
	skMemberEnd   = "M$" // sorts just after every "M#..." key
	gsiDirectory  = "#DIR"
	gsiNamePrefix = "N#"
	gsiGroupRoot  = "G#"
	gsiCreated    = "C#"
	pkSystem      = "#SYSTEM"
	skCursorKey   = "CURSOR_KEY"
	skSchema      = "SCHEMA"
	skUsage       = "USAGE"
	skMove        = "MOVE"
)

func tenantPK(tenant string) string { return "T#" + tenant }

func tokenSK(tokenHash string) string { return skTokenPrefix + tokenHash }

func groupPK(tenant, groupID string) string { return tenantPK(tenant) + "#G#" + groupID }

func groupsGSI1PK(tenant string) string { return tenantPK(tenant) + "#GROUPS" }

func treeGSI3PK(tenant string) string { return tenantPK(tenant) + "#TREE" }

// treeSep joins the ids of a tree path. It sorts before every character of
// a group id (letters, digits, '_'), so a group's path sorts just before
// its descendants' and after its previous sibling's whole subtree.
const treeSep = "/"

// treePath is the GSI3 sort key of the group id under ancestors.
func treePath(ancestors []string, id string) string {
	return strings.Join(append(slices.Clone(ancestors), id), treeSep)
}

// parseTreePath returns the ancestors of the group at path, top first (nil
// at top level).
func parseTreePath(path string) (ancestors []string) {
	ids := strings.Split(path, treeSep)
	if len(ids) == 1 {
		return nil
	}
	return ids[:len(ids)-1]
}

// subtreePrefix is the GSI3 sort-key prefix of path's descendants.
func subtreePrefix(path string) string { return path + treeSep }

// groupGSI1SK is a group's name key: its folded name, which create and
// rename keep within groups.MaxFoldedNameBytes. As a search prefix, name is
// the search (validated to the same bound).
func groupGSI1SK(name string) string { return gsiNamePrefix + groups.FoldName(name) }

// createdSK is the GSI2 sort key of a list entry created at (timeFormat)
// with id.
func createdSK(at, id string) string { return gsiCreated + at + "#" + id }

// membersGSI2PK is the GSI2 partition of a group's members in created order.
func membersGSI2PK(tenant, groupID string) string { return groupPK(tenant, groupID) + "#MEMBERS" }

func memberGSI2SK(addedAt string, it groups.Item) string {
	return createdSK(addedAt, string(it.Type)+"#"+it.ID)
}

func nameGuardPK(tenant, name string) string {
	return tenantPK(tenant) + "#NAME#" + groups.FoldName(name)
}

// heldGuardPK is the name guard that the group item g holds. Its nameLower
// is written with the guard, in the same transaction, so it is the guard's
// name: the folded name since schema 1, the lower-cased name before (until
// fleetgroups-admin migrate rewrites both); groups older than nameLower had
// only the lower-cased name.
func heldGuardPK(tenant string, g groupItem) string {
	n := g.NameLower
	if n == "" {
		n = strings.ToLower(g.Name)
	}
	return tenantPK(tenant) + "#NAME#" + n
}

// parseGroupPK returns the tenant and group id of a group's partition key.
func parseGroupPK(pk string) (tenant, groupID string, ok bool) {
	rest, ok := strings.CutPrefix(pk, "T#")
	if !ok {
		return "", "", false
	}
	return strings.Cut(rest, "#G#")
}

func memberSK(it groups.Item) string { return memberTypePrefix(it.Type) + it.ID }

// memberTypePrefix is the sort-key prefix of one item type's memberships.
func memberTypePrefix(t groups.ItemType) string { return skMemberRoot + string(t) + "#" }

func itemGSI1PK(tenant string, it groups.Item) string {
	return tenantPK(tenant) + "#I#" + string(it.Type) + "#" + it.ID
}

func memberGSI1SK(groupID string) string { return gsiGroupRoot + groupID }

// heldSK is the sort key, in an item's partition, of its edge to a group
// that holds it: the inverse of the membership, written in the membership's
// own transactions, so that "which groups hold this item" is a strongly
// consistent Query of the table (GSI1 answers it too, eventually).
func heldSK(groupID string) string { return gsiGroupRoot + groupID }

// parseMemberSK returns the item of a membership's sort key.
func parseMemberSK(sk string) (groups.Item, bool) {
	rest, ok := strings.CutPrefix(sk, skMemberRoot)
	if !ok {
		return groups.Item{}, false
	}
	t, id, ok := strings.Cut(rest, "#")
	return groups.Item{Type: groups.ItemType(t), ID: id}, ok
}

// heldKey is the key of the edge that mirrors the membership at (pk, sk).
func heldKey(pk, sk string) (map[string]types.AttributeValue, bool) {
	tenant, groupID, ok := parseGroupPK(pk)
	it, itemOK := parseMemberSK(sk)
	if !ok || !itemOK {
		return nil, false
	}
	return key(itemPK(tenant, it), heldSK(groupID)), true
}

// itemPK is the partition of one of the partner's items: its registration
// (and its association edges) live there. The same string is the GSI1
// partition of the item's memberships, in another index.
func itemPK(tenant string, it groups.Item) string { return itemGSI1PK(tenant, it) }

// itemsPK is the index partition listing the tenant's registered items of a type.
func itemsPK(tenant string, t groups.ItemType) string {
	return tenantPK(tenant) + "#ITEMS#" + string(t)
}

// nameKey is an item name in its key: folded and, to stay under DynamoDB's
// 1,024-byte limit, cut (on a character boundary) to
// groups.MaxFoldedNameBytes, the longest a folded search may be, so only the
// order of names sharing their first 512 bytes can differ.
func nameKey(name string) string {
	n := groups.FoldName(name)
	for len(n) > groups.MaxFoldedNameBytes {
		_, size := utf8.DecodeLastRuneInString(n)
		n = n[:len(n)-size]
	}
	return n
}

// nameSep ends a name inside a composite key. Names refuse control
// characters, so no name contains it, and it sorts before every character a
// name can hold: a name comes before every longer name it starts ("a" before
// "a b"), and a search prefix never reaches past a name into the id.
const nameSep = "\x1f" // U+001F INFORMATION SEPARATOR ONE

func itemGSI1SK(name, id string) string { return gsiNamePrefix + nameKey(name) + nameSep + id }

func associationPK(tenant, id string) string { return tenantPK(tenant) + "#ASSOC#" + id }

// edgeSK is the sort key, in from's partition, of from's edge to the item to.
func edgeSK(to groups.Item) string { return edgeTypePrefix(to.Type) + to.ID }

// edgeTypePrefix is the sort-key prefix of an item's edges to items of type t.
func edgeTypePrefix(t groups.ItemType) string { return skEdgeRoot + string(t) + "#" }

// edgesGSI2PK is the GSI2 partition listing from's edges to type t by creation.
func edgesGSI2PK(tenant string, from groups.Item, t groups.ItemType) string {
	return itemPK(tenant, from) + "#A#" + string(t)
}

const skIdempotency = "IDEM"

func idempotencyPK(tenant, key string) string { return tenantPK(tenant) + "#IDEM#" + key }

// movePK is the partition of the tenant's move in progress (move.go), a
// partition of its own so that IAM can grant its writes alone.
func movePK(tenant string) string { return tenantPK(tenant) + "#MOVE" }

// feedPK is the partition of the tenant's change feed (changes.go).
func feedPK(tenant string) string { return tenantPK(tenant) + "#FEED" }

// feedSKPrefix starts every feed position; feedSK is the position of the
// n-th event published at ms (Unix milliseconds): positions sort as
// publishing time, then publishing order.
const feedSKPrefix = "F#"

func feedSK(ms int64, n int, eventID string) string {
	return fmt.Sprintf("%s%013d#%05d#%s", feedSKPrefix, ms, n, eventID)
}

// feedBound is the position before every event published at ms or later.
func feedBound(ms int64) string { return fmt.Sprintf("%s%013d", feedSKPrefix, ms) }

// feedMillis is the publishing time of a position (feedSK or feedBound).
func feedMillis(pos string) (int64, bool) {
	rest, ok := strings.CutPrefix(pos, feedSKPrefix)
	if !ok || len(rest) < 13 {
		return 0, false
	}
	ms, err := strconv.ParseInt(rest[:13], 10, 64)
	return ms, err == nil && (len(rest) == 13 || rest[13] == '#')
}

// afterFeed is the smallest position after pos: event ids and the rest of
// a position hold no character below '#', so no position lies between pos
// and pos + " ".
func afterFeed(pos string) string { return pos + " " }

// webhooksPK is the partition of the tenant's webhooks and their count
// (webhooks.go).
func webhooksPK(tenant string) string { return tenantPK(tenant) + "#HOOKS" }

const (
	skWebhookCount   = "COUNT"
	skWebhookPrefix  = "W#"
	skDeliveryPrefix = "D#"
	webhookIDPrefix  = "wh_"
	deliveryIDSep    = "_"
)

func webhookSK(id string) string { return skWebhookPrefix + id }

// deliveriesPK is the partition of one webhook's delivery records.
func deliveriesPK(tenant, webhookID string) string {
	return tenantPK(tenant) + "#HOOK#" + webhookID
}

// deliveryID names the deliveries of one event to a webhook: the event's
// time first, so a webhook's records sort newest last, then its id.
func deliveryID(eventTime time.Time, eventID string) string {
	return fmt.Sprintf("%013d%s%s", eventTime.UnixMilli(), deliveryIDSep, eventID)
}

func deliverySK(id string) string { return skDeliveryPrefix + id }
