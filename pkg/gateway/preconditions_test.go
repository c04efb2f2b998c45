package gateway_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/storetest"
)

// Concurrency: a group's ETag is its version; GET honours If-None-Match,
// PATCH and DELETE honour If-Match.

func TestETags(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	A := e.tokenA
	created := e.call(t, A, "POST", "/v1/groups", `{"name":"Tagged"}`)
	id := created.str("id")
	if created.header.Get("ETag") != `"v1"` {
		t.Fatalf("create ETag = %q, want \"v1\"", created.header.Get("ETag"))
	}
	steps := []struct {
		name, token, method, path, body string
		headers                         []string
		status                          int
		code                            groups.Code
		etag                            string // the response's ETag, when it has one
	}{
		{"get-200-etag", A, "GET", "/v1/groups/" + id, "", nil, 200, "", `"v1"`},
		{"get-304-if-none-match", A, "GET", "/v1/groups/" + id, "", []string{"If-None-Match", `"v1"`}, 304, "", `"v1"`},
		{"get-304-if-none-match-weak", A, "GET", "/v1/groups/" + id, "", []string{"If-None-Match", `W/"v1"`}, 304, "", `"v1"`},
		{"get-304-if-none-match-list", A, "GET", "/v1/groups/" + id, "", []string{"If-None-Match", `"x,y", "v1"`}, 304, "", `"v1"`},
		{"get-304-if-none-match-star", A, "GET", "/v1/groups/" + id, "", []string{"If-None-Match", `*`}, 304, "", `"v1"`},
		{"get-200-if-none-match-other", A, "GET", "/v1/groups/" + id, "", []string{"If-None-Match", `"v2"`}, 200, "", `"v1"`},
		{"get-400-if-none-match-malformed", A, "GET", "/v1/groups/" + id, "", []string{"If-None-Match", `v1`}, 400, groups.CodeInvalidArgument, ""},
		{"get-404-if-none-match-other-tenant", e.tokenB, "GET", "/v1/groups/" + id, "", []string{"If-None-Match", `*`}, 404, groups.CodeNotFound, ""},
		{"patch-412-stale", A, "PATCH", "/v1/groups/" + id, `{"description":"x"}`, []string{"If-Match", `"v2"`}, 412, groups.CodePreconditionFailed, ""},
		{"rename-412-stale", A, "PATCH", "/v1/groups/" + id, `{"name":"Tagged renamed"}`, []string{"If-Match", `"v7"`}, 412, groups.CodePreconditionFailed, ""},
		{"delete-412-stale", A, "DELETE", "/v1/groups/" + id, "", []string{"If-Match", `"v2"`}, 412, groups.CodePreconditionFailed, ""},
		// RFC 9110 §13.1.1: any list of entity tags is valid; no strong tag
		// of it names the current version, so the condition is false.
		{"patch-412-if-match-weak", A, "PATCH", "/v1/groups/" + id, `{"description":"x"}`, []string{"If-Match", `W/"v1"`}, 412, groups.CodePreconditionFailed, ""},
		{"patch-412-if-match-list-stale", A, "PATCH", "/v1/groups/" + id, `{"description":"x"}`, []string{"If-Match", `"v9", "v2"`}, 412, groups.CodePreconditionFailed, ""},
		{"rename-412-if-match-list-weak-current", A, "PATCH", "/v1/groups/" + id, `{"name":"x"}`, []string{"If-Match", `"v9", W/"v1"`}, 412, groups.CodePreconditionFailed, ""},
		{"patch-412-if-match-not-issued", A, "PATCH", "/v1/groups/" + id, `{"description":"x"}`, []string{"If-Match", `"stale"`}, 412, groups.CodePreconditionFailed, ""},
		{"delete-412-if-match-zero", A, "DELETE", "/v1/groups/" + id, "", []string{"If-Match", `"v0"`}, 412, groups.CodePreconditionFailed, ""},
		{"delete-412-if-match-empty-tag", A, "DELETE", "/v1/groups/" + id, "", []string{"If-Match", `""`}, 412, groups.CodePreconditionFailed, ""},
		// Only a header that is not "*" or a list of entity tags is malformed.
		{"patch-400-if-match-unquoted", A, "PATCH", "/v1/groups/" + id, `{"description":"x"}`, []string{"If-Match", `v1`}, 400, groups.CodeInvalidArgument, ""},
		{"patch-400-if-match-star-in-list", A, "PATCH", "/v1/groups/" + id, `{"description":"x"}`, []string{"If-Match", `*, "v1"`}, 400, groups.CodeInvalidArgument, ""},
		{"delete-400-if-match-unterminated", A, "DELETE", "/v1/groups/" + id, "", []string{"If-Match", `"v1`}, 400, groups.CodeInvalidArgument, ""},
		// §13.2.1: a request that fails without its precondition fails the
		// same way with it, so a missing group is 404 whatever the tags.
		{"patch-404-missing-not-issued", A, "PATCH", "/v1/groups/grp_missing", `{"description":"x"}`, []string{"If-Match", `"stale"`}, 404, groups.CodeNotFound, ""},
		{"rename-404-other-tenant-weak", e.tokenB, "PATCH", "/v1/groups/" + id, `{"name":"x"}`, []string{"If-Match", `W/"v1"`}, 404, groups.CodeNotFound, ""},
		{"delete-404-missing-list", A, "DELETE", "/v1/groups/grp_missing", "", []string{"If-Match", `"v9", "v1"`}, 404, groups.CodeNotFound, ""},
		{"patch-404-other-tenant", e.tokenB, "PATCH", "/v1/groups/" + id, `{"description":"x"}`, []string{"If-Match", `"v1"`}, 404, groups.CodeNotFound, ""},
		{"rename-404-other-tenant", e.tokenB, "PATCH", "/v1/groups/" + id, `{"name":"x"}`, []string{"If-Match", `"v1"`}, 404, groups.CodeNotFound, ""},
		{"delete-404-other-tenant", e.tokenB, "DELETE", "/v1/groups/" + id, "", []string{"If-Match", `"v1"`}, 404, groups.CodeNotFound, ""},
		{"patch-404-missing", A, "PATCH", "/v1/groups/grp_missing", `{"description":"x"}`, []string{"If-Match", `"v1"`}, 404, groups.CodeNotFound, ""},
		{"get-200-unchanged-after-refusals", A, "GET", "/v1/groups/" + id, "", nil, 200, "", `"v1"`},
		{"patch-200-current", A, "PATCH", "/v1/groups/" + id, `{"description":"x"}`, []string{"If-Match", `"v1"`}, 200, "", `"v2"`},
		{"get-200-if-none-match-old", A, "GET", "/v1/groups/" + id, "", []string{"If-None-Match", `"v1"`}, 200, "", `"v2"`},
		{"patch-200-star", A, "PATCH", "/v1/groups/" + id, `{"description":"y"}`, []string{"If-Match", `*`}, 200, "", `"v3"`},
		{"patch-200-list-names-current", A, "PATCH", "/v1/groups/" + id, `{"description":"z"}`, []string{"If-Match", `"v9", "other", "v3"`}, 200, "", `"v4"`},
		{"rename-200-current", A, "PATCH", "/v1/groups/" + id, `{"name":"Tagged renamed"}`, []string{"If-Match", `W/"v4", "v4"`}, 200, "", `"v5"`},
		{"add-member-moves-etag", A, "PUT", "/v1/groups/" + id + "/vehicles/veh-1", "", nil, 201, "", ""},
		{"get-200-etag-after-member", A, "GET", "/v1/groups/" + id, "", nil, 200, "", `"v6"`},
		{"delete-412-stale-with-members", A, "DELETE", "/v1/groups/" + id, "", []string{"If-Match", `"v5"`}, 412, groups.CodePreconditionFailed, ""},
		{"delete-412-not-issued-with-members", A, "DELETE", "/v1/groups/" + id, "", []string{"If-Match", `"stale"`}, 412, groups.CodePreconditionFailed, ""},
		{"get-200-still-there", A, "GET", "/v1/groups/" + id, "", nil, 200, "", `"v6"`},
		{"delete-200-list-names-current", A, "DELETE", "/v1/groups/" + id, "", []string{"If-Match", `"v5", "v6"`}, 200, "", `"v6"`},
		{"delete-404-after-delete", A, "DELETE", "/v1/groups/" + id, "", []string{"If-Match", `"v6"`}, 404, groups.CodeNotFound, ""},
		{"get-404-if-none-match-star-after-delete", A, "GET", "/v1/groups/" + id, "", []string{"If-None-Match", `*`}, 404, groups.CodeNotFound, ""},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			r := e.call(t, s.token, s.method, s.path, s.body, s.headers...)
			expect(t, r, s.status, s.code)
			if r.header.Get("ETag") != s.etag {
				t.Fatalf("ETag = %q, want %q", r.header.Get("ETag"), s.etag)
			}
			if s.status == 304 && r.body != nil {
				t.Fatalf("304 with a body: %v", r.body)
			}
			if s.status == 200 && s.method != "DELETE" && s.etag != "" && fmt.Sprintf(`"v%v"`, r.num("version")) != s.etag {
				t.Fatalf("ETag %q does not name version %v", s.etag, r.num("version"))
			}
			if s.code == groups.CodeInvalidArgument {
				if errs, _ := r.body["errors"].([]any); len(errs) == 0 || !strings.HasPrefix(errs[0].(map[string]any)["field"].(string), "If-") {
					t.Fatalf("errors = %v, want the header named", r.body["errors"])
				}
			}
		})
	}
}

// TestIfMatchRace: writers that all send the same ETag change the group
// once; the others are told it moved on.
func TestIfMatchRace(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cases := []struct{ name, patch string }{
		{"describe-one-200-rest-412", `{"description":"%d"}`},
		{"rename-one-200-rest-412", `{"name":"Renamed %d"}`},
	}
	for n, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			patch := c.patch
			g := e.call(t, e.tokenA, "POST", "/v1/groups", fmt.Sprintf(`{"name":"Race %d"}`, n))
			const writers = 8
			status := make([]int, writers)
			storetest.Race(writers, func(i int) {
				r := e.call(t, e.tokenA, "PATCH", "/v1/groups/"+g.str("id"), fmt.Sprintf(patch, i), "If-Match", g.header.Get("ETag"))
				status[i] = r.status
			})
			wins := 0
			for _, s := range status {
				switch s {
				case 200:
					wins++
				case 412:
				default:
					t.Fatalf("statuses %v, want 200 or 412", status)
				}
			}
			if got := e.call(t, e.tokenA, "GET", "/v1/groups/"+g.str("id"), ""); wins != 1 || got.num("version") != 2 {
				t.Fatalf("statuses %v, version %v; want one 200 and version 2", status, got.num("version"))
			}
		})
	}
}
