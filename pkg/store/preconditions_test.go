package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/store"
	"github.com/fleetgroups/fleetgroups/pkg/storetest"
)

func ptr(s string) *string { return &s }

// TestWritesIfVersion covers If-Match at the store: the version asked for is
// part of the write's condition, a stale one fails without changing anything,
// and a group that is missing, deleted or another tenant's stays 404.
func TestWritesIfVersion(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := storetest.NewStore(t)
	describe := groups.GroupPatch{Description: ptr("changed")}

	cases := []struct {
		name    string
		members []groups.Item
		run     func(g groups.Group) error
		code    groups.Code
		changed bool
	}{
		{"update-200-current", nil, func(g groups.Group) error {
			_, err := st.UpdateGroup(ctx, tenantA, g.ID, describe, store.AtVersion(g.Version))
			return err
		}, "", true},
		{"update-412-stale", nil, func(g groups.Group) error {
			_, err := st.UpdateGroup(ctx, tenantA, g.ID, describe, store.AtVersion(g.Version+1))
			return err
		}, groups.CodePreconditionFailed, false},
		{"rename-200-current", nil, func(g groups.Group) error {
			_, err := st.UpdateGroup(ctx, tenantA, g.ID, groups.GroupPatch{Name: ptr(g.Name + " renamed")}, store.AtVersion(g.Version))
			return err
		}, "", true},
		{"rename-412-stale", nil, func(g groups.Group) error {
			_, err := st.UpdateGroup(ctx, tenantA, g.ID, groups.GroupPatch{Name: ptr(g.Name + " renamed")}, store.AtVersion(g.Version+1))
			return err
		}, groups.CodePreconditionFailed, false},
		{"rename-case-412-stale", nil, func(g groups.Group) error {
			_, err := st.UpdateGroup(ctx, tenantA, g.ID, groups.GroupPatch{Name: ptr(g.Name + "")}, store.AtVersion(g.Version+1))
			return err
		}, groups.CodePreconditionFailed, false},
		// If-Match with a list: one of its versions must be the group's, and
		// a list naming no version (weak or foreign tags only) fails on any
		// group that exists.
		{"update-200-one-of-list", nil, func(g groups.Group) error {
			_, err := st.UpdateGroup(ctx, tenantA, g.ID, describe, store.AtVersion(g.Version+3, g.Version))
			return err
		}, "", true},
		{"rename-200-one-of-list", nil, func(g groups.Group) error {
			_, err := st.UpdateGroup(ctx, tenantA, g.ID, groups.GroupPatch{Name: ptr(g.Name + " renamed")}, store.AtVersion(g.Version, g.Version+1))
			return err
		}, "", true},
		{"delete-200-one-of-list", []groups.Item{v("veh-1")}, func(g groups.Group) error {
			_, err := st.DeleteGroup(ctx, tenantA, g.ID, store.AtVersion(g.Version+1, g.Version))
			return err
		}, "", true},
		{"update-412-no-version", nil, func(g groups.Group) error {
			_, err := st.UpdateGroup(ctx, tenantA, g.ID, describe, store.AtVersion())
			return err
		}, groups.CodePreconditionFailed, false},
		{"rename-412-no-version", nil, func(g groups.Group) error {
			_, err := st.UpdateGroup(ctx, tenantA, g.ID, groups.GroupPatch{Name: ptr(g.Name + " renamed")}, store.AtVersion())
			return err
		}, groups.CodePreconditionFailed, false},
		{"delete-412-no-version", []groups.Item{v("veh-1")}, func(g groups.Group) error {
			_, err := st.DeleteGroup(ctx, tenantA, g.ID, store.AtVersion())
			return err
		}, groups.CodePreconditionFailed, false},
		{"update-412-stale-list", nil, func(g groups.Group) error {
			_, err := st.UpdateGroup(ctx, tenantA, g.ID, describe, store.AtVersion(g.Version+1, g.Version+2))
			return err
		}, groups.CodePreconditionFailed, false},
		{"update-404-missing-no-version", nil, func(g groups.Group) error {
			_, err := st.UpdateGroup(ctx, tenantA, "grp_missing", describe, store.AtVersion())
			return err
		}, groups.CodeNotFound, false},
		{"update-404-other-tenant", nil, func(g groups.Group) error {
			_, err := st.UpdateGroup(ctx, tenantB, g.ID, describe, store.AtVersion(g.Version))
			return err
		}, groups.CodeNotFound, false},
		{"rename-404-other-tenant", nil, func(g groups.Group) error {
			_, err := st.UpdateGroup(ctx, tenantB, g.ID, groups.GroupPatch{Name: ptr("x")}, store.AtVersion(g.Version))
			return err
		}, groups.CodeNotFound, false},
		{"update-404-missing", nil, func(g groups.Group) error {
			_, err := st.UpdateGroup(ctx, tenantA, "grp_missing", describe, store.AtVersion(1))
			return err
		}, groups.CodeNotFound, false},
		{"delete-412-stale-empty", nil, func(g groups.Group) error {
			_, err := st.DeleteGroup(ctx, tenantA, g.ID, store.AtVersion(g.Version+1))
			return err
		}, groups.CodePreconditionFailed, false},
		{"delete-412-stale-with-members", []groups.Item{v("veh-1"), v("veh-2")}, func(g groups.Group) error {
			_, err := st.DeleteGroup(ctx, tenantA, g.ID, store.AtVersion(g.Version+1))
			return err
		}, groups.CodePreconditionFailed, false},
		{"delete-404-other-tenant", nil, func(g groups.Group) error {
			_, err := st.DeleteGroup(ctx, tenantB, g.ID, store.AtVersion(g.Version))
			return err
		}, groups.CodeNotFound, false},
		{"delete-200-current-with-members", []groups.Item{v("veh-1")}, func(g groups.Group) error {
			_, err := st.DeleteGroup(ctx, tenantA, g.ID, store.AtVersion(g.Version))
			return err
		}, "", true},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			g := mustCreate(t, st, tenantA, fmt.Sprintf("Versioned %d", i), c.members...)
			if err := c.run(g); c.code == "" && err != nil {
				t.Fatalf("write: %v", err)
			} else if c.code != "" {
				wantCode(t, err, c.code)
			}
			got, err := st.GetGroup(ctx, tenantA, g.ID)
			switch {
			case c.changed && err == nil && got.Version == g.Version:
				t.Fatalf("group unchanged after a successful write: %+v", got)
			case !c.changed && (err != nil || got.Version != g.Version || got.Name != g.Name || got.Description != g.Description || got.MemberCount() != g.MemberCount()):
				t.Fatalf("group after a refused write = %+v, %v; want %+v", got, err, g)
			}
		})
	}
}

func TestIfVersionOnTombstone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := storetest.NewStore(t)
	g := mustCreate(t, st, tenantA, "Half deleted", v("veh-1"), v("veh-2"))
	if err := deleteBeforePurge(t, st, tenantA, g.ID, store.AtVersion(g.Version)); !errors.Is(err, store.ErrDeleteInProgress) {
		t.Fatalf("interrupted delete = %v", err)
	}
	_, err := st.UpdateGroup(ctx, tenantA, g.ID, groups.GroupPatch{Description: ptr("x")}, store.AtVersion(g.Version))
	wantCode(t, err, groups.CodeNotFound)
	_, err = st.UpdateGroup(ctx, tenantA, g.ID, groups.GroupPatch{Name: ptr("x")}, store.AtVersion(g.Version))
	wantCode(t, err, groups.CodeNotFound)
	_, err = st.DeleteGroup(ctx, tenantA, g.ID, store.AtVersion(g.Version+1))
	wantCode(t, err, groups.CodeNotFound)
	_, err = st.DeleteGroup(ctx, tenantA, g.ID, store.AtVersion(g.Version))
	wantCode(t, err, groups.CodeNotFound) // gone, even for the tag it was deleted at
	if _, err := st.DeleteGroup(ctx, tenantA, g.ID, store.AnyVersion); err != nil {
		t.Fatalf("resumed delete: %v", err)
	}
	if left, err := store.ItemsOf(ctx, st, tenantA, g.ID); err != nil || left != 0 {
		t.Fatalf("%d items remain (%v)", left, err)
	}
}

// TestIfVersionRaceExactlyOneWins: writers that all read the same version and
// all send it succeed exactly once; the others find the group moved on.
func TestIfVersionRaceExactlyOneWins(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := storetest.NewStore(t)
	cases := []struct {
		name  string
		write func(g groups.Group, i int) error
	}{
		{"describe", func(g groups.Group, i int) error {
			_, err := st.UpdateGroup(ctx, tenantA, g.ID, groups.GroupPatch{Description: ptr(fmt.Sprint(i))}, store.AtVersion(g.Version))
			return err
		}},
		{"rename", func(g groups.Group, i int) error {
			_, err := st.UpdateGroup(ctx, tenantA, g.ID, groups.GroupPatch{Name: ptr(fmt.Sprintf("Renamed %s %d", g.Name, i))}, store.AtVersion(g.Version))
			return err
		}},
		{"delete-or-describe", func(g groups.Group, i int) error {
			if i%2 == 0 {
				_, err := st.DeleteGroup(ctx, tenantA, g.ID, store.AtVersion(g.Version))
				return err
			}
			_, err := st.UpdateGroup(ctx, tenantA, g.ID, groups.GroupPatch{Description: ptr(fmt.Sprint(i))}, store.AtVersion(g.Version))
			return err
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			g := mustCreate(t, st, tenantA, "Race "+c.name, v("veh-1"))
			const writers = 8
			errs := make([]error, writers)
			storetest.Race(writers, func(i int) { errs[i] = c.write(g, i) })
			wins := 0
			for _, err := range errs {
				switch groups.CodeOf(err) {
				case groups.CodePreconditionFailed, groups.CodeNotFound: // lost to the winner (a delete wins as 404)
				default:
					if err != nil {
						t.Fatalf("unexpected error: %v", err)
					}
					wins++
				}
			}
			if wins != 1 {
				t.Fatalf("%d writes won, want exactly 1 (%v)", wins, errs)
			}
		})
	}
}
