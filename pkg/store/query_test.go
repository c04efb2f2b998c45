package store_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/store"
	"github.com/fleetgroups/fleetgroups/pkg/storetest"
)

func TestFilteredPagesAreBounded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, counter := storetest.NewStore(t)
	g := mustCreate(t, st, tenantA, "Big")
	const n = 1500
	if err := store.SeedMembers(ctx, st, tenantA, g.ID, n); err != nil {
		t.Fatalf("seed: %v", err)
	}
	last := fmt.Sprintf("veh-%06d", n-1)
	cases := []struct {
		name   string
		filter store.Filter
	}{
		{"filter-expression", store.Filter{Field: "name", Op: store.OpEq, Value: last}},
		{"filter-in-memory", store.Filter{Field: "name", Op: store.OpEndsWith, Value: "1499"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			counter.Take()
			q := store.ListQuery{Filters: []store.Filter{c.filter}, PageRequest: store.PageRequest{Limit: 10}}
			first, err := st.ListMembers(ctx, tenantA, g.ID, groups.Vehicles, q)
			// The first MaxReadPerPage entries hold no match: the page stops
			// there, empty, with a cursor to go on from.
			if err != nil || len(first.Items) != 0 || first.Next == nil || first.Total != nil {
				t.Fatalf("first page = %+v, %v; want empty with a cursor", first, err)
			}
			// 50, 200 and 750 entries: MaxReadPerPage in three Queries.
			if got := counter.Take(); got["Query"] != 3 {
				t.Fatalf("first page took %v", got)
			}
			q.After = first.Next
			second, err := st.ListMembers(ctx, tenantA, g.ID, groups.Vehicles, q)
			if err != nil || len(second.Items) != 1 || second.Items[0].Item.ID != last || second.Next != nil {
				t.Fatalf("second page = %+v, %v; want %s and no cursor", second, err, last)
			}
			// Counts and page numbers read the whole range.
			q = store.ListQuery{Filters: q.Filters, Count: true, PageNumber: 1, PageRequest: store.PageRequest{Limit: 10}}
			page, err := st.ListMembers(ctx, tenantA, g.ID, groups.Vehicles, q)
			if err != nil || len(page.Items) != 1 || page.Total == nil || *page.Total != 1 {
				t.Fatalf("page 1 = %+v, %v; want %s with total 1", page, err, last)
			}
		})
	}
}

// TestReadBoundAcrossRanges fills the first range of a search over every
// member type with exactly MaxReadPerPage entries, none matching: the bound
// falls on the range's end, and the next range must wait for the next page.
func TestReadBoundAcrossRanges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := storetest.NewStore(t)
	g := mustCreate(t, st, tenantA, "Spread", v("x-last"))
	if err := store.SeedMembersOf(ctx, st, tenantA, g.ID, groups.Devices, "x-", store.MaxReadPerPage); err != nil {
		t.Fatalf("seed: %v", err)
	}
	q := store.ListQuery{Search: "x-", Filters: []store.Filter{{Field: "name", Op: store.OpEq, Value: "x-last"}},
		PageRequest: store.PageRequest{Limit: 10}}
	var pages [][]string
	for range 4 {
		p, err := st.ListMembers(ctx, tenantA, g.ID, "", q)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, m := range p.Items {
			ids = append(ids, m.Item.ID)
		}
		pages = append(pages, ids)
		if q.After = p.Next; q.After == nil {
			break
		}
	}
	if len(pages) < 2 || len(pages[0]) != 0 || !slices.Equal(pages[len(pages)-1], []string{"x-last"}) {
		t.Fatalf("pages = %v; want an empty first page (the bound), x-last last", pages)
	}
}

func TestListSchemaLookup(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, field string
		want        store.Field
		ok          bool
	}{
		{"plain", "name", store.Field{Attr: "name", LowerAttr: "nameLower"}, true},
		{"plain-without-copy", "enterprise", store.Field{Attr: "enterprise"}, true},
		{"map-key", "attributes.colour", store.Field{Attr: "attributes.colour"}, true},
		{"map-key-id-characters", "attributes.a-b_c:d@e", store.Field{Attr: "attributes.a-b_c:d@e"}, true},
		{"unknown", "colour", store.Field{}, false},
		{"map-itself", "attributes", store.Field{}, false},
		{"map-wildcard", "attributes.*", store.Field{}, false},
		{"map-empty-key", "attributes.", store.Field{}, false},
		{"map-nested", "attributes.a.b", store.Field{}, false},
		{"map-index", "attributes.a[0]", store.Field{}, false},
		{"map-on-plain", "name.x", store.Field{}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := store.ThingFields.Lookup(c.field)
			if got != c.want || ok != c.ok {
				t.Fatalf("Lookup(%q) = %+v, %v; want %+v, %v", c.field, got, ok, c.want, c.ok)
			}
		})
	}
}

// TestQueryLayerOnMapFields runs the query layer over entries shaped like the
// item registry's (store.ListThings), for what groups and members lack: an
// optional field and a map of attributes.
func TestQueryLayerOnMapFields(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := storetest.NewStore(t)
	for _, th := range []store.Thing{
		{ID: "t1", Name: "Truck One", Enterprise: "Acme", Attributes: map[string]string{"colour": "Red", "size": "L"}},
		{ID: "t2", Name: "truck two", Attributes: map[string]string{"colour": "blue"}},
		{ID: "t3", Name: "Van", Enterprise: "Globex"},
		{ID: "t4", Name: "Truck One", Enterprise: "acme", Attributes: map[string]string{"colour": "dark red"}},
	} {
		if err := store.PutThing(ctx, st, tenantA, th); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.PutThing(ctx, st, tenantB, store.Thing{ID: "b1", Name: "Truck B", Enterprise: "Acme"}); err != nil {
		t.Fatal(err)
	}
	f := func(field string, op store.FilterOp, v string) store.Filter {
		return store.Filter{Field: field, Op: op, Value: v}
	}
	cases := []struct {
		name   string
		tenant string
		q      store.ListQuery
		want   []string
		total  int
	}{
		{"name-order-duplicate-names", tenantA, store.ListQuery{}, []string{"t1", "t4", "t2", "t3"}, -1},
		{"count-without-counter", tenantA, store.ListQuery{Count: true}, []string{"t1", "t4", "t2", "t3"}, 4},
		{"created-desc", tenantA, store.ListQuery{Sort: store.Sort{Field: store.SortCreated, Desc: true}}, []string{"t4", "t3", "t2", "t1"}, -1},
		{"search", tenantA, store.ListQuery{Search: "TRUCK", Count: true}, []string{"t1", "t4", "t2"}, 3},
		{"enterprise-eq", tenantA, store.ListQuery{Filters: []store.Filter{f("enterprise", store.OpEq, "Acme")}, Count: true}, []string{"t1"}, 1},
		{"enterprise-neq-keeps-absent", tenantA, store.ListQuery{Filters: []store.Filter{f("enterprise", store.OpNeq, "Acme")}, Count: true}, []string{"t4", "t2", "t3"}, 3},
		{"enterprise-ilk-in-memory", tenantA, store.ListQuery{Filters: []store.Filter{f("enterprise", store.OpContains, "ACM")}, Count: true}, []string{"t1", "t4"}, 2},
		{"attribute-eq", tenantA, store.ListQuery{Filters: []store.Filter{f("attributes.colour", store.OpEq, "blue")}, Count: true}, []string{"t2"}, 1},
		{"attribute-sw", tenantA, store.ListQuery{Filters: []store.Filter{f("attributes.colour", store.OpStartsWith, "dark")}}, []string{"t4"}, -1},
		{"attribute-ew", tenantA, store.ListQuery{Filters: []store.Filter{f("attributes.colour", store.OpEndsWith, "red")}, Count: true}, []string{"t4"}, 1},
		{"attribute-ilk", tenantA, store.ListQuery{Filters: []store.Filter{f("attributes.colour", store.OpContains, "RED")}, Count: true}, []string{"t1", "t4"}, 2},
		{"attribute-neq-keeps-absent", tenantA, store.ListQuery{Filters: []store.Filter{f("attributes.size", store.OpNeq, "L")}}, []string{"t4", "t2", "t3"}, -1},
		{"filters-and", tenantA, store.ListQuery{Filters: []store.Filter{f("name", store.OpContains, "one"), f("attributes.colour", store.OpContains, "red"), f("enterprise", store.OpEq, "acme")}}, []string{"t4"}, -1},
		{"page-2-created", tenantA, store.ListQuery{Sort: store.Sort{Field: store.SortCreated}, PageNumber: 2, Filters: []store.Filter{f("attributes.colour", store.OpContains, "e")}}, []string{"t4"}, 3},
		{"other-tenant", tenantB, store.ListQuery{Filters: []store.Filter{f("enterprise", store.OpEq, "Acme")}, Count: true}, []string{"b1"}, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.q.Limit = 10
			if c.q.PageNumber > 0 {
				c.q.Limit = 2
			}
			page, err := store.ListThings(ctx, st, c.tenant, c.q)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, th := range page.Items {
				ids = append(ids, th.ID)
			}
			total := -1
			if page.Total != nil {
				total = *page.Total
			}
			if !slices.Equal(ids, c.want) || total != c.total {
				t.Fatalf("ids = %v (total %d), want %v (total %d)", ids, total, c.want, c.total)
			}
		})
	}
}
