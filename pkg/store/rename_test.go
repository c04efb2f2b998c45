package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/store"
	"github.com/fleetgroups/fleetgroups/pkg/storetest"
)

// A group's name is kept in four places that must agree: the name, its
// lower-case copy, the name index key and the name guard. wantNameGuarded
// checks them from outside: the group's name (in any case) is taken and no
// other tried name is, a search by its name finds the group, and the group
// can be deleted, which frees its name.
func wantNameGuarded(t *testing.T, st *store.Store, tenant, id string, tried ...string) {
	t.Helper()
	ctx := context.Background()
	g, err := st.GetGroup(ctx, tenant, id)
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	page, err := st.ListGroups(ctx, tenant, store.ListQuery{Search: g.Name, PageRequest: store.PageRequest{Limit: 100}})
	if err != nil {
		t.Fatalf("search %q: %v", g.Name, err)
	}
	found := false
	for _, it := range page.Items {
		found = found || it.ID == id
	}
	if !found {
		t.Errorf("a search by the name %q does not find the group", g.Name)
	}
	seen := map[string]bool{}
	for _, name := range tried {
		if seen[groups.FoldName(name)] {
			continue
		}
		seen[groups.FoldName(name)] = true
		_, err := st.CreateGroup(ctx, tenant, groups.NewGroup{Name: name})
		taken := groups.FoldName(name) == groups.FoldName(g.Name)
		switch {
		case taken && groups.CodeOf(err) != groups.CodeNameTaken:
			t.Errorf("create %q, the group's own name %q: %v, want name_taken", name, g.Name, err)
		case !taken && err != nil:
			t.Errorf("create %q while the group is named %q: %v, want it free", name, g.Name, err)
		}
	}
	if _, err := st.DeleteGroup(ctx, tenant, id, store.AnyVersion); err != nil {
		t.Fatalf("delete %q: %v", g.Name, err)
	}
	if _, err := st.CreateGroup(ctx, tenant, groups.NewGroup{Name: g.Name}); err != nil {
		t.Errorf("create %q after the group was deleted: %v, want the name freed", g.Name, err)
	}
}

// TestCaseOnlyRenameInterleavings runs each kind of name change with the
// other landing between its read and its write. The interloper runs from the
// writer's clock, which a write reads after the group and before it writes.
func TestCaseOnlyRenameInterleavings(t *testing.T) {
	t.Parallel()
	st, _ := storetest.NewStore(t)
	ctx := context.Background()
	cases := []struct {
		name               string
		write, interloper  string // the names each sets
		tenant, from, want string
	}{
		// The case-only change must not overwrite the rename: it is retried,
		// and then is a rename itself.
		{"case-only-after-rename-lands", "ALPHA", "Beta", "tn_case_1", "alpha", "ALPHA"},
		{"rename-after-case-only-lands", "Beta", "ALPHA", "tn_case_2", "alpha", "Beta"},
		{"case-only-after-case-only-lands", "Alpha", "ALPHA", "tn_case_3", "alpha", "Alpha"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			g := mustCreate(t, st, c.tenant, c.from)
			writer := *st
			var once sync.Once
			writer.Now = func() time.Time {
				once.Do(func() {
					if _, err := st.UpdateGroup(ctx, c.tenant, g.ID, groups.GroupPatch{Name: &c.interloper}, store.AnyVersion); err != nil {
						t.Errorf("interloper: %v", err)
					}
				})
				return time.Now()
			}
			got, err := writer.UpdateGroup(ctx, c.tenant, g.ID, groups.GroupPatch{Name: &c.write}, store.AnyVersion)
			if err != nil || got.Name != c.want {
				t.Fatalf("update = %+v, %v; want name %q", got, err, c.want)
			}
			wantNameGuarded(t, st, c.tenant, g.ID, c.from, c.write, c.interloper)
		})
	}
}

// TestCaseOnlyRenamesRacingRenames: case-only changes and real renames
// released together leave the name and its guard in agreement.
func TestCaseOnlyRenamesRacingRenames(t *testing.T) {
	t.Parallel()
	st, _ := storetest.NewStore(t)
	ctx := context.Background()
	caseOnly := []string{"ALPHA", "Alpha", "aLPHA", "alphA"}
	for round := range 3 {
		t.Run(fmt.Sprintf("round-%d", round), func(t *testing.T) {
			t.Parallel()
			tenant := fmt.Sprintf("tn_race_%d", round)
			g := mustCreate(t, st, tenant, "alpha")
			const writers = 8
			names := make([]string, writers)
			for i := range names {
				names[i] = caseOnly[i/2%len(caseOnly)]
				if i%2 == 1 {
					names[i] = fmt.Sprintf("Beta %d", i)
				}
			}
			storetest.Race(writers, func(i int) {
				_, err := st.UpdateGroup(ctx, tenant, g.ID, groups.GroupPatch{Name: &names[i]}, store.AnyVersion)
				if err != nil && groups.CodeOf(err) != groups.CodeUnavailable { // contention may outlast the retries
					t.Errorf("update to %q: %v", names[i], err)
				}
			})
			wantNameGuarded(t, st, tenant, g.ID, append(names, "alpha")...)
		})
	}
}

// TestNameDamageIsRepaired: groups that the race left with a missing guard,
// or with a name out of step with its guard, can still be renamed and
// deleted, and free the name their guard held.
func TestNameDamageIsRepaired(t *testing.T) {
	t.Parallel()
	st, _ := storetest.NewStore(t)
	ctx := context.Background()
	lostGuard := func(t *testing.T, tenant string, members ...groups.Item) groups.Group {
		g := mustCreate(t, st, tenant, "Lost guard", members...)
		if err := store.DropNameGuard(ctx, st, tenant, g.Name); err != nil {
			t.Fatal(err)
		}
		return g
	}
	// The race's own damage: renamed to "Beta", then the name overwritten
	// with "ALPHA"; the guard and the index still say "beta".
	outOfStep := func(t *testing.T, tenant string, members ...groups.Item) groups.Group {
		g := mustCreate(t, st, tenant, "alpha", members...)
		if _, err := st.UpdateGroup(ctx, tenant, g.ID, groups.GroupPatch{Name: ptr("Beta")}, store.AnyVersion); err != nil {
			t.Fatal(err)
		}
		if err := store.SetStoredName(ctx, st, tenant, g.ID, "ALPHA"); err != nil {
			t.Fatal(err)
		}
		return g
	}
	rename := func(t *testing.T, tenant string, g groups.Group) {
		if _, err := st.UpdateGroup(ctx, tenant, g.ID, groups.GroupPatch{Name: ptr("Gamma")}, store.AnyVersion); err != nil {
			t.Fatalf("rename: %v", err)
		}
	}
	deleteGroup := func(t *testing.T, tenant string, g groups.Group) {
		if _, err := st.DeleteGroup(ctx, tenant, g.ID, store.AnyVersion); err != nil {
			t.Fatalf("delete: %v", err)
		}
	}
	cases := []struct {
		name    string
		damage  func(*testing.T, string, ...groups.Item) groups.Group
		members []groups.Item
		repair  func(*testing.T, string, groups.Group)
		free    []string // names free afterwards
	}{
		{"delete-200-guard-missing", lostGuard, nil, deleteGroup, []string{"lost guard"}},
		{"delete-200-guard-missing-with-members", lostGuard, []groups.Item{v("veh-1")}, deleteGroup, []string{"lost guard"}},
		{"rename-200-guard-missing", lostGuard, nil, rename, []string{"lost guard"}},
		{"delete-200-name-out-of-step", outOfStep, nil, deleteGroup, []string{"alpha", "beta"}},
		{"delete-200-name-out-of-step-with-members", outOfStep, []groups.Item{v("veh-1")}, deleteGroup, []string{"alpha", "beta"}},
		{"rename-200-name-out-of-step", outOfStep, nil, rename, []string{"alpha", "beta"}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			tenant := fmt.Sprintf("tn_damage_%d", i)
			g := c.damage(t, tenant, c.members...)
			c.repair(t, tenant, g)
			for _, name := range c.free {
				if _, err := st.CreateGroup(ctx, tenant, groups.NewGroup{Name: name}); err != nil {
					t.Errorf("create %q: %v, want the name free", name, err)
				}
			}
			if _, err := st.GetGroup(ctx, tenant, g.ID); err == nil {
				wantNameGuarded(t, st, tenant, g.ID, "Gamma")
			}
		})
	}
}

// Attribute patches read the group, merge, and write conditioned on the
// version read: writers racing on different keys of one group all land,
// none overwriting another's key with the map it read.
func TestConcurrentAttributePatchesAllLand(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := storetest.NewStore(t)
	g := mustCreate(t, st, tenantA, "Attributed")
	const writers = 8
	errs := make([]error, writers)
	storetest.Race(writers, func(i int) {
		value := fmt.Sprintf("v%d", i)
		_, errs[i] = st.UpdateGroup(ctx, tenantA, g.ID, groups.GroupPatch{Attributes: map[string]*string{fmt.Sprintf("k%d", i): &value}}, store.AnyVersion)
	})
	for i, err := range errs {
		// A writer that kept losing the race is told to retry (503).
		if err != nil && groups.CodeOf(err) != groups.CodeUnavailable {
			t.Fatalf("writer %d: %v", i, err)
		}
	}
	got, err := st.GetGroup(ctx, tenantA, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	landed := 0
	for i, err := range errs {
		if err == nil {
			landed++
			if got.Attributes[fmt.Sprintf("k%d", i)] != fmt.Sprintf("v%d", i) {
				t.Errorf("writer %d succeeded, but the group has attributes %v", i, got.Attributes)
			}
		}
	}
	if len(got.Attributes) != landed || got.Version != 1+landed {
		t.Fatalf("attributes %v at version %d after %d successful writes", got.Attributes, got.Version, landed)
	}
}
