package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/fleetgroups/fleetgroups/pkg/auth"
	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/store"
	"github.com/fleetgroups/fleetgroups/pkg/storetest"
)

// authenticates runs the authorizer Lambda's handler on a request with the
// token and reports whether it lets the request through for tenant.
func authenticates(t *testing.T, st *store.Store, token, tenant string) bool {
	t.Helper()
	authz := &auth.Authorizer{Store: st, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	res, err := authz.Handle(context.Background(), events.APIGatewayCustomAuthorizerRequestTypeRequest{
		Type:      "REQUEST",
		MethodArn: "arn:aws:execute-api:eu-central-1:123456789012:abc123/live/GET/v1/groups",
		// API Gateway sends both forms; the authorizer reads the multi-value one.
		Headers:           map[string]string{"Authorization": "Bearer " + token},
		MultiValueHeaders: map[string][]string{"Authorization": {"Bearer " + token}},
	})
	switch {
	case errors.Is(err, auth.ErrUnauthorized):
		return false
	case err != nil:
		t.Fatalf("authorizer: %v", err)
	}
	if res.Context[auth.ContextTenantID] != tenant || res.PolicyDocument.Statement[0].Effect != "Allow" || res.UsageIdentifierKey == "" {
		t.Fatalf("authorizer answered %+v, want an Allow for %s with its API key", res, tenant)
	}
	return true
}

// newTenant creates a tenant with create-tenant and returns its token.
func newTenant(t *testing.T, st *store.Store, id string) string {
	t.Helper()
	out := admin(t, local(st.Table()), connect, "create-tenant", "-name", id, "-id", id, "-json")
	if out.code != 0 {
		t.Fatalf("create-tenant: exit %d: %s", out.code, out.stderr)
	}
	return printed(t, out.stdout, true).Token
}

// listed runs list-tokens -json.
func listed(t *testing.T, st *store.Store, tenant string) []tokenView {
	t.Helper()
	out := admin(t, local(st.Table()), connect, "list-tokens", "-tenant", tenant, "-json")
	if out.code != 0 {
		t.Fatalf("list-tokens: exit %d: %s", out.code, out.stderr)
	}
	var views []tokenView
	if err := json.Unmarshal([]byte(out.stdout), &views); err != nil {
		t.Fatalf("list-tokens -json: %v\n%s", err, out.stdout)
	}
	return views
}

var hexID = regexp.MustCompile(`^[0-9a-f]{12}$`)

func TestTokenLifecycle(t *testing.T) {
	t.Parallel()
	st, _ := storetest.NewStore(t)
	first := newTenant(t, st, "acme")
	otherFirst := newTenant(t, st, "globex")

	// create-token prints a new token once, which authenticates as the tenant.
	created := admin(t, local(st.Table()), connect, "create-token", "-tenant", "acme", "-label", " billing system ", "-json")
	if created.code != 0 {
		t.Fatalf("create-token: exit %d: %s", created.code, created.stderr)
	}
	var v tokenView
	if err := json.Unmarshal([]byte(created.stdout), &v); err != nil {
		t.Fatal(err)
	}
	if v.TenantID != "acme" || v.Label != "billing system" || !hexID.MatchString(v.TokenID) ||
		v.TokenID != auth.HashToken(v.Token)[:12] || v.CreatedAt == "" {
		t.Fatalf("create-token printed %+v", v)
	}
	second := v.Token
	text := admin(t, local(st.Table()), connect, "create-token", "-tenant", "acme")
	third := textField.FindAllStringSubmatch(text.stdout, -1)
	if text.code != 0 || len(third) != 1 || third[0][1] != "Token" || !strings.Contains(text.stdout, "cannot be shown again") {
		t.Fatalf("create-token (text): exit %d\n%s", text.code, text.stdout)
	}
	thirdToken := third[0][2]

	// Only hashes are stored, and list-tokens never shows a token.
	items := scan(t, st.Table())
	allTokens := []string{first, second, thirdToken, otherFirst}
	for _, tok := range allTokens {
		if !authenticates(t, st, tok, strings.Split(strings.TrimPrefix(tok, "fg_"), ".")[0]) {
			t.Errorf("token %s does not authenticate", tok)
		}
		if found := itemsContaining(items, tok); len(found) > 0 {
			t.Errorf("the plain token is stored in %v", found)
		}
	}
	listText := admin(t, local(st.Table()), connect, "list-tokens", "-tenant", "acme")
	listJSON := admin(t, local(st.Table()), connect, "list-tokens", "-tenant", "acme", "-json")
	for _, out := range []string{listText.stdout, listJSON.stdout} {
		for _, tok := range allTokens {
			secret := tok[strings.Index(tok, ".")+1:]
			if strings.Contains(out, secret) || strings.Contains(out, auth.HashToken(tok)) {
				t.Errorf("list-tokens shows a token or its whole hash:\n%s", out)
			}
		}
	}
	if !strings.Contains(listText.stdout, v.TokenID) || !strings.Contains(listText.stdout, "billing system") {
		t.Errorf("list-tokens (text) lacks the new token:\n%s", listText.stdout)
	}

	steps := []struct {
		name                string
		tenant, tokenID     string
		code                int
		stderr              string
		stillWorks, revoked []string
		listed              map[string]int
	}{
		{name: "other-tenant-cannot-revoke", tenant: "globex", tokenID: v.TokenID, code: 1,
			stderr: "tenant globex has no token " + v.TokenID, stillWorks: []string{second},
			listed: map[string]int{"acme": 3, "globex": 1}},
		{name: "revoke-by-id", tenant: "acme", tokenID: v.TokenID, revoked: []string{second},
			stillWorks: []string{first, thirdToken, otherFirst}, listed: map[string]int{"acme": 2, "globex": 1}},
		{name: "revoke-again-fails", tenant: "acme", tokenID: v.TokenID, code: 1, stderr: "nothing was revoked",
			listed: map[string]int{"acme": 2}},
		{name: "revoke-by-prefix-upper-case", tenant: "acme", tokenID: strings.ToUpper(auth.HashToken(first)[:8]),
			revoked: []string{first}, stillWorks: []string{thirdToken}, listed: map[string]int{"acme": 1}},
		{name: "unknown-tenant", tenant: "initech", tokenID: "abcdef12", code: 1, stderr: "tenant initech does not exist"},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			out := admin(t, local(st.Table()), connect, "revoke-token", "-tenant", s.tenant, "-token-id", s.tokenID)
			if out.code != s.code || !strings.Contains(out.stderr, s.stderr) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", out.code, out.stderr, s.code, s.stderr)
			}
			if s.code == 0 && (!strings.Contains(out.stdout, "Revoked token") || !strings.Contains(out.stdout, "5m0s")) {
				t.Errorf("output does not confirm, or does not mention the authorizer's 5-minute cache:\n%s", out.stdout)
			}
			for _, tok := range s.revoked {
				if authenticates(t, st, tok, "acme") {
					t.Errorf("revoked token %s still authenticates", tok)
				}
			}
			for _, tok := range s.stillWorks {
				if !authenticates(t, st, tok, strings.Split(strings.TrimPrefix(tok, "fg_"), ".")[0]) {
					t.Errorf("token %s stopped working", tok)
				}
			}
			for tenant, n := range s.listed {
				if got := listed(t, st, tenant); len(got) != n {
					t.Errorf("%s has %d tokens %v, want %d", tenant, len(got), got, n)
				}
			}
		})
	}
	last := listed(t, st, "acme")[0].TokenID
	out := admin(t, local(st.Table()), connect, "revoke-token", "-tenant", "acme", "-token-id", last)
	if out.code != 0 || !strings.Contains(out.stdout, "no tokens left") {
		t.Errorf("revoking the last token: exit %d, %q; want a note that none are left", out.code, out.stdout)
	}
}

func TestCreateTokenForUnknownTenantWritesNothing(t *testing.T) {
	t.Parallel()
	st, _ := storetest.NewStore(t)
	before := keysOf(scan(t, st.Table()))
	for _, cmd := range [][]string{
		{"create-token", "-tenant", "nobody", "-label", "x"},
		{"list-tokens", "-tenant", "nobody"},
	} {
		out := admin(t, local(st.Table()), connect, cmd...)
		if out.code != 1 || !strings.Contains(out.stderr, "tenant nobody does not exist in table "+st.Table()) || out.stdout != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want 1 and that the tenant does not exist", cmd[0], out.code, out.stdout, out.stderr)
		}
	}
	if after := keysOf(scan(t, st.Table())); !slices.Equal(before, after) {
		t.Errorf("the table changed:\nbefore %v\nafter  %v", before, after)
	}
}

func TestRevokeTokenRefusesAnAmbiguousID(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := storetest.NewStore(t)
	newTenant(t, st, "acme")
	// Hashes chosen to share their first 11 characters.
	for i, h := range []string{"abcdef01234", "abcdef01235"} {
		if _, err := st.CreateToken(ctx, "acme", groups.Token{Hash: h + strings.Repeat("0", 53), Label: []string{"one", "two"}[i]}); err != nil {
			t.Fatal(err)
		}
	}
	ambiguous := admin(t, local(st.Table()), connect, "revoke-token", "-tenant", "acme", "-token-id", "abcdef0123")
	if ambiguous.code != 1 || !strings.Contains(ambiguous.stderr, "ambiguous") ||
		!strings.Contains(ambiguous.stderr, "abcdef012340") || !strings.Contains(ambiguous.stderr, "abcdef012350") {
		t.Fatalf("exit %d, %q; want 1 naming both candidates", ambiguous.code, ambiguous.stderr)
	}
	if n := len(listed(t, st, "acme")); n != 3 {
		t.Fatalf("%d tokens after an ambiguous revoke, want all 3", n)
	}
	exact := admin(t, local(st.Table()), connect, "revoke-token", "-tenant", "acme", "-token-id", "abcdef01235")
	if exact.code != 0 || !strings.Contains(exact.stdout, "abcdef012350 (label two)") {
		t.Fatalf("exit %d, %q", exact.code, exact.stdout)
	}
	views := listed(t, st, "acme")
	if len(views) != 2 || !slices.ContainsFunc(views, func(v tokenView) bool { return v.TokenID == "abcdef012340" }) {
		t.Fatalf("tokens left %v, want the other abcdef token and the first", views)
	}
	if _, _, err := st.TenantByToken(ctx, "acme", "abcdef01235"+strings.Repeat("0", 53)); groups.CodeOf(err) != groups.CodeNotFound {
		t.Fatalf("the revoked token's item is still there: %v", err)
	}
}

// TestReadOnlyToken: create-token -read-only makes a token whose
// authorizer context marks it read-only, and list-tokens shows each
// token's access.
func TestReadOnlyToken(t *testing.T) {
	t.Parallel()
	st, _ := storetest.NewStore(t)
	first := newTenant(t, st, "acme")
	out := admin(t, local(st.Table()), connect, "create-token", "-tenant", "acme", "-read-only", "-label", "dashboard", "-json")
	var v tokenView
	if err := json.Unmarshal([]byte(out.stdout), &v); out.code != 0 || err != nil || v.Access != "read-only" {
		t.Fatalf("create-token -read-only: exit %d, %+v, %v\n%s", out.code, v, err, out.stderr)
	}
	authz := &auth.Authorizer{Store: st, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, c := range []struct {
		token    string
		readOnly any
	}{{v.Token, "true"}, {first, nil}} {
		res, err := authz.Handle(context.Background(), events.APIGatewayCustomAuthorizerRequestTypeRequest{
			MethodArn:         "arn:aws:execute-api:eu-central-1:123456789012:abc123/live/GET/v1/groups",
			MultiValueHeaders: map[string][]string{"Authorization": {"Bearer " + c.token}},
		})
		if err != nil || res.Context[auth.ContextReadOnly] != c.readOnly || res.Context[auth.ContextTenantID] != "acme" {
			t.Fatalf("authorizer context %v, %v; want readOnly %v", res.Context, err, c.readOnly)
		}
	}
	access := map[string]string{}
	for _, tok := range listed(t, st, "acme") {
		access[tok.TokenID] = tok.Access
	}
	if access[v.TokenID] != "read-only" || access[auth.HashToken(first)[:12]] != "read-write" {
		t.Fatalf("list-tokens access = %v", access)
	}
	text := admin(t, local(st.Table()), connect, "list-tokens", "-tenant", "acme")
	if !strings.Contains(text.stdout, "ACCESS") || !strings.Contains(text.stdout, "read-only") {
		t.Fatalf("list-tokens (text):\n%s", text.stdout)
	}
}

// TestScopedToken: create-token -group makes a token scoped to a group of
// the tenant (and refuses one it does not have); list-tokens shows it.
func TestScopedToken(t *testing.T) {
	t.Parallel()
	st, _ := storetest.NewStore(t)
	newTenant(t, st, "acme")
	g, err := st.CreateGroup(context.Background(), "acme", groups.NewGroup{Name: "Depot"})
	if err != nil {
		t.Fatal(err)
	}
	missing := admin(t, local(st.Table()), connect, "create-token", "-tenant", "acme", "-group", "grp_nope")
	if missing.code == 0 || !strings.Contains(missing.stderr, "has no group grp_nope") {
		t.Fatalf("create-token -group of a missing group: exit %d\n%s", missing.code, missing.stderr)
	}
	out := admin(t, local(st.Table()), connect, "create-token", "-tenant", "acme", "-group", g.ID, "-read-only", "-json")
	var v tokenView
	if err := json.Unmarshal([]byte(out.stdout), &v); out.code != 0 || err != nil || v.Scope != g.ID || v.Access != "read-only" {
		t.Fatalf("create-token -group: exit %d, %+v, %v\n%s", out.code, v, err, out.stderr)
	}
	authz := &auth.Authorizer{Store: st, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	res, err := authz.Handle(context.Background(), events.APIGatewayCustomAuthorizerRequestTypeRequest{
		MethodArn:         "arn:aws:execute-api:eu-central-1:123456789012:abc123/live/GET/v1/groups",
		MultiValueHeaders: map[string][]string{"Authorization": {"Bearer " + v.Token}},
	})
	if err != nil || res.Context[auth.ContextScope] != g.ID {
		t.Fatalf("authorizer context %v, %v", res.Context, err)
	}
	text := admin(t, local(st.Table()), connect, "list-tokens", "-tenant", "acme")
	if !strings.Contains(text.stdout, "SCOPE") || !strings.Contains(text.stdout, g.ID) || !strings.Contains(text.stdout, "tenant") {
		t.Fatalf("list-tokens (text):\n%s", text.stdout)
	}
}
