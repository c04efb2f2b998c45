package gateway_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/routes"
	"github.com/fleetgroups/fleetgroups/pkg/store"
)

// itemIDs are the ids of a list response's items.
func itemIDs(r response) []string {
	var out []string
	for _, it := range r.items() {
		out = append(out, it["id"].(string))
	}
	return out
}

// TestGroupHierarchy walks a three-level tree through the API: parents on
// create, the derived fields of every group view, navigation, the parentId
// filter, moves and their refusals, and deletes of parents.
func TestGroupHierarchy(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	A := e.tokenA
	create := func(name, parent string) response {
		t.Helper()
		body := fmt.Sprintf(`{"name":%q}`, name)
		if parent != "" {
			body = fmt.Sprintf(`{"name":%q,"parentId":%q}`, name, parent)
		}
		r := e.call(t, A, "POST", "/v1/groups", body)
		expect(t, r, 201, "")
		return r
	}
	company := create("Company", "")
	co := company.str("id")
	if company.at("parentId") != nil || company.num("depth") != 0 || company.num("childCount") != 0 {
		t.Fatalf("top-level group = %v", company.body)
	}
	region := create("Region", co).str("id")
	depot := create("Depot", region)
	if depot.str("parentId") != region || depot.num("depth") != 2 {
		t.Fatalf("depot = %v", depot.body)
	}
	dp := depot.str("id")
	if got := e.call(t, A, "GET", "/v1/groups/"+co, ""); got.num("childCount") != 1 || got.num("version") != 1 {
		t.Fatalf("company after a child = %v", got.body)
	}

	anc := e.call(t, A, "GET", "/v1/groups/"+dp+"/ancestors", "")
	expect(t, anc, 200, "")
	if got := itemIDs(anc); !slices.Equal(got, []string{co, region}) || anc.items()[1]["name"] != "Region" {
		t.Fatalf("ancestors = %v", anc.body)
	}
	desc := e.call(t, A, "GET", "/v1/groups/"+co+"/descendants", "")
	if got := itemIDs(desc); !slices.Equal(got, []string{region, dp}) {
		t.Fatalf("descendants = %v", desc.body)
	}
	kids := e.call(t, A, "GET", "/v1/groups/"+co+"/children", "")
	if got := itemIDs(kids); !slices.Equal(got, []string{region}) || kids.num("total_count") != 1 {
		t.Fatalf("children = %v", kids.body)
	}
	top := e.call(t, A, "GET", "/v1/groups?parentId=null", "")
	if got := itemIDs(top); !slices.Equal(got, []string{co}) {
		t.Fatalf("top-level groups = %v", top.body)
	}
	under := e.call(t, A, "GET", "/v1/groups?parentId="+region, "")
	if got := itemIDs(under); !slices.Equal(got, []string{dp}) {
		t.Fatalf("groups under the region = %v", under.body)
	}

	refusals := []struct {
		name, method, path, body string
		status                   int
		code                     groups.Code
	}{
		{"create under a missing parent", "POST", "/v1/groups", `{"name":"X","parentId":"grp_missing"}`, 400, groups.CodeInvalidArgument},
		{"create with a bad parentId", "POST", "/v1/groups", `{"name":"X","parentId":7}`, 400, groups.CodeInvalidArgument},
		{"create with a dot-only parentId", "POST", "/v1/groups", `{"name":"X","parentId":".."}`, 400, groups.CodeInvalidArgument},
		{"move under itself", "PATCH", "/v1/groups/" + co, fmt.Sprintf(`{"parentId":%q}`, co), 409, groups.CodeCycle},
		{"move under a descendant", "PATCH", "/v1/groups/" + co, fmt.Sprintf(`{"parentId":%q}`, dp), 409, groups.CodeCycle},
		{"delete a parent", "DELETE", "/v1/groups/" + region, "", 409, groups.CodeHasChildren},
		{"sort a subtree", "GET", "/v1/groups/" + co + "/descendants?sort=name", "", 400, groups.CodeInvalidArgument},
		{"parentId on members", "GET", "/v1/groups/" + co + "/members?parentId=null", "", 400, groups.CodeInvalidArgument},
		{"children of a missing group", "GET", "/v1/groups/grp_missing/children", "", 404, groups.CodeNotFound},
		{"ancestors of a missing group", "GET", "/v1/groups/grp_missing/ancestors", "", 404, groups.CodeNotFound},
		{"another tenant's subtree", "GET", "/v1/groups/" + co + "/descendants", "", 404, groups.CodeNotFound},
	}
	for _, c := range refusals {
		t.Run(c.name, func(t *testing.T) {
			token := A
			if c.name == "another tenant's subtree" {
				token = e.tokenB
			}
			expect(t, e.call(t, token, c.method, c.path, c.body), c.status, c.code)
		})
	}

	// A move: only the moved group's version and ETag change.
	other := create("Other company", "").str("id")
	moved := e.call(t, A, "PATCH", "/v1/groups/"+region, fmt.Sprintf(`{"parentId":%q}`, other), "If-Match", `"v1"`)
	expect(t, moved, 200, "")
	if moved.str("parentId") != other || moved.num("version") != 2 || moved.header.Get("ETag") != `"v2"` {
		t.Fatalf("moved region = %v (ETag %s)", moved.body, moved.header.Get("ETag"))
	}
	after := e.call(t, A, "GET", "/v1/groups/"+dp+"/ancestors", "")
	if got := itemIDs(after); !slices.Equal(got, []string{other, region}) {
		t.Fatalf("ancestors after the move = %v", after.body)
	}
	if d := e.call(t, A, "GET", "/v1/groups/"+dp, ""); d.num("depth") != 2 || d.num("version") != 1 || d.header.Get("ETag") != `"v1"` {
		t.Fatalf("depot after its parent moved = %v", d.body)
	}
	// To top level, then the former parent can go.
	expect(t, e.call(t, A, "PATCH", "/v1/groups/"+region, `{"parentId":null}`), 200, "")
	if c := e.call(t, A, "GET", "/v1/groups/"+co, ""); c.num("childCount") != 0 {
		t.Fatalf("company after its child moved away = %v", c.body)
	}
	expect(t, e.call(t, A, "DELETE", "/v1/groups/"+co, ""), 200, "")

	// A cascade takes the subtree with it; other groups stay.
	expect(t, e.call(t, A, "DELETE", "/v1/groups/"+other+"?cascade=maybe", ""), 400, groups.CodeInvalidArgument)
	expect(t, e.call(t, A, "PUT", "/v1/groups/"+dp+"/vehicles/veh-9", ""), 201, "")
	expect(t, e.call(t, A, "PATCH", "/v1/groups/"+region, fmt.Sprintf(`{"parentId":%q}`, other)), 200, "")
	gone := e.call(t, A, "DELETE", "/v1/groups/"+other+"?cascade=true", "")
	expect(t, gone, 200, "")
	if gone.str("id") != other {
		t.Fatalf("cascade answered %v", gone.body)
	}
	for _, id := range []string{other, region, dp} {
		expect(t, e.call(t, A, "GET", "/v1/groups/"+id, ""), 404, groups.CodeNotFound)
	}
	if r := e.call(t, A, "GET", "/v1/vehicles/veh-9/groups", ""); len(r.items()) != 0 {
		t.Fatalf("veh-9 is still in %v", r.body)
	}
}

// TestGroupDepthLimit: ten levels fit, the eleventh is 409 too_deep, on
// create and on a move.
func TestGroupDepthLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	A := e.tokenA
	parent := "null"
	var ids []string
	for depth := 0; depth <= groups.MaxDepth; depth++ {
		r := e.call(t, A, "POST", "/v1/groups", fmt.Sprintf(`{"name":"L%d","parentId":%s}`, depth, parent))
		expect(t, r, 201, "")
		if r.num("depth") != float64(depth) {
			t.Fatalf("level %d: depth %v", depth, r.at("depth"))
		}
		ids = append(ids, r.str("id"))
		parent = fmt.Sprintf("%q", r.str("id"))
	}
	expect(t, e.call(t, A, "POST", "/v1/groups", fmt.Sprintf(`{"name":"L10","parentId":%s}`, parent)), 409, groups.CodeTooDeep)
	pair := e.call(t, A, "POST", "/v1/groups", `{"name":"Pair"}`).str("id")
	expect(t, e.call(t, A, "POST", "/v1/groups", fmt.Sprintf(`{"name":"Pair child","parentId":%q}`, pair)), 201, "")
	expect(t, e.call(t, A, "PATCH", "/v1/groups/"+pair, fmt.Sprintf(`{"parentId":%q}`, ids[8])), 409, groups.CodeTooDeep)
	expect(t, e.call(t, A, "PATCH", "/v1/groups/"+pair, fmt.Sprintf(`{"parentId":%q}`, ids[7])), 200, "")
}

// TestMembershipChecks: inherited membership through the API, checks with
// paths and per-id errors, and read-your-writes after a remove.
func TestMembershipChecks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	A := e.tokenA
	company := e.call(t, A, "POST", "/v1/groups", `{"name":"Company"}`).str("id")
	depot := e.call(t, A, "POST", "/v1/groups", fmt.Sprintf(`{"name":"Depot","parentId":%q,"vehicles":["veh-1"]}`, company)).str("id")
	elsewhere := e.call(t, A, "POST", "/v1/groups", `{"name":"Elsewhere"}`).str("id")
	theirs := e.call(t, e.tokenB, "POST", "/v1/groups", `{"name":"B's"}`).str("id")

	eff := e.call(t, A, "GET", "/v1/vehicles/veh-1/groups?scope=effective", "")
	expect(t, eff, 200, "")
	byID := map[string]map[string]any{}
	for _, g := range eff.items() {
		byID[g["id"].(string)] = g
	}
	if len(byID) != 2 || byID[company]["direct"] != false || byID[depot]["direct"] != true ||
		fmt.Sprint(byID[company]["path"]) != fmt.Sprint([]any{company, depot}) {
		t.Fatalf("effective groups = %s", eff.raw)
	}

	body := fmt.Sprintf(`{"groupIds":[%q,%q,%q,"grp_missing","..",%q]}`, company, elsewhere, theirs, depot)
	res := e.call(t, A, "POST", "/v1/vehicles/veh-1/groups:check", body)
	expect(t, res, 200, "")
	results := res.at("results").([]any)
	want := []string{
		fmt.Sprintf(`map[direct:false groupId:%s member:true path:[%s %s]]`, company, company, depot),
		fmt.Sprintf(`map[direct:false groupId:%s member:false path:[]]`, elsewhere),
		fmt.Sprintf(`map[error:map[code:not_found detail:the tenant has no such group] groupId:%s]`, theirs),
		`map[error:map[code:not_found detail:the tenant has no such group] groupId:grp_missing]`,
		"", // "..": invalid_argument, checked below
		fmt.Sprintf(`map[direct:true groupId:%s member:true path:[%s]]`, depot, depot),
	}
	for i, w := range want {
		if got := fmt.Sprint(results[i]); w != "" && got != w {
			t.Errorf("result %d = %s, want %s", i, got, w)
		}
	}
	if code := results[4].(map[string]any)["error"].(map[string]any)["code"]; code != "invalid_argument" {
		t.Errorf("result for .. = %v", results[4])
	}

	for _, c := range []struct{ name, body string }{
		{"no ids", `{"groupIds":[]}`},
		{"missing", `{}`},
		{"not strings", `{"groupIds":[1]}`},
		{"unknown field", `{"groupIds":["g"],"x":1}`},
		{"101 ids", `{"groupIds":[` + strings.TrimSuffix(strings.Repeat(`"g",`, 101), ",") + `]}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			expect(t, e.call(t, A, "POST", "/v1/vehicles/veh-1/groups:check", c.body), 400, groups.CodeInvalidArgument)
		})
	}
	expect(t, e.call(t, A, "GET", "/v1/vehicles/veh-1/groups?scope=all", ""), 400, groups.CodeInvalidArgument)

	// Right after the remove, the company no longer holds it.
	expect(t, e.call(t, A, "DELETE", "/v1/groups/"+depot+"/vehicles/veh-1", ""), 204, "")
	after := e.call(t, A, "POST", "/v1/vehicles/veh-1/groups:check", fmt.Sprintf(`{"groupIds":[%q]}`, company))
	if got := fmt.Sprint(after.at("results")); got != fmt.Sprintf(`[map[direct:false groupId:%s member:false path:[]]]`, company) {
		t.Fatalf("after the remove: %s", got)
	}
}

// TestSubtreeMembersAPI: list-members ?scope=subtree through the API, and
// the parameters it refuses.
func TestSubtreeMembersAPI(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	A := e.tokenA
	top := e.call(t, A, "POST", "/v1/groups", `{"name":"Top","vehicles":["veh-1"]}`).str("id")
	sub := e.call(t, A, "POST", "/v1/groups", fmt.Sprintf(`{"name":"Sub","parentId":%q,"vehicles":["veh-1","veh-2"],"users":["usr-1"]}`, top)).str("id")
	expect(t, e.call(t, A, "PUT", "/v1/vehicles/veh-2", `{"name":"Van 2"}`), 201, "")

	r := e.call(t, A, "GET", "/v1/groups/"+top+"/members?scope=subtree&include=item", "")
	expect(t, r, 200, "")
	got := fmt.Sprint(r.items())
	want := fmt.Sprintf("[map[itemId:usr-1 itemType:users via:[%s] viaCount:1] map[itemId:veh-1 itemType:vehicles via:%v viaCount:2] map[item:map[name:Van 2] itemId:veh-2 itemType:vehicles via:[%s] viaCount:1]]",
		sub, fmt.Sprint(sorted(top, sub)), sub)
	if got != want {
		t.Fatalf("subtree members = %s, want %s", got, want)
	}
	page := e.call(t, A, "GET", "/v1/groups/"+top+"/vehicles?scope=subtree&limit=1", "")
	next := e.call(t, A, "GET", "/v1/groups/"+top+"/vehicles?scope=subtree&limit=1&cursor="+page.str("next_cursor"), "")
	if fmt.Sprint(itemIDsOf(page), itemIDsOf(next)) != "[veh-1] [veh-2]" || next.at("next_cursor") != nil {
		t.Fatalf("pages: %s then %s", page.raw, next.raw)
	}
	// The cursor is bound to the scope.
	expect(t, e.call(t, A, "GET", "/v1/groups/"+top+"/vehicles?limit=1&cursor="+page.str("next_cursor"), ""), 400, groups.CodeInvalidCursor)
	for _, q := range []string{"scope=all", "scope=subtree&page=2", "scope=subtree&sort=created", "scope=subtree&count=true"} {
		t.Run(q, func(t *testing.T) {
			expect(t, e.call(t, A, "GET", "/v1/groups/"+top+"/members?"+q, ""), 400, groups.CodeInvalidArgument)
		})
	}
}

func sorted(ids ...string) []string { return slices.Sorted(slices.Values(ids)) }

func itemIDsOf(r response) []string {
	var out []string
	for _, it := range r.items() {
		out = append(out, it["itemId"].(string))
	}
	return out
}

// TestLargeMoveOverHTTP: a move of more groups than one transaction takes
// that is not finished by the request's deadline answers 202 with
// Retry-After and the group as it stands, and gives its Idempotency-Key
// up; a request that reaches the subtree without time to finish the move
// answers 409 move_in_progress with Retry-After; the PATCH repeated
// finishes the move, and the whole subtree shows it.
func TestLargeMoveOverHTTP(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	A := e.tokenA
	late := e.withStore(t, func(st *store.Store) {
		st.PurgeReserve = routes.LambdaTimeoutSeconds * time.Second
		st.AtomicMoveSize = 2 // a move of a group with two descendants goes step by step
	})
	create := func(name, parent string) string {
		t.Helper()
		body := fmt.Sprintf(`{"name":%q}`, name)
		if parent != "" {
			body = fmt.Sprintf(`{"name":%q,"parentId":%q}`, name, parent)
		}
		return e.call(t, A, "POST", "/v1/groups", body).str("id")
	}
	region := create("Region", "")
	depot := create("Depot", region)
	team := create("Team", depot)
	company := create("Company", "")
	path, body := "/v1/groups/"+region, fmt.Sprintf(`{"parentId":%q}`, company)

	first := late.call(t, A, "PATCH", path, body, key("move")...)
	expect(t, first, 202, "")
	if first.header.Get("Retry-After") != "1" || first.str("id") != region || first.at("parentId") != nil {
		t.Fatalf("202 = %v %v, want Retry-After: 1 and the group as it stands", first.header, first.body)
	}
	for _, p := range []string{path, "/v1/groups/" + company, "/v1/groups/" + company + "/children"} {
		busy := late.call(t, A, "GET", p, "")
		expect(t, busy, 409, groups.CodeMoveInProgress)
		if busy.header.Get("Retry-After") != "1" {
			t.Errorf("GET %s: 409 without Retry-After", p)
		}
	}

	again := e.call(t, A, "PATCH", path, body, key("move")...)
	expect(t, again, 200, "")
	if again.header.Get("Idempotent-Replayed") != "" || again.str("parentId") != company {
		t.Fatalf("PATCH repeated = %v %v, want it run and the group moved", again.header, again.body)
	}
	for id, depth := range map[string]float64{region: 1, depot: 2, team: 3} {
		if g := e.call(t, A, "GET", "/v1/groups/"+id, ""); g.num("depth") != depth || g.num("version") != 1 && id != region {
			t.Errorf("group %s after the move: %v, want depth %v", id, g.body, depth)
		}
	}
	anc := e.call(t, A, "GET", "/v1/groups/"+team+"/ancestors", "")
	if got := itemIDs(anc); !slices.Equal(got, []string{company, region, depot}) {
		t.Errorf("ancestors of the team = %v", got)
	}
}
