package model_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/fleetgroups/fleetgroups/pkg/auth"
	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/storetest"
)

// Scoped tokens in the model. Tenant A also holds a token scoped to the
// subtree of one of its groups, "Scope root", made when the sequence
// starts; the model's other steps (with A's tenant-wide token) move, grow
// and delete that subtree like any other. Scoped steps predict what the
// scoped token must see: only the root and its descendants, the rest 404
// as another tenant's, and 403 out_of_scope where the request reaches
// outside (a top-level create, a move to top level, the root's deletion,
// the item registry).

const scopeRootName = "Scope root"

// scope gives tenant A its scoped token and root.
func (w *world) scope(t testing.TB, e *env) {
	t.Helper()
	ctx := storetest.WithoutFaults(context.Background())
	m := w.t[0]
	tenant, _ := auth.TenantOf(m.token)
	g, err := e.st.CreateGroup(ctx, tenant, groups.NewGroup{Name: scopeRootName})
	if err != nil {
		t.Fatalf("scope root: %v", err)
	}
	w.addGroup(0, g.ID, "", scopeRootName, nil, nil)
	m.scopeRoot, m.scopedToken = g.ID, auth.NewToken(tenant)
	if _, err := e.st.CreateToken(ctx, tenant, groups.Token{Hash: auth.HashToken(m.scopedToken), Label: "model", Scope: g.ID}); err != nil {
		t.Fatalf("scoped token: %v", err)
	}
}

// tokenOf is the token a step is sent with.
func (w *world) tokenOf(s step) string {
	if s.scoped {
		return w.t[s.tenant].scopedToken
	}
	return w.t[s.tenant].token
}

// visible reports whether the scoped token of m sees the group id.
func (m *mTenant) visible(id string) bool {
	g := m.groups[id]
	return g != nil && (id == m.scopeRoot || slices.Contains(m.ancestors(id), m.scopeRoot))
}

// nextScoped draws a step of tenant A's scoped token.
func (w *world) nextScoped(r *rand.Rand) step {
	ops := []func(*rand.Rand) step{
		w.scopedGet, w.scopedCreate, w.scopedCreate, w.scopedMove, w.scopedDelete,
		w.scopedList, w.scopedAdd, w.scopedCheck, w.scopedRegistry,
	}
	s := pick(r, ops)(r)
	s.tenant, s.scoped = 0, true
	s.desc = fmt.Sprintf("tenant A (scoped): %s %s %s", s.method, s.path, s.body)
	return s
}

// pickScoped is mostly a group the scoped token sees, sometimes one of the
// tenant's it does not, or any other id.
func (w *world) pickScoped(r *rand.Rand) string {
	m := w.t[0]
	var in []string
	for id := range m.groups {
		if m.visible(id) {
			in = append(in, id)
		}
	}
	slices.Sort(in)
	if len(in) > 0 && r.IntN(3) > 0 {
		return pick(r, in)
	}
	return w.pickGroup(r, 0)
}

func (w *world) scopedGet(r *rand.Rand) step {
	m, id := w.t[0], w.pickScoped(r)
	return step{method: "GET", path: "/v1/groups/" + id, check: func(res response, _ bool) error {
		if !m.visible(id) {
			return statusIs(res, 404, groups.CodeNotFound)
		}
		return checkGroupSeen(res, m, m.groups[id], m.scopeRoot)
	}}
}

func (w *world) scopedCreate(r *rand.Rand) step {
	m := w.t[0]
	name := fmt.Sprintf("Scoped %d", r.IntN(6))
	parent := w.pickScoped(r)
	if r.IntN(6) == 0 {
		parent = ""
	}
	body := map[string]any{"name": name}
	if parent != "" {
		body["parentId"] = parent
	}
	return step{method: "POST", path: "/v1/groups", body: jsonBody(body), check: func(res response, repeat bool) error {
		switch {
		case parent == "":
			return statusIs(res, 403, groups.CodeOutOfScope)
		case !m.visible(parent):
			return statusIs(res, 400, groups.CodeInvalidArgument)
		case len(m.ancestors(parent))+1 > groups.MaxDepth:
			return statusIs(res, 409, groups.CodeTooDeep)
		case m.nameTaken(name, ""):
			return statusIs(res, 409, groups.CodeNameTaken)
		case repeat && res.status == 409:
			return w.adopt(0, parent, name, nil, nil)
		}
		if err := statusIs(res, 201, ""); err != nil {
			return err
		}
		w.addGroup(0, res.str("id"), parent, name, nil, nil)
		return checkGroupSeen(res, m, m.groups[res.str("id")], m.scopeRoot)
	}}
}

func (w *world) scopedMove(r *rand.Rand) step {
	m, id := w.t[0], w.pickScoped(r)
	target := w.pickScoped(r)
	if r.IntN(5) == 0 {
		target = ""
	}
	var body any
	if target != "" {
		body = target
	}
	return step{method: "PATCH", path: "/v1/groups/" + id, body: jsonBody(map[string]any{"parentId": body}), check: func(res response, repeat bool) error {
		if !m.visible(id) {
			return statusIs(res, 404, groups.CodeNotFound)
		}
		g := m.groups[id]
		switch {
		case target == g.parent:
		case target == "":
			return statusIs(res, 403, groups.CodeOutOfScope)
		case !m.visible(target):
			return statusIs(res, 400, groups.CodeInvalidArgument)
		}
		return moved(res, repeat, m, g, target, m.scopeRoot)
	}}
}

func (w *world) scopedDelete(r *rand.Rand) step {
	m, id := w.t[0], w.pickScoped(r)
	cascade := r.IntN(2) == 0
	path := "/v1/groups/" + id
	if cascade {
		path += "?cascade=true"
	}
	return step{method: "DELETE", path: path, check: func(res response, repeat bool) error {
		switch {
		case !m.visible(id) && repeat && res.status == 404:
			return nil
		case !m.visible(id):
			return statusIs(res, 404, groups.CodeNotFound)
		case id == m.scopeRoot:
			return statusIs(res, 403, groups.CodeOutOfScope)
		case len(m.children(id)) > 0 && !cascade:
			return statusIs(res, 409, groups.CodeHasChildren)
		case repeat && res.status == 404:
		default:
			if err := checkGroupSeen(res, m, m.groups[id], m.scopeRoot); err != nil {
				return err
			}
		}
		for _, d := range append(m.descendants(id), id) {
			delete(m.groups, d)
		}
		return nil
	}}
}

func (w *world) scopedList(*rand.Rand) step {
	m := w.t[0]
	return step{method: "GET", path: "/v1/groups", check: func(res response, _ bool) error {
		if err := statusIs(res, 200, ""); err != nil {
			return err
		}
		var want, got []string
		for id := range m.groups {
			if m.visible(id) {
				want = append(want, id)
			}
		}
		slices.SortFunc(want, func(a, b string) int { return strings.Compare(fold(m.groups[a].name), fold(m.groups[b].name)) })
		for i := range res.list("items") {
			got = append(got, res.str("items", i, "id"))
		}
		// No total: the tenant's count would tell the token what lies
		// outside its subtree.
		if !slices.Equal(got, want) || res.at("total_count") != nil {
			return fmt.Errorf("scoped groups %v (total %v), want %v", got, res.at("total_count"), want)
		}
		return nil
	}}
}

func (w *world) scopedAdd(r *rand.Rand) step {
	m, id, it := w.t[0], w.pickScoped(r), randomItem(r)
	return step{method: "PUT", path: memberPath(id, it), check: func(res response, repeat bool) error {
		switch {
		case !m.visible(id):
			return statusIs(res, 404, groups.CodeNotFound)
		case m.groups[id].members[it]:
			return statusIs(res, 200, "")
		case repeat && res.status == 200:
		default:
			if err := statusIs(res, 201, ""); err != nil {
				return err
			}
		}
		g := m.groups[id]
		g.members[it] = true
		g.version = max(g.version+1, res.num("version"))
		return nil
	}}
}

func (w *world) scopedCheck(r *rand.Rand) step {
	m := w.t[0]
	return checkStep(m, randomItem(r), []string{w.pickScoped(r), w.pickScoped(r), w.pickGroup(r, 0)}, m.visible)
}

func (w *world) scopedRegistry(r *rand.Rand) step {
	it := randomItem(r)
	return step{method: "GET", path: itemPath(it), check: func(res response, _ bool) error {
		return statusIs(res, 403, groups.CodeOutOfScope)
	}}
}
