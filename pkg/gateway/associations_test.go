package gateway_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
)

const assocPath = "/v1/vehicles/associations/users"

func statuses(r response) []string {
	var out []string
	for _, d := range r.at("data").([]any) {
		m := d.(map[string]any)
		s := fmt.Sprint(m["vehicle_id"], "-", m["user_id"], ":", m["status"])
		if e, ok := m["error"].(map[string]any); ok {
			s += ":" + e["code"].(string)
		}
		out = append(out, s)
	}
	return out
}

func TestAssociations(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	A := e.tokenA
	for _, reg := range []struct{ path, body string }{
		{"/v1/vehicles/v1", `{"name":"Van 1","enterprise":"Acme"}`},
		{"/v1/vehicles/v2", `{"name":"Van 2","enterprise":"Beta"}`},
		{"/v1/users/u1", `{"name":"Uma","enterprise":"Acme"}`},
		{"/v1/users/u2", `{"name":"Udo"}`},
	} {
		expect(t, e.call(t, A, "PUT", reg.path, reg.body), 201, "")
	}
	created := e.call(t, A, "POST", assocPath, `{"data":[
		{"vehicle_id":"v1","user_id":"u1"},{"vehicle_id":"v2","user_id":"u1"},{"vehicle_id":"v1","user_id":"u2"},
		{"vehicle_id":"v3","user_id":"u3"},{"vehicle_id":"v1","user_id":"u1"},{"vehicle_id":"bad id","user_id":"u1"}]}`)
	expect(t, created, 207, "")
	want := "[v1-u1:created v2-u1:rejected:different_enterprises v1-u2:created v3-u3:created v1-u1:rejected:invalid_argument bad id-u1:rejected:invalid_argument]"
	if got := fmt.Sprint(statuses(created)); got != want {
		t.Fatalf("statuses\n got %s\nwant %s", got, want)
	}
	first := created.at("data").([]any)[0].(map[string]any)
	ascID := first["id"].(string)
	if !strings.HasPrefix(ascID, "asc_") || first["type"] != "user_permission" || first["created_at"] == "" {
		t.Fatalf("created entry %v", first)
	}
	if rejected := created.at("data").([]any)[1].(map[string]any); rejected["id"] != nil || rejected["created_at"] != nil || rejected["error"] == nil {
		t.Fatalf("a rejected entry has an id or created_at, or no error: %v", rejected)
	}

	again := e.call(t, A, "POST", assocPath, `{"data":[{"vehicle_id":"v1","user_id":"u1"}]}`)
	expect(t, again, 200, "")
	if again.at("data").([]any)[0].(map[string]any)["id"] != ascID || statuses(again)[0] != "v1-u1:already_exists" {
		t.Fatalf("repeat %v", again.body)
	}
	many := make([]string, 101)
	for i := range many {
		many[i] = fmt.Sprintf(`{"vehicle_id":"v%d","user_id":"u1"}`, i)
	}
	cases := []struct {
		name, method, body string
		status             int
		code               groups.Code
	}{
		{"post-400-all-different-enterprises", "POST", `{"data":[{"vehicle_id":"v2","user_id":"u1"}]}`, 400, groups.CodeDifferentEnterprises},
		{"post-400-no-data", "POST", `{}`, 400, groups.CodeInvalidArgument},
		{"post-400-empty-data", "POST", `{"data":[]}`, 400, groups.CodeInvalidArgument},
		{"post-400-data-not-array", "POST", `{"data":{"vehicle_id":"v1"}}`, 400, groups.CodeInvalidArgument},
		{"post-400-unknown-field", "POST", `{"data":[{"vehicle_id":"v1","user_id":"u1"}],"mode":"x"}`, 400, groups.CodeInvalidArgument},
		{"post-400-101-entries", "POST", `{"data":[` + strings.Join(many, ",") + `]}`, 400, groups.CodeInvalidArgument},
		{"delete-404-unknown", "DELETE", `{"data":[{"type":"user_permission","id":"asc_nope"}]}`, 404, groups.CodeAssociationNotFound},
		{"delete-400-wrong-type", "DELETE", `{"data":[{"type":"vehicle_permission","id":"` + ascID + `"}]}`, 400, groups.CodeInvalidArgument},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.call(t, A, c.method, assocPath, c.body)
			expect(t, r, c.status, c.code)
		})
	}

	vehicleUsers := e.call(t, A, "GET", "/v1/vehicles/v1/associations/users?include=item", "")
	items := vehicleUsers.items()
	if len(items) != 2 || items[0]["user_id"] != "u1" || items[0]["user"].(map[string]any)["name"] != "Uma" || items[1]["user_id"] != "u2" {
		t.Fatalf("v1's users %v", vehicleUsers.body)
	}
	userVehicles := e.call(t, A, "GET", "/v1/users/u1/associations/vehicles", "")
	if len(userVehicles.items()) != 1 || userVehicles.items()[0]["vehicle_id"] != "v1" || userVehicles.items()[0]["vehicle"] != nil {
		t.Fatalf("u1's vehicles %v", userVehicles.body)
	}
	page := e.call(t, A, "GET", "/v1/vehicles/v1/associations/users?limit=1", "")
	next := e.call(t, A, "GET", "/v1/vehicles/v1/associations/users?limit=1&cursor="+page.str("next_cursor"), "")
	if len(page.items()) != 1 || len(next.items()) != 1 || next.items()[0]["user_id"] != "u2" || next.body["next_cursor"] != nil {
		t.Fatalf("pages %v / %v", page.body, next.body)
	}

	deleted := e.call(t, A, "DELETE", assocPath, `{"data":[{"type":"user_permission","id":"`+ascID+`"},{"type":"user_permission","id":"asc_nope"}]}`)
	expect(t, deleted, 207, "")
	if got := deleted.at("data").([]any); got[0].(map[string]any)["status"] != "deleted" || got[1].(map[string]any)["status"] != "rejected" {
		t.Fatalf("delete %v", deleted.body)
	}
	if r := e.call(t, A, "GET", "/v1/users/u1/associations/vehicles", ""); len(r.items()) != 0 {
		t.Fatalf("deleted association still listed from the user: %v", r.body)
	}
	if r := e.call(t, A, "GET", "/v1/vehicles/v1/associations/users", ""); len(r.items()) != 1 {
		t.Fatalf("vehicle side after delete: %v", r.body)
	}
	expect(t, e.call(t, A, "DELETE", assocPath, `{"data":[{"type":"user_permission","id":"`+ascID+`"}]}`), 404, groups.CodeAssociationNotFound)

	// Deleting an item takes its associations with it, in both directions.
	gone := e.call(t, A, "DELETE", "/v1/vehicles/v3", "")
	if gone.status != 200 || gone.num("removedAssociations") != 1 {
		t.Fatalf("delete item with an association: %d %v", gone.status, gone.body)
	}
	if r := e.call(t, A, "GET", "/v1/users/u3/associations/vehicles", ""); len(r.items()) != 0 {
		t.Fatalf("edge to a deleted item remains: %v", r.body)
	}
}

func TestAssociationsTenantIsolation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.call(t, e.tokenA, "POST", assocPath, `{"data":[{"vehicle_id":"v1","user_id":"u1"}]}`)
	ascID := r.at("data").([]any)[0].(map[string]any)["id"].(string)
	if l := e.call(t, e.tokenB, "GET", "/v1/vehicles/v1/associations/users", ""); len(l.items()) != 0 {
		t.Fatalf("B sees A's associations: %v", l.body)
	}
	expect(t, e.call(t, e.tokenB, "DELETE", assocPath, `{"data":[{"type":"user_permission","id":"`+ascID+`"}]}`), 404, groups.CodeAssociationNotFound)
	expect(t, e.call(t, e.tokenB, "POST", assocPath, `{"data":[{"vehicle_id":"v1","user_id":"u1"}]}`), 201, "")
	if l := e.call(t, e.tokenA, "GET", "/v1/users/u1/associations/vehicles", ""); len(l.items()) != 1 || l.items()[0]["id"] != ascID {
		t.Fatalf("A's association changed: %v", l.body)
	}
}
