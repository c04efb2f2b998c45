package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/storetest"
)

func TestTokens(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := storetest.NewStore(t)
	hash := func(c string) string { return strings.Repeat(c, 64) }
	for _, tn := range []groups.Tenant{{ID: tenantA, APIKey: "key-of-alpha-0000000000"}, {ID: tenantB, APIKey: "key-of-beta-00000000000"}} {
		if err := st.PutTenant(ctx, tn, hash(tn.ID[3:4])); err != nil { // "a…" and "b…"
			t.Fatal(err)
		}
	}
	steps := []struct {
		name   string
		run    func() error
		code   groups.Code
		tokens map[string][]string // tenant → hashes after the step
	}{
		{"create-adds-a-token", func() error {
			_, err := st.CreateToken(ctx, tenantA, groups.Token{Hash: hash("c"), Label: "ci"})
			return err
		}, "",
			map[string][]string{tenantA: {hash("a"), hash("c")}, tenantB: {hash("b")}}},
		{"create-409-same-hash", func() error {
			_, err := st.CreateToken(ctx, tenantA, groups.Token{Hash: hash("c"), Label: "again"})
			return err
		}, groups.CodeConflict,
			map[string][]string{tenantA: {hash("a"), hash("c")}}},
		{"create-404-no-tenant", func() error {
			_, err := st.CreateToken(ctx, "tn_nobody", groups.Token{Hash: hash("d"), Label: ""})
			return err
		}, groups.CodeNotFound,
			map[string][]string{tenantA: {hash("a"), hash("c")}, tenantB: {hash("b")}}},
		{"delete-404-other-tenants-token", func() error { return st.DeleteToken(ctx, tenantB, hash("c")) }, groups.CodeNotFound,
			map[string][]string{tenantA: {hash("a"), hash("c")}, tenantB: {hash("b")}}},
		{"delete-removes-it", func() error { return st.DeleteToken(ctx, tenantA, hash("a")) }, "",
			map[string][]string{tenantA: {hash("c")}, tenantB: {hash("b")}}},
		{"delete-404-again", func() error { return st.DeleteToken(ctx, tenantA, hash("a")) }, groups.CodeNotFound,
			map[string][]string{tenantA: {hash("c")}}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			err := s.run()
			if s.code == "" && err != nil {
				t.Fatal(err)
			}
			if s.code != "" {
				wantCode(t, err, s.code)
			}
			for tenant, want := range s.tokens {
				got, err := st.ListTokens(ctx, tenant)
				if err != nil {
					t.Fatal(err)
				}
				var hashes []string
				for _, tok := range got {
					hashes = append(hashes, tok.Hash)
				}
				if strings.Join(hashes, ",") != strings.Join(want, ",") {
					t.Fatalf("%s has tokens %v, want %v", tenant, hashes, want)
				}
			}
		})
	}
	// The created token authenticates with the tenant's API key and label;
	// the deleted one no longer does.
	tenant, _, err := st.TenantByToken(ctx, tenantA, hash("c"))
	if err != nil || tenant.ID != tenantA || tenant.APIKey != "key-of-alpha-0000000000" {
		t.Fatalf("TenantByToken(new) = %+v, %v", tenant, err)
	}
	if _, _, err := st.TenantByToken(ctx, tenantA, hash("a")); groups.CodeOf(err) != groups.CodeNotFound {
		t.Fatalf("TenantByToken(deleted) = %v, want not found", err)
	}
	toks, _ := st.ListTokens(ctx, tenantA)
	if toks[0].Label != "ci" || toks[0].CreatedAt.IsZero() {
		t.Fatalf("token %+v lacks its label or creation time", toks[0])
	}
	if _, err := st.ListTokens(ctx, "tn_nobody"); groups.CodeOf(err) != groups.CodeNotFound {
		t.Fatalf("ListTokens(unknown tenant) = %v, want not found", err)
	}
}
