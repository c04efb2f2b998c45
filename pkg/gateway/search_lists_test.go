package gateway_test

import (
	"slices"
	"strings"
	"testing"
)

// TestSearchOnItemsAndAssociations applies section 4 to list-items and the
// association lists: search, filters on map and optional fields, created
// order and counts.
func TestSearchOnItemsAndAssociations(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ticking(e.st)
	A := e.tokenA
	for _, reg := range []struct{ path, body string }{
		{"/v1/vehicles/v1", `{"name":"Van One","enterprise":"Acme","attributes":{"colour":"Red"}}`},
		{"/v1/vehicles/v2", `{"name":"truck","attributes":{"colour":"dark red"}}`},
		{"/v1/vehicles/v3", `{"name":"Van Two","enterprise":"Globex"}`},
		{"/v1/users/u1", `{"name":"Uma","enterprise":"Acme"}`},
		{"/v1/users/u2", `{"name":"Udo","enterprise":"Acme"}`},
		{"/v1/users/x9", `{"name":"Xu","enterprise":"Acme"}`},
	} {
		expect(t, e.call(t, A, "PUT", reg.path, reg.body), 201, "")
	}
	expect(t, e.call(t, A, "POST", assocPath, `{"data":[{"vehicle_id":"v1","user_id":"u2"},{"vehicle_id":"v1","user_id":"x9"},{"vehicle_id":"v1","user_id":"u1"}]}`), 201, "")
	for _, c := range []struct {
		path, field string
		want        []string
		total       int
	}{
		{"/v1/vehicles?search=VAN&count=true", "name", []string{"Van One", "Van Two"}, 2},
		{"/v1/vehicles?sort=-created", "name", []string{"Van Two", "truck", "Van One"}, -1},
		{"/v1/vehicles?filter[attributes.colour][ilk]=RED&count=true", "name", []string{"truck", "Van One"}, 2},
		{"/v1/vehicles?filter[enterprise][neq]=Acme", "name", []string{"truck", "Van Two"}, -1},
		{"/v1/vehicles?filter[attributes.colour][ew]=red", "name", []string{"truck"}, -1},
		{"/v1/vehicles/v1/associations/users?search=u", "user_id", []string{"u1", "u2"}, -1},
		{"/v1/vehicles/v1/associations/users?filter[name][ilk]=X", "user_id", []string{"x9"}, -1},
	} {
		r := e.call(t, A, "GET", c.path, "")
		expect(t, r, 200, "")
		if got := r.field(c.field); !slices.Equal(got, c.want) || r.total() != c.total {
			t.Errorf("%s: %q total %d, want %q total %d; %v", c.path, got, r.total(), c.want, c.total, r.body)
		}
	}
	r := e.call(t, A, "GET", "/v1/vehicles/v1/associations/users?sort=-created&count=true", "")
	if at := r.field("created_at"); len(at) != 3 || !slices.IsSortedFunc(at, func(a, b string) int { return -strings.Compare(a, b) }) || r.total() != 3 {
		t.Errorf("created desc: %v", r.body)
	}
	if l := e.call(t, e.tokenB, "GET", "/v1/vehicles?search=van&count=true", ""); len(l.items()) != 0 || l.total() != 0 {
		t.Errorf("B sees A's items: %v", l.body)
	}
}
