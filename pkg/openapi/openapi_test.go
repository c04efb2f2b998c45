package openapi_test

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/openapi"
	"github.com/fleetgroups/fleetgroups/pkg/openapi/openapitest"
	"github.com/fleetgroups/fleetgroups/pkg/problem"
	"github.com/fleetgroups/fleetgroups/pkg/routes"
	"github.com/fleetgroups/fleetgroups/pkg/webhooks"
)

// TestDocumentMatchesRouteTable holds the document to the Go code: it is a
// valid OpenAPI 3.1 document whose operations are exactly the route table's
// routes, documented as checkDocument says. When a route is added to
// pkg/routes, this test names what the document still lacks.
func TestDocumentMatchesRouteTable(t *testing.T) {
	doc, err := openapitest.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range checkDocument(doc, routes.Routes, declaredCodes(t)) {
		t.Error(p)
	}
}

// declaredCodes are the Code constants declared in pkg/groups, read from its
// source so that a new code needs no list to be kept by hand.
func declaredCodes(t *testing.T) []groups.Code {
	t.Helper()
	files, err := filepath.Glob("../groups/*.go")
	if err != nil {
		t.Fatal(err)
	}
	var codes []groups.Code
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				if typ, ok := vs.Type.(*ast.Ident); !ok || typ.Name != "Code" {
					continue
				}
				for _, v := range vs.Values {
					lit, ok := v.(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						t.Fatalf("%s: a Code constant that is not a string literal", name)
					}
					s, _ := strconv.Unquote(lit.Value)
					codes = append(codes, groups.Code(s))
				}
			}
		}
	}
	if len(codes) == 0 {
		t.Fatal("found no Code constants in pkg/groups")
	}
	return codes
}

// Every operation can be refused by API Gateway or fail on the server's side
// with these; every authenticated one also with 401 and 403.
var (
	anyOperationStatuses  = []int{400, 413, 429, 500, 503}
	authenticatedStatuses = []int{401, 403}
)

// globalSecurity is the document's default: the bearer token.
var globalSecurity = openapi3.SecurityRequirements{{"bearer": {}}}

// checkDocument compares a loaded document with the route table and the
// error and item vocabularies, returning every difference, so that a test
// can feed it broken documents. The rules:
//
//   - OpenAPI 3.1.0; bearer security for every operation, except that the
//     public ones (routes.IsPublic) say security: [] and no other does.
//   - One operation per route of rs and no other. Its x-operation extension
//     is the route's operation, and its operationId that name, qualified as
//     "<name>-<qualifier>" when the operation serves several routes.
//   - Each operation lists its statuses (no default): a 2xx; 400, 413, 429,
//     500 and 503; 401 and 403 unless public; 415 with a request body; 404
//     with a path parameter or a cursor. Each error response is a problem
//     document narrowed to its status.
//   - The problem codes are exactly pkg/groups' Code constants, and each
//     problem response lists exactly the codes that pkg/problem maps to its
//     status.
//   - The item types are groups.ItemTypes wherever they appear.
//   - The event types (ChangeEventType, and ChangeEvent's variants) are
//     groups.EventTypes: the feed's, webhook.disabled included.
func checkDocument(doc *openapi3.T, rs []routes.Route, codes []groups.Code) []string {
	var problems []string
	report := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	if doc.OpenAPI != "3.1.0" {
		report("openapi is %q, want 3.1.0", doc.OpenAPI)
	}
	if !reflect.DeepEqual(doc.Security, globalSecurity) {
		report("security is %v, want %v for every operation", doc.Security, globalSecurity)
	}

	// Operations: exactly the route table.
	type route struct{ method, path string }
	want := map[route]routes.Route{}
	served := map[routes.Operation]int{}
	for _, r := range rs {
		want[route{r.Method, r.Path}] = r
		served[r.Operation]++
	}
	have := map[route]*openapi3.Operation{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			have[route{method, path}] = op
		}
	}
	byPath := func(a, b route) int { return strings.Compare(a.path+" "+a.method, b.path+" "+b.method) }
	for _, k := range slices.SortedFunc(maps.Keys(want), byPath) {
		if op, ok := have[k]; ok {
			problems = append(problems, checkOperation(k.method+" "+k.path, want[k], served[want[k].Operation] > 1, op)...)
		} else {
			report("%s %s: in routes.Routes but not in the document", k.method, k.path)
		}
	}
	for _, k := range slices.SortedFunc(maps.Keys(have), byPath) {
		if _, ok := want[k]; !ok {
			report("%s %s: in the document but not in routes.Routes", k.method, k.path)
		}
	}

	// Problem codes, and which status each is answered with.
	schemas, responses := doc.Components.Schemas, doc.Components.Responses
	problems = append(problems, sameSet("components/schemas/ProblemCode enum", enum(schemas["ProblemCode"]), codes, "the Code constants of pkg/groups")...)
	for _, name := range slices.Sorted(maps.Keys(responses)) {
		status, got, ok := problemOf(responses[name].Value)
		if !ok {
			continue
		}
		var want []groups.Code
		for _, c := range codes {
			if problem.Status(c) == status {
				want = append(want, c)
			}
		}
		problems = append(problems, sameSet(fmt.Sprintf("components/responses/%s code enum", name), got, want, fmt.Sprintf("the codes pkg/problem answers with %d", status))...)
	}

	// Event types: the feed's, which webhooks subscribe to, each with its
	// variant of ChangeEvent.
	problems = append(problems, sameSet("components/schemas/ChangeEventType enum", enum(schemas["ChangeEventType"]), groups.EventTypes, "groups.EventTypes")...)
	if event := schemas["ChangeEvent"]; event != nil {
		var variants []string
		for _, v := range event.Value.OneOf {
			if typ := v.Value.Properties["type"]; typ != nil {
				variants = append(variants, fmt.Sprint(typ.Value.Const))
			}
		}
		problems = append(problems, sameSet("components/schemas/ChangeEvent oneOf types", variants, groups.EventTypes, "groups.EventTypes")...)
	} else {
		report("components/schemas/ChangeEvent is missing")
	}

	// Item types.
	problems = append(problems, sameSet("components/schemas/ItemType enum", enum(schemas["ItemType"]), groups.ItemTypes, "groups.ItemTypes")...)
	if counts := schemas["MemberCounts"]; counts != nil {
		problems = append(problems, sameSet("components/schemas/MemberCounts properties", slices.Collect(maps.Keys(counts.Value.Properties)), groups.ItemTypes, "groups.ItemTypes")...)
		problems = append(problems, sameSet("components/schemas/MemberCounts required", counts.Value.Required, groups.ItemTypes, "groups.ItemTypes")...)
	} else {
		report("components/schemas/MemberCounts is missing")
	}
	if create := schemas["CreateGroup"]; create != nil {
		for _, t := range groups.ItemTypes {
			if p := create.Value.Properties[string(t)]; p == nil || !p.Value.Type.Is("array") {
				report("components/schemas/CreateGroup: no array property %s", t)
			}
		}
	} else {
		report("components/schemas/CreateGroup is missing")
	}
	return problems
}

func checkOperation(name string, r routes.Route, shared bool, op *openapi3.Operation) []string {
	var problems []string
	report := func(format string, args ...any) { problems = append(problems, name+": "+fmt.Sprintf(format, args...)) }

	if x := op.Extensions["x-operation"]; x != string(r.Operation) {
		report("x-operation is %v, want %s", x, r.Operation)
	}
	switch id, opName := op.OperationID, string(r.Operation); {
	case !shared && id != opName:
		report("operationId %s, want %s", id, opName)
	case shared && id != opName && !strings.HasPrefix(id, opName+"-"):
		report("operationId %s, want %s or %s-<qualifier> (%s serves several routes)", id, opName, opName, opName)
	}

	public := routes.IsPublic(r.Operation)
	switch {
	case public && (op.Security == nil || len(*op.Security) > 0):
		report("public route (routes.IsPublic), so want security: []")
	case !public && op.Security != nil:
		report("security %v overrides the global bearer security; only public routes (routes.IsPublic) may", *op.Security)
	}

	statuses := slices.Clone(anyOperationStatuses)
	if !public {
		statuses = append(statuses, authenticatedStatuses...)
	}
	if op.RequestBody != nil {
		statuses = append(statuses, 415)
	}
	for _, p := range op.Parameters {
		if p.Value.In == openapi3.ParameterInPath || p.Value.In == openapi3.ParameterInQuery && p.Value.Name == "cursor" {
			statuses = append(statuses, 404)
			break
		}
	}
	if op.Responses == nil {
		report("no responses")
		return problems
	}
	for _, s := range statuses {
		if op.Responses.Status(s) == nil {
			report("no %d response", s)
		}
	}
	if op.Responses.Default() != nil {
		report("a default response; list each status instead, so that the contract tests hold the API to them")
	}
	success := false
	for code, resp := range op.Responses.Map() {
		status, err := strconv.Atoi(code)
		switch {
		case err != nil:
			continue
		case status >= 200 && status < 300:
			success = true
		case status >= 400:
			if got, _, ok := problemOf(resp.Value); !ok || got != status {
				report("the %d response is not a problem document of status %d", status, status)
			}
		}
	}
	if !success {
		report("no 2xx response")
	}
	return problems
}

// problemOf reads a problem response: a problem document whose schema
// narrows Problem to one status (const) and the codes answered with it (enum).
func problemOf(resp *openapi3.Response) (status int, codes []string, ok bool) {
	mt := resp.Content.Get(problem.MediaType)
	if mt == nil || mt.Schema == nil {
		return 0, nil, false
	}
	refsProblem := false
	for _, part := range mt.Schema.Value.AllOf {
		if part.Ref == "#/components/schemas/Problem" {
			refsProblem = true
			continue
		}
		s, c := part.Value.Properties["status"], part.Value.Properties["code"]
		if s == nil || c == nil {
			continue
		}
		if n, isNum := s.Value.Const.(float64); isNum {
			status, codes, ok = int(n), enum(c), true
		}
	}
	return status, codes, ok && refsProblem
}

func enum(s *openapi3.SchemaRef) []string {
	if s == nil {
		return nil
	}
	var out []string
	for _, v := range s.Value.Enum {
		out = append(out, fmt.Sprint(v))
	}
	return out
}

// sameSet reports the values of want (named source) that got lacks, and
// those it has but want does not.
func sameSet[W ~string](what string, got []string, want []W, source string) []string {
	var missing, extra []string
	for _, w := range want {
		if !slices.Contains(got, string(w)) {
			missing = append(missing, string(w))
		}
	}
	for _, g := range got {
		if !slices.Contains(want, W(g)) {
			extra = append(extra, g)
		}
	}
	var problems []string
	if len(missing) > 0 {
		problems = append(problems, fmt.Sprintf("%s lacks %v, which are in %s", what, missing, source))
	}
	if len(extra) > 0 {
		problems = append(problems, fmt.Sprintf("%s has %v, which are not in %s", what, extra, source))
	}
	return problems
}

// jsonDoc is the document as plain JSON values, for tests to break.
func jsonDoc(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(openapi.JSON(), &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// at walks nested objects; it fails the test where the path is missing.
func at(t *testing.T, v any, keys ...string) map[string]any {
	t.Helper()
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("no object at %s", strings.Join(keys, "/"))
		}
		v = m[k]
	}
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("no object at %s", strings.Join(keys, "/"))
	}
	return m
}

func without(list any, value string) []any {
	return slices.DeleteFunc(slices.Clone(list.([]any)), func(v any) bool { return v == value })
}

// TestCheckDocumentReportsDrift proves checkDocument can fail: each case
// breaks the document in memory (or the route table it is compared with) in
// one way and names a problem that must be reported.
func TestCheckDocumentReportsDrift(t *testing.T) {
	const (
		groupsPath  = "/v1/groups"
		groupPath   = "/v1/groups/{groupId}"
		byTypePath  = "/v1/groups/{groupId}/{itemType}"
		openapiPath = "/v1/openapi.json"
	)
	op := func(t *testing.T, doc map[string]any, path, method string) map[string]any {
		return at(t, doc, "paths", path, method)
	}
	responses := func(t *testing.T, doc map[string]any, path, method string) map[string]any {
		return at(t, doc, "paths", path, method, "responses")
	}
	schema := func(t *testing.T, doc map[string]any, name string) map[string]any {
		return at(t, doc, "components", "schemas", name)
	}
	codeEnum := func(t *testing.T, doc map[string]any, response string) map[string]any {
		parts := at(t, doc, "components", "responses", response, "content", problem.MediaType, "schema")["allOf"].([]any)
		return at(t, parts[1], "properties", "code")
	}
	tests := []struct {
		name       string
		editDoc    func(t *testing.T, doc map[string]any)
		editRoutes func([]routes.Route) []routes.Route
		want       []string // each must be part of some problem; none means no problem at all
	}{
		{name: "checked-in-document-passes"},
		{
			name:    "route-missing",
			editDoc: func(t *testing.T, doc map[string]any) { delete(at(t, doc, "paths"), "/v1/groups/{groupId}/members") },
			want:    []string{"GET /v1/groups/{groupId}/members: in routes.Routes but not in the document"},
		},
		{
			name: "route-added-to-table",
			editRoutes: func(rs []routes.Route) []routes.Route {
				return append(slices.Clone(rs), routes.Route{Method: "GET", Path: "/v1/trailers/{itemId}/groups", Operation: routes.ListItemGroups})
			},
			want: []string{"GET /v1/trailers/{itemId}/groups: in routes.Routes but not in the document"},
		},
		{
			name: "method-changed",
			editDoc: func(t *testing.T, doc map[string]any) {
				item := at(t, doc, "paths", groupPath)
				item["put"] = item["patch"]
				delete(item, "patch")
			},
			want: []string{
				"PATCH /v1/groups/{groupId}: in routes.Routes but not in the document",
				"PUT /v1/groups/{groupId}: in the document but not in routes.Routes",
			},
		},
		{
			name:    "x-operation-wrong",
			editDoc: func(t *testing.T, doc map[string]any) { op(t, doc, groupsPath, "get")["x-operation"] = "get-group" },
			want:    []string{"GET /v1/groups: x-operation is get-group, want list-groups"},
		},
		{
			name:    "x-operation-missing",
			editDoc: func(t *testing.T, doc map[string]any) { delete(op(t, doc, groupsPath, "get"), "x-operation") },
			want:    []string{"GET /v1/groups: x-operation is <nil>, want list-groups"},
		},
		{
			name:    "operation-id-not-the-operation",
			editDoc: func(t *testing.T, doc map[string]any) { op(t, doc, groupsPath, "get")["operationId"] = "groups-list" },
			want:    []string{"GET /v1/groups: operationId groups-list, want list-groups"},
		},
		{
			name: "shared-operation-id-unqualified",
			editDoc: func(t *testing.T, doc map[string]any) {
				op(t, doc, byTypePath, "get")["operationId"] = "members-by-type"
			},
			want: []string{"GET /v1/groups/{groupId}/{itemType}: operationId members-by-type, want list-members or list-members-<qualifier>"},
		},
		{
			name:    "no-2xx",
			editDoc: func(t *testing.T, doc map[string]any) { delete(responses(t, doc, groupPath, "get"), "200") },
			want:    []string{"GET /v1/groups/{groupId}: no 2xx response"},
		},
		{
			// OpenAPI 3.1 lets an operation leave its responses out.
			name:    "responses-missing",
			editDoc: func(t *testing.T, doc map[string]any) { delete(op(t, doc, groupPath, "get"), "responses") },
			want:    []string{"GET /v1/groups/{groupId}: no "},
		},
		{
			name: "default-response",
			editDoc: func(t *testing.T, doc map[string]any) {
				responses(t, doc, groupPath, "get")["default"] = map[string]any{"$ref": "#/components/responses/InternalError"}
			},
			want: []string{"GET /v1/groups/{groupId}: a default response"},
		},
		{
			name:    "gateway-status-missing",
			editDoc: func(t *testing.T, doc map[string]any) { delete(responses(t, doc, groupsPath, "get"), "429") },
			want:    []string{"GET /v1/groups: no 429 response"},
		},
		{
			name:    "401-missing",
			editDoc: func(t *testing.T, doc map[string]any) { delete(responses(t, doc, groupPath, "delete"), "401") },
			want:    []string{"DELETE /v1/groups/{groupId}: no 401 response"},
		},
		{
			name:    "415-missing-with-body",
			editDoc: func(t *testing.T, doc map[string]any) { delete(responses(t, doc, groupsPath, "post"), "415") },
			want:    []string{"POST /v1/groups: no 415 response"},
		},
		{
			name:    "404-missing-with-path-parameter",
			editDoc: func(t *testing.T, doc map[string]any) { delete(responses(t, doc, groupPath, "get"), "404") },
			want:    []string{"GET /v1/groups/{groupId}: no 404 response"},
		},
		{
			name:    "404-missing-with-cursor",
			editDoc: func(t *testing.T, doc map[string]any) { delete(responses(t, doc, groupsPath, "get"), "404") },
			want:    []string{"GET /v1/groups: no 404 response"},
		},
		{
			name: "error-response-of-other-status",
			editDoc: func(t *testing.T, doc map[string]any) {
				responses(t, doc, groupPath, "get")["404"] = map[string]any{"$ref": "#/components/responses/BadRequest"}
			},
			want: []string{"GET /v1/groups/{groupId}: the 404 response is not a problem document of status 404"},
		},
		{
			name:    "public-route-secured",
			editDoc: func(t *testing.T, doc map[string]any) { delete(op(t, doc, openapiPath, "get"), "security") },
			want:    []string{"GET /v1/openapi.json: public route (routes.IsPublic), so want security: []"},
		},
		{
			name:    "private-route-unsecured",
			editDoc: func(t *testing.T, doc map[string]any) { op(t, doc, groupPath, "get")["security"] = []any{} },
			want:    []string{"GET /v1/groups/{groupId}: security [] overrides the global bearer security"},
		},
		{
			name:    "global-security-dropped",
			editDoc: func(t *testing.T, doc map[string]any) { delete(doc, "security") },
			want:    []string{"security is [], want [map[bearer:[]]]"},
		},
		{
			name: "code-missing",
			editDoc: func(t *testing.T, doc map[string]any) {
				s := schema(t, doc, "ProblemCode")
				s["enum"] = without(s["enum"], "conflict")
			},
			want: []string{"components/schemas/ProblemCode enum lacks [conflict]"},
		},
		{
			name: "code-not-in-go",
			editDoc: func(t *testing.T, doc map[string]any) {
				s := schema(t, doc, "ProblemCode")
				s["enum"] = append(s["enum"].([]any), "teapot")
			},
			want: []string{"components/schemas/ProblemCode enum has [teapot], which are not in the Code constants of pkg/groups"},
		},
		{
			name: "code-under-wrong-status",
			editDoc: func(t *testing.T, doc map[string]any) {
				conflict, bad := codeEnum(t, doc, "Conflict"), codeEnum(t, doc, "BadRequest")
				conflict["enum"] = without(conflict["enum"], "name_taken")
				bad["enum"] = append(bad["enum"].([]any), "name_taken")
			},
			want: []string{
				"components/responses/BadRequest code enum has [name_taken], which are not in the codes pkg/problem answers with 400",
				"components/responses/Conflict code enum lacks [name_taken], which are in the codes pkg/problem answers with 409",
			},
		},
		{
			name: "item-type-missing",
			editDoc: func(t *testing.T, doc map[string]any) {
				s := schema(t, doc, "ItemType")
				s["enum"] = without(s["enum"], "devices")
			},
			want: []string{"components/schemas/ItemType enum lacks [devices]"},
		},
		{
			name: "member-count-missing",
			editDoc: func(t *testing.T, doc map[string]any) {
				s := schema(t, doc, "MemberCounts")
				delete(s["properties"].(map[string]any), "devices")
				s["required"] = without(s["required"], "devices")
			},
			want: []string{
				"components/schemas/MemberCounts properties lacks [devices]",
				"components/schemas/MemberCounts required lacks [devices]",
			},
		},
		{
			name: "event-type-missing",
			editDoc: func(t *testing.T, doc map[string]any) {
				s := schema(t, doc, "ChangeEventType")
				s["enum"] = without(s["enum"], "webhook.disabled")
			},
			want: []string{"components/schemas/ChangeEventType enum lacks [webhook.disabled]"},
		},
		{
			name: "event-variant-missing",
			editDoc: func(t *testing.T, doc map[string]any) {
				s := schema(t, doc, "ChangeEvent")
				s["oneOf"] = s["oneOf"].([]any)[:len(s["oneOf"].([]any))-1]
			},
			want: []string{"components/schemas/ChangeEvent oneOf types lacks [webhook.disabled]"},
		},
		{
			name: "initial-members-missing",
			editDoc: func(t *testing.T, doc map[string]any) {
				delete(schema(t, doc, "CreateGroup")["properties"].(map[string]any), "devices")
			},
			want: []string{"components/schemas/CreateGroup: no array property devices"},
		},
	}
	codes := declaredCodes(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := jsonDoc(t)
			if tt.editDoc != nil {
				tt.editDoc(t, doc)
			}
			rs := routes.Routes
			if tt.editRoutes != nil {
				rs = tt.editRoutes(rs)
			}
			data, err := json.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			loaded, err := openapitest.Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			problems := checkDocument(loaded, rs, codes)
			if len(tt.want) == 0 && len(problems) > 0 {
				t.Errorf("want no problems, got:\n%s", strings.Join(problems, "\n"))
			}
			for _, w := range tt.want {
				if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, w) }) {
					t.Errorf("no problem mentions %q; got:\n%s", w, strings.Join(problems, "\n"))
				}
			}
		})
	}
}

// TestParseRejectsInvalidDocuments: the document must be valid OpenAPI, which
// the loader checks before checkDocument sees it.
func TestParseRejectsInvalidDocuments(t *testing.T) {
	tests := []struct {
		name string
		edit func(t *testing.T, doc map[string]any)
		want string
	}{
		{"path-parameter-undeclared", func(t *testing.T, doc map[string]any) {
			delete(at(t, doc, "paths", "/v1/groups/{groupId}", "get"), "parameters")
		}, "groupId"},
		{"operation-id-duplicated", func(t *testing.T, doc map[string]any) {
			at(t, doc, "paths", "/v1/groups", "get")["operationId"] = "create-group"
		}, "create-group"},
		{"dangling-reference", func(t *testing.T, doc map[string]any) {
			at(t, doc, "components", "schemas", "Group", "properties")["id"] = map[string]any{"$ref": "#/components/schemas/Nope"}
		}, "Nope"},
		{"invalid-pattern", func(t *testing.T, doc map[string]any) {
			at(t, doc, "components", "schemas", "Id")["pattern"] = "^[a-z"
		}, "regexp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := jsonDoc(t)
			tt.edit(t, doc)
			data, err := json.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := openapitest.Parse(data); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse error = %v, want one about %q", err, tt.want)
			}
		})
	}
}

// TestWebhookDeliveriesMatchDocument holds the document's webhooks section
// (what a partner's endpoint receives) to pkg/webhooks: the headers a
// delivery is signed with, the signature's and the secret's shapes, and the
// webhook.test event. The change events themselves are checked against
// ChangeEvent by pkg/changes.
func TestWebhookDeliveriesMatchDocument(t *testing.T) {
	doc, err := openapitest.Load()
	if err != nil {
		t.Fatal(err)
	}
	item := doc.Webhooks["change-event"]
	if item == nil || item.Post == nil {
		t.Fatal("webhooks/change-event has no post")
	}
	params := map[string]*openapi3.Schema{}
	for _, p := range item.Post.Parameters {
		if p.Value.In == openapi3.ParameterInHeader {
			params[strings.ToLower(p.Value.Name)] = p.Value.Schema.Value
		}
	}

	now := time.Now()
	ev := webhooks.TestEvent("wh_abc", now)
	body, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	if err := openapitest.CheckSchema(doc, "WebhookTestEvent", body); err != nil {
		t.Errorf("webhooks.TestEvent %s is not a WebhookTestEvent: %v", body, err)
	}
	secret := webhooks.NewSecret()
	if err := doc.Components.Schemas["Webhook"].Value.Properties["secret"].Value.VisitJSON(secret, openapi3.EnableJSONSchema2020()); err != nil {
		t.Errorf("webhooks.NewSecret %s does not match Webhook.secret: %v", secret, err)
	}
	for _, secrets := range [][]string{{secret}, {secret, webhooks.NewSecret()}} {
		sig, err := webhooks.Sign(secrets, ev.ID, now, body)
		if err != nil {
			t.Fatal(err)
		}
		headers := map[string]string{
			webhooks.HeaderID:        ev.ID,
			webhooks.HeaderTimestamp: strconv.FormatInt(now.Unix(), 10),
			webhooks.HeaderSignature: sig,
			"user-agent":             webhooks.UserAgent,
		}
		for name, value := range headers {
			schema := params[strings.ToLower(name)]
			if schema == nil {
				t.Errorf("webhooks/change-event documents no %s header", name)
				continue
			}
			if err := schema.VisitJSON(value, openapi3.EnableJSONSchema2020()); err != nil {
				t.Errorf("header %s: %s does not match the document: %v", name, value, err)
			}
		}
	}
}
