package store_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/store"
	"github.com/fleetgroups/fleetgroups/pkg/storetest"
)

// TestScopedCaller: the store itself keeps a caller scoped to a subtree
// inside it, whatever the handler above asks.
func TestScopedCaller(t *testing.T) {
	t.Parallel()
	bg := context.Background()
	st, _ := storetest.NewStore(t)
	top := mustCreateUnder(t, st, tenantA, "", "Top")
	root := mustCreateUnder(t, st, tenantA, top.ID, "Root")
	child := mustCreateUnder(t, st, tenantA, root.ID, "Child")
	other := mustCreateUnder(t, st, tenantA, "", "Other")
	for _, g := range []string{child.ID, other.ID} {
		if _, _, err := st.AddMember(bg, tenantA, g, v("veh-1")); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := st.AddMember(bg, tenantA, other.ID, v("veh-2")); err != nil {
		t.Fatal(err)
	}
	unscopedCursor, err := st.ListMembers(bg, tenantA, other.ID, "", store.ListQuery{PageRequest: store.PageRequest{Limit: 1}})
	if err != nil || unscopedCursor.Next == nil {
		t.Fatalf("an unscoped first page: %+v, %v", unscopedCursor, err)
	}
	ctx := store.WithScope(bg, root.ID)
	none, rootName := "", "Root renamed"
	cases := []struct {
		name string
		call func() error
		code groups.Code
	}{
		{"get-outside", func() error { _, err := st.GetGroup(ctx, tenantA, other.ID); return err }, groups.CodeNotFound},
		{"get-above", func() error { _, err := st.GetGroup(ctx, tenantA, top.ID); return err }, groups.CodeNotFound},
		{"get-inside", func() error { _, err := st.GetGroup(ctx, tenantA, child.ID); return err }, ""},
		{"create-top-level", func() error {
			_, err := st.CreateGroup(ctx, tenantA, groups.NewGroup{Name: "Loose"})
			return err
		}, groups.CodeOutOfScope},
		{"create-above", func() error {
			_, err := st.CreateGroup(ctx, tenantA, groups.NewGroup{ParentID: top.ID, Name: "Sibling"})
			return err
		}, groups.CodeInvalidArgument},
		{"describe-outside", func() error {
			d := "x"
			_, err := st.UpdateGroup(ctx, tenantA, other.ID, groups.GroupPatch{Description: &d}, store.AnyVersion)
			return err
		}, groups.CodeNotFound},
		{"rename-root", func() error {
			_, err := st.UpdateGroup(ctx, tenantA, root.ID, groups.GroupPatch{Name: &rootName}, store.AnyVersion)
			return err
		}, ""},
		{"move-to-top-level", func() error {
			_, err := st.UpdateGroup(ctx, tenantA, child.ID, groups.GroupPatch{Parent: &none}, store.AnyVersion)
			return err
		}, groups.CodeOutOfScope},
		{"move-outside", func() error {
			_, err := st.UpdateGroup(ctx, tenantA, child.ID, groups.GroupPatch{Parent: &other.ID}, store.AnyVersion)
			return err
		}, groups.CodeInvalidArgument},
		{"move-root-under-its-child", func() error {
			_, err := st.UpdateGroup(ctx, tenantA, root.ID, groups.GroupPatch{Parent: &child.ID}, store.AnyVersion)
			return err
		}, groups.CodeCycle},
		{"delete-root", func() error { _, err := st.DeleteGroup(ctx, tenantA, root.ID, store.AnyVersion); return err }, groups.CodeOutOfScope},
		{"cascade-root", func() error { _, err := st.DeleteTree(ctx, tenantA, root.ID, store.AnyVersion); return err }, groups.CodeOutOfScope},
		{"child-survives-the-refused-cascade", func() error { _, err := st.GetGroup(ctx, tenantA, child.ID); return err }, ""},
		{"delete-outside", func() error { _, err := st.DeleteTree(ctx, tenantA, other.ID, store.AnyVersion); return err }, groups.CodeNotFound},
		{"add-outside", func() error { _, _, err := st.AddMember(ctx, tenantA, other.ID, v("veh-3")); return err }, groups.CodeNotFound},
		{"remove-outside", func() error { return st.RemoveMember(ctx, tenantA, other.ID, v("veh-1")) }, groups.CodeNotFound},
		{"batch-outside", func() error {
			_, err := st.ApplyMemberChanges(ctx, tenantA, other.ID, []groups.MemberChange{{Item: v("veh-4")}})
			return err
		}, groups.CodeNotFound},
		{"add-inside", func() error { _, _, err := st.AddMember(ctx, tenantA, child.ID, v("veh-5")); return err }, ""},
		{"members-outside", func() error {
			_, err := st.ListMembers(ctx, tenantA, other.ID, "", store.ListQuery{PageRequest: store.PageRequest{Limit: 1}})
			return err
		}, groups.CodeNotFound},
		{"members-outside-by-cursor", func() error {
			_, err := st.ListMembers(ctx, tenantA, other.ID, "", store.ListQuery{PageRequest: store.PageRequest{Limit: 1, After: unscopedCursor.Next}})
			return err
		}, groups.CodeNotFound},
		{"subtree-members-outside", func() error {
			_, err := st.ListSubtreeMembers(ctx, tenantA, top.ID, "", store.ListQuery{PageRequest: store.PageRequest{Limit: 1}})
			return err
		}, groups.CodeNotFound},
		{"descendants-outside", func() error {
			_, err := st.ListDescendants(ctx, tenantA, top.ID, store.ListQuery{PageRequest: store.PageRequest{Limit: 1}})
			return err
		}, groups.CodeNotFound},
		{"registry", func() error { _, err := st.GetRegisteredItem(ctx, tenantA, v("veh-1")); return err }, groups.CodeOutOfScope},
		{"registry-put", func() error {
			_, _, err := st.PutRegisteredItem(ctx, tenantA, groups.RegisteredItem{Item: v("veh-1"), Name: "Van"})
			return err
		}, groups.CodeOutOfScope},
		{"associations", func() error {
			_, err := st.ListAssociations(ctx, tenantA, v("veh-1"), groups.Users, store.ListQuery{PageRequest: store.PageRequest{Limit: 1}})
			return err
		}, groups.CodeOutOfScope},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { wantCode(t, c.call(), c.code) })
	}

	page, err := st.ListGroups(ctx, tenantA, store.ListQuery{Count: true, PageRequest: store.PageRequest{Limit: 100}})
	if err != nil || !sameIDs(ids(page.Items), []string{root.ID, child.ID}) || page.Total == nil || *page.Total != 2 {
		t.Fatalf("scoped list-groups = %v (total %v), %v", ids(page.Items), page.Total, err)
	}
	if plain, err := st.ListGroups(ctx, tenantA, store.ListQuery{PageRequest: store.PageRequest{Limit: 100}}); err != nil || plain.Total != nil {
		t.Fatalf("scoped list-groups shows the tenant's count: %v, %v", plain.Total, err)
	}
	chain, err := st.Ancestors(ctx, tenantA, child.ID)
	if err != nil || len(chain) != 1 || chain[0].ID != root.ID {
		t.Fatalf("scoped ancestors = %v, %v", chain, err)
	}
	held, err := st.ListItemGroups(ctx, tenantA, v("veh-1"), store.PageRequest{Limit: 10})
	if err != nil || len(held.Items) != 1 || held.Items[0].ID != child.ID {
		t.Fatalf("scoped item groups = %+v, %v", held.Items, err)
	}
	eff, err := st.EffectiveGroups(ctx, tenantA, v("veh-1"), store.PageRequest{Limit: 10})
	var effIDs []string
	for _, g := range eff.Items {
		effIDs = append(effIDs, g.ID)
	}
	if err != nil || !sameIDs(effIDs, []string{root.ID, child.ID}) {
		t.Fatalf("scoped effective groups = %v, %v", effIDs, err)
	}
	res, err := st.CheckMembership(ctx, tenantA, v("veh-1"), []string{top.ID, root.ID, other.ID})
	if err != nil || res[0].Exists || !res[1].Member || res[2].Exists || !slices.Equal(res[1].Path, []string{root.ID, child.ID}) {
		t.Fatalf("scoped check = %+v, %v", res, err)
	}
	storetest.CheckInvariants(t, st)
}

// TestScopedCallerResumesItsPurge: a group deleted by a scoped caller that
// ran out of time stays a tombstone; the same caller's repeat finishes it
// (a tombstone keeps its path, so it is still inside the subtree).
func TestScopedCallerResumesItsPurge(t *testing.T) {
	t.Parallel()
	bg := context.Background()
	st, _ := storetest.NewStore(t)
	root := mustCreateUnder(t, st, tenantA, "", "Root")
	g, err := st.CreateGroup(bg, tenantA, groups.NewGroup{ParentID: root.ID, Name: "Full", Members: []groups.Item{v("veh-1"), v("veh-2"), u("usr-1")}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := store.WithScope(bg, root.ID)
	st.PurgeReserve = time.Hour
	short, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := st.DeleteGroup(short, tenantA, g.ID, store.AnyVersion); !errors.Is(err, store.ErrDeleteInProgress) {
		t.Fatalf("delete out of time: %v, want ErrDeleteInProgress", err)
	}
	st.PurgeReserve = 0
	if _, err := st.DeleteGroup(ctx, tenantA, g.ID, store.AnyVersion); err != nil {
		t.Fatalf("the scoped caller's repeat: %v", err)
	}
	storetest.CheckInvariants(t, st)
}
