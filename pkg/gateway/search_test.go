package gateway_test

import (
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/store"
)

// ticking makes the store's clock advance one second per reading, so that
// created order is known and never a tie.
func ticking(st *store.Store) {
	var n atomic.Int64
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	st.Now = func() time.Time { return base.Add(time.Duration(n.Add(1)) * time.Second) }
}

// field lists the string field of every item of a list response.
func (r response) field(name string) []string {
	out := []string{}
	for _, it := range r.items() {
		s, _ := it[name].(string)
		out = append(out, s)
	}
	return out
}

// total is total_count, or -1 when the response has none.
func (r response) total() int {
	if _, ok := r.body["total_count"]; !ok {
		return -1
	}
	return int(r.num("total_count"))
}

// follow reads a list to its end through next_cursor, returning each page's
// values of field.
func (e *env) follow(t *testing.T, token, path, field string) [][]string {
	t.Helper()
	var pages [][]string
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	for next := path; ; {
		r := e.call(t, token, "GET", next, "")
		expect(t, r, 200, "")
		pages = append(pages, r.field(field))
		c := r.str("next_cursor")
		if c == "" {
			return pages
		}
		if len(pages) > 20 {
			t.Fatalf("%s: cursor never ends", path)
		}
		next = path + sep + "cursor=" + url.QueryEscape(c)
	}
}

// Tenant A's groups, created in this order.
var searchGroups = []string{"Beta", "alps", "Gamma Fleet", "Alpha", "delta fleet", "Zeta"}

func newSearchEnv(t *testing.T) (*env, string) {
	t.Helper()
	e := newEnv(t)
	ticking(e.st)
	for _, name := range searchGroups {
		expect(t, e.call(t, e.tokenA, "POST", "/v1/groups", `{"name":"`+name+`"}`), 201, "")
	}
	for _, name := range []string{"Alpine B", "Beta"} {
		expect(t, e.call(t, e.tokenB, "POST", "/v1/groups", `{"name":"`+name+`"}`), 201, "")
	}
	crew := e.call(t, e.tokenA, "POST", "/v1/groups", `{"name":"~crew"}`).str("id")
	for _, m := range []string{"vehicles/veh-2", "devices/x-1", "vehicles/VEH-3", "users/u-alpha", "vehicles/veh-1", "vehicles/x-9", "users/U-Beta"} {
		expect(t, e.call(t, e.tokenA, "PUT", "/v1/groups/"+crew+"/"+m, ""), 201, "")
	}
	e.counter.Take()
	return e, crew
}

// listCase is one list request and what it must answer.
type listCase struct {
	name, query string
	want        []string
	total       int // -1: no total_count
	pages       []int
}

func TestListGroupsSearchFilterSort(t *testing.T) {
	t.Parallel()
	e, _ := newSearchEnv(t)
	byName := []string{"Alpha", "alps", "Beta", "delta fleet", "Gamma Fleet", "Zeta", "~crew"}
	byCreated := append(slices.Clone(searchGroups), "~crew")
	rev := func(s []string) []string { s = slices.Clone(s); slices.Reverse(s); return s }
	cases := []listCase{
		{"default-name-order-with-total", "", byName, 7, nil},
		{"sort-name", "sort=name", byName, 7, nil},
		{"sort-desc-name", "sort=-name", rev(byName), 7, nil},
		{"sort-created", "sort=created", byCreated, 7, nil},
		{"sort-desc-created", "sort=-created", rev(byCreated), 7, nil},
		{"search-prefix", "search=al", []string{"Alpha", "alps"}, -1, nil},
		{"search-case-insensitive", "search=AL", []string{"Alpha", "alps"}, -1, nil},
		{"search-desc-name", "search=al&sort=-name", []string{"alps", "Alpha"}, -1, nil},
		{"search-created", "search=al&sort=created", []string{"alps", "Alpha"}, -1, nil},
		{"search-desc-created", "search=aL&sort=-created", []string{"Alpha", "alps"}, -1, nil},
		{"search-count", "search=al&count=true", []string{"Alpha", "alps"}, 2, nil},
		{"search-is-a-prefix-not-contains", "search=fleet&count=true", []string{}, 0, nil},
		{"search-empty-is-everything", "search=", byName, 7, nil},
		{"search-100-chars", "search=" + strings.Repeat("a", 100), []string{}, -1, nil},
		{"search-with-space", "search=" + url.QueryEscape("delta f"), []string{"delta fleet"}, -1, nil},
		{"prefix-deprecated-alias", "prefix=AL", []string{"Alpha", "alps"}, -1, nil},
		{"filter-eq", "filter[name][eq]=Beta", []string{"Beta"}, -1, nil},
		{"filter-eq-case-sensitive", "filter[name][eq]=beta", []string{}, -1, nil},
		{"filter-neq", "filter[name][neq]=Beta", []string{"Alpha", "alps", "delta fleet", "Gamma Fleet", "Zeta", "~crew"}, -1, nil},
		{"filter-sw", "filter[name][sw]=G", []string{"Gamma Fleet"}, -1, nil},
		{"filter-sw-case-sensitive", "filter[name][sw]=g", []string{}, -1, nil},
		{"filter-ew", "filter[name][ew]=fleet", []string{"delta fleet"}, -1, nil},
		{"filter-ew-case-sensitive", "filter[name][ew]=Fleet", []string{"Gamma Fleet"}, -1, nil},
		{"filter-ilk", "filter[name][ilk]=FLEET", []string{"delta fleet", "Gamma Fleet"}, -1, nil},
		{"filter-ilk-inside", "filter[name][ilk]=lP", []string{"Alpha", "alps"}, -1, nil},
		{"filter-ilk-desc-created", "filter[name][ilk]=fleet&sort=-created", []string{"delta fleet", "Gamma Fleet"}, -1, nil},
		{"filters-combine", "filter[name][ilk]=a&filter[name][ew]=a", []string{"Alpha", "Beta", "Zeta"}, -1, nil},
		{"filter-count", "filter[name][ilk]=fleet&count=true", []string{"delta fleet", "Gamma Fleet"}, 2, nil},
		{"filter-ew-count", "filter[name][ew]=a&count=true", []string{"Alpha", "Beta", "Zeta"}, 3, nil},
		{"search-and-filter-count", "search=a&filter[name][ew]=a&count=true", []string{"Alpha"}, 1, nil},
		{"count-true", "count=true&limit=2", []string{"Alpha", "alps"}, 7, nil},
		{"count-false-first-page-keeps-total", "count=false", byName, 7, nil},
		{"cursor-filter-ilk", "filter[name][ilk]=l&limit=1", nil, -1, []int{1, 1, 1, 1}},
		{"cursor-filter-ew", "filter[name][ew]=a&limit=2", nil, -1, []int{2, 1}},
		{"cursor-search-desc", "search=al&sort=-name&limit=1", nil, -1, []int{1, 1}},
		{"cursor-created", "sort=created&limit=4", nil, 7, []int{4, 3}},
		{"cursor-neq-desc-created", "filter[name][neq]=Beta&sort=-created&limit=2", nil, -1, []int{2, 2, 2}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { e.checkList(t, "/v1/groups", "name", c) })
	}
	t.Run("cursor-pages-follow-the-order", func(t *testing.T) {
		got := e.follow(t, e.tokenA, "/v1/groups?filter[name][neq]=Beta&sort=-created&limit=2", "name")
		want := [][]string{{"~crew", "Zeta"}, {"delta fleet", "Alpha"}, {"Gamma Fleet", "alps"}}
		if !slices.EqualFunc(got, want, slices.Equal) {
			t.Fatalf("pages = %v, want %v", got, want)
		}
	})
	t.Run("no-scans", func(t *testing.T) {
		if calls := e.counter.Take(); calls["Scan"] > 0 {
			t.Fatalf("lists scanned the table: %v", calls)
		}
	})
}

// checkList runs c on list and checks its items (field of each), total and,
// for cursor cases, the page sizes down the cursor chain.
func (e *env) checkList(t *testing.T, list, field string, c listCase) {
	t.Helper()
	path := list
	if c.query != "" {
		path += "?" + c.query
	}
	if c.pages != nil {
		var sizes []int
		for _, p := range e.follow(t, e.tokenA, path, field) {
			sizes = append(sizes, len(p))
		}
		if !slices.Equal(sizes, c.pages) {
			t.Fatalf("page sizes = %v, want %v", sizes, c.pages)
		}
		return
	}
	r := e.call(t, e.tokenA, "GET", path, "")
	expect(t, r, 200, "")
	if got := r.field(field); !slices.Equal(got, c.want) {
		t.Fatalf("items = %q, want %q", got, c.want)
	}
	if r.total() != c.total {
		t.Fatalf("total_count = %d, want %d (-1: absent)", r.total(), c.total)
	}
	if _, ok := r.body["page"]; ok {
		t.Fatalf("page numbers without page: %v", r.body)
	}
}

func TestListMembersSearchFilterSort(t *testing.T) {
	t.Parallel()
	e, crew := newSearchEnv(t)
	members, vehicles := "/v1/groups/"+crew+"/members", "/v1/groups/"+crew+"/vehicles"
	allByName := []string{"x-1", "U-Beta", "u-alpha", "VEH-3", "veh-1", "veh-2", "x-9"} // devices, users, vehicles
	allByCreated := []string{"veh-2", "x-1", "VEH-3", "u-alpha", "veh-1", "x-9", "U-Beta"}
	cases := []struct {
		list string
		listCase
	}{
		{vehicles, listCase{"type-name-order", "", []string{"VEH-3", "veh-1", "veh-2", "x-9"}, 4, nil}},
		{vehicles, listCase{"type-search-case-sensitive", "search=veh", []string{"veh-1", "veh-2"}, -1, nil}},
		{vehicles, listCase{"type-search-upper", "search=VEH&count=true", []string{"VEH-3"}, 1, nil}},
		{vehicles, listCase{"type-desc-name", "sort=-name", []string{"x-9", "veh-2", "veh-1", "VEH-3"}, 4, nil}},
		{vehicles, listCase{"type-created", "sort=created", []string{"veh-2", "VEH-3", "veh-1", "x-9"}, 4, nil}},
		{vehicles, listCase{"type-desc-created", "sort=-created", []string{"x-9", "veh-1", "VEH-3", "veh-2"}, 4, nil}},
		{vehicles, listCase{"type-search-created", "search=veh&sort=created", []string{"veh-2", "veh-1"}, -1, nil}},
		{vehicles, listCase{"type-filter-ilk", "filter[name][ilk]=veh&count=true", []string{"VEH-3", "veh-1", "veh-2"}, 3, nil}},
		{vehicles, listCase{"type-filter-ew", "filter[name][ew]=-1", []string{"veh-1"}, -1, nil}},
		{vehicles, listCase{"type-filter-neq-created", "filter[name][neq]=veh-1&sort=created", []string{"veh-2", "VEH-3", "x-9"}, -1, nil}},
		{vehicles, listCase{"type-cursor-created", "sort=created&limit=1", nil, 4, []int{1, 1, 1, 1}}},
		{members, listCase{"all-name-order", "", allByName, 7, nil}},
		{members, listCase{"all-created", "sort=created", allByCreated, 7, nil}},
		{members, listCase{"all-search-every-type", "search=x&count=true", []string{"x-1", "x-9"}, 2, nil}},
		{members, listCase{"all-search-desc", "search=x&sort=-name", []string{"x-9", "x-1"}, -1, nil}},
		{members, listCase{"all-search-created", "search=x&sort=-created", []string{"x-9", "x-1"}, -1, nil}},
		{members, listCase{"all-search-one-type-matches", "search=u", []string{"u-alpha"}, -1, nil}},
		{members, listCase{"all-filter-ilk", "filter[name][ilk]=A", []string{"U-Beta", "u-alpha"}, -1, nil}},
		{members, listCase{"all-filter-sw-count", "filter[name][sw]=x&count=true", []string{"x-1", "x-9"}, 2, nil}},
		{members, listCase{"all-cursor-search-across-types", "search=x&limit=1", nil, -1, []int{1, 1}}},
		{members, listCase{"all-cursor-search-across-types-desc", "search=x&sort=-name&limit=1", nil, -1, []int{1, 1}}},
		{members, listCase{"all-cursor-filter", "filter[name][ilk]=e&limit=2", nil, -1, []int{2, 2}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { e.checkList(t, c.list, "itemId", c.listCase) })
	}
	t.Run("cursor-positions-in-later-types", func(t *testing.T) {
		g := e.call(t, e.tokenA, "POST", "/v1/groups", `{"name":"spread","devices":["x-a"],"users":["x-b"],"vehicles":["x-c","y"]}`).str("id")
		for _, c := range []struct {
			query string
			want  [][]string
		}{
			{"search=x&limit=1", [][]string{{"x-a"}, {"x-b"}, {"x-c"}}},
			{"search=x&sort=-name&limit=1", [][]string{{"x-c"}, {"x-b"}, {"x-a"}}},
			{"search=x&filter[name][ew]=b&limit=1", [][]string{{"x-b"}}},
		} {
			if got := e.follow(t, e.tokenA, "/v1/groups/"+g+"/members?"+c.query, "itemId"); !slices.EqualFunc(got, c.want, slices.Equal) {
				t.Fatalf("%s: pages = %v, want %v", c.query, got, c.want)
			}
		}
	})
	t.Run("cursor-search-across-types-order", func(t *testing.T) {
		got := e.follow(t, e.tokenA, members+"?search=x&sort=-name&limit=1", "itemId")
		if want := [][]string{{"x-9"}, {"x-1"}}; !slices.EqualFunc(got, want, slices.Equal) {
			t.Fatalf("pages = %v, want %v", got, want)
		}
	})
	t.Run("no-scans", func(t *testing.T) {
		if calls := e.counter.Take(); calls["Scan"] > 0 {
			t.Fatalf("lists scanned the table: %v", calls)
		}
	})
}

func TestPageNumbers(t *testing.T) {
	t.Parallel()
	e, crew := newSearchEnv(t)
	cases := []struct {
		name, path string
		want       []string
		field      string
		page, per  int
		pages      int
		total      int
	}{
		{"groups-page-2-of-3", "/v1/groups?page=2&per_page=3", []string{"delta fleet", "Gamma Fleet", "Zeta"}, "name", 2, 3, 3, 7},
		{"groups-last-page", "/v1/groups?page=3&per_page=3", []string{"~crew"}, "name", 3, 3, 3, 7},
		{"groups-beyond-the-end", "/v1/groups?page=4&per_page=3", []string{}, "name", 4, 3, 3, 7},
		{"groups-page-defaults-to-1", "/v1/groups?per_page=5", []string{"Alpha", "alps", "Beta", "delta fleet", "Gamma Fleet"}, "name", 1, 5, 2, 7},
		{"groups-per-page-defaults-to-100", "/v1/groups?page=1", []string{"Alpha", "alps", "Beta", "delta fleet", "Gamma Fleet", "Zeta", "~crew"}, "name", 1, 100, 1, 7},
		{"groups-desc-created", "/v1/groups?page=2&per_page=2&sort=-created", []string{"delta fleet", "Alpha"}, "name", 2, 2, 4, 7},
		{"groups-desc-name", "/v1/groups?page=2&per_page=2&sort=-name", []string{"Gamma Fleet", "delta fleet"}, "name", 2, 2, 4, 7},
		{"groups-search", "/v1/groups?page=2&per_page=1&search=AL", []string{"alps"}, "name", 2, 1, 2, 2},
		{"groups-filter", "/v1/groups?page=2&per_page=1&filter[name][ilk]=fleet", []string{"Gamma Fleet"}, "name", 2, 1, 2, 2},
		{"groups-filter-in-memory", "/v1/groups?page=2&per_page=2&filter[name][ew]=a", []string{"Zeta"}, "name", 2, 2, 2, 3},
		{"groups-none-match", "/v1/groups?page=1&per_page=5&search=zzz", []string{}, "name", 1, 5, 0, 0},
		{"members-page-2", "/v1/groups/" + crew + "/members?page=2&per_page=3", []string{"VEH-3", "veh-1", "veh-2"}, "itemId", 2, 3, 3, 7},
		{"members-last-page", "/v1/groups/" + crew + "/members?page=3&per_page=3", []string{"x-9"}, "itemId", 3, 3, 3, 7},
		{"members-beyond-the-end", "/v1/groups/" + crew + "/members?page=9&per_page=3", []string{}, "itemId", 9, 3, 3, 7},
		{"members-created", "/v1/groups/" + crew + "/members?page=2&per_page=2&sort=created", []string{"VEH-3", "u-alpha"}, "itemId", 2, 2, 4, 7},
		{"members-search-every-type", "/v1/groups/" + crew + "/members?page=2&per_page=1&search=x", []string{"x-9"}, "itemId", 2, 1, 2, 2},
		{"members-type", "/v1/groups/" + crew + "/vehicles?page=2&per_page=3", []string{"x-9"}, "itemId", 2, 3, 2, 4},
		{"members-type-created-filter", "/v1/groups/" + crew + "/vehicles?page=1&per_page=2&sort=created&filter[name][sw]=veh", []string{"veh-2", "veh-1"}, "itemId", 1, 2, 1, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.call(t, e.tokenA, "GET", c.path, "")
			expect(t, r, 200, "")
			if got := r.field(c.field); !slices.Equal(got, c.want) {
				t.Fatalf("items = %q, want %q", got, c.want)
			}
			got := [5]int{int(r.num("page")), int(r.num("per_page")), int(r.num("total_pages")), int(r.num("response_count")), r.total()}
			if want := [5]int{c.page, c.per, c.pages, len(c.want), c.total}; got != want {
				t.Fatalf("page, per_page, total_pages, response_count, total_count = %v, want %v", got, want)
			}
			if _, ok := r.body["total_pages"]; !ok || r.body["next_cursor"] != nil {
				t.Fatalf("body = %v", r.body)
			}
		})
	}
}

func TestListQueryBadInput(t *testing.T) {
	t.Parallel()
	e, crew := newSearchEnv(t)
	cursor := e.call(t, e.tokenA, "GET", "/v1/groups?limit=1&filter[name][ilk]=a", "").str("next_cursor")
	nameCursor := e.call(t, e.tokenA, "GET", "/v1/groups?limit=1", "").str("next_cursor")
	memberCursor := e.call(t, e.tokenA, "GET", "/v1/groups/"+crew+"/members?limit=1&search=x", "").str("next_cursor")
	if cursor == "" || nameCursor == "" || memberCursor == "" {
		t.Fatal("no cursors to replay")
	}
	members, vehicles := "/v1/groups/"+crew+"/members", "/v1/groups/"+crew+"/vehicles"
	long := strings.Repeat("a", 101)
	cases := []struct {
		name, path string
		code       groups.Code
		field      string
	}{
		{"search-400-101-chars", "/v1/groups?search=" + long, groups.CodeInvalidArgument, "search"},
		{"search-400-twice", "/v1/groups?search=a&search=b", groups.CodeInvalidArgument, "search"},
		{"prefix-400-101-chars", "/v1/groups?prefix=" + long, groups.CodeInvalidArgument, "prefix"},
		{"prefix-400-with-search", "/v1/groups?prefix=a&search=a", groups.CodeInvalidArgument, "prefix"},
		{"filter-400-unknown-field", "/v1/groups?filter[colour][eq]=red", groups.CodeInvalidArgument, "filter[colour][eq]"},
		{"members-filter-400-no-map-fields", members + "?filter[attributes.colour][eq]=red", groups.CodeInvalidArgument, "filter[attributes.colour][eq]"},
		{"filter-400-unknown-op", "/v1/groups?filter[name][like]=x", groups.CodeInvalidArgument, "filter[name][like]"},
		{"filter-400-no-op", "/v1/groups?filter[name]=x", groups.CodeInvalidArgument, "filter[name]"},
		{"filter-400-empty-value", "/v1/groups?filter[name][eq]=", groups.CodeInvalidArgument, "filter[name][eq]"},
		{"filter-400-long-value", "/v1/groups?filter[name][eq]=" + strings.Repeat("v", 257), groups.CodeInvalidArgument, "filter[name][eq]"},
		{"filter-400-twice", "/v1/groups?filter[name][eq]=a&filter[name][eq]=b", groups.CodeInvalidArgument, "filter[name][eq]"},
		{"sort-400-unknown", "/v1/groups?sort=size", groups.CodeInvalidArgument, "sort"},
		{"sort-400-empty", "/v1/groups?sort=", groups.CodeInvalidArgument, "sort"},
		{"count-400-not-bool", "/v1/groups?count=yes", groups.CodeInvalidArgument, "count"},
		{"page-400-zero", "/v1/groups?page=0", groups.CodeInvalidArgument, "page"},
		{"page-400-word", "/v1/groups?page=two", groups.CodeInvalidArgument, "page"},
		{"per-page-400-101", "/v1/groups?per_page=101", groups.CodeInvalidArgument, "per_page"},
		{"per-page-400-zero", "/v1/groups?per_page=0", groups.CodeInvalidArgument, "per_page"},
		{"page-400-with-cursor", "/v1/groups?page=2&cursor=" + nameCursor, groups.CodeInvalidArgument, "page"},
		{"per-page-400-with-limit", "/v1/groups?per_page=10&limit=10", groups.CodeInvalidArgument, "limit"},
		{"page-400-with-limit", "/v1/groups?page=2&limit=10", groups.CodeInvalidArgument, "limit"},
		{"page-400-too-deep", "/v1/groups?page=101&per_page=100", groups.CodeInvalidArgument, "page"},
		{"param-400-unknown", "/v1/groups?q=a", groups.CodeInvalidArgument, "q"},
		{"cursor-400-other-filter", "/v1/groups?limit=1&filter[name][ilk]=b&cursor=" + cursor, groups.CodeInvalidCursor, "cursor"},
		{"cursor-400-filter-dropped", "/v1/groups?limit=1&cursor=" + cursor, groups.CodeInvalidCursor, "cursor"},
		{"cursor-400-other-sort", "/v1/groups?limit=1&sort=-name&cursor=" + nameCursor, groups.CodeInvalidCursor, "cursor"},
		{"cursor-400-created-sort", "/v1/groups?limit=1&sort=created&cursor=" + nameCursor, groups.CodeInvalidCursor, "cursor"},
		{"cursor-400-search-added", "/v1/groups?limit=1&search=a&cursor=" + nameCursor, groups.CodeInvalidCursor, "cursor"},
		{"members-search-400-101-chars", members + "?search=" + long, groups.CodeInvalidArgument, "search"},
		{"members-filter-400-unknown-field", members + "?filter[itemType][eq]=users", groups.CodeInvalidArgument, "filter[itemType][eq]"},
		{"members-filter-400-unknown-op", vehicles + "?filter[name][gt]=a", groups.CodeInvalidArgument, "filter[name][gt]"},
		{"members-sort-400", vehicles + "?sort=added", groups.CodeInvalidArgument, "sort"},
		{"members-page-400-zero", vehicles + "?page=0", groups.CodeInvalidArgument, "page"},
		{"members-per-page-400-101", members + "?per_page=101", groups.CodeInvalidArgument, "per_page"},
		{"members-page-400-with-cursor", members + "?page=1&cursor=" + memberCursor, groups.CodeInvalidArgument, "page"},
		{"members-prefix-400-not-here", members + "?prefix=x", groups.CodeInvalidArgument, "prefix"},
		{"members-cursor-400-other-search", members + "?limit=1&search=u&cursor=" + memberCursor, groups.CodeInvalidCursor, "cursor"},
		{"members-cursor-400-other-type", vehicles + "?limit=1&search=x&cursor=" + memberCursor, groups.CodeInvalidCursor, "cursor"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.call(t, e.tokenA, "GET", c.path, "")
			expect(t, r, 400, c.code)
			errs, _ := r.body["errors"].([]any)
			if len(errs) == 0 {
				t.Fatalf("no field errors: %v", r.body)
			}
			first, _ := errs[0].(map[string]any)
			if first["field"] != c.field || first["message"] == "" {
				t.Fatalf("errors = %v, want field %q first", errs, c.field)
			}
		})
	}
	t.Run("prefix-and-search-one-error", func(t *testing.T) {
		r := e.call(t, e.tokenA, "GET", "/v1/groups?prefix=a&search=a", "")
		if errs, _ := r.body["errors"].([]any); len(errs) != 1 {
			t.Fatalf("errors = %v, want only the deprecated-name one", r.body["errors"])
		}
	})
	t.Run("every-problem-at-once", func(t *testing.T) {
		r := e.call(t, e.tokenA, "GET", "/v1/groups?sort=size&count=maybe&filter[colour][eq]=red", "")
		expect(t, r, 400, groups.CodeInvalidArgument)
		if errs, _ := r.body["errors"].([]any); len(errs) != 3 {
			t.Fatalf("errors = %v, want 3", r.body["errors"])
		}
	})
}

func TestListQueryTenantIsolation(t *testing.T) {
	t.Parallel()
	e, crew := newSearchEnv(t)
	B := e.tokenB
	cases := []struct {
		name, query string
		want        []string
		total       int
	}{
		{"search", "search=al&count=true", []string{"Alpine B"}, 1},
		{"filter", "filter[name][eq]=Beta&count=true", []string{"Beta"}, 1},
		{"filter-in-memory", "filter[name][ew]=B&count=true", []string{"Alpine B"}, 1},
		{"created", "sort=created", []string{"Alpine B", "Beta"}, 2},
		{"desc-name", "sort=-name", []string{"Beta", "Alpine B"}, 2},
		{"page-numbers", "page=1&per_page=10&filter[name][ilk]=a", []string{"Alpine B", "Beta"}, 2},
		{"page-beyond-As-count", "page=3&per_page=1", []string{}, 2},
	}
	for _, c := range cases {
		t.Run("list-groups-"+c.name, func(t *testing.T) {
			r := e.call(t, B, "GET", "/v1/groups?"+c.query, "")
			expect(t, r, 200, "")
			if got := r.field("name"); !slices.Equal(got, c.want) || r.total() != c.total {
				t.Fatalf("B lists %q (total %d), want %q (total %d)", got, r.total(), c.want, c.total)
			}
		})
	}
	for _, q := range []string{"search=x", "sort=created", "sort=-name", "filter[name][ilk]=a", "count=true", "page=1", "page=2&per_page=1&sort=created"} {
		for _, list := range []string{"members", "vehicles"} {
			t.Run("list-"+list+"-404-"+q, func(t *testing.T) {
				expect(t, e.call(t, B, "GET", "/v1/groups/"+crew+"/"+list+"?"+q, ""), 404, groups.CodeNotFound)
			})
		}
	}
	t.Run("list-members-404-missing-group", func(t *testing.T) {
		expect(t, e.call(t, e.tokenA, "GET", "/v1/groups/grp_missing/members?search=x&sort=created", ""), 404, groups.CodeNotFound)
	})
	t.Run("A-cursor-404-for-B", func(t *testing.T) {
		c := e.call(t, e.tokenA, "GET", "/v1/groups?limit=1&search=al", "").str("next_cursor")
		expect(t, e.call(t, B, "GET", "/v1/groups?limit=1&search=al&cursor="+c, ""), 404, groups.CodeNotFound)
	})
}
