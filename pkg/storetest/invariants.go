package storetest

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/fleetgroups/fleetgroups/pkg/app"
	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/store"
)

// CheckInvariants scans st's whole table (a test may Scan; the API never
// does) and fails t for every broken invariant; see Violations.
func CheckInvariants(t testing.TB, st *store.Store) {
	t.Helper()
	v, err := Violations(context.Background(), st)
	if err != nil {
		t.Fatalf("invariant scan: %v", err)
	}
	for _, s := range v {
		t.Errorf("invariant: %s", s)
	}
}

// rawItem holds the attributes of every kind of item the invariants read.
type rawItem struct {
	PK          string         `dynamodbav:"PK"`
	SK          string         `dynamodbav:"SK"`
	Kind        string         `dynamodbav:"kind"`
	ID          string         `dynamodbav:"id"`
	Name        string         `dynamodbav:"name"`
	NameLower   string         `dynamodbav:"nameLower"`
	GroupID     string         `dynamodbav:"groupId"`
	ItemType    string         `dynamodbav:"itemType"`
	ItemID      string         `dynamodbav:"itemId"`
	Counts      map[string]int `dynamodbav:"counts"`
	MemberCount int            `dynamodbav:"memberCount"`
	DeletingAt  string         `dynamodbav:"deletingAt"`
	ParentID    string         `dynamodbav:"parentId"`
	ChildCount  int            `dynamodbav:"childCount"`
	TreePath    string         `dynamodbav:"GSI3SK"`
	Moving      string         `dynamodbav:"moving"`
	GroupCount  *int           `dynamodbav:"groupCount"`
	VehicleID   string         `dynamodbav:"vehicleId"`
	UserID      string         `dynamodbav:"userId"`
}

// tenantOf is the tenant whose partition holds the item: every key starts
// with "T#<tenant>", and tenant ids contain no '#' (store/keys.go).
func (it rawItem) tenantOf() string {
	rest, ok := strings.CutPrefix(it.PK, "T#")
	if !ok {
		return ""
	}
	tenant, _, _ := strings.Cut(rest, "#")
	return tenant
}

// tenantState is one tenant's items as the scan found them.
type tenantState struct {
	groups     map[string]rawItem // live groups by id
	tombstones []rawItem
	guards     []rawItem
	members    map[string][]rawItem // by group id
	orphans    []rawItem            // memberships in a partition with no live group
	records    map[string]rawItem   // associations by id
	edges      map[string][]rawItem // by association id
	directory  *int
}

// Violations scans st's table and returns every broken invariant:
//
//   - no move is left in progress (store/move.go): no move item, no group
//     held by a move. A table with one is reported for that alone, since
//     the store's reads below would finish the move first;
//   - no tombstone is left (every delete was finished or repeated);
//   - each live group's counts equal its memberships, per type and in all;
//   - names are unique per tenant after folding (FoldName), each live group
//     has exactly one name guard, under its folded name, and every guard
//     points at a live group: no orphan guard;
//   - every membership is in a live group's partition: no orphan membership;
//   - every membership has its edge in its item's partition, and every
//     edge its membership: no orphan edge;
//   - the groups form trees: each group's path is its parent's path and its
//     own id (a top-level group's is its id), its parentId the parent's
//     id, its depth at most groups.MaxDepth, and its childCount the number
//     of groups whose parent it is;
//   - forward and reverse lookups agree: the store lists each group's
//     members exactly as the table holds them, and lists each item's groups
//     as exactly the groups holding it;
//   - each list's total_count equals what it lists (groups, members), and
//     the tenant's group count equals its live groups;
//   - each association has its record and exactly its two edges, and both
//     items list it.
func Violations(ctx context.Context, st *store.Store) ([]string, error) {
	items, err := scan(ctx, st.Table())
	if err != nil {
		return nil, err
	}
	tenants := map[string]*tenantState{}
	state := func(t string) *tenantState {
		if tenants[t] == nil {
			tenants[t] = &tenantState{groups: map[string]rawItem{}, members: map[string][]rawItem{},
				records: map[string]rawItem{}, edges: map[string][]rawItem{}}
		}
		return tenants[t]
	}
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	for _, it := range items {
		switch {
		case it.Kind == "move":
			bad("tenant %s: a move was never finished", it.tenantOf())
		case it.Moving != "":
			bad("tenant %s: group %s is held by a move (%s)", it.tenantOf(), it.ID, it.Moving)
		}
	}
	if len(out) > 0 {
		return out, nil
	}
	byPK := map[string]rawItem{} // group items by partition
	for _, it := range items {
		ts := state(it.tenantOf())
		switch {
		case it.Kind == "group" && it.DeletingAt != "":
			ts.tombstones = append(ts.tombstones, it)
		case it.Kind == "group":
			ts.groups[it.ID] = it
			byPK[it.PK] = it
		case it.Kind == "name":
			ts.guards = append(ts.guards, it)
		case it.Kind == "association":
			ts.records[it.ID] = it
		case it.Kind == "edge":
			ts.edges[it.ID] = append(ts.edges[it.ID], it)
		case it.Kind == "" && it.GroupCount != nil:
			ts.directory = it.GroupCount
		}
	}
	for _, it := range items {
		if it.Kind != "member" {
			continue
		}
		ts := state(it.tenantOf())
		if g, ok := byPK[it.PK]; ok && g.ID == it.GroupID {
			ts.members[it.GroupID] = append(ts.members[it.GroupID], it)
		} else {
			ts.orphans = append(ts.orphans, it)
		}
	}
	checkHeldEdges(items, bad)
	for _, tenant := range sortedKeys(tenants) {
		ts := tenants[tenant]
		if err := checkTenant(ctx, st, tenant, ts, bad); err != nil {
			return out, err
		}
	}
	return out, nil
}

func checkTenant(ctx context.Context, st *store.Store, tenant string, ts *tenantState, bad func(string, ...any)) error {
	for _, tomb := range ts.tombstones {
		bad("tenant %s: group %s is a tombstone: its delete was never finished", tenant, tomb.ID)
	}
	for _, m := range ts.orphans {
		bad("tenant %s: orphan membership %s/%s in %s (no live group %s)", tenant, m.ItemType, m.ItemID, m.PK, m.GroupID)
	}
	// Names and guards.
	byFold := map[string]string{}
	for _, id := range sortedKeys(ts.groups) {
		g := ts.groups[id]
		f := groups.FoldName(g.Name)
		if other, ok := byFold[f]; ok {
			bad("tenant %s: groups %s and %s share the folded name %q", tenant, other, id, f)
		}
		byFold[f] = id
		if g.NameLower != f {
			bad("tenant %s: group %s: nameLower %q, want %q", tenant, id, g.NameLower, f)
		}
	}
	checkTree(tenant, ts, bad)
	guarded := map[string]int{}
	for _, gu := range ts.guards {
		g, ok := ts.groups[gu.GroupID]
		switch {
		case !ok:
			bad("tenant %s: orphan name guard %s points at group %q, which is not live", tenant, gu.PK, gu.GroupID)
		case !strings.HasSuffix(gu.PK, "#"+groups.FoldName(g.Name)):
			bad("tenant %s: name guard %s of group %s does not match its name %q", tenant, gu.PK, g.ID, g.Name)
		}
		guarded[gu.GroupID]++
	}
	for _, id := range sortedKeys(ts.groups) {
		if guarded[id] != 1 {
			bad("tenant %s: group %s has %d name guards, want 1", tenant, id, guarded[id])
		}
	}
	// Group count and the list of groups.
	if len(ts.groups) > 0 || ts.directory != nil {
		if ts.directory == nil || *ts.directory != len(ts.groups) {
			bad("tenant %s: group count %v, want %d live groups", tenant, deref(ts.directory), len(ts.groups))
		}
		listed, total, err := listAll(func(pr store.PageRequest) (store.Page[groups.Group], error) {
			return st.ListGroups(ctx, tenant, store.ListQuery{PageRequest: pr})
		})
		if err != nil {
			return err
		}
		var ids []string
		for _, g := range listed {
			ids = append(ids, g.ID)
		}
		if want := sortedKeys(ts.groups); !sameSet(ids, want) {
			bad("tenant %s: list-groups lists %v, the table holds %v", tenant, ids, want)
		}
		if total == nil || *total != len(listed) {
			bad("tenant %s: list-groups total_count %v, lists %d", tenant, deref(total), len(listed))
		}
	}
	// Counts, forward lookups and totals.
	holders := map[groups.Item][]string{} // item → groups holding it, from the table
	for _, id := range sortedKeys(ts.groups) {
		g := ts.groups[id]
		per := map[string]int{}
		var want []string
		for _, m := range ts.members[id] {
			per[m.ItemType]++
			want = append(want, m.ItemType+"/"+m.ItemID)
			it := groups.Item{Type: groups.ItemType(m.ItemType), ID: m.ItemID}
			holders[it] = append(holders[it], id)
		}
		for _, t := range groups.ItemTypes {
			if g.Counts[string(t)] != per[string(t)] {
				bad("tenant %s: group %s counts %d %s, holds %d", tenant, id, g.Counts[string(t)], t, per[string(t)])
			}
		}
		if g.MemberCount != len(ts.members[id]) {
			bad("tenant %s: group %s memberCount %d, holds %d", tenant, id, g.MemberCount, len(ts.members[id]))
		}
		listed, total, err := listAll(func(pr store.PageRequest) (store.Page[groups.Membership], error) {
			return st.ListMembers(ctx, tenant, id, "", store.ListQuery{PageRequest: pr})
		})
		if err != nil {
			return fmt.Errorf("list members of %s: %w", id, err)
		}
		var got []string
		for _, m := range listed {
			got = append(got, string(m.Item.Type)+"/"+m.Item.ID)
		}
		if !sameSet(got, want) {
			bad("tenant %s: list-members of %s lists %v, the table holds %v", tenant, id, got, want)
		}
		if total == nil || *total != len(listed) {
			bad("tenant %s: list-members of %s total_count %v, lists %d", tenant, id, deref(total), len(listed))
		}
	}
	// Reverse lookups.
	for it, want := range holders {
		listed, _, err := listAll(func(pr store.PageRequest) (store.Page[groups.GroupRef], error) {
			return st.ListItemGroups(ctx, tenant, it, pr)
		})
		if err != nil {
			return err
		}
		var got []string
		for _, g := range listed {
			got = append(got, g.ID)
			if g.Name != ts.groups[g.ID].Name {
				bad("tenant %s: %s/%s's groups name %s %q, the group is %q", tenant, it.Type, it.ID, g.ID, g.Name, ts.groups[g.ID].Name)
			}
		}
		if !sameSet(got, want) {
			bad("tenant %s: %s/%s's groups are %v, the table holds it in %v", tenant, it.Type, it.ID, got, want)
		}
	}
	// Associations: a record and its two edges, listed from both sides.
	for _, id := range sortedKeys(ts.records) {
		rec, edges := ts.records[id], ts.edges[id]
		if len(edges) != 2 || edges[0].PK == edges[1].PK {
			bad("tenant %s: association %s has %d edges, want one in each item's partition", tenant, id, len(edges))
			continue
		}
		for _, e := range edges {
			if e.VehicleID != rec.VehicleID || e.UserID != rec.UserID {
				bad("tenant %s: edge %s/%s of association %s links %s–%s, the record %s–%s", tenant, e.PK, e.SK, id, e.VehicleID, e.UserID, rec.VehicleID, rec.UserID)
			}
		}
		for _, side := range []struct {
			from groups.Item
			to   groups.ItemType
		}{
			{groups.Item{Type: groups.Vehicles, ID: rec.VehicleID}, groups.Users},
			{groups.Item{Type: groups.Users, ID: rec.UserID}, groups.Vehicles},
		} {
			listed, _, err := listAll(func(pr store.PageRequest) (store.Page[groups.Association], error) {
				return st.ListAssociations(ctx, tenant, side.from, side.to, store.ListQuery{PageRequest: pr})
			})
			if err != nil {
				return err
			}
			if !slices.ContainsFunc(listed, func(a groups.Association) bool { return a.ID == id }) {
				bad("tenant %s: association %s is not listed for %s/%s", tenant, id, side.from.Type, side.from.ID)
			}
		}
	}
	for _, id := range sortedKeys(ts.edges) {
		if _, ok := ts.records[id]; !ok {
			bad("tenant %s: orphan edges of association %s (no record)", tenant, id)
		}
	}
	return nil
}

// listAll pages through a list to its end; total is the first page's.
func listAll[T any](page func(store.PageRequest) (store.Page[T], error)) (all []T, total *int, err error) {
	pr := store.PageRequest{Limit: groups.MaxPageSize}
	for first := true; ; first = false {
		p, err := page(pr)
		if err != nil {
			return nil, nil, err
		}
		if first {
			total = p.Total
		}
		all = append(all, p.Items...)
		if p.Next == nil {
			return all, total, nil
		}
		pr.After = p.Next
	}
}

// scan reads every item of the table, strongly consistently, through a
// client of its own (no counter, no fault injection).
func scan(ctx context.Context, table string) ([]rawItem, error) {
	db, err := app.NewDynamoDB(os.Getenv("DYNAMODB_ENDPOINT"))
	if err != nil {
		return nil, err
	}
	var out []rawItem
	p := dynamodb.NewScanPaginator(db, &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		var items []rawItem
		if err := attributevalue.UnmarshalListOfMaps(page.Items, &items); err != nil {
			return nil, err
		}
		out = append(out, items...)
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func deref(p *int) any {
	if p == nil {
		return "none"
	}
	return *p
}

// checkTree checks the tenant's groups form trees (see Violations).
func checkTree(tenant string, ts *tenantState, bad func(string, ...any)) {
	children := map[string]int{}
	for _, id := range sortedKeys(ts.groups) {
		g := ts.groups[id]
		want := g.ID
		if g.ParentID != "" {
			children[g.ParentID]++
			p, ok := ts.groups[g.ParentID]
			if !ok {
				bad("tenant %s: group %s has parent %s, which is not a live group", tenant, id, g.ParentID)
				continue
			}
			want = p.TreePath + "/" + g.ID
		}
		if g.TreePath != want {
			bad("tenant %s: group %s: tree path %q, want %q", tenant, id, g.TreePath, want)
		}
		if depth := strings.Count(g.TreePath, "/"); depth > groups.MaxDepth {
			bad("tenant %s: group %s is at depth %d, deeper than %d", tenant, id, depth, groups.MaxDepth)
		}
	}
	for _, id := range sortedKeys(ts.groups) {
		if got := ts.groups[id].ChildCount; got != children[id] {
			bad("tenant %s: group %s: childCount %d, want %d", tenant, id, got, children[id])
		}
	}
}

// checkHeldEdges checks that memberships and the items' edges to their
// groups (store.heldSK) mirror each other exactly.
func checkHeldEdges(items []rawItem, bad func(string, ...any)) {
	type pair struct{ tenant, group, itemType, item string }
	members, edges := map[pair]bool{}, map[pair]bool{}
	for _, it := range items {
		p := pair{it.tenantOf(), it.GroupID, it.ItemType, it.ItemID}
		switch it.Kind {
		case "member":
			members[p] = true
		case "held":
			edges[p] = true
			if want := "T#" + p.tenant + "#I#" + p.itemType + "#" + p.item; it.PK != want || it.SK != "G#"+p.group {
				bad("edge %s/%s does not sit at its item's key %s/G#%s", it.PK, it.SK, want, p.group)
			}
		}
	}
	for p := range members {
		if !edges[p] {
			bad("tenant %s: membership %s/%s in %s has no edge", p.tenant, p.itemType, p.item, p.group)
		}
	}
	for p := range edges {
		if !members[p] {
			bad("tenant %s: orphan edge of %s/%s to %s (no membership)", p.tenant, p.itemType, p.item, p.group)
		}
	}
}
