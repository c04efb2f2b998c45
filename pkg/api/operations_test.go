package api

import (
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"testing"

	"github.com/fleetgroups/fleetgroups/pkg/routes"
)

// TestOperationsCoverTheRouteTable: the servers that serve every operation
// serve those of the route table, each once.
func TestOperationsCoverTheRouteTable(t *testing.T) {
	var want, got []routes.Operation
	for _, fn := range routes.Functions {
		if !routes.Routeless(fn.Operation) {
			want = append(want, fn.Operation)
		}
	}
	for _, o := range Operations() {
		if o.endpoint == nil {
			t.Errorf("%s has no endpoint", o.Name)
		}
		// An operation that writes keeps Idempotency-Key records; one
		// that only reads (check-membership's POST included) answers a
		// repeat anew, and its IAM grant could not write a record.
		writes := slices.ContainsFunc(routes.Functions, func(fn routes.Function) bool {
			return fn.Operation == o.Name && fn.Access == routes.ReadWrite
		})
		if (o.idempotent != nil) != writes {
			t.Errorf("%s: Idempotency-Key handled %v, but it writes: %v", o.Name, o.idempotent != nil, writes)
		}
		if !writes && slices.ContainsFunc(routes.For(o.Name), func(rt routes.Route) bool { return mutating(rt.Method) && rt.Method != "POST" }) {
			t.Errorf("%s: a PUT, PATCH or DELETE route of a read-only operation", o.Name)
		}
		got = append(got, o.Name)
	}
	if !slices.Equal(got, want) {
		t.Errorf("Operations() = %v, want routes.Functions' operations %v", got, want)
	}
}

// TestOperationsAreNamedAfterTheirRoutes: api.X is routes.X's operation, so
// that a Lambda main naming api.X (checked against its folder by pkg/routes'
// tests) serves its own operation. The names are read from the source, as
// nothing at run time knows a variable's name.
func TestOperationsAreNamedAfterTheirRoutes(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "operations.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	declared := 0
	ast.Inspect(f, func(n ast.Node) bool {
		spec, ok := n.(*ast.ValueSpec)
		if !ok || len(spec.Values) != 1 {
			return true
		}
		lit, ok := spec.Values[0].(*ast.CompositeLit)
		if typ, _ := lit.Type.(*ast.Ident); !ok || typ == nil || typ.Name != "Operation" {
			return true
		}
		declared++
		name := spec.Names[0].Name
		sel, ok := lit.Elts[0].(*ast.SelectorExpr)
		if pkg, _ := sel.X.(*ast.Ident); !ok || pkg == nil || pkg.Name != "routes" || sel.Sel.Name != name {
			t.Errorf("%s is not Operation{routes.%s, …}", name, name)
		}
		return true
	})
	if declared != len(Operations()) {
		t.Errorf("operations.go declares %d operations, Operations() lists %d", declared, len(Operations()))
	}
}
