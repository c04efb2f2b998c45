package gateway_test

import (
	"fmt"
	"maps"
	"net/url"
	"strings"
	"testing"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
)

// attrs is a response's attributes object.
func attrs(r response) map[string]any {
	m, _ := r.at("attributes").(map[string]any)
	return m
}

// manyAttributes is a JSON object of n attributes k0…k<n-1>, each set to value.
func manyAttributes(n int, value string) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = fmt.Sprintf(`"k%d":%s`, i, value)
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// Groups carry attributes: set on create, merged by PATCH as a JSON merge
// patch (a null value removes a key, null removes all), always an object in
// answers, within the item registry's limits after the merge, and
// filterable in list-groups.
func TestGroupAttributes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	A := e.tokenA

	created := e.call(t, A, "POST", "/v1/groups", `{"name":"Depot North","attributes":{"role":"depot","region":"DE-BE"}}`)
	expect(t, created, 201, "")
	id := created.str("id")
	if got := attrs(created); !maps.Equal(got, map[string]any{"role": "depot", "region": "DE-BE"}) {
		t.Fatalf("created attributes = %v", got)
	}
	plain := e.call(t, A, "POST", "/v1/groups", `{"name":"Depot South"}`)
	expect(t, plain, 201, "")
	if got := attrs(plain); got == nil || len(got) != 0 {
		t.Fatalf("a group without attributes answers %v, want {}", plain.body["attributes"])
	}

	steps := []struct {
		name, body string
		status     int
		code       groups.Code
		want       map[string]any // the attributes after the step, when it succeeds
		version    float64
	}{
		{"set-one-keep-others", `{"attributes":{"role":"hub"}}`, 200, "", map[string]any{"role": "hub", "region": "DE-BE"}, 2},
		{"remove-one-add-one", `{"attributes":{"region":null,"code":"N1"}}`, 200, "", map[string]any{"role": "hub", "code": "N1"}, 3},
		{"with-name", `{"name":"Depot North 1","attributes":{"code":"N2"}}`, 200, "", map[string]any{"role": "hub", "code": "N2"}, 4},
		{"remove-absent-key", `{"attributes":{"nope":null}}`, 200, "", map[string]any{"role": "hub", "code": "N2"}, 5},
		{"bad-key", `{"attributes":{"a.b":"x"}}`, 400, groups.CodeInvalidArgument, nil, 0},
		{"not-an-object", `{"attributes":["x"]}`, 400, groups.CodeInvalidArgument, nil, 0},
		{"number-value", `{"attributes":{"n":1}}`, 400, groups.CodeInvalidArgument, nil, 0},
		{"too-many-after-merge", `{"attributes":` + manyAttributes(49, `"v"`) + `}`, 400, groups.CodeInvalidArgument, nil, 0},
		{"clear-all", `{"attributes":null}`, 200, "", map[string]any{}, 6},
		{"fifty-fit", `{"attributes":` + manyAttributes(50, `"v"`) + `}`, 200, "", nil, 7},
	}
	for _, s := range steps {
		r := e.call(t, A, "PATCH", "/v1/groups/"+id, s.body)
		expect(t, r, s.status, s.code)
		if s.status != 200 {
			continue
		}
		if s.want != nil && !maps.Equal(attrs(r), s.want) {
			t.Fatalf("%s: attributes = %v, want %v", s.name, attrs(r), s.want)
		}
		if r.num("version") != s.version || r.header.Get("ETag") != fmt.Sprintf(`"v%d"`, int(s.version)) {
			t.Fatalf("%s: version %v, ETag %s; want %v", s.name, r.num("version"), r.header.Get("ETag"), s.version)
		}
		if got := e.call(t, A, "GET", "/v1/groups/"+id, ""); !maps.Equal(attrs(got), attrs(r)) {
			t.Fatalf("%s: read back %v, answered %v", s.name, attrs(got), attrs(r))
		}
	}
	if got := attrs(e.call(t, A, "GET", "/v1/groups/"+id, "")); len(got) != 50 {
		t.Fatalf("%d attributes after fifty-fit, want 50", len(got))
	}

	for _, c := range []struct{ name, body string }{
		{"create-null-value", `{"name":"X1","attributes":{"k":null}}`},
		{"create-51", `{"name":"X2","attributes":` + manyAttributes(51, `"v"`) + `}`},
		{"create-bad-key", `{"name":"X3","attributes":{"":"v"}}`},
		{"create-long-value", `{"name":"X4","attributes":{"k":"` + strings.Repeat("x", 1025) + `"}}`},
	} {
		expect(t, e.call(t, A, "POST", "/v1/groups", c.body), 400, groups.CodeInvalidArgument)
	}

	// Filters on attributes.<key>; another tenant's groups never match.
	expect(t, e.call(t, e.tokenB, "POST", "/v1/groups", `{"name":"Other","attributes":{"role":"depot"}}`), 201, "")
	expect(t, e.call(t, A, "POST", "/v1/groups", `{"name":"Depot East","attributes":{"role":"depot"}}`), 201, "")
	for _, c := range []struct {
		filter string
		want   []string
	}{
		{"filter[attributes.role][eq]=depot", []string{"Depot East"}},
		{"filter[attributes.k7][eq]=v", []string{"Depot North 1"}},
		{"filter[attributes.role][neq]=depot", []string{"Depot North 1", "Depot South"}},
		{"filter[attributes.role][ilk]=EP", []string{"Depot East"}},
	} {
		r := e.call(t, A, "GET", "/v1/groups?"+url.PathEscape(c.filter), "")
		expect(t, r, 200, "")
		var names []string
		for _, it := range r.items() {
			names = append(names, it["name"].(string))
		}
		if strings.Join(names, ",") != strings.Join(c.want, ",") {
			t.Errorf("%s: %v, want %v", c.filter, names, c.want)
		}
	}
}
