package gateway_test

import (
	"testing"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
)

// The edges of a request: paths, headers and queries that could be read
// more than one way. Each is refused with a problem document, and nothing is
// written.

// TestDotOnlyIDs: an id of dots only would be a dot segment in every path
// that names it, so no route could reach it safely; it is refused wherever an
// id enters.
func TestDotOnlyIDs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	g := e.call(t, e.tokenA, "POST", "/v1/groups", `{"name":"Dotted"}`).str("id")
	cases := []struct {
		name, method, path, body, field string
	}{
		{"create-400-dotdot-member", "POST", "/v1/groups", `{"name":"x","vehicles":[".."]}`, "vehicles[0]"},
		{"batch-400-dot-id", "POST", "/v1/groups/" + g + "/members:batch", `{"add":[{"type":"users","id":"."}]}`, "add[0]"},
		{"add-member-400-encoded-dotdot", "PUT", "/v1/groups/" + g + "/vehicles/%2E%2E", "", "itemId"},
		{"put-item-400-three-dots", "PUT", "/v1/vehicles/...", `{"name":"x"}`, "itemId"},
		{"put-item-400-encoded-dot", "PUT", "/v1/devices/%2e", `{"name":"x"}`, "itemId"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.call(t, e.tokenA, c.method, c.path, c.body)
			expect(t, r, 400, groups.CodeInvalidArgument)
			errs, _ := r.body["errors"].([]any)
			if len(errs) == 0 || errs[0].(map[string]any)["field"] != c.field {
				t.Fatalf("errors = %v, want %s", r.body["errors"], c.field)
			}
		})
	}
	if r := e.call(t, e.tokenA, "GET", "/v1/groups/"+g, ""); r.num("memberCount") != 0 {
		t.Fatalf("a dot id was added: %v", r.body)
	}
}
