package main

import (
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/fleetgroups/fleetgroups/pkg/auth"
	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/routes"
	"github.com/fleetgroups/fleetgroups/pkg/store"
)

// A token's id is the start of its hash: enough to tell a tenant's tokens
// apart and to find the item, useless for authenticating.
const tokenIDLength = 12

// minTokenIDPrefix is the shortest id prefix revoke-token accepts, so that a
// slip of the finger cannot revoke a token by a character or two.
const minTokenIDPrefix = 8

// maxLabelLength bounds a token's label, which is for people.
const maxLabelLength = 100

func tokenID(hash string) string { return hash[:min(tokenIDLength, len(hash))] }

// tenantFlag is the -tenant flag the token commands share.
type tenantFlag struct{ id string }

func (f *tenantFlag) register(fs *flag.FlagSet) {
	fs.StringVar(&f.id, "tenant", "", "`ID` of the tenant; required")
}

func (f *tenantFlag) check() error {
	switch {
	case f.id == "":
		return usagef("-tenant is required")
	case !auth.ValidTenantID(f.id):
		return usagef("invalid -tenant %q: tenant ids are 1 to 64 lower-case letters, digits, '_' or '-'", f.id)
	}
	return nil
}

// notFound says which tenant is missing, and where.
func notFound(err error, tenant string, t target) error {
	if groups.CodeOf(err) == groups.CodeNotFound {
		return fmt.Errorf("tenant %s does not exist in %s", tenant, t.where())
	}
	return fmt.Errorf("%s: %w", t.where(), err)
}

// tokenView is how the token commands print a token; the JSON form is their
// -json output. The token itself appears only in create-token's output.
type tokenView struct {
	TenantID  string `json:"tenant_id"`
	TokenID   string `json:"token_id"`
	Label     string `json:"label"`
	CreatedAt string `json:"created_at"`
	// Access is "read-write", or "read-only" for a -read-only token.
	Access string `json:"access"`
	// Scope is the group whose subtree alone the token sees, "" for the
	// whole tenant.
	Scope string `json:"scope"`
	Token string `json:"token,omitempty"`
}

func viewToken(tenant string, tok groups.Token) tokenView {
	access := "read-write"
	if tok.ReadOnly {
		access = "read-only"
	}
	return tokenView{TenantID: tenant, TokenID: tokenID(tok.Hash), Label: tok.Label, CreatedAt: tok.CreatedAt.UTC().Format(time.RFC3339), Access: access, Scope: tok.Scope}
}

func setupCreateToken(fs *flag.FlagSet, e *env) func(context.Context, []string) error {
	var t target
	t.register(fs, e)
	var tenant tenantFlag
	tenant.register(fs)
	label := fs.String("label", "", "`LABEL` telling this token apart from the tenant's others, e.g. who holds it (at most 100 characters)")
	readOnly := fs.Bool("read-only", false, "make a token that may only read: every write answers 403 read_only_token")
	scope := fs.String("group", "", "`GROUP` id: make a token that sees only this group of the tenant and its descendants")
	asJSON := fs.Bool("json", false, "print a JSON object {tenant_id, token_id, label, created_at, access, token} instead of text")
	return func(ctx context.Context, args []string) error {
		if err := noArgs(args); err != nil {
			return err
		}
		if err := tenant.check(); err != nil {
			return err
		}
		*label = strings.TrimSpace(*label)
		if len([]rune(*label)) > maxLabelLength || strings.ContainsFunc(*label, unicode.IsControl) {
			return usagef("invalid -label: use at most %d characters and no control characters", maxLabelLength)
		}
		if err := t.check(); err != nil {
			return err
		}
		st, _, err := e.connect(ctx, t.endpoint, t.table)
		if err != nil {
			return err
		}
		if *scope != "" {
			if err := groups.ValidateID("group", *scope); err != nil {
				return usagef("invalid -group %q: give a group id of the tenant", *scope)
			}
			if _, err := st.GetGroup(ctx, tenant.id, *scope); err != nil {
				if groups.CodeOf(err) == groups.CodeNotFound {
					return fmt.Errorf("tenant %s has no group %s in %s: no token was created", tenant.id, *scope, t.where())
				}
				return err
			}
		}
		token := auth.NewToken(tenant.id)
		tok, err := st.CreateToken(ctx, tenant.id, groups.Token{Hash: auth.HashToken(token), Label: *label, ReadOnly: *readOnly, Scope: *scope})
		if err != nil {
			return notFound(err, tenant.id, t)
		}
		v := viewToken(tenant.id, tok)
		v.Token = token
		if *asJSON {
			err = json.NewEncoder(e.stdout).Encode(v)
		} else {
			err = printToken(e.stdout, v, t)
		}
		if err != nil {
			return fmt.Errorf("token %s of tenant %s was created but could not be printed, and it is not stored: "+
				"revoke it (revoke-token -tenant %s -token-id %s) and create another (%w)", v.TokenID, tenant.id, tenant.id, v.TokenID, err)
		}
		return nil
	}
}

func printToken(w io.Writer, v tokenView, t target) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Created a token for tenant %s in %s.\n\n", v.TenantID, t.where())
	fmt.Fprintf(&b, "  Token ID:   %s\n", v.TokenID)
	fmt.Fprintf(&b, "  Label:      %s\n", v.Label)
	fmt.Fprintf(&b, "  Access:     %s\n", v.Access)
	if v.Scope != "" {
		fmt.Fprintf(&b, "  Scope:      group %s and its descendants\n", v.Scope)
	}
	fmt.Fprintf(&b, "  Token:      %s\n\n", v.Token)
	fmt.Fprintf(&b, "The token cannot be shown again: the table stores only its SHA-256.\n")
	fmt.Fprintf(&b, "Hand it to the partner securely; they send it as \"Authorization: Bearer <token>\".\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func setupListTokens(fs *flag.FlagSet, e *env) func(context.Context, []string) error {
	var t target
	t.register(fs, e)
	var tenant tenantFlag
	tenant.register(fs)
	asJSON := fs.Bool("json", false, "print a JSON array of {tenant_id, token_id, label, created_at, access} instead of a table")
	return func(ctx context.Context, args []string) error {
		if err := noArgs(args); err != nil {
			return err
		}
		if err := tenant.check(); err != nil {
			return err
		}
		if err := t.check(); err != nil {
			return err
		}
		st, _, err := e.connect(ctx, t.endpoint, t.table)
		if err != nil {
			return err
		}
		tokens, err := st.ListTokens(ctx, tenant.id)
		if err != nil {
			return notFound(err, tenant.id, t)
		}
		views := make([]tokenView, len(tokens))
		for i, tok := range tokens {
			views[i] = viewToken(tenant.id, tok)
		}
		if *asJSON {
			return json.NewEncoder(e.stdout).Encode(views)
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TOKEN ID\tCREATED\tACCESS\tSCOPE\tLABEL")
		for _, v := range views {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", v.TokenID, v.CreatedAt, v.Access, cmp.Or(v.Scope, "tenant"), cmp.Or(v.Label, "-"))
		}
		return tw.Flush()
	}
}

func setupRevokeToken(fs *flag.FlagSet, e *env) func(context.Context, []string) error {
	var t target
	t.register(fs, e)
	var tenant tenantFlag
	tenant.register(fs)
	prefix := fs.String("token-id", "", fmt.Sprintf("`ID` of the token as list-tokens shows it, or its first %d or more characters; required", minTokenIDPrefix))
	return func(ctx context.Context, args []string) error {
		if err := noArgs(args); err != nil {
			return err
		}
		if err := tenant.check(); err != nil {
			return err
		}
		id := strings.ToLower(strings.TrimSpace(*prefix))
		if len(id) < minTokenIDPrefix || len(id) > 64 || strings.Trim(id, "0123456789abcdef") != "" {
			return usagef("invalid -token-id %q: give the token id list-tokens shows (at least %d hex characters)", *prefix, minTokenIDPrefix)
		}
		if err := t.check(); err != nil {
			return err
		}
		st, _, err := e.connect(ctx, t.endpoint, t.table)
		if err != nil {
			return err
		}
		tok, left, err := revokeToken(ctx, st, tenant.id, id)
		if err != nil {
			return fmt.Errorf("%s: %w", t.where(), err)
		}
		cache := time.Duration(routes.AuthorizerCacheSeconds) * time.Second
		fmt.Fprintf(e.stdout, "Revoked token %s (%s) of tenant %s in %s.\n", tokenID(tok.Hash), labelOrNone(tok.Label), tenant.id, t.where())
		fmt.Fprintf(e.stdout, "API Gateway caches the authorizer's answer for up to %v: a client that used the token "+
			"in the last %v may go on using it until %s.\n", cache, cache, time.Now().UTC().Add(cache).Format(time.RFC3339))
		if left == 0 {
			fmt.Fprintf(e.stdout, "Tenant %s has no tokens left; create-token makes a new one.\n", tenant.id)
		}
		return nil
	}
}

// revokeToken deletes the one token of the tenant whose hash starts with
// prefix, refusing when none or several do, and says how many are left.
func revokeToken(ctx context.Context, st *store.Store, tenant, prefix string) (groups.Token, int, error) {
	tokens, err := st.ListTokens(ctx, tenant)
	if groups.CodeOf(err) == groups.CodeNotFound {
		return groups.Token{}, 0, fmt.Errorf("tenant %s does not exist", tenant)
	}
	if err != nil {
		return groups.Token{}, 0, err
	}
	var matches []groups.Token
	var ids []string
	for _, tok := range tokens {
		if strings.HasPrefix(tok.Hash, prefix) {
			matches = append(matches, tok)
			ids = append(ids, tokenID(tok.Hash))
		}
	}
	switch len(matches) {
	case 0:
		return groups.Token{}, 0, fmt.Errorf("tenant %s has no token %s (list-tokens shows its tokens); nothing was revoked", tenant, prefix)
	case 1:
	default:
		return groups.Token{}, 0, fmt.Errorf("token id %s is ambiguous: tenant %s has tokens %s; give more characters. Nothing was revoked",
			prefix, tenant, strings.Join(ids, ", "))
	}
	if err := st.DeleteToken(ctx, tenant, matches[0].Hash); err != nil {
		if groups.CodeOf(err) == groups.CodeNotFound {
			err = fmt.Errorf("token %s of tenant %s was revoked meanwhile by someone else", ids[0], tenant)
		}
		return groups.Token{}, 0, err
	}
	return matches[0], len(tokens) - 1, nil
}

func labelOrNone(label string) string {
	if label == "" {
		return "no label"
	}
	return "label " + label
}
