package store_test

import (
	"context"
	"testing"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/store"
	"github.com/fleetgroups/fleetgroups/pkg/storetest"
)

// A group written before an item type existed has no counter for it: adding
// and removing such members creates the counter instead of failing.
func TestCountsOfNewItemType(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := storetest.NewStore(t)
	g := mustCreate(t, st, tenantA, "Old group", v("veh-1"))
	if err := store.DropCounters(ctx, st, tenantA, g.ID, groups.Devices, groups.Products); err != nil {
		t.Fatal(err)
	}
	dev := groups.Item{Type: groups.Devices, ID: "dev-1"}
	if _, created, err := st.AddMember(ctx, tenantA, g.ID, dev); err != nil || !created {
		t.Fatalf("add a device to a group without a devices counter: created=%v, %v", created, err)
	}
	changes := []groups.MemberChange{{Item: groups.Item{Type: groups.Products, ID: "p-1"}}, {Item: groups.Item{Type: groups.Devices, ID: "dev-2"}}}
	if out, err := st.ApplyMemberChanges(ctx, tenantA, g.ID, changes); err != nil || out[0] != groups.Added {
		t.Fatalf("batch add of a type without a counter = %v, %v", out, err)
	}
	if err := st.RemoveMember(ctx, tenantA, g.ID, dev); err != nil {
		t.Fatal(err)
	}
	got, err := st.GetGroup(ctx, tenantA, g.ID)
	if err != nil || got.Counts[groups.Devices] != 1 || got.Counts[groups.Products] != 1 || got.MemberCount() != 3 {
		t.Fatalf("group = %+v, %v; want 1 device, 1 product, 3 members", got.Counts, err)
	}
}
