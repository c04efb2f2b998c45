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
