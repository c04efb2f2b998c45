package store_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/store"
	"github.com/fleetgroups/fleetgroups/pkg/storetest"
)

func mustCreateUnder(t *testing.T, st *store.Store, tenant, parent, name string) groups.Group {
	t.Helper()
	g, err := st.CreateGroup(context.Background(), tenant, groups.NewGroup{ParentID: parent, Name: name})
	if err != nil {
		t.Fatalf("create %q under %q: %v", name, parent, err)
	}
	return g
}

func moveTo(st *store.Store, tenant, id, parent string) (groups.Group, error) {
	return st.UpdateGroup(context.Background(), tenant, id, groups.GroupPatch{Parent: &parent}, store.AnyVersion)
}

func mustGet(t *testing.T, st *store.Store, tenant, id string) groups.Group {
	t.Helper()
	g, err := st.GetGroup(context.Background(), tenant, id)
	if err != nil {
		t.Fatalf("get %s: %v", id, err)
	}
	return g
}

func ids(gs []groups.Group) []string {
	out := make([]string, len(gs))
	for i, g := range gs {
		out[i] = g.ID
	}
	return out
}

func TestTreeCreateAndRead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := storetest.NewStore(t)
	a := mustCreateUnder(t, st, tenantA, "", "Company")
	b := mustCreateUnder(t, st, tenantA, a.ID, "Region")
	c := mustCreateUnder(t, st, tenantA, b.ID, "Depot")
	if c.ParentID() != b.ID || c.Depth() != 2 || !slices.Equal(c.Ancestors, []string{a.ID, b.ID}) {
		t.Fatalf("created depot = %+v", c)
	}
	if got := mustGet(t, st, tenantA, c.ID); !slices.Equal(got.Ancestors, c.Ancestors) || got.ChildCount != 0 {
		t.Fatalf("read depot = %+v", got)
	}
	if got := mustGet(t, st, tenantA, a.ID); got.ChildCount != 1 || got.Depth() != 0 || got.ParentID() != "" || got.Version != 1 {
		t.Fatalf("company after a child was created = %+v (childCount 1, version unchanged)", got)
	}
	chain, err := st.Ancestors(ctx, tenantA, c.ID)
	if want := []groups.GroupName{{ID: a.ID, Name: "Company"}, {ID: b.ID, Name: "Region"}}; err != nil || !slices.Equal(chain, want) {
		t.Fatalf("ancestors = %v, %v; want %v", chain, err, want)
	}
	if chain, err := st.Ancestors(ctx, tenantA, a.ID); err != nil || len(chain) != 0 {
		t.Fatalf("ancestors of a top-level group = %v, %v", chain, err)
	}
	_, err = st.Ancestors(ctx, tenantB, c.ID)
	wantCode(t, err, groups.CodeNotFound)

	cases := []struct {
		name, tenant, parent string
		code                 groups.Code
	}{
		{"missing parent", tenantA, "grp_missing", groups.CodeInvalidArgument},
		{"another tenant's parent", tenantB, a.ID, groups.CodeInvalidArgument},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := st.CreateGroup(ctx, tc.tenant, groups.NewGroup{ParentID: tc.parent, Name: "Orphan " + tc.name})
			wantCode(t, err, tc.code)
		})
	}
	storetest.CheckInvariants(t, st)
}

func TestTreeDepthLimit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := storetest.NewStore(t)
	parent := ""
	var chain []groups.Group
	for depth := 0; depth <= groups.MaxDepth; depth++ {
		g := mustCreateUnder(t, st, tenantA, parent, fmt.Sprintf("Level %d", depth))
		if g.Depth() != depth {
			t.Fatalf("level %d has depth %d", depth, g.Depth())
		}
		chain, parent = append(chain, g), g.ID
	}
	_, err := st.CreateGroup(ctx, tenantA, groups.NewGroup{ParentID: parent, Name: "Too deep"})
	wantCode(t, err, groups.CodeTooDeep)

	// A two-level subtree fits under depth 7 (its leaf lands at 9), not
	// under depth 8.
	top := mustCreateUnder(t, st, tenantA, "", "Mover")
	mustCreateUnder(t, st, tenantA, top.ID, "Mover child")
	if _, err := moveTo(st, tenantA, top.ID, chain[8].ID); groups.CodeOf(err) != groups.CodeTooDeep {
		t.Fatalf("move to depth 9 with a child: %v, want too_deep", err)
	}
	if _, err := moveTo(st, tenantA, top.ID, chain[7].ID); err != nil {
		t.Fatalf("move to depth 8 with a child: %v", err)
	}
	storetest.CheckInvariants(t, st)
}

func TestTreeMoves(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := storetest.NewStore(t)
	a := mustCreateUnder(t, st, tenantA, "", "A")
	b := mustCreateUnder(t, st, tenantA, a.ID, "B")
	c := mustCreateUnder(t, st, tenantA, b.ID, "C")
	d := mustCreateUnder(t, st, tenantA, "", "D")

	for _, tc := range []struct {
		name, id, parent string
		code             groups.Code
	}{
		{"under itself", a.ID, a.ID, groups.CodeCycle},
		{"under its child", a.ID, b.ID, groups.CodeCycle},
		{"under its grandchild", a.ID, c.ID, groups.CodeCycle},
		{"under a missing group", b.ID, "grp_missing", groups.CodeInvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := moveTo(st, tenantA, tc.id, tc.parent)
			wantCode(t, err, tc.code)
		})
	}

	moved, err := moveTo(st, tenantA, b.ID, d.ID)
	if err != nil || moved.ParentID() != d.ID || moved.Version != b.Version+1 {
		t.Fatalf("move B under D = %+v, %v", moved, err)
	}
	gotC := mustGet(t, st, tenantA, c.ID)
	if !slices.Equal(gotC.Ancestors, []string{d.ID, b.ID}) || gotC.Version != c.Version {
		t.Fatalf("C after its parent moved = %+v: want ancestors [D B] and version %d unchanged", gotC, c.Version)
	}
	if got := mustGet(t, st, tenantA, a.ID); got.ChildCount != 0 || got.Version != a.Version {
		t.Fatalf("old parent = %+v", got)
	}
	if got := mustGet(t, st, tenantA, d.ID); got.ChildCount != 1 || got.Version != d.Version {
		t.Fatalf("new parent = %+v", got)
	}
	// To top level, renamed in the same PATCH.
	top, name := "", "B at top"
	moved, err = st.UpdateGroup(ctx, tenantA, b.ID, groups.GroupPatch{Parent: &top, Name: &name}, store.AtVersion(moved.Version))
	if err != nil || moved.ParentID() != "" || moved.Name != name {
		t.Fatalf("move B to top level = %+v, %v", moved, err)
	}
	if got := mustGet(t, st, tenantA, c.ID); !slices.Equal(got.Ancestors, []string{b.ID}) {
		t.Fatalf("C after B went to top level = %+v", got)
	}
	storetest.CheckInvariants(t, st)
}

func TestTreeDeleteRefusesParents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := storetest.NewStore(t)
	a := mustCreateUnder(t, st, tenantA, "", "A")
	b, err := st.CreateGroup(ctx, tenantA, groups.NewGroup{ParentID: a.ID, Name: "B", Members: []groups.Item{v("veh-1")}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = st.DeleteGroup(ctx, tenantA, a.ID, store.AnyVersion)
	wantCode(t, err, groups.CodeHasChildren)
	if _, err := st.DeleteGroup(ctx, tenantA, b.ID, store.AnyVersion); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, st, tenantA, a.ID); got.ChildCount != 0 {
		t.Fatalf("parent after its child was deleted = %+v", got)
	}
	if _, err := st.DeleteGroup(ctx, tenantA, a.ID, store.AnyVersion); err != nil {
		t.Fatal(err)
	}
	storetest.CheckInvariants(t, st)
}

func TestTreeLists(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := storetest.NewStore(t)
	a := mustCreateUnder(t, st, tenantA, "", "A")
	b1 := mustCreateUnder(t, st, tenantA, a.ID, "B1")
	b2 := mustCreateUnder(t, st, tenantA, a.ID, "B2")
	c1 := mustCreateUnder(t, st, tenantA, b1.ID, "C1")
	c2 := mustCreateUnder(t, st, tenantA, b2.ID, "C2")
	other := mustCreateUnder(t, st, tenantA, "", "Other")
	all := store.ListQuery{PageRequest: store.PageRequest{Limit: 100}}

	// Depth-first: each group just before its subtree, siblings by id.
	first, second := []string{b1.ID, c1.ID}, []string{b2.ID, c2.ID}
	if b2.ID < b1.ID {
		first, second = second, first
	}
	page, err := st.ListDescendants(ctx, tenantA, a.ID, all)
	if want := append(first, second...); err != nil || !slices.Equal(ids(page.Items), want) {
		t.Fatalf("descendants = %v, %v; want %v", ids(page.Items), err, want)
	}
	page, err = st.ListChildren(ctx, tenantA, a.ID, all)
	if want := []string{first[0], second[0]}; err != nil || !slices.Equal(ids(page.Items), want) || page.Total == nil || *page.Total != 2 {
		t.Fatalf("children = %v (total %v), %v; want %v", ids(page.Items), page.Total, err, want)
	}
	// Search and filters narrow a subtree; pages follow cursors.
	page, err = st.ListDescendants(ctx, tenantA, a.ID, store.ListQuery{Search: "c", PageRequest: store.PageRequest{Limit: 1}})
	if err != nil || len(page.Items) != 1 || page.Next == nil {
		t.Fatalf("first page of descendants named c* = %v, next %v, %v", ids(page.Items), page.Next, err)
	}
	rest, err := st.ListDescendants(ctx, tenantA, a.ID, store.ListQuery{Search: "c", PageRequest: store.PageRequest{Limit: 1, After: page.Next}})
	if got := append(ids(page.Items), ids(rest.Items)...); err != nil || !sameIDs(got, []string{c1.ID, c2.ID}) {
		t.Fatalf("descendants named c* = %v, %v", got, err)
	}
	// list-groups filtered by parent.
	for _, tc := range []struct {
		name   string
		filter store.Filter
		want   []string
	}{
		{"parentId eq", store.Filter{Field: "parentId", Op: store.OpEq, Value: b1.ID}, []string{c1.ID}},
		{"top level", store.Filter{Field: "parentId", Op: store.OpAbsent}, []string{a.ID, other.ID}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			page, err := st.ListGroups(ctx, tenantA, store.ListQuery{Filters: []store.Filter{tc.filter}, PageRequest: store.PageRequest{Limit: 100}})
			if err != nil || !sameIDs(ids(page.Items), tc.want) {
				t.Fatalf("groups = %v, %v; want %v", ids(page.Items), err, tc.want)
			}
		})
	}
	for _, list := range []func(context.Context, string, string, store.ListQuery) (store.Page[groups.Group], error){st.ListChildren, st.ListDescendants} {
		_, err := list(ctx, tenantB, a.ID, all)
		wantCode(t, err, groups.CodeNotFound)
	}
}

func sameIDs(a, b []string) bool {
	return slices.Equal(slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b)))
}

// TestTreeMoveBeyondOneTransaction: a subtree of groups.MaxMoveSize groups
// moves in one transaction, and one group more moves step by step
// (move.go) to the same result.
func TestTreeMoveBeyondOneTransaction(t *testing.T) {
	t.Parallel()
	st, counter := storetest.NewStore(t)
	root := mustCreateUnder(t, st, tenantA, "", "Root")
	for i := 1; i < groups.MaxMoveSize; i++ {
		mustCreateUnder(t, st, tenantA, root.ID, fmt.Sprintf("Leaf %03d", i))
	}
	target := mustCreateUnder(t, st, tenantA, "", "Target")
	counter.Take()
	if _, err := moveTo(st, tenantA, root.ID, target.ID); err != nil {
		t.Fatalf("move of %d groups: %v", groups.MaxMoveSize, err)
	}
	if got := counter.Take()["TransactWriteItems"]; got != 1 {
		t.Errorf("a move of %d groups took %d transactions, want 1", groups.MaxMoveSize, got)
	}
	extra := mustCreateUnder(t, st, tenantA, root.ID, "One more")
	counter.Take()
	moved, err := moveTo(st, tenantA, root.ID, "")
	if err != nil || moved.ParentID() != "" || moved.Version != root.Version+2 {
		t.Fatalf("move of %d groups = %+v, %v", groups.MaxMoveSize+1, moved, err)
	}
	// Its cost (README, DynamoDB requests per operation): each descendant
	// held, then moved, and the reads of the passes over the subtree.
	want := map[string]int{"GetItem": 10, "Query": 7, "BatchGetItem": 4, "TransactWriteItems": 3, "UpdateItem": 2 * groups.MaxMoveSize}
	if got := counter.Take(); !maps.Equal(got, want) {
		t.Errorf("a move of %d groups made %v, want %v", groups.MaxMoveSize+1, got, want)
	}
	if g := mustGet(t, st, tenantA, extra.ID); len(g.Ancestors) != 1 || g.Ancestors[0] != root.ID || g.Version != extra.Version {
		t.Errorf("descendant after the move = %+v", g)
	}
	storetest.CheckInvariants(t, st)
}

// TestConcurrentMovesKeepTrees races moves of two groups under each other,
// and moves of a subtree against creates and adds inside it: whatever wins,
// no cycle forms, no child is left at a stale path, every count holds and
// every membership has its edge.
func TestConcurrentMovesKeepTrees(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		size int
	}{{"atomic", groups.MaxMoveSize}, {"step by step", 2}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			st, _ := storetest.NewStore(t)
			st.AtomicMoveSize = c.size
			raceMoves(t, st)
		})
	}
}

func raceMoves(t *testing.T, st *store.Store) {
	ctx := context.Background()
	const rounds = 6
	for round := range rounds {
		x := mustCreateUnder(t, st, tenantA, "", fmt.Sprintf("X%d", round))
		y := mustCreateUnder(t, st, tenantA, "", fmt.Sprintf("Y%d", round))
		home := mustCreateUnder(t, st, tenantA, "", fmt.Sprintf("Home%d", round))
		for i := range 2 { // so that X's moves go step by step where the store says so
			mustCreateUnder(t, st, tenantA, x.ID, fmt.Sprintf("X%d first %d", round, i))
		}
		var wg sync.WaitGroup
		errs := make([]error, 9)
		// Readers that meet a move in progress finish it, side by side.
		wg.Go(func() { _, errs[7] = st.GetGroup(ctx, tenantA, x.ID) })
		wg.Go(func() {
			_, errs[8] = st.ListGroups(ctx, tenantA, store.ListQuery{PageRequest: store.PageRequest{Limit: 100}})
		})
		wg.Go(func() { _, _, errs[6] = st.AddMember(ctx, tenantA, x.ID, v("veh-1")) })
		wg.Go(func() { _, errs[0] = moveTo(st, tenantA, x.ID, y.ID) })
		wg.Go(func() { _, errs[1] = moveTo(st, tenantA, y.ID, x.ID) })
		wg.Go(func() { _, errs[2] = moveTo(st, tenantA, x.ID, home.ID) })
		for i := range 3 {
			wg.Go(func() {
				_, errs[3+i] = st.CreateGroup(ctx, tenantA, groups.NewGroup{ParentID: x.ID, Name: fmt.Sprintf("X%d child %d", round, i)})
			})
		}
		wg.Wait()
		for i, err := range errs {
			if c := groups.CodeOf(err); c != "" && c != groups.CodeCycle {
				t.Errorf("round %d: writer %d: %v", round, i, err)
			}
		}
	}
	storetest.CheckInvariants(t, st)
}

func TestTreeCascadeDelete(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := storetest.NewStore(t)
	a := mustCreateUnder(t, st, tenantA, "", "A")
	b, err := st.CreateGroup(ctx, tenantA, groups.NewGroup{ParentID: a.ID, Name: "B", Members: []groups.Item{v("veh-1"), u("usr-1")}})
	if err != nil {
		t.Fatal(err)
	}
	c := mustCreateUnder(t, st, tenantA, b.ID, "C")
	d := mustCreateUnder(t, st, tenantA, a.ID, "D")
	keep := mustCreateUnder(t, st, tenantA, "", "Keep")
	if _, _, err := st.AddMember(ctx, tenantA, c.ID, v("veh-1")); err != nil {
		t.Fatal(err)
	}

	// If-Match is the root's: a stale tag deletes nothing.
	_, err = st.DeleteTree(ctx, tenantA, a.ID, store.AtVersion(a.Version+1))
	wantCode(t, err, groups.CodePreconditionFailed)

	// Out of time before the first delete: 202, the tree as it was.
	st.PurgeReserve = time.Hour
	deadline, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := st.DeleteTree(deadline, tenantA, a.ID, store.AnyVersion); !errors.Is(err, store.ErrDeleteInProgress) {
		t.Fatalf("cascade out of time: %v, want ErrDeleteInProgress", err)
	}
	storetest.CheckInvariants(t, st)

	st.PurgeReserve = 0
	got, err := st.DeleteTree(ctx, tenantA, a.ID, store.AtVersion(a.Version))
	if err != nil || got.ID != a.ID {
		t.Fatalf("cascade = %+v, %v", got, err)
	}
	for _, id := range []string{a.ID, b.ID, c.ID, d.ID} {
		_, err := st.GetGroup(ctx, tenantA, id)
		wantCode(t, err, groups.CodeNotFound)
	}
	mustGet(t, st, tenantA, keep.ID)
	if page, err := st.ListItemGroups(ctx, tenantA, v("veh-1"), store.PageRequest{Limit: 10}); err != nil || len(page.Items) != 0 {
		t.Fatalf("veh-1 is still in %v, %v", page.Items, err)
	}
	// A leaf, and a group already gone.
	if _, err := st.DeleteTree(ctx, tenantA, keep.ID, store.AnyVersion); err != nil {
		t.Fatal(err)
	}
	_, err = st.DeleteTree(ctx, tenantA, keep.ID, store.AnyVersion)
	wantCode(t, err, groups.CodeNotFound)
	storetest.CheckInvariants(t, st)
}

func TestInheritedMembership(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := storetest.NewStore(t)
	a := mustCreateUnder(t, st, tenantA, "", "A")
	b := mustCreateUnder(t, st, tenantA, a.ID, "B")
	c, err := st.CreateGroup(ctx, tenantA, groups.NewGroup{ParentID: b.ID, Name: "C", Members: []groups.Item{v("veh-1")}})
	if err != nil {
		t.Fatal(err)
	}
	d, err := st.CreateGroup(ctx, tenantA, groups.NewGroup{Name: "D", Members: []groups.Item{v("veh-1")}})
	if err != nil {
		t.Fatal(err)
	}
	other := mustCreate(t, st, tenantB, "B's")

	page, err := st.EffectiveGroups(ctx, tenantA, v("veh-1"), store.PageRequest{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]groups.EffectiveGroup{
		a.ID: {ID: a.ID, Name: "A", Path: []string{a.ID, b.ID, c.ID}},
		b.ID: {ID: b.ID, Name: "B", Path: []string{b.ID, c.ID}},
		c.ID: {ID: c.ID, Name: "C", Direct: true, Path: []string{c.ID}},
		d.ID: {ID: d.ID, Name: "D", Direct: true, Path: []string{d.ID}},
	}
	if len(page.Items) != len(want) || !slices.IsSortedFunc(page.Items, func(x, y groups.EffectiveGroup) int { return strings.Compare(x.ID, y.ID) }) {
		t.Fatalf("effective groups = %+v", page.Items)
	}
	for _, g := range page.Items {
		if w := want[g.ID]; g.Name != w.Name || g.Direct != w.Direct || !slices.Equal(g.Path, w.Path) {
			t.Errorf("effective group %+v, want %+v", g, w)
		}
	}
	// Paged by id.
	first, err := st.EffectiveGroups(ctx, tenantA, v("veh-1"), store.PageRequest{Limit: 3})
	if err != nil || len(first.Items) != 3 || first.Next == nil {
		t.Fatalf("first page = %+v, %v", first, err)
	}
	rest, err := st.EffectiveGroups(ctx, tenantA, v("veh-1"), store.PageRequest{Limit: 3, After: first.Next})
	if err != nil || len(rest.Items) != 1 || rest.Next != nil || rest.Items[0].ID != page.Items[3].ID {
		t.Fatalf("second page = %+v, %v", rest, err)
	}

	check := func(ids ...string) []groups.CheckResult {
		t.Helper()
		res, err := st.CheckMembership(ctx, tenantA, v("veh-1"), ids)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	got := check(a.ID, "grp_missing", other.ID, c.ID, a.ID)
	wantRes := []groups.CheckResult{
		{GroupID: a.ID, Exists: true, Member: true, Path: []string{a.ID, b.ID, c.ID}},
		{GroupID: "grp_missing"},
		{GroupID: other.ID},
		{GroupID: c.ID, Exists: true, Member: true, Direct: true, Path: []string{c.ID}},
		{GroupID: a.ID, Exists: true, Member: true, Path: []string{a.ID, b.ID, c.ID}},
	}
	for i := range wantRes {
		if g, w := got[i], wantRes[i]; g.GroupID != w.GroupID || g.Exists != w.Exists || g.Member != w.Member || g.Direct != w.Direct || !slices.Equal(g.Path, w.Path) {
			t.Errorf("check %d = %+v, want %+v", i, g, w)
		}
	}
	// Read-your-writes: right after the remove, A no longer holds it.
	if err := st.RemoveMember(ctx, tenantA, c.ID, v("veh-1")); err != nil {
		t.Fatal(err)
	}
	if r := check(a.ID, d.ID); r[0].Member || !r[1].Member {
		t.Fatalf("after the remove: %+v", r)
	}
	// And right after a move, the new ancestors do.
	if _, _, err := st.AddMember(ctx, tenantA, c.ID, v("veh-1")); err != nil {
		t.Fatal(err)
	}
	if _, err := moveTo(st, tenantA, c.ID, d.ID); err != nil {
		t.Fatal(err)
	}
	if r := check(a.ID, d.ID); r[0].Member || !r[1].Direct || !slices.Equal(r[1].Path, []string{d.ID}) {
		t.Fatalf("after the move: %+v", r)
	}
	storetest.CheckInvariants(t, st)
}

// TestSubtreeMembers pages through a subtree's distinct members at several
// page sizes and compares them with what its groups hold.
func TestSubtreeMembers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := storetest.NewStore(t)
	a := mustCreateUnder(t, st, tenantA, "", "A")
	b := mustCreateUnder(t, st, tenantA, a.ID, "B")
	c := mustCreateUnder(t, st, tenantA, a.ID, "C")
	d := mustCreateUnder(t, st, tenantA, b.ID, "D")
	outside := mustCreateUnder(t, st, tenantA, "", "Outside")
	holds := map[string][]groups.Item{
		a.ID: {v("veh-1"), v("veh-3")}, b.ID: {v("veh-1"), u("usr-1"), v("veh-2")},
		c.ID: {v("veh-2"), u("usr-2")}, d.ID: {v("veh-1"), v("veh-4")}, outside.ID: {v("veh-9")},
	}
	for g, items := range holds {
		for _, it := range items {
			if _, _, err := st.AddMember(ctx, tenantA, g, it); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The model: each item of the subtree with its holders.
	want := func(root string, keep func(groups.Item) bool) []string {
		in := map[string]bool{root: true}
		for _, g := range []string{b.ID, c.ID, d.ID} {
			if root == a.ID || root == b.ID && g == d.ID {
				in[g] = true
			}
		}
		via := map[groups.Item][]string{}
		for g, items := range holds {
			for _, it := range items {
				if in[g] && keep(it) {
					via[it] = append(via[it], g)
				}
			}
		}
		var out []string
		for it, gs := range via {
			slices.Sort(gs)
			out = append(out, fmt.Sprintf("%s/%s %v", it.Type, it.ID, gs))
		}
		slices.Sort(out)
		return out
	}
	all := func(groups.Item) bool { return true }
	for _, tc := range []struct {
		name string
		root string
		t    groups.ItemType
		q    store.ListQuery
		keep func(groups.Item) bool
	}{
		{"whole tree", a.ID, "", store.ListQuery{}, all},
		{"a branch", b.ID, "", store.ListQuery{}, all},
		{"a leaf", c.ID, "", store.ListQuery{}, all},
		{"vehicles", a.ID, groups.Vehicles, store.ListQuery{}, func(it groups.Item) bool { return it.Type == groups.Vehicles }},
		{"search every type", a.ID, "", store.ListQuery{Search: "veh-"}, func(it groups.Item) bool { return strings.HasPrefix(it.ID, "veh-") }},
		{"search a type", a.ID, groups.Users, store.ListQuery{Search: "usr-2"}, func(it groups.Item) bool { return it.ID == "usr-2" }},
		{"filter", a.ID, "", store.ListQuery{Filters: []store.Filter{{Field: "name", Op: store.OpEndsWith, Value: "-1"}}}, func(it groups.Item) bool { return strings.HasSuffix(it.ID, "-1") }},
	} {
		for _, limit := range []int{1, 2, 100} {
			t.Run(fmt.Sprintf("%s/limit-%d", tc.name, limit), func(t *testing.T) {
				var got []string
				q := tc.q
				q.Limit = limit
				for pages := 0; ; pages++ {
					page, err := st.ListSubtreeMembers(ctx, tenantA, tc.root, tc.t, q)
					if err != nil || len(page.Items) > limit || pages > 20 {
						t.Fatalf("page %d: %+v, %v", pages, page, err)
					}
					for _, m := range page.Items {
						if m.ViaCount != len(m.Via) {
							t.Fatalf("%+v: viaCount %d for %d groups", m.Item, m.ViaCount, len(m.Via))
						}
						got = append(got, fmt.Sprintf("%s/%s %v", m.Item.Type, m.Item.ID, m.Via))
					}
					if page.Next == nil {
						break
					}
					q.After = page.Next
				}
				if w := want(tc.root, func(it groups.Item) bool { return (tc.t == "" || it.Type == tc.t) && tc.keep(it) }); !slices.Equal(got, w) {
					t.Fatalf("members = %v, want %v", got, w)
				}
			})
		}
	}
	_, err := st.ListSubtreeMembers(ctx, tenantB, a.ID, "", store.ListQuery{PageRequest: store.PageRequest{Limit: 10}})
	wantCode(t, err, groups.CodeNotFound)
}

// TestSubtreesBeyondOneQueryPage: the GSI3 walks of a subtree (a cascade
// delete, a move step by step) read it a page of 100 at a time; each page
// must resume from the index's own key (seen failing: the walk resumed
// from GSI1's key attributes, and DynamoDB refused the start key).
func TestSubtreesBeyondOneQueryPage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := storetest.NewStore(t)
	const n = 130
	tree := func(name string) groups.Group {
		root := mustCreateUnder(t, st, tenantA, "", name)
		for i := range n {
			mustCreateUnder(t, st, tenantA, root.ID, fmt.Sprintf("%s leaf %03d", name, i))
		}
		return root
	}
	if _, err := st.DeleteTree(ctx, tenantA, tree("Deleted").ID, store.AnyVersion); err != nil {
		t.Fatalf("cascade delete of %d groups: %v", n+1, err)
	}
	target := mustCreateUnder(t, st, tenantA, "", "Target")
	if _, err := moveTo(st, tenantA, tree("Moved").ID, target.ID); err != nil {
		t.Fatalf("move of %d groups: %v", n+1, err)
	}
	storetest.CheckInvariants(t, st)
}

// TestTreeDepthSetting: a deployment that allows fewer levels
// (routes.EnvTreeMaxDepth) refuses creates and moves past them, and says
// its own limit.
func TestTreeDepthSetting(t *testing.T) {
	t.Parallel()
	st, _ := storetest.NewStore(t)
	st.MaxDepth = 1
	top := mustCreateUnder(t, st, tenantA, "", "Top")
	mid := mustCreateUnder(t, st, tenantA, top.ID, "Mid")
	_, err := st.CreateGroup(context.Background(), tenantA, groups.NewGroup{ParentID: mid.ID, Name: "Too deep"})
	wantCode(t, err, groups.CodeTooDeep)
	if !strings.Contains(err.Error(), "depth is at most 1") {
		t.Errorf("too_deep says %q, want the deployment's limit", err)
	}
	other := mustCreateUnder(t, st, tenantA, "", "Other")
	mustCreateUnder(t, st, tenantA, other.ID, "Other's child")
	_, err = moveTo(st, tenantA, other.ID, top.ID) // its child would sit at depth 2
	wantCode(t, err, groups.CodeTooDeep)
	storetest.CheckInvariants(t, st)
}
