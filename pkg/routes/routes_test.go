package routes_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/routes"
)

// TestRoutesRegisterInOneServeMux: ServeMux panics on conflicting patterns
// (as "/v1/{itemType}/{itemId}/groups" next to "/v1/groups/{groupId}/{itemType}"
// would), so registering the whole table proves it is unambiguous.
func TestRoutesRegisterInOneServeMux(t *testing.T) {
	mux := http.NewServeMux()
	for _, r := range routes.Routes {
		mux.HandleFunc(r.Pattern(), func(http.ResponseWriter, *http.Request) {})
	}
	cases := []struct {
		method, path string
		want         routes.Operation
	}{
		{"POST", "/v1/groups", routes.CreateGroup},
		{"GET", "/v1/groups", routes.ListGroups},
		{"GET", "/v1/groups/g1", routes.GetGroup},
		{"PATCH", "/v1/groups/g1", routes.UpdateGroup},
		{"DELETE", "/v1/groups/g1", routes.DeleteGroup},
		{"GET", "/v1/groups/g1/members", routes.ListMembers},
		{"GET", "/v1/groups/g1/vehicles", routes.ListMembers},
		{"PUT", "/v1/groups/g1/devices/dev-1", routes.AddMember},
		{"DELETE", "/v1/groups/g1/devices/dev-1", routes.RemoveMember},
		{"GET", "/v1/vehicles/veh-1/groups", routes.ListItemGroups},
		{"GET", "/v1/products/p-1/groups", routes.ListItemGroups},
		{"GET", "/v1/openapi.json", routes.GetOpenAPI},
		{"GET", "/v1/usage", routes.GetUsage},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			req, _ := http.NewRequest(c.method, c.path, nil)
			_, pattern := mux.Handler(req)
			i := slices.IndexFunc(routes.Routes, func(r routes.Route) bool { return r.Pattern() == pattern })
			if i < 0 || routes.Routes[i].Operation != c.want {
				t.Fatalf("matched %q, want a route of %s", pattern, c.want)
			}
		})
	}
}

func TestEveryOperationHasRoutesAndAFunction(t *testing.T) {
	served := map[routes.Operation]bool{}
	for _, r := range routes.Routes {
		served[r.Operation] = true
	}
	dirs, err := os.ReadDir("../../functions")
	if err != nil {
		t.Fatal(err)
	}
	var folders []string
	for _, d := range dirs {
		folders = append(folders, d.Name())
	}
	for _, fn := range routes.Functions {
		if !routes.Routeless(fn.Operation) && !served[fn.Operation] {
			t.Errorf("%s has no route", fn.Operation)
		}
		if !slices.Contains(folders, string(fn.Operation)) {
			t.Errorf("functions/%s is missing", fn.Operation)
		}
		delete(served, fn.Operation)
	}
	if len(served) > 0 {
		t.Errorf("routes name operations without a function: %v", served)
	}
	if len(folders) != len(routes.Functions) {
		t.Errorf("functions/ holds %v; want exactly the route table's functions", folders)
	}
}

// TestEveryFunctionStartsItsOwnOperation: functions/<op>/main.go starts
// api.X where routes.X is op (pkg/api's tests hold api.X to routes.X), or,
// for the authorizer, app.StartAuthorizer(). A main that started another
// operation would compile, deploy and answer every request with a 404.
func TestEveryFunctionStartsItsOwnOperation(t *testing.T) {
	constants := operationConstants(t)
	for _, fn := range routes.Functions {
		t.Run(string(fn.Operation), func(t *testing.T) {
			want := "app.Start(api." + constants[fn.Operation] + ")"
			switch fn.Operation {
			case routes.Authorizer:
				want = "app.StartAuthorizer()"
			case routes.PublishChanges:
				want = "app.StartPublisher()"
			case routes.DeliverWebhooks:
				want = "app.StartDeliverer()"
			}
			main := "../../functions/" + string(fn.Operation) + "/main.go"
			f, err := parser.ParseFile(token.NewFileSet(), main, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			var starts []string
			ast.Inspect(f, func(n ast.Node) bool {
				if call, ok := n.(*ast.CallExpr); ok {
					if fun, ok := call.Fun.(*ast.SelectorExpr); ok && strings.HasPrefix(fun.Sel.Name, "Start") {
						starts = append(starts, types.ExprString(call))
					}
				}
				return true
			})
			if !slices.Equal(starts, []string{want}) {
				t.Errorf("%s calls %v, want %s", main, starts, want)
			}
		})
	}
}

// operationConstants maps each operation to the name of its constant in
// routes.go.
func operationConstants(t *testing.T) map[routes.Operation]string {
	f, err := parser.ParseFile(token.NewFileSet(), "routes.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	names := map[routes.Operation]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		spec, ok := n.(*ast.ValueSpec)
		if !ok || len(spec.Values) != 1 {
			return true
		}
		if typ, _ := spec.Type.(*ast.Ident); typ != nil && typ.Name == "Operation" {
			if lit, ok := spec.Values[0].(*ast.BasicLit); ok {
				v, err := strconv.Unquote(lit.Value)
				if err != nil {
					t.Fatal(err)
				}
				names[routes.Operation(v)] = spec.Names[0].Name
			}
		}
		return true
	})
	return names
}

func TestReverseLookupHasOneRoutePerItemType(t *testing.T) {
	rs := routes.For(routes.ListItemGroups)
	if len(rs) != len(groups.ItemTypes) {
		t.Fatalf("%d reverse lookup routes, want one per item type", len(rs))
	}
	for i, typ := range groups.ItemTypes {
		if !strings.HasPrefix(rs[i].Path, "/v1/"+string(typ)+"/") {
			t.Errorf("route %s is not for %s", rs[i].Path, typ)
		}
	}
}

func TestLogicalName(t *testing.T) {
	for in, want := range map[routes.Operation]string{
		routes.CreateGroup: "CreateGroup", routes.ListItemGroups: "ListItemGroups", routes.Authorizer: "Authorizer",
	} {
		if got := routes.LogicalName(in); got != want {
			t.Errorf("LogicalName(%s) = %s, want %s", in, got, want)
		}
	}
}

// TestPublicOperations pins the operations anyone may call without a token:
// making another one public must be a deliberate change here too.
func TestPublicOperations(t *testing.T) {
	var public []routes.Operation
	for _, fn := range routes.Functions {
		if routes.IsPublic(fn.Operation) {
			public = append(public, fn.Operation)
		}
	}
	if want := []routes.Operation{routes.GetOpenAPI}; !slices.Equal(public, want) {
		t.Errorf("public operations = %v, want %v", public, want)
	}
}

func TestMeteredAreTheAuthenticatedOperations(t *testing.T) {
	for _, fn := range routes.Functions {
		want := !routes.Routeless(fn.Operation) && fn.Operation != routes.GetOpenAPI
		if got := routes.Metered(fn.Operation); got != want {
			t.Errorf("Metered(%s) = %v, want %v", fn.Operation, got, want)
		}
	}
}
