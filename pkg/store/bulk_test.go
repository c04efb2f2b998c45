package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/storetest"
)

// TestLoadMembers: a bulk load leaves the group as the same members added
// one by one would: counts per type exact, every membership listed, the
// table's invariants kept; a group that does not exist is ErrNotFound.
func TestLoadMembers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := storetest.NewStore(t)
	g := mustCreate(t, st, tenantA, "Bulk", u("usr-0"))
	var items []groups.Item
	for i := range 60 { // three BatchWriteItem calls
		items = append(items, v(fmt.Sprint("veh-", i)))
	}
	items = append(items, u("usr-1"), u("usr-2"))
	if err := st.LoadMembers(ctx, tenantA, g.ID, items); err != nil {
		t.Fatal(err)
	}
	got, err := st.GetGroup(ctx, tenantA, g.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Counts[groups.Vehicles] != 60 || got.Counts[groups.Users] != 3 || got.MemberCount() != 63 || got.Version != g.Version+1 {
		t.Fatalf("group after load = %+v, want 60 vehicles, 3 users, version %d", got, g.Version+1)
	}
	wantCode(t, st.LoadMembers(ctx, tenantA, "grp_none", items[:1]), groups.CodeNotFound)
	storetest.CheckInvariants(t, st) // the refused load wrote nothing
}
