package store_test

import (
	"context"
	"slices"
	"testing"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/store"
	"github.com/fleetgroups/fleetgroups/pkg/storetest"
)

// Names with the old key separator ('#'), with characters that sort before
// it (' ', '!'), and names that are prefixes of each other: name order is
// the order of the names alone, and a search matches names, never ids.
func TestNameKeysKeepNamesApart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := storetest.NewStore(t)
	// Registered in an order unlike the name order, with ids that sort
	// against it, so that neither can pass for the other.
	names := map[string]string{"z1": "a#b", "z2": "a", "y1": "ab", "y2": "a#", "x1": "a!", "x2": "a b", "w1": "A#B!"}
	for id, name := range names {
		if _, _, err := st.PutRegisteredItem(ctx, tenantA, groups.RegisteredItem{Item: v(id), Name: name}); err != nil {
			t.Fatal(err)
		}
		if id != "w1" { // group names are unique: "A#B!" stands only for items
			mustCreate(t, st, tenantA, name)
		}
	}
	listItems := func(search string) []string {
		p, err := st.ListRegisteredItems(ctx, tenantA, groups.Vehicles, store.ListQuery{Search: search, PageRequest: store.PageRequest{Limit: 100}})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, it := range p.Items {
			out = append(out, it.Name)
		}
		return out
	}
	listGroups := func(search string) []string {
		p, err := st.ListGroups(ctx, tenantA, store.ListQuery{Search: search, PageRequest: store.PageRequest{Limit: 100}})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, g := range p.Items {
			out = append(out, g.Name)
		}
		return out
	}
	cases := []struct {
		name   string
		list   func(string) []string
		search string
		want   []string
	}{
		{"items-in-name-order", listItems, "", []string{"a", "a b", "a!", "a#", "a#b", "A#B!", "ab"}},
		{"items-search-hash-not-the-name-before-it", listItems, "a#", []string{"a#", "a#b", "A#B!"}},
		{"items-search-whole-name", listItems, "a#b", []string{"a#b", "A#B!"}},
		{"items-search-space", listItems, "a ", []string{"a b"}},
		{"items-search-no-id", listItems, "a#z", nil},
		{"groups-in-name-order", listGroups, "", []string{"a", "a b", "a!", "a#", "a#b", "ab"}},
		{"groups-search-hash", listGroups, "a#", []string{"a#", "a#b"}},
		{"groups-search-bang", listGroups, "A!", []string{"a!"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.list(c.search); !slices.Equal(got, c.want) {
				t.Fatalf("search %q = %q, want %q", c.search, got, c.want)
			}
		})
	}
}
