package gateway_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
)

func TestItemRegistry(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	A := e.tokenA
	many := make([]string, 51)
	for i := range many {
		many[i] = fmt.Sprintf(`"k%d":"v"`, i)
	}
	steps := []struct {
		name, method, path, body string
		status                   int
		code                     groups.Code
		check                    func(t *testing.T, r response)
	}{
		{"put-201", "PUT", "/v1/vehicles/veh-1", `{"name":" Van One ","enterprise":"Acme","attributes":{"plate":"B-1","fuel":"ev"}}`, 201, "", func(t *testing.T, r response) {
			if r.str("name") != "Van One" || r.str("enterprise") != "Acme" || r.str("attributes", "plate") != "B-1" ||
				r.num("version") != 1 || r.header.Get("Location") != "/v1/vehicles/veh-1" {
				t.Fatalf("put %v %v", r.body, r.header)
			}
		}},
		{"get-200", "GET", "/v1/vehicles/veh-1", "", 200, "", func(t *testing.T, r response) {
			if r.str("itemType") != "vehicles" || r.str("itemId") != "veh-1" || r.str("attributes", "fuel") != "ev" {
				t.Fatalf("get %v", r.body)
			}
		}},
		{"put-200-replace", "PUT", "/v1/vehicles/veh-1", `{"name":"Van 1"}`, 200, "", func(t *testing.T, r response) {
			if r.str("name") != "Van 1" || r.body["enterprise"] != nil || len(r.at("attributes").(map[string]any)) != 0 || r.num("version") != 2 {
				t.Fatalf("replace %v", r.body)
			}
		}},
		{"get-404", "GET", "/v1/vehicles/veh-none", "", 404, groups.CodeNotFound, nil},
		{"get-400-bad-id", "GET", "/v1/vehicles/bad%20id", "", 400, groups.CodeInvalidArgument, nil},
		{"put-400-missing-name", "PUT", "/v1/users/u-1", `{"enterprise":"Acme"}`, 400, groups.CodeInvalidArgument, nil},
		{"put-400-long-name", "PUT", "/v1/users/u-1", `{"name":"` + strings.Repeat("n", 257) + `"}`, 400, groups.CodeInvalidArgument, nil},
		{"put-400-blank-enterprise", "PUT", "/v1/users/u-1", `{"name":"U","enterprise":" "}`, 400, groups.CodeInvalidArgument, nil},
		{"put-400-attributes-not-object", "PUT", "/v1/users/u-1", `{"name":"U","attributes":["a"]}`, 400, groups.CodeInvalidArgument, nil},
		{"put-400-attribute-not-string", "PUT", "/v1/users/u-1", `{"name":"U","attributes":{"age":42}}`, 400, groups.CodeInvalidArgument, nil},
		{"put-400-attribute-null", "PUT", "/v1/users/u-1", `{"name":"U","attributes":{"nick":null}}`, 400, groups.CodeInvalidArgument, nil},
		{"put-400-attribute-key-with-dot", "PUT", "/v1/users/u-1", `{"name":"U","attributes":{"a.b":"x"}}`, 400, groups.CodeInvalidArgument, nil},
		{"put-400-51-attributes", "PUT", "/v1/users/u-1", `{"name":"U","attributes":{` + strings.Join(many, ",") + `}}`, 400, groups.CodeInvalidArgument, nil},
		{"put-400-attributes-over-8k", "PUT", "/v1/users/u-1", `{"name":"U","attributes":{"a":"` + strings.Repeat("x", 1000) +
			`","b":"` + strings.Repeat("x", 1000) + `","c":"` + strings.Repeat("x", 1000) + `","d":"` + strings.Repeat("x", 1000) +
			`","e":"` + strings.Repeat("x", 1000) + `","f":"` + strings.Repeat("x", 1000) + `","g":"` + strings.Repeat("x", 1000) +
			`","h":"` + strings.Repeat("x", 1000) + `","i":"` + strings.Repeat("x", 1000) + `"}}`, 400, groups.CodeInvalidArgument, nil},
		{"put-400-unknown-field", "PUT", "/v1/users/u-1", `{"name":"U","colour":"red"}`, 400, groups.CodeInvalidArgument, nil},
		{"put-404-unknown-type", "PUT", "/v1/cars/c-1", `{"name":"C"}`, 404, groups.CodeRouteNotFound, nil},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			r := e.call(t, A, s.method, s.path, s.body)
			expect(t, r, s.status, s.code)
			if s.check != nil {
				s.check(t, r)
			}
		})
	}
	// Nothing of the rejected puts was written.
	expect(t, e.call(t, A, "GET", "/v1/users/u-1", ""), 404, groups.CodeNotFound)
}

func TestListItemsAndIncludeItem(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	A := e.tokenA
	for _, v := range [][2]string{{"veh-3", "charlie"}, {"veh-1", "Alpha"}, {"veh-2", "bravo"}} {
		expect(t, e.call(t, A, "PUT", "/v1/vehicles/"+v[0], `{"name":"`+v[1]+`","enterprise":"Acme"}`), 201, "")
	}
	first := e.call(t, A, "GET", "/v1/vehicles?limit=2", "")
	second := e.call(t, A, "GET", "/v1/vehicles?limit=2&cursor="+first.str("next_cursor"), "")
	var names []string
	for _, it := range append(first.items(), second.items()...) {
		names = append(names, it["name"].(string))
	}
	if fmt.Sprint(names) != "[Alpha bravo charlie]" || second.body["next_cursor"] != nil {
		t.Fatalf("items in name order = %v (second page %v)", names, second.body)
	}
	if r := e.call(t, A, "GET", "/v1/users", ""); len(r.items()) != 0 {
		t.Fatalf("users list shows vehicles: %v", r.body)
	}

	g := e.call(t, A, "POST", "/v1/groups", `{"name":"Mixed","vehicles":["veh-1","veh-9"]}`).str("id")
	members := e.call(t, A, "GET", "/v1/groups/"+g+"/members?include=item", "")
	items := members.items()
	if len(items) != 2 || items[0]["item"].(map[string]any)["name"] != "Alpha" || items[1]["item"] != nil {
		t.Fatalf("include=item: %v", members.body)
	}
	if plain := e.call(t, A, "GET", "/v1/groups/"+g+"/vehicles", ""); plain.items()[0]["item"] != nil {
		t.Fatalf("item included without include=item: %v", plain.body)
	}
	expect(t, e.call(t, A, "GET", "/v1/groups/"+g+"/members?include=group", ""), 400, groups.CodeInvalidArgument)
}

func TestDeleteItemLeavesEveryGroup(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	A := e.tokenA
	expect(t, e.call(t, A, "PUT", "/v1/devices/dev-1", `{"name":"Tracker"}`), 201, "")
	g1 := e.call(t, A, "POST", "/v1/groups", `{"name":"G1","devices":["dev-1","dev-2"]}`).str("id")
	g2 := e.call(t, A, "POST", "/v1/groups", `{"name":"G2","devices":["dev-1"]}`).str("id")

	r := e.call(t, A, "DELETE", "/v1/devices/dev-1", "")
	expect(t, r, 200, "")
	if r.num("removedFromGroups") != 2 {
		t.Fatalf("delete %v", r.body)
	}
	for id, want := range map[string]float64{g1: 1, g2: 0} {
		if got := e.call(t, A, "GET", "/v1/groups/"+id, ""); got.num("memberCounts", "devices") != want || got.num("memberCount") != want {
			t.Fatalf("group %s counts %v, want %v devices", id, got.body, want)
		}
	}
	expect(t, e.call(t, A, "GET", "/v1/devices/dev-1", ""), 404, groups.CodeNotFound)
	if refs := e.call(t, A, "GET", "/v1/devices/dev-1/groups", ""); len(refs.items()) != 0 {
		t.Fatalf("deleted item still in groups: %v", refs.body)
	}
	expect(t, e.call(t, A, "DELETE", "/v1/devices/dev-1", ""), 404, groups.CodeNotFound)
	// An item that was never registered can still be taken out of its groups.
	if r := e.call(t, A, "DELETE", "/v1/devices/dev-2", ""); r.status != 200 || r.num("removedFromGroups") != 1 {
		t.Fatalf("delete unregistered member: %d %v", r.status, r.body)
	}
}

func TestRegistryTenantIsolation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	expect(t, e.call(t, e.tokenA, "PUT", "/v1/users/u-1", `{"name":"A's user","enterprise":"A Corp"}`), 201, "")
	g := e.call(t, e.tokenA, "POST", "/v1/groups", `{"name":"A","users":["u-1"]}`).str("id")
	expect(t, e.call(t, e.tokenB, "GET", "/v1/users/u-1", ""), 404, groups.CodeNotFound)
	expect(t, e.call(t, e.tokenB, "DELETE", "/v1/users/u-1", ""), 404, groups.CodeNotFound)
	if r := e.call(t, e.tokenB, "GET", "/v1/users", ""); len(r.items()) != 0 {
		t.Fatalf("B lists A's items: %v", r.body)
	}
	// B registering the same id makes B's own item; A's is untouched.
	expect(t, e.call(t, e.tokenB, "PUT", "/v1/users/u-1", `{"name":"B's user"}`), 201, "")
	if r := e.call(t, e.tokenA, "GET", "/v1/users/u-1", ""); r.str("name") != "A's user" {
		t.Fatalf("A's item changed: %v", r.body)
	}
	if r := e.call(t, e.tokenA, "GET", "/v1/groups/"+g+"/members?include=item", ""); r.items()[0]["item"].(map[string]any)["name"] != "A's user" {
		t.Fatalf("A's include shows %v", r.body)
	}
}
