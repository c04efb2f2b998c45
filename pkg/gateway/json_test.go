package gateway_test

import (
	"slices"
	"testing"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
)

// A key given twice in a body is refused, at any depth, rather than the
// last one silently winning.
func TestDuplicateJSONKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	A := e.tokenA
	id := e.call(t, A, "POST", "/v1/groups", `{"name":"g"}`).str("id")
	cases := []struct {
		name, method, path, body, field string
	}{
		{"create-400-name-twice", "POST", "/v1/groups", `{"name":"a","name":"b"}`, "name"},
		{"create-400-escaped-twice", "POST", "/v1/groups", `{"name":"a","na\u006de":"b"}`, "name"},
		{"update-400-description-twice", "PATCH", "/v1/groups/" + id, `{"description":"a","description":"b"}`, "description"},
		{"put-item-400-attribute-twice", "PUT", "/v1/vehicles/veh-1", `{"name":"Van","attributes":{"plate":"B 1","plate":"B 2"}}`, "attributes.plate"},
		{"batch-400-entry-key-twice", "POST", "/v1/groups/" + id + "/members:batch", `{"add":[{"type":"users","id":"u-1"},{"type":"users","id":"u-2","id":"u-3"}]}`, "add[1].id"},
		{"associations-400-entry-key-twice", "POST", "/v1/vehicles/associations/users", `{"data":[{"vehicle_id":"v-1","user_id":"u-1","user_id":"u-2"}]}`, "data[0].user_id"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.call(t, A, c.method, c.path, c.body)
			expect(t, r, 400, groups.CodeInvalidArgument)
			if fieldOf(r) != c.field {
				t.Fatalf("errors = %v, want field %q", r.body["errors"], c.field)
			}
		})
	}
	// Nothing of the refused bodies was written.
	if got := e.call(t, A, "GET", "/v1/groups", "").field("name"); !slices.Equal(got, []string{"g"}) {
		t.Fatalf("groups = %q", got)
	}
	expect(t, e.call(t, A, "GET", "/v1/vehicles/veh-1", ""), 404, groups.CodeNotFound)
	if n := e.call(t, A, "GET", "/v1/groups/"+id, "").num("memberCount"); n != 0 {
		t.Fatalf("memberCount = %v", n)
	}
}

// fieldOf is the field of a problem's first field error.
func fieldOf(r response) string {
	errs, _ := r.body["errors"].([]any)
	if len(errs) == 0 {
		return ""
	}
	first, _ := errs[0].(map[string]any)
	s, _ := first["field"].(string)
	return s
}

// TestJSONKeysAreCaseSensitive: a body's keys are matched exactly, in the
// entries of a batch and of associations too (seen failing: they were
// decoded into structs, and encoding/json takes "ID" for "id", and the
// last of "id" and "ID", so a proxy checking "id" saw another item).
func TestJSONKeysAreCaseSensitive(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	A := e.tokenA
	id := e.call(t, A, "POST", "/v1/groups", `{"name":"g"}`).str("id")
	cases := []struct {
		name, path, body string
	}{
		{"batch entry with ID", "/v1/groups/" + id + "/members:batch", `{"add":[{"type":"users","ID":"u-2"}]}`},
		{"batch entry with id and ID", "/v1/groups/" + id + "/members:batch", `{"add":[{"type":"users","id":"u-1","ID":"u-9"}]}`},
		{"batch entry with Type", "/v1/groups/" + id + "/members:batch", `{"add":[{"Type":"users","id":"u-1"}]}`},
		{"association entry with USER_ID", "/v1/vehicles/associations/users", `{"data":[{"vehicle_id":"v-1","USER_ID":"u-1"}]}`},
		{"association entry with user_id twice in two cases", "/v1/vehicles/associations/users", `{"data":[{"vehicle_id":"v-1","user_id":"u-1","User_Id":"u-9"}]}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			expect(t, e.call(t, A, "POST", c.path, c.body), 400, groups.CodeInvalidArgument)
		})
	}
	if n := e.call(t, A, "GET", "/v1/groups/"+id, "").num("memberCount"); n != 0 {
		t.Fatalf("memberCount = %v: an entry with a key in another case was applied", n)
	}
	expect(t, e.call(t, A, "GET", "/v1/vehicles/v-1/associations/users", ""), 200, "")
	if got := e.call(t, A, "GET", "/v1/vehicles/v-1/associations/users", "").items(); len(got) != 0 {
		t.Fatalf("associations = %v", got)
	}
}
