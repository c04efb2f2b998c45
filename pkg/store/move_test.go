package store_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/store"
	"github.com/fleetgroups/fleetgroups/pkg/storetest"
)

// stepwise is a store whose moves of more than one descendant go step by
// step (move.go), as moves of more than groups.MaxMoveSize groups do.
func stepwise(t *testing.T) *store.Store {
	st, _ := storetest.NewStore(t)
	st.AtomicMoveSize = 2
	return st
}

// TestStepwiseMoves: a move step by step ends as an atomic move does: the
// moved group under its new parent at a new version, each descendant at
// its new place with its version unchanged, both parents' child counts
// right, and nothing left held.
func TestStepwiseMoves(t *testing.T) {
	t.Parallel()
	st := stepwise(t)
	//	A ─ B ─ C ─ D      T ─ T2
	//	│    └─ E
	//	└ F
	type tree struct{ a, b, c, d, e, f, tt, t2 groups.Group }
	build := func(prefix string) tree {
		var x tree
		x.a = mustCreateUnder(t, st, tenantA, "", prefix+"A")
		x.b = mustCreateUnder(t, st, tenantA, x.a.ID, prefix+"B")
		x.c = mustCreateUnder(t, st, tenantA, x.b.ID, prefix+"C")
		x.d = mustCreateUnder(t, st, tenantA, x.c.ID, prefix+"D")
		x.e = mustCreateUnder(t, st, tenantA, x.b.ID, prefix+"E")
		x.f = mustCreateUnder(t, st, tenantA, x.a.ID, prefix+"F")
		x.tt = mustCreateUnder(t, st, tenantA, "", prefix+"T")
		x.t2 = mustCreateUnder(t, st, tenantA, x.tt.ID, prefix+"T2")
		return x
	}
	cases := []struct {
		name string
		to   func(tree) string
		want func(tree) []string // B's new ancestors
		code groups.Code
	}{
		{"under another tree", func(x tree) string { return x.t2.ID }, func(x tree) []string { return []string{x.tt.ID, x.t2.ID} }, ""},
		{"to top level", func(tree) string { return "" }, func(tree) []string { return nil }, ""},
		{"under a sibling", func(x tree) string { return x.f.ID }, func(x tree) []string { return []string{x.a.ID, x.f.ID} }, ""},
		{"under a descendant", func(x tree) string { return x.d.ID }, nil, groups.CodeCycle},
	}
	for i, c := range cases {
		x := build(string(rune('a'+i)) + " ")
		moved, err := moveTo(st, tenantA, x.b.ID, c.to(x))
		if c.code != "" {
			if groups.CodeOf(err) != c.code {
				t.Errorf("%s: %v, want %s", c.name, err, c.code)
			}
			continue
		}
		want := c.want(x)
		if err != nil || !slices.Equal(moved.Ancestors, want) || moved.Version != x.b.Version+1 {
			t.Errorf("%s: moved %+v, %v; want ancestors %v at version %d", c.name, moved, err, want, x.b.Version+1)
			continue
		}
		for _, d := range []struct {
			g     groups.Group
			under []string
		}{{x.c, []string{x.b.ID}}, {x.d, []string{x.b.ID, x.c.ID}}, {x.e, []string{x.b.ID}}} {
			got := mustGet(t, st, tenantA, d.g.ID)
			if wantAnc := append(slices.Clone(want), d.under...); !slices.Equal(got.Ancestors, wantAnc) || got.Version != d.g.Version {
				t.Errorf("%s: %s = ancestors %v version %d, want %v version %d", c.name, d.g.Name, got.Ancestors, got.Version, wantAnc, d.g.Version)
			}
		}
		if a := mustGet(t, st, tenantA, x.a.ID); a.ChildCount != 1 {
			t.Errorf("%s: old parent has %d children, want 1", c.name, a.ChildCount)
		}
	}
	storetest.CheckInvariants(t, st)
}

// outOfTime is a context whose request has no time left for a move's steps
// once st.PurgeReserve is an hour: the move starts, or a touch tries to
// finish it, and gives up at once.
func outOfTime(t *testing.T, st *store.Store) context.Context {
	st.PurgeReserve = time.Hour
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// TestMoveGoesOnWithEachRequest: a move that cannot finish in its request
// answers ErrMoveAccepted (202) with the group as it stands; a structural
// change in the subtree that cannot finish it either answers
// move_in_progress, as does a read of a held group; the first request with
// time to spare finishes it, so that its answer and every later one show
// the subtree moved.
func TestMoveGoesOnWithEachRequest(t *testing.T) {
	t.Parallel()
	st := stepwise(t)
	ctx := context.Background()
	noTime := outOfTime(t, st)
	a := mustCreateUnder(t, st, tenantA, "", "A")
	b := mustCreateUnder(t, st, tenantA, a.ID, "B")
	c := mustCreateUnder(t, st, tenantA, b.ID, "C")
	target := mustCreateUnder(t, st, tenantA, "", "Target")

	g, err := st.UpdateGroup(noTime, tenantA, a.ID, groups.GroupPatch{Parent: &target.ID}, store.AtVersion(a.Version))
	if !errors.Is(err, store.ErrMoveAccepted) || g.ID != a.ID || g.ParentID() != "" {
		t.Fatalf("move out of time = %+v, %v; want the group as it stands and ErrMoveAccepted", g, err)
	}
	touches := []struct {
		name string
		do   func() error
	}{
		{"get the moved group", func() error { _, err := st.GetGroup(noTime, tenantA, a.ID); return err }},
		{"get the new parent", func() error { _, err := st.GetGroup(noTime, tenantA, target.ID); return err }},
		{"create under the moved group", func() error {
			_, err := st.CreateGroup(noTime, tenantA, groups.NewGroup{ParentID: a.ID, Name: "New"})
			return err
		}},
		{"delete the new parent", func() error { _, err := st.DeleteGroup(noTime, tenantA, target.ID, store.AnyVersion); return err }},
		{"list the groups", func() error {
			_, err := st.ListGroups(noTime, tenantA, store.ListQuery{PageRequest: store.PageRequest{Limit: 10}})
			return err
		}},
	}
	for _, touch := range touches {
		if err := touch.do(); groups.CodeOf(err) != groups.CodeMoveInProgress {
			t.Errorf("%s, out of time: %v, want move_in_progress", touch.name, err)
		}
	}

	// A list with time to spare finishes the move before it answers.
	page, err := st.ListGroups(ctx, tenantA, store.ListQuery{PageRequest: store.PageRequest{Limit: 10}})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range page.Items {
		want := map[string][]string{a.ID: {target.ID}, b.ID: {target.ID, a.ID}, c.ID: {target.ID, a.ID, b.ID}, target.ID: nil}[g.ID]
		if !slices.Equal(g.Ancestors, want) {
			t.Errorf("listed %s with ancestors %v, want %v", g.Name, g.Ancestors, want)
		}
	}
	if got := mustGet(t, st, tenantA, a.ID); got.Version != a.Version+1 || got.ParentID() != target.ID {
		t.Errorf("moved group = %+v", got)
	}
	storetest.CheckInvariants(t, st)
}

// TestMoveDroppedWhenTooDeep: a subtree that grows past the depth limit
// while its move waits is not moved; the move is dropped, every group stays
// where it was, and the PATCH repeated answers too_deep.
func TestMoveDroppedWhenTooDeep(t *testing.T) {
	t.Parallel()
	st := stepwise(t)
	ctx := context.Background()
	noTime := outOfTime(t, st)
	parent := ""
	for i := range groups.MaxDepth - 2 { // the deepest at depth MaxDepth-3
		parent = mustCreateUnder(t, st, tenantA, parent, "Level "+string(rune('0'+i))).ID
	}
	a := mustCreateUnder(t, st, tenantA, "", "A")
	b := mustCreateUnder(t, st, tenantA, a.ID, "B")
	c := mustCreateUnder(t, st, tenantA, b.ID, "C") // A's height 2: it just fits

	if _, err := st.UpdateGroup(noTime, tenantA, a.ID, groups.GroupPatch{Parent: &parent}, store.AnyVersion); !errors.Is(err, store.ErrMoveAccepted) {
		t.Fatalf("move out of time: %v, want ErrMoveAccepted", err)
	}
	// C is not held yet (the move has not reached it): a child under it
	// makes the subtree one level too high for the move.
	mustCreateUnder(t, st, tenantA, c.ID, "D")
	if got := mustGet(t, st, tenantA, a.ID); got.ParentID() != "" || got.Version != a.Version {
		t.Errorf("after the dropped move: %+v, want A where it was", got)
	}
	storetest.CheckInvariants(t, st)
	_, err := st.UpdateGroup(ctx, tenantA, a.ID, groups.GroupPatch{Parent: &parent}, store.AnyVersion)
	wantCode(t, err, groups.CodeTooDeep)
}

// TestMovesOneAtATime: a tenant's second step-by-step move finishes the
// first before it starts.
func TestMovesOneAtATime(t *testing.T) {
	t.Parallel()
	st := stepwise(t)
	noTime := outOfTime(t, st)
	var roots, targets []groups.Group
	for _, n := range []string{"1", "2"} {
		r := mustCreateUnder(t, st, tenantA, "", "Root "+n)
		mustCreateUnder(t, st, tenantA, mustCreateUnder(t, st, tenantA, r.ID, "Child "+n).ID, "Grandchild "+n)
		roots, targets = append(roots, r), append(targets, mustCreateUnder(t, st, tenantA, "", "Target "+n))
	}
	if _, err := st.UpdateGroup(noTime, tenantA, roots[0].ID, groups.GroupPatch{Parent: &targets[0].ID}, store.AnyVersion); !errors.Is(err, store.ErrMoveAccepted) {
		t.Fatalf("first move: %v, want ErrMoveAccepted", err)
	}
	if _, err := moveTo(st, tenantA, roots[1].ID, targets[1].ID); err != nil {
		t.Fatalf("second move: %v", err)
	}
	for i := range roots {
		if got := mustGet(t, st, tenantA, roots[i].ID); got.ParentID() != targets[i].ID {
			t.Errorf("root %d under %q, want %q", i+1, got.ParentID(), targets[i].ID)
		}
	}
	storetest.CheckInvariants(t, st)
}

// writeCheck is one write a client made, for TestReadsStayWithinTheMoveGrant.
type writeCheck struct {
	action       string // the IAM action: UpdateItem, DeleteItem, PutItem
	pk           string
	names        map[string]string // the expression's attribute names
	returnValues string
}

// writesOf flattens a request into the IAM actions it is authorised as
// (a transaction per item).
func writesOf(params any) []writeCheck {
	pkOf := func(k map[string]types.AttributeValue) string { return k["PK"].(*types.AttributeValueMemberS).Value }
	switch in := params.(type) {
	case *dynamodb.UpdateItemInput:
		return []writeCheck{{"UpdateItem", pkOf(in.Key), in.ExpressionAttributeNames, string(in.ReturnValues)}}
	case *dynamodb.DeleteItemInput:
		return []writeCheck{{"DeleteItem", pkOf(in.Key), in.ExpressionAttributeNames, string(in.ReturnValues)}}
	case *dynamodb.PutItemInput:
		return []writeCheck{{"PutItem", pkOf(in.Item), in.ExpressionAttributeNames, string(in.ReturnValues)}}
	case *dynamodb.BatchWriteItemInput:
		return []writeCheck{{"BatchWriteItem", "", nil, ""}}
	case *dynamodb.TransactWriteItemsInput:
		var out []writeCheck
		for _, it := range in.TransactItems {
			switch {
			case it.Update != nil:
				out = append(out, writeCheck{"UpdateItem", pkOf(it.Update.Key), it.Update.ExpressionAttributeNames, ""})
			case it.Delete != nil:
				out = append(out, writeCheck{"DeleteItem", pkOf(it.Delete.Key), it.Delete.ExpressionAttributeNames, ""})
			case it.Put != nil:
				out = append(out, writeCheck{"PutItem", pkOf(it.Put.Item), it.Put.ExpressionAttributeNames, ""})
			case it.ConditionCheck != nil:
				// ConditionCheckItem is a read action.
			}
		}
		return out
	}
	return nil
}

// TestReadsStayWithinTheMoveGrant ties the IAM grant of functions that
// only read groups (routes.ReadTree) to what carrying a move on writes:
// DynamoDB Local does not enforce IAM, so this is where a move step that
// wrote another attribute or partition would be caught before AWS denied
// it. A read finishes a move (and one that gets dropped) through a client
// that records every write.
func TestReadsStayWithinTheMoveGrant(t *testing.T) {
	t.Parallel()
	st := stepwise(t)
	var mu sync.Mutex
	var writes []writeCheck
	reader := storetest.ReopenSeeing(t, st, func(params any) {
		mu.Lock()
		writes = append(writes, writesOf(params)...)
		mu.Unlock()
	})
	noTime := outOfTime(t, st)
	ctx := context.Background()

	// A move finished by reads, and one dropped by them (too deep).
	parent := ""
	for i := range groups.MaxDepth - 2 {
		parent = mustCreateUnder(t, st, tenantA, parent, "Level "+string(rune('0'+i))).ID
	}
	for _, drop := range []bool{false, true} {
		a := mustCreateUnder(t, st, tenantA, "", "A "+strconv.FormatBool(drop))
		b := mustCreateUnder(t, st, tenantA, a.ID, "B "+strconv.FormatBool(drop))
		c := mustCreateUnder(t, st, tenantA, b.ID, "C "+strconv.FormatBool(drop))
		if _, err := st.UpdateGroup(noTime, tenantA, a.ID, groups.GroupPatch{Parent: &parent}, store.AnyVersion); !errors.Is(err, store.ErrMoveAccepted) {
			t.Fatalf("move: %v, want ErrMoveAccepted", err)
		}
		if drop {
			mustCreateUnder(t, st, tenantA, c.ID, "D")
		}
		if _, err := reader.GetGroup(ctx, tenantA, a.ID); err != nil {
			t.Fatal(err)
		}
	}
	storetest.CheckInvariants(t, st)

	granted := func(patterns []string, s string) bool {
		return slices.ContainsFunc(patterns, func(p string) bool { return iamLike(p, s) })
	}
	if len(writes) == 0 {
		t.Fatal("the reads wrote nothing: no move was carried on")
	}
	for _, w := range writes {
		keys := store.MoveLeadingKeys
		if w.action == "DeleteItem" {
			keys = store.MoveEndLeadingKeys
		}
		switch {
		case w.action != "UpdateItem" && w.action != "DeleteItem":
			t.Errorf("a read made a %s, which the move grant does not allow", w.action)
		case !granted(keys, w.pk) || granted(store.MoveExcludedLeadingKeys, w.pk):
			t.Errorf("a read's %s in partition %s, outside the move grant", w.action, w.pk)
		case w.returnValues != "" && w.returnValues != string(types.ReturnValueNone):
			t.Errorf("a read's %s returns %s", w.action, w.returnValues)
		}
		for _, name := range w.names {
			if !slices.Contains(store.MoveAttributes(), name) {
				t.Errorf("a read's %s names attribute %s, which the move grant does not allow", w.action, name)
			}
		}
	}
	// The grant admits group and move partitions, and no other key format.
	keys := store.PartitionKeys(tenantA)
	for kind, want := range map[string]bool{"tenant": false, "group": true, "name guard": false, "system": false, "move": true} {
		pk := keys[kind]
		if got := granted(store.MoveLeadingKeys, pk) && !granted(store.MoveExcludedLeadingKeys, pk); got != want {
			t.Errorf("%s partition %s: granted %v, want %v", kind, pk, got, want)
		}
	}
	for _, pk := range []string{"T#" + tenantA + "#NAME#x#G#y", "T#" + tenantA + "#IDEM#k#MOVE"} {
		if granted(store.MoveLeadingKeys, pk) && !granted(store.MoveExcludedLeadingKeys, pk) {
			t.Errorf("partition %s (a name or key holding '#') is inside the move grant", pk)
		}
	}
}
