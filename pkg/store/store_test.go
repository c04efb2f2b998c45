package store_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/fleetgroups/fleetgroups/pkg/ddblocal"
	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/store"
	"github.com/fleetgroups/fleetgroups/pkg/storetest"
)

func TestMain(m *testing.M) { os.Exit(ddblocal.RunTests(m)) }

// largeGroupFlag sizes the group TestDeleteLargeGroupLeavesNoOrphans
// deletes: 2,000 members (ten purge pages) in make test, 10,000 in make
// test-long.
var largeGroupFlag = flag.Int("store.largegroup", 2000, "members of the group TestDeleteLargeGroupLeavesNoOrphans deletes")

const tenantA, tenantB = "tn_alpha", "tn_beta"

func v(id string) groups.Item { return groups.Item{Type: groups.Vehicles, ID: id} }
func u(id string) groups.Item { return groups.Item{Type: groups.Users, ID: id} }

func mustCreate(t *testing.T, st *store.Store, tenant, name string, members ...groups.Item) groups.Group {
	t.Helper()
	g, err := st.CreateGroup(context.Background(), tenant, groups.NewGroup{Name: name, Members: members})
	if err != nil {
		t.Fatalf("create %q: %v", name, err)
	}
	return g
}

func wantCode(t *testing.T, err error, code groups.Code) {
	t.Helper()
	if groups.CodeOf(err) != code || (err == nil && code != "") {
		t.Fatalf("error = %v, want code %s", err, code)
	}
}

func TestCreateGroup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := storetest.NewStore(t)
	g := mustCreate(t, st, tenantA, "Berlin Fleet", v("veh-1"), v("veh-2"), u("usr-1"))
	if g.Counts[groups.Vehicles] != 2 || g.Counts[groups.Users] != 1 || g.MemberCount() != 3 || g.Version != 1 {
		t.Fatalf("created group = %+v", g)
	}
	got, err := st.GetGroup(ctx, tenantA, g.ID)
	if err != nil || got.Name != "Berlin Fleet" || got.Counts[groups.Vehicles] != 2 || !got.CreatedAt.Equal(g.CreatedAt) {
		t.Fatalf("get = %+v, %v", got, err)
	}
	cases := []struct {
		name   string
		tenant string
		group  string
		code   groups.Code
	}{
		{"create-409-same-name", tenantA, "Berlin Fleet", groups.CodeNameTaken},
		{"create-409-other-case", tenantA, "BERLIN fleet", groups.CodeNameTaken},
		{"create-201-other-tenant-same-name", tenantB, "Berlin Fleet", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := st.CreateGroup(ctx, c.tenant, groups.NewGroup{Name: c.group})
			if c.code == "" && err != nil {
				t.Fatalf("create: %v", err)
			}
			if c.code != "" {
				wantCode(t, err, c.code)
			}
		})
	}
	// The failed creates left nothing behind: the tenant still has one group.
	page, err := st.ListGroups(ctx, tenantA, store.ListQuery{PageRequest: store.PageRequest{Limit: 10}})
	if err != nil || len(page.Items) != 1 || page.Total == nil || *page.Total != 1 {
		t.Fatalf("list after failed creates = %+v, %v", page, err)
	}
}

func TestNameRaceExactlyOneWins(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := storetest.NewStore(t)
	const racers = 8
	errs := make([]error, racers)
	storetest.Race(racers, func(i int) {
		_, errs[i] = st.CreateGroup(ctx, tenantA, groups.NewGroup{Name: fmt.Sprintf("Race %s", []string{"group", "GROUP"}[i%2])})
	})
	wins := 0
	for _, err := range errs {
		switch groups.CodeOf(err) {
		case groups.CodeNameTaken:
		default:
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			wins++
		}
	}
	if wins != 1 {
		t.Fatalf("%d creates won, want exactly 1", wins)
	}
	page, err := st.ListGroups(ctx, tenantA, store.ListQuery{PageRequest: store.PageRequest{Limit: 10}})
	if err != nil || len(page.Items) != 1 || *page.Total != 1 {
		t.Fatalf("list = %+v, %v", page, err)
	}
}

func TestMembers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := storetest.NewStore(t)
	g := mustCreate(t, st, tenantA, "Members")

	m, created, err := st.AddMember(ctx, tenantA, g.ID, v("veh-9"))
	if err != nil || !created || m.Item != v("veh-9") {
		t.Fatalf("add = %+v %v %v", m, created, err)
	}
	again, created, err := st.AddMember(ctx, tenantA, g.ID, v("veh-9"))
	if err != nil || created || !again.AddedAt.Equal(m.AddedAt) {
		t.Fatalf("add again = %+v %v %v, want the first membership unchanged", again, created, err)
	}
	cases := []struct {
		name string
		run  func() error
		code groups.Code
	}{
		{"add-404-no-group", func() error { _, _, err := st.AddMember(ctx, tenantA, "grp_missing", v("x")); return err }, groups.CodeNotFound},
		{"add-404-other-tenant", func() error { _, _, err := st.AddMember(ctx, tenantB, g.ID, v("x")); return err }, groups.CodeNotFound},
		{"remove-404-not-member", func() error { return st.RemoveMember(ctx, tenantA, g.ID, v("veh-404")) }, groups.CodeNotFound},
		{"remove-404-other-tenant", func() error { return st.RemoveMember(ctx, tenantB, g.ID, v("veh-9")) }, groups.CodeNotFound},
		{"remove-404-type-mismatch", func() error { return st.RemoveMember(ctx, tenantA, g.ID, u("veh-9")) }, groups.CodeNotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { wantCode(t, c.run(), c.code) })
	}
	got, _ := st.GetGroup(ctx, tenantA, g.ID)
	if got.Counts[groups.Vehicles] != 1 || got.MemberCount() != 1 {
		t.Fatalf("counts after idempotent add and failed removes = %+v", got.Counts)
	}
	if err := st.RemoveMember(ctx, tenantA, g.ID, v("veh-9")); err != nil {
		t.Fatalf("remove: %v", err)
	}
	got, _ = st.GetGroup(ctx, tenantA, g.ID)
	if got.MemberCount() != 0 {
		t.Fatalf("counts after remove = %+v", got.Counts)
	}
}

func TestConcurrentAddsKeepCountsExact(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := storetest.NewStore(t)
	g := mustCreate(t, st, tenantA, "Busy")
	const adders = 6
	var wg sync.WaitGroup
	for i := range adders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Every adder adds the same shared item and one of its own.
			for _, it := range []groups.Item{v("shared"), v(fmt.Sprintf("own-%d", i))} {
				if _, _, err := st.AddMember(ctx, tenantA, g.ID, it); err != nil {
					t.Errorf("add %v: %v", it, err)
				}
			}
		}()
	}
	wg.Wait()
	got, _ := st.GetGroup(ctx, tenantA, g.ID)
	page, err := st.ListMembers(ctx, tenantA, g.ID, "", store.ListQuery{PageRequest: store.PageRequest{Limit: 100}})
	if err != nil || got.MemberCount() != adders+1 || len(page.Items) != adders+1 || *page.Total != adders+1 {
		t.Fatalf("count = %d, listed = %d (%v), want %d", got.MemberCount(), len(page.Items), err, adders+1)
	}
}

func TestUpdateGroup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := storetest.NewStore(t)
	g := mustCreate(t, st, tenantA, "Old Name")
	mustCreate(t, st, tenantA, "Taken")
	str := func(s string) *string { return &s }

	cases := []struct {
		name  string
		patch groups.GroupPatch
		code  groups.Code
		want  string
	}{
		{"update-200-description", groups.GroupPatch{Description: str("new words")}, "", "Old Name"},
		{"update-200-case-only", groups.GroupPatch{Name: str("OLD name")}, "", "OLD name"},
		{"update-409-name-taken", groups.GroupPatch{Name: str("taken")}, groups.CodeNameTaken, ""},
		{"update-200-rename", groups.GroupPatch{Name: str("New Name")}, "", "New Name"},
	}
	version := g.Version
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := st.UpdateGroup(ctx, tenantA, g.ID, c.patch, store.AnyVersion)
			if c.code != "" {
				wantCode(t, err, c.code)
				return
			}
			if err != nil || got.Name != c.want || got.Version != version+1 {
				t.Fatalf("update = %+v, %v; want name %q version %d", got, err, c.want, version+1)
			}
			version = got.Version
		})
	}
	// The old name is free again, the new one is guarded.
	mustCreate(t, st, tenantA, "old name")
	_, err := st.CreateGroup(ctx, tenantA, groups.NewGroup{Name: "NEW NAME"})
	wantCode(t, err, groups.CodeNameTaken)
	_, err = st.UpdateGroup(ctx, tenantB, g.ID, groups.GroupPatch{Name: str("Hijack")}, store.AnyVersion)
	wantCode(t, err, groups.CodeNotFound)
	_, err = st.UpdateGroup(ctx, tenantB, g.ID, groups.GroupPatch{Description: str("Hijack")}, store.AnyVersion)
	wantCode(t, err, groups.CodeNotFound)
}

func TestDeleteLargeGroupLeavesNoOrphans(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := storetest.NewStore(t)
	members := *largeGroupFlag
	g := mustCreate(t, st, tenantA, "Huge", u("usr-1"))
	if err := store.SeedMembers(ctx, st, tenantA, g.ID, members); err != nil {
		t.Fatalf("seed: %v", err)
	}
	deleted, err := st.DeleteGroup(ctx, tenantA, g.ID, store.AnyVersion)
	if err != nil || deleted.MemberCount() != members+1 {
		t.Fatalf("delete = %d members, %v", deleted.MemberCount(), err)
	}
	left, err := store.ItemsOf(ctx, st, tenantA, g.ID)
	if err != nil || left != 0 {
		t.Fatalf("%d items of the deleted group remain (%v)", left, err)
	}
	_, err = st.GetGroup(ctx, tenantA, g.ID)
	wantCode(t, err, groups.CodeNotFound)
	_, err = st.DeleteGroup(ctx, tenantA, g.ID, store.AnyVersion)
	wantCode(t, err, groups.CodeNotFound)
	mustCreate(t, st, tenantA, "huge") // the name is free
	page, _ := st.ListGroups(ctx, tenantA, store.ListQuery{PageRequest: store.PageRequest{Limit: 10}})
	if *page.Total != 1 {
		t.Fatalf("group count = %d, want 1", *page.Total)
	}
}

func TestInterruptedDeleteIsHiddenAndResumable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := storetest.NewStore(t)
	g := mustCreate(t, st, tenantA, "Interrupted", v("veh-1"), v("veh-2"))

	err := deleteBeforePurge(t, st, tenantA, g.ID, store.AnyVersion)
	if !errors.Is(err, store.ErrDeleteInProgress) {
		t.Fatalf("delete with short deadline = %v, want ErrDeleteInProgress", err)
	}
	_, err = st.GetGroup(ctx, tenantA, g.ID)
	wantCode(t, err, groups.CodeNotFound)
	_, _, err = st.AddMember(ctx, tenantA, g.ID, v("veh-3"))
	wantCode(t, err, groups.CodeNotFound)
	_, err = st.ListMembers(ctx, tenantA, g.ID, "", store.ListQuery{PageRequest: store.PageRequest{Limit: 10}})
	wantCode(t, err, groups.CodeNotFound)
	refs, err := st.ListItemGroups(ctx, tenantA, v("veh-1"), store.PageRequest{Limit: 10})
	if err != nil || len(refs.Items) != 0 {
		t.Fatalf("reverse lookup during purge = %+v, %v; want no groups", refs.Items, err)
	}
	mustCreate(t, st, tenantA, "Interrupted") // the name was freed at once

	if _, err := st.DeleteGroup(ctx, tenantA, g.ID, store.AnyVersion); err != nil {
		t.Fatalf("resumed delete: %v", err)
	}
	if left, err := store.ItemsOf(ctx, st, tenantA, g.ID); err != nil || left != 0 {
		t.Fatalf("%d items remain after the resumed delete (%v)", left, err)
	}
}

func TestListsPaginate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := storetest.NewStore(t)
	for _, name := range []string{"Alpha", "alps", "Beta", "Gamma", "Delta"} {
		mustCreate(t, st, tenantA, name)
	}
	g := mustCreate(t, st, tenantA, "Zeta", v("v1"), v("v2"), v("v3"), u("u1"), u("u2"))
	mustCreate(t, st, tenantB, "Other tenant")

	type pageShape struct {
		items int
		more  bool
	}
	cases := []struct {
		name  string
		list  func(store.PageRequest) (int, map[string]string, *int, error)
		limit int
		pages []pageShape
		total int
	}{
		{"groups", func(pr store.PageRequest) (int, map[string]string, *int, error) {
			p, err := st.ListGroups(ctx, tenantA, store.ListQuery{PageRequest: pr})
			return len(p.Items), p.Next, p.Total, err
		}, 2, []pageShape{{2, true}, {2, true}, {2, false}}, 6},
		{"groups-prefix", func(pr store.PageRequest) (int, map[string]string, *int, error) {
			p, err := st.ListGroups(ctx, tenantA, store.ListQuery{Search: "AL", PageRequest: pr})
			return len(p.Items), p.Next, p.Total, err
		}, 1, []pageShape{{1, true}, {1, false}}, -1},
		{"members-all", func(pr store.PageRequest) (int, map[string]string, *int, error) {
			p, err := st.ListMembers(ctx, tenantA, g.ID, "", store.ListQuery{PageRequest: pr})
			return len(p.Items), p.Next, p.Total, err
		}, 2, []pageShape{{2, true}, {2, true}, {1, false}}, 5},
		{"members-vehicles-exact-fit", func(pr store.PageRequest) (int, map[string]string, *int, error) {
			p, err := st.ListMembers(ctx, tenantA, g.ID, groups.Vehicles, store.ListQuery{PageRequest: pr})
			return len(p.Items), p.Next, p.Total, err
		}, 3, []pageShape{{3, false}}, 3},
		{"item-groups", func(pr store.PageRequest) (int, map[string]string, *int, error) {
			p, err := st.ListItemGroups(ctx, tenantA, v("v1"), pr)
			return len(p.Items), p.Next, p.Total, err
		}, 1, []pageShape{{1, false}}, -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pr := store.PageRequest{Limit: c.limit}
			for i, want := range c.pages {
				n, next, total, err := c.list(pr)
				if err != nil || n != want.items || (next != nil) != want.more {
					t.Fatalf("page %d: %d items, next=%v, err=%v; want %+v", i, n, next, err, want)
				}
				if i == 0 && c.total >= 0 && (total == nil || *total != c.total) {
					t.Fatalf("total = %v, want %d", total, c.total)
				}
				pr.After = next
			}
		})
	}
}

func TestTenantsNeverSeeEachOther(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := storetest.NewStore(t)
	g := mustCreate(t, st, tenantA, "Private", v("veh-1"))
	_, err := st.GetGroup(ctx, tenantB, g.ID)
	wantCode(t, err, groups.CodeNotFound)
	_, err = st.DeleteGroup(ctx, tenantB, g.ID, store.AnyVersion)
	wantCode(t, err, groups.CodeNotFound)
	_, err = st.ListMembers(ctx, tenantB, g.ID, "", store.ListQuery{PageRequest: store.PageRequest{Limit: 10}})
	wantCode(t, err, groups.CodeNotFound)
	_, err = st.ListMembers(ctx, tenantB, g.ID, groups.Vehicles, store.ListQuery{PageRequest: store.PageRequest{Limit: 10}})
	wantCode(t, err, groups.CodeNotFound)
	refs, err := st.ListItemGroups(ctx, tenantB, v("veh-1"), store.PageRequest{Limit: 10})
	if err != nil || len(refs.Items) != 0 {
		t.Fatalf("tenant B sees A's memberships: %+v %v", refs.Items, err)
	}
	page, err := st.ListGroups(ctx, tenantB, store.ListQuery{PageRequest: store.PageRequest{Limit: 10}})
	if err != nil || len(page.Items) != 0 || *page.Total != 0 {
		t.Fatalf("tenant B lists A's groups: %+v %v", page, err)
	}
	if _, err := st.GetGroup(ctx, tenantA, g.ID); err != nil {
		t.Fatalf("owner lost its group: %v", err)
	}
}
