package gateway_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/fleetgroups/fleetgroups/pkg/api"
	"github.com/fleetgroups/fleetgroups/pkg/auth"
	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/routes"
)

// The security table: every route of the route table, with another
// tenant's ids, every kind of failed authentication, an oversize body
// (writes) and tampered cursors (lists). Routes are read from routes.Routes,
// so a new route is covered, or this test names it, without editing here.

// send is call with the request's header lines given as they are, so that a
// test can send a header twice or not at all.
func (e *env) send(t *testing.T, method, path, body string, header http.Header) response {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header.Clone()
	if body != "" && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	return e.do(t, req)
}

// tenantFixture is tenant A's data on every route: a group holding, and two
// items of each type (both registered, both members of two groups), and
// two associations on each side. Every list of A has two entries, so a
// cursor for each.
type tenantFixture struct {
	group, group2 string
	assoc         string
	webhook       string
}

const itemA, itemB = "item-a", "item-b"

func newTenantFixture(t *testing.T, e *env) tenantFixture {
	t.Helper()
	A := e.tokenA
	var fx tenantFixture
	members := map[string][]string{}
	for _, it := range groups.ItemTypes {
		members[string(it)] = []string{itemA, itemB}
		for _, id := range []string{itemA, itemB} {
			expect(t, e.call(t, A, "PUT", "/v1/"+string(it)+"/"+id, `{"name":"A's `+id+`","enterprise":"Acme"}`), 201, "")
		}
	}
	body, _ := json.Marshal(members)
	for i, g := range []*string{&fx.group, &fx.group2} {
		with := map[string]any{"name": fmt.Sprintf("A's group %d", i)}
		_ = json.Unmarshal(body, &with)
		b, _ := json.Marshal(with)
		r := e.call(t, A, "POST", "/v1/groups", string(b))
		expect(t, r, 201, "")
		*g = r.str("id")
	}
	// Two children and a grandchild, for the tree routes' cursors.
	for i := range 2 {
		r := e.call(t, A, "POST", "/v1/groups", fmt.Sprintf(`{"name":"A's child %d","parentId":%q}`, i, fx.group))
		expect(t, r, 201, "")
		if i == 0 {
			expect(t, e.call(t, A, "POST", "/v1/groups", fmt.Sprintf(`{"name":"A's grandchild","parentId":%q}`, r.str("id"))), 201, "")
		}
	}
	r := e.call(t, A, "POST", "/v1/vehicles/associations/users", `{"data":[`+
		`{"vehicle_id":"item-a","user_id":"item-a"},{"vehicle_id":"item-a","user_id":"item-b"},{"vehicle_id":"item-b","user_id":"item-a"}]}`)
	expect(t, r, 201, "")
	fx.assoc = r.at("data").([]any)[0].(map[string]any)["id"].(string)
	// Two webhooks and two deliveries (tests, to where nothing listens),
	// for the lists' cursors.
	for i := range 2 {
		r = e.call(t, A, "POST", "/v1/webhooks", fmt.Sprintf(`{"url":"http://127.0.0.1:9/a%d","description":"A's webhook"}`, i))
		expect(t, r, 201, "")
		fx.webhook = r.str("id")
	}
	for range 2 {
		expect(t, e.call(t, A, "POST", "/v1/webhooks/"+fx.webhook+"/test", ""), 200, "")
	}
	return fx
}

// path is rt's path with A's ids in it: its group, item-a, vehicles where
// the route leaves the item type open, its webhook and a delivery (with
// the action the route's POST requires).
func (fx tenantFixture) path(rt routes.Route) string {
	webhook := fx.webhook
	if rt.Operation == routes.RotateWebhookSecret {
		webhook += ":rotate-secret"
	}
	return strings.NewReplacer("{groupId}", fx.group, "{itemType}", string(groups.Vehicles), "{itemId}", itemA,
		"{webhookId}", webhook, "{deliveryId}", "1795964400000_evt_a:retry").Replace(rt.Path)
}

// snapshot is everything A can read, to compare before and after.
func (fx tenantFixture) snapshot(t *testing.T, e *env) string {
	t.Helper()
	paths := []string{"/v1/groups", "/v1/groups/" + fx.group, "/v1/groups/" + fx.group2 + "/members",
		"/v1/groups/" + fx.group + "/descendants",
		"/v1/groups/" + fx.group + "/members", "/v1/vehicles/item-a/associations/users", "/v1/users/item-a/associations/vehicles",
		"/v1/webhooks", "/v1/webhooks/" + fx.webhook}
	for _, it := range groups.ItemTypes {
		paths = append(paths, "/v1/"+string(it), "/v1/"+string(it)+"/"+itemA, "/v1/"+string(it)+"/"+itemA+"/groups")
	}
	var b strings.Builder
	for _, p := range paths {
		r := e.call(t, e.tokenA, "GET", p, "")
		fmt.Fprintf(&b, "%s %d %s\n", p, r.status, r.raw)
	}
	return b.String()
}

// isolation is what tenant B gets on a route when it names A's ids: never
// anything that tells A's data exists.
type isolation struct {
	name   string
	body   string
	status int
	code   groups.Code
	// check, if set, checks the answer further; undo, if set, removes what
	// B created, so that later cases see no data of B's.
	check func(t *testing.T, r response)
	undo  func(t *testing.T, r response)
}

// isolationCase is the case of rt, or false for a route this test does not
// know yet, which fails it.
func isolationCase(e *env, fx tenantFixture, rt routes.Route) (isolation, bool) {
	noneOfA := func(t *testing.T, r response) {
		t.Helper()
		if len(r.items()) != 0 || strings.Contains(string(r.raw), "A's") {
			t.Fatalf("B sees A's entries: %s", r.raw)
		}
	}
	switch rt.Operation {
	case routes.GetGroup, routes.DeleteGroup, routes.ListMembers, routes.AddMember, routes.RemoveMember, routes.GetItem, routes.DeleteItem,
		routes.ListChildren, routes.ListDescendants, routes.GetAncestors,
		routes.GetWebhook, routes.DeleteWebhook, routes.RotateWebhookSecret, routes.TestWebhook, routes.ListDeliveries, routes.RetryDelivery:
		return isolation{name: "404-not-found", status: 404, code: groups.CodeNotFound}, true
	case routes.UpdateWebhook:
		return isolation{name: "404-not-found", body: `{"url":"http://127.0.0.1:9/b"}`, status: 404, code: groups.CodeNotFound}, true
	case routes.CreateWebhook:
		return isolation{name: "201-own-webhook", body: `{"url":"http://127.0.0.1:9/b"}`, status: 201,
			undo: func(t *testing.T, r response) {
				expect(t, e.call(t, e.tokenB, "DELETE", "/v1/webhooks/"+r.str("id"), ""), 204, "")
			}}, true
	case routes.UpdateGroup:
		return isolation{name: "404-not-found", body: `{"name":"B's now"}`, status: 404, code: groups.CodeNotFound}, true
	case routes.BatchMembers:
		return isolation{name: "404-not-found", body: `{"add":[{"type":"users","id":"u-b"}],"remove":[{"type":"vehicles","id":"item-a"}]}`,
			status: 404, code: groups.CodeNotFound}, true
	case routes.DeleteAssociations:
		return isolation{name: "404-association-not-found", body: `{"data":[{"type":"user_permission","id":"` + fx.assoc + `"}]}`,
			status: 404, code: groups.CodeAssociationNotFound}, true
	case routes.ListGroups, routes.ListItems, routes.ListItemGroups, routes.ListAssociations, routes.ListWebhooks:
		return isolation{name: "200-none-of-A", status: 200, check: noneOfA}, true
	case routes.CreateGroup:
		// A 409 would tell B that A has a group of this name.
		return isolation{name: "201-names-are-per-tenant", body: `{"name":"A's group 0"}`, status: 201,
			undo: func(t *testing.T, r response) {
				expect(t, e.call(t, e.tokenB, "DELETE", "/v1/groups/"+r.str("id"), ""), 200, "")
			}}, true
	case routes.PutItem:
		// 201, not 200: B registers its own item-a; A's is not replaced.
		return isolation{name: "201-own-registration", body: `{"name":"B's"}`, status: 201,
			undo: func(t *testing.T, _ response) { expect(t, e.call(t, e.tokenB, "DELETE", fx.path(rt), ""), 200, "") }}, true
	case routes.CreateAssociations:
		// 201 created, not already_exists: the pair is B's own.
		return isolation{name: "201-own-association", body: `{"data":[{"vehicle_id":"item-a","user_id":"item-a"}]}`, status: 201,
			check: func(t *testing.T, r response) {
				if st := r.at("data").([]any)[0].(map[string]any)["status"]; st != "created" {
					t.Fatalf("B's association: %s", r.raw)
				}
			},
			undo: func(t *testing.T, _ response) {
				id := e.call(t, e.tokenB, "GET", "/v1/vehicles/item-a/associations/users", "").items()[0]["id"].(string)
				expect(t, e.call(t, e.tokenB, "DELETE", "/v1/vehicles/associations/users", `{"data":[{"type":"user_permission","id":"`+id+`"}]}`), 200, "")
			}}, true
	case routes.CheckMembership:
		// A's groups are no groups of B's: each answers not_found.
		return isolation{name: "200-not-found-entries", body: `{"groupIds":["` + fx.group + `","` + fx.group2 + `"]}`, status: 200,
			check: func(t *testing.T, r response) {
				for _, res := range r.at("results").([]any) {
					if res.(map[string]any)["error"].(map[string]any)["code"] != "not_found" {
						t.Fatalf("B checks A's groups: %s", r.raw)
					}
				}
			}}, true
	case routes.GetUsage:
		return isolation{name: "200-own-usage", status: 200}, true
	case routes.ListChanges:
		// B's feed holds B's own events (the cases before made some),
		// none of A's, which are published (awaitFeed).
		return isolation{name: "200-no-event-of-A", status: 200, check: func(t *testing.T, r response) {
			for _, a := range []string{fx.group, fx.group2, fx.assoc, "A's item"} {
				if strings.Contains(string(r.raw), a) {
					t.Fatalf("B's feed shows A's changes (%s): %s", a, r.raw)
				}
			}
		}}, true
	case routes.GetOpenAPI:
		return isolation{name: "200-public", status: 200}, true
	}
	return isolation{}, false
}

// TestSecurityTenantIsolation: tenant B, on every route, with A's group,
// item and association ids, learns nothing of A's data (404 where A's ids
// are named, B's own empty lists, B's own creations), and A's data is the
// same afterwards.
func TestSecurityTenantIsolation(t *testing.T) {
	t.Parallel()
	e := newFeedEnv(t)
	fx := newTenantFixture(t, e)
	e.awaitFeed(t, e.tokenA, fx.group2) // so that B's feed could show A's
	before := fx.snapshot(t, e)
	for _, rt := range routes.Routes {
		c, ok := isolationCase(e, fx, rt)
		if !ok {
			t.Errorf("%s (%s) has no tenant isolation case: add one to isolationCase", rt.Pattern(), rt.Operation)
			continue
		}
		t.Run(rt.Pattern()+"/"+c.name, func(t *testing.T) {
			r := e.call(t, e.tokenB, rt.Method, fx.path(rt), c.body)
			expect(t, r, c.status, c.code)
			if c.check != nil {
				c.check(t, r)
			}
			if c.undo != nil {
				c.undo(t, r)
			}
		})
	}
	if after := fx.snapshot(t, e); after != before {
		t.Fatalf("A's data changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// TestSecurityAuthentication: every route but the public ones answers every
// failed authentication with 401 unauthenticated and WWW-Authenticate:
// Bearer (RFC 9110 §11.6.1, RFC 6750 §3), before any operation runs.
//
// Decisions: the scheme is case-insensitive (RFC 9110 §11.1), so "bearer"
// and "BEARER" are accepted, as is more than one space after it (RFC 9110
// §11.4: 1*SP); the token is one b64token (RFC 6750 §2.1), so anything after
// it is part of a token that does not exist. A request with two
// Authorization lines is refused: the field is not a list (RFC 9110 §11.6.2),
// so which line counts would be a guess.
// Tenants cannot be deleted (fleetgroups-admin has no such command), so
// there is no "deleted tenant" case; a revoked token is the closest.
func TestSecurityAuthentication(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	tenantA, _ := auth.TenantOf(e.tokenA)
	tenantB, _ := auth.TenantOf(e.tokenB)
	revoked := auth.NewToken(tenantA)
	if _, err := e.st.CreateToken(ctx, tenantA, groups.Token{Hash: auth.HashToken(revoked), Label: "revoked"}); err != nil {
		t.Fatal(err)
	}
	expect(t, e.call(t, revoked, "GET", "/v1/groups", ""), 200, "") // it worked once
	if err := e.st.DeleteToken(ctx, tenantA, auth.HashToken(revoked)); err != nil {
		t.Fatal(err)
	}
	_, secretA, _ := strings.Cut(e.tokenA, ".")
	forged := e.tokenA[:len(e.tokenA)-1] + map[bool]string{true: "b", false: "a"}[strings.HasSuffix(e.tokenA, "a")]
	lines := func(vs ...string) http.Header { return http.Header{"Authorization": vs} }
	cases := []struct {
		name   string
		header http.Header
	}{
		{"401-no-header", http.Header{}},
		{"401-empty-header", lines("")},
		{"401-scheme-only", lines("Bearer")},
		{"401-bearer-blank", lines("Bearer   ")},
		{"401-no-scheme", lines(e.tokenA)},
		{"401-basic-scheme", lines("Basic " + base64.StdEncoding.EncodeToString([]byte(tenantA+":"+e.tokenA)))},
		{"401-other-scheme", lines("Token " + e.tokenA)},
		{"401-malformed-token", lines("Bearer hello")},
		{"401-malformed-tenant-id", lines("Bearer fg_TN_A." + secretA)},
		{"401-unknown-tenant", lines("Bearer fg_tn_nobody." + secretA)},
		{"401-wrong-secret", lines("Bearer " + forged)},
		{"401-secret-of-another-tenant", lines("Bearer fg_" + tenantB + "." + secretA)},
		{"401-revoked-token", lines("Bearer " + revoked)},
		{"401-token-and-more", lines("Bearer " + e.tokenA + " " + e.tokenA)},
		{"401-token-with-comma", lines("Bearer " + e.tokenA + ",")},
		{"401-two-headers-bad-then-good", lines("Bearer hello", "Bearer "+e.tokenA)},
		{"401-two-headers-good-then-bad", lines("Bearer "+e.tokenA, "Bearer hello")},
	}
	for _, rt := range routes.Routes {
		if routes.IsPublic(rt.Operation) {
			continue
		}
		path := strings.NewReplacer("{groupId}", "grp_x", "{itemType}", "vehicles", "{itemId}", "v1").Replace(rt.Path)
		body := ""
		if rt.Method != "GET" {
			body = "{}"
		}
		t.Run(rt.Pattern(), func(t *testing.T) {
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					r := e.send(t, rt.Method, path, body, c.header)
					if len(c.header["Authorization"]) > 1 && r.status != 401 {
						t.Fatalf("several Authorization headers not refused with 401: %s %s: %d", rt.Method, path, r.status)
					}
					expect(t, r, 401, groups.CodeUnauthenticated)
					if got := r.header.Values("WWW-Authenticate"); len(got) != 1 || got[0] != "Bearer" {
						t.Fatalf("WWW-Authenticate = %q, want Bearer", got)
					}
				})
			}
		})
	}
	for _, c := range []struct{ name, authorization string }{
		{"200-lower-case-scheme", "bearer " + e.tokenA},
		{"200-upper-case-scheme", "BEARER " + e.tokenA},
		{"200-spaces-after-scheme", "Bearer   " + e.tokenA},
	} {
		t.Run("GET /v1/groups/"+c.name, func(t *testing.T) {
			expect(t, e.send(t, "GET", "/v1/groups", "", lines(c.authorization)), 200, "")
		})
	}
}

// TestSecurityOversizeBody: every write route refuses a body over
// api.MaxBodyBytes with 413 payload_too_large, whether or not it reads a
// body, and so does the gateway past API Gateway's 10 MiB.
func TestSecurityOversizeBody(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	g := e.call(t, e.tokenA, "POST", "/v1/groups", `{"name":"Big","vehicles":["v1"]}`).str("id")
	before := e.call(t, e.tokenA, "GET", "/v1/groups/"+g, "")
	oversize := `{"name":"` + strings.Repeat("x", api.MaxBodyBytes) + `"}`
	writes := 0
	for _, rt := range routes.Routes {
		if rt.Method == "GET" {
			continue
		}
		writes++
		path := strings.NewReplacer("{groupId}", g, "{itemType}", "vehicles", "{itemId}", "v1").Replace(rt.Path)
		t.Run(rt.Pattern()+"/413-payload-too-large", func(t *testing.T) {
			expect(t, e.call(t, e.tokenA, rt.Method, path, oversize), 413, groups.CodePayloadTooLarge)
		})
	}
	if writes == 0 {
		t.Fatal("no write routes")
	}
	t.Run("POST /v1/groups/413-over-the-gateway-limit", func(t *testing.T) {
		huge := `{"name":"` + strings.Repeat("x", 10<<20) + `"}`
		expect(t, e.call(t, e.tokenA, "POST", "/v1/groups", huge), 413, groups.CodePayloadTooLarge)
	})
	if after := e.call(t, e.tokenA, "GET", "/v1/groups/"+g, ""); string(after.raw) != string(before.raw) {
		t.Fatalf("the group changed: %s, then %s", before.raw, after.raw)
	}
}

// TestSecurityTamperedCursors: on every list route, a cursor that was
// altered, cut, spelt otherwise, or issued for another list is 400
// invalid_cursor; another tenant's cursor is 404 not_found; the cursor as
// issued is 200.
func TestSecurityTamperedCursors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	fx := newTenantFixture(t, e)
	// A cursor of each list route, and one of another list for each.
	cursors := map[string]string{}
	var lists []routes.Route
	for _, rt := range routes.Routes {
		if rt.Method != "GET" || !strings.HasPrefix(string(rt.Operation), "list-") {
			continue
		}
		lists = append(lists, rt)
		r := e.call(t, e.tokenA, "GET", fx.path(rt)+"?limit=1", "")
		expect(t, r, 200, "")
		if cursors[rt.Pattern()] = r.str("next_cursor"); cursors[rt.Pattern()] == "" {
			t.Fatalf("%s: no next_cursor in %s", rt.Pattern(), r.raw)
		}
	}
	if len(lists) < 2 {
		t.Fatalf("list routes: %v", lists)
	}
	flipBit := func(c string) string {
		raw, err := base64.RawURLEncoding.DecodeString(c)
		if err != nil {
			t.Fatal(err)
		}
		raw[len(raw)/2] ^= 0x10
		return base64.RawURLEncoding.EncodeToString(raw)
	}
	otherSpelling := func(c string) string { // the last character's unused bits set
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		return c[:len(c)-1] + string(alphabet[strings.IndexByte(alphabet, c[len(c)-1])^1])
	}
	for i, rt := range lists {
		own := cursors[rt.Pattern()]
		other := cursors[lists[(i+1)%len(lists)].Pattern()]
		path := fx.path(rt) + "?limit=1&cursor="
		type tamper struct {
			name, token, cursor string
			status              int
			code                groups.Code
		}
		cases := []tamper{
			{"200-as-issued", e.tokenA, own, 200, ""},
			{"400-bit-flipped", e.tokenA, flipBit(own), 400, groups.CodeInvalidCursor},
			{"400-truncated", e.tokenA, own[:len(own)/2], 400, groups.CodeInvalidCursor},
			{"400-last-character-dropped", e.tokenA, own[:len(own)-1], 400, groups.CodeInvalidCursor},
			{"400-another-list", e.tokenA, other, 400, groups.CodeInvalidCursor},
			{"400-empty", e.tokenA, "", 400, groups.CodeInvalidCursor},
			{"404-another-tenant", e.tokenB, own, 404, groups.CodeNotFound},
		}
		if len(own)%4 != 0 { // else its last character has no unused bits
			cases = append(cases, tamper{"400-other-spelling", e.tokenA, otherSpelling(own), 400, groups.CodeInvalidCursor})
		}
		for _, c := range cases {
			t.Run(rt.Pattern()+"/"+c.name, func(t *testing.T) {
				expect(t, e.call(t, c.token, "GET", path+c.cursor, ""), c.status, c.code)
			})
		}
	}
}

// TestSecurityReadOnlyToken: a token made with -read-only, on every route
// with A's ids: every write answers 403 read_only_token before anything is
// written (A's data is the same afterwards, and no Idempotency-Key was
// claimed), and every read works as with A's own token.
func TestSecurityReadOnlyToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	fx := newTenantFixture(t, e)
	tenantA, _ := auth.TenantOf(e.tokenA)
	readOnly := auth.NewToken(tenantA)
	if _, err := e.st.CreateToken(context.Background(), tenantA, groups.Token{Hash: auth.HashToken(readOnly), Label: "dashboard", ReadOnly: true}); err != nil {
		t.Fatal(err)
	}
	before := fx.snapshot(t, e)
	writes := map[routes.Operation]bool{}
	for _, fn := range routes.Functions {
		writes[fn.Operation] = fn.Access == routes.ReadWrite
	}
	body := `{"name":"x","groupIds":["` + fx.group + `"],"add":[{"type":"users","id":"u"}],"data":[{"vehicle_id":"a","user_id":"b"}]}`
	key := func(rt routes.Route) string { return "ro-" + string(rt.Operation) + "-" + rt.Method }
	for _, rt := range routes.Routes {
		t.Run(rt.Method+" "+rt.Path, func(t *testing.T) {
			r := e.call(t, readOnly, rt.Method, fx.path(rt), body, "Idempotency-Key", key(rt))
			switch {
			case writes[rt.Operation]:
				expect(t, r, 403, groups.CodeReadOnlyToken)
			case r.status == 403 || r.status >= 500:
				t.Fatalf("a read with a read-only token: %d %s", r.status, r.raw)
			}
		})
	}
	if after := fx.snapshot(t, e); after != before {
		t.Fatalf("a read-only token changed A's data:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	// No key was claimed: the same request with a token that may write
	// runs, instead of replaying the 403.
	for _, rt := range routes.Routes {
		if writes[rt.Operation] {
			again := e.call(t, e.tokenA, rt.Method, fx.path(rt), body, "Idempotency-Key", key(rt))
			if again.status == 403 || again.header.Get("Idempotent-Replayed") != "" {
				t.Fatalf("%s %s: the read-only attempt claimed its key: %d %s", rt.Method, rt.Path, again.status, again.raw)
			}
		}
	}
}

// TestSecurityScopedToken: a token scoped to one of A's subtrees, on every
// route with the fixture's ids, which lie outside it: A's groups and their
// memberships are 404 exactly as another tenant's, lists and lookups show
// only the subtree, a top-level create is 403 out_of_scope, and the item
// registry and associations (the tenant's, not a subtree's) are 403
// out_of_scope. Inside the subtree the token works, but cannot delete or
// move out its root. A's data is the same afterwards.
func TestSecurityScopedToken(t *testing.T) {
	t.Parallel()
	e := newFeedEnv(t)
	fx := newTenantFixture(t, e)
	tenantA, _ := auth.TenantOf(e.tokenA)
	root := e.call(t, e.tokenA, "POST", "/v1/groups", `{"name":"Depot","users":["item-a"]}`).str("id")
	e.awaitFeed(t, e.tokenA, root)
	scoped := auth.NewToken(tenantA)
	if _, err := e.st.CreateToken(context.Background(), tenantA, groups.Token{Hash: auth.HashToken(scoped), Label: "depot", Scope: root}); err != nil {
		t.Fatal(err)
	}
	before := fx.snapshot(t, e)
	noneOfA := func(t *testing.T, r response) {
		t.Helper()
		if strings.Contains(string(r.raw), fx.group) || strings.Contains(string(r.raw), fx.group2) || strings.Contains(string(r.raw), "A's") {
			t.Fatalf("a scoped token sees A's groups outside its subtree: %s", r.raw)
		}
	}
	type want struct {
		status int
		code   groups.Code
		check  func(*testing.T, response)
	}
	outside := want{404, groups.CodeNotFound, nil}
	tenantWide := want{403, groups.CodeOutOfScope, nil}
	expected := map[routes.Operation]want{
		routes.CreateGroup: {403, groups.CodeOutOfScope, nil}, routes.GetGroup: outside, routes.UpdateGroup: outside,
		routes.DeleteGroup: outside, routes.ListGroups: {200, "", noneOfA}, routes.AddMember: outside,
		routes.RemoveMember: outside, routes.ListMembers: outside, routes.ListItemGroups: {200, "", noneOfA},
		routes.PutItem: tenantWide, routes.GetItem: tenantWide, routes.DeleteItem: tenantWide, routes.ListItems: tenantWide,
		routes.BatchMembers: outside, routes.CreateAssociations: tenantWide, routes.DeleteAssociations: tenantWide,
		routes.ListAssociations: tenantWide, routes.GetOpenAPI: {200, "", nil}, routes.GetUsage: {200, "", nil},
		routes.ListChildren: outside, routes.ListDescendants: outside, routes.GetAncestors: outside,
		routes.ListChanges: {200, "", func(t *testing.T, r response) {
			noneOfA(t, r)
			if !strings.Contains(string(r.raw), `"group.created"`) || !strings.Contains(string(r.raw), root) {
				t.Fatalf("a scoped token does not see its own root's creation: %s", r.raw)
			}
		}},
		routes.CheckMembership: {200, "", func(t *testing.T, r response) {
			for _, res := range r.at("results").([]any) {
				if res.(map[string]any)["error"].(map[string]any)["code"] != "not_found" {
					t.Fatalf("a scoped token checks a group outside its subtree: %s", r.raw)
				}
			}
		}},
		// A's webhook is the whole tenant's: outside the token's scope. The
		// token's own webhook is of its scope (and deleted again).
		routes.GetWebhook: outside, routes.UpdateWebhook: outside, routes.DeleteWebhook: outside,
		routes.RotateWebhookSecret: outside, routes.TestWebhook: outside, routes.ListDeliveries: outside,
		routes.RetryDelivery: outside, routes.ListWebhooks: {200, "", noneOfA},
		routes.CreateWebhook: {201, "", func(t *testing.T, r response) {
			if r.at("scopeGroupId") != root {
				t.Fatalf("a scoped token's webhook: %s", r.raw)
			}
			expect(t, e.call(t, scoped, "DELETE", "/v1/webhooks/"+r.str("id"), ""), 204, "")
		}},
	}
	bodies := map[routes.Operation]string{
		routes.CreateGroup: `{"name":"x"}`, routes.UpdateGroup: `{"name":"mine now"}`, routes.PutItem: `{"name":"x"}`,
		routes.BatchMembers:       `{"add":[{"type":"users","id":"u-b"}],"remove":[{"type":"vehicles","id":"item-a"}]}`,
		routes.CheckMembership:    `{"groupIds":["` + fx.group + `","` + fx.group2 + `"]}`,
		routes.CreateAssociations: `{"data":[{"vehicle_id":"item-a","user_id":"item-a"}]}`,
		routes.DeleteAssociations: `{"data":[{"type":"user_permission","id":"` + fx.assoc + `"}]}`,
		routes.CreateWebhook:      `{"url":"http://127.0.0.1:9/depot"}`, routes.UpdateWebhook: `{"description":"mine now"}`,
	}
	for _, rt := range routes.Routes {
		t.Run(rt.Method+" "+rt.Path, func(t *testing.T) {
			w, ok := expected[rt.Operation]
			if !ok {
				t.Fatalf("%s has no scoped-token case: add one", rt.Operation)
			}
			r := e.call(t, scoped, rt.Method, fx.path(rt), bodies[rt.Operation])
			expect(t, r, w.status, w.code)
			if w.check != nil {
				w.check(t, r)
			}
		})
	}
	if after := fx.snapshot(t, e); after != before {
		t.Fatalf("a scoped token changed A's data:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	// Inside its subtree.
	child := e.call(t, scoped, "POST", "/v1/groups", fmt.Sprintf(`{"name":"Team","parentId":%q,"vehicles":["item-b"]}`, root))
	expect(t, child, 201, "")
	list := e.call(t, scoped, "GET", "/v1/groups", "")
	if got := itemIDs(list); !slices.Equal(sorted(got...), sorted(root, child.str("id"))) || list.at("total_count") != nil {
		t.Fatalf("the scoped token lists %s", list.raw)
	}
	for _, c := range []struct {
		method, path, body string
		status             int
		code               groups.Code
	}{
		{"GET", "/v1/groups/" + root, "", 200, ""},
		{"PATCH", "/v1/groups/" + root, `{"description":"mine"}`, 200, ""},
		{"PATCH", "/v1/groups/" + child.str("id"), `{"parentId":null}`, 403, groups.CodeOutOfScope},
		{"PATCH", "/v1/groups/" + child.str("id"), fmt.Sprintf(`{"parentId":%q}`, fx.group), 400, groups.CodeInvalidArgument},
		{"DELETE", "/v1/groups/" + root + "?cascade=true", "", 403, groups.CodeOutOfScope},
		{"GET", "/v1/groups/" + root + "/members?scope=subtree", "", 200, ""},
		{"PUT", "/v1/groups/" + root + "/vehicles/item-c", "", 201, ""},
		{"DELETE", "/v1/groups/" + child.str("id"), "", 200, ""},
	} {
		t.Run(c.method+" "+c.path, func(t *testing.T) { expect(t, e.call(t, scoped, c.method, c.path, c.body), c.status, c.code) })
	}
	// The root is its top level: its parent lies outside.
	if g := e.call(t, scoped, "GET", "/v1/groups/"+root, ""); g.at("parentId") != nil || g.num("depth") != 0 {
		t.Fatalf("the scoped token sees its root as %s", g.raw)
	}
	eff := e.call(t, scoped, "GET", "/v1/users/item-a/groups?scope=effective", "")
	if got := itemIDs(eff); !slices.Equal(got, []string{root}) {
		t.Fatalf("the scoped token's effective groups of item-a: %s", eff.raw)
	}
}
