package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/fleetgroups/fleetgroups/pkg/auth"
	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/store"
)

// keyRegistry is the part of API Gateway that create-tenant needs. It is an
// interface because API Gateway cannot run locally: tests use a fake.
type keyRegistry interface {
	// CreateKey creates an enabled API key with the given value and
	// returns its id.
	CreateKey(ctx context.Context, name, value, description string) (id string, err error)
	// AttachKey adds the key to the usage plan.
	AttachKey(ctx context.Context, planID, keyID string) error
	// DeleteKey deletes the key, which also removes it from usage plans.
	DeleteKey(ctx context.Context, keyID string) error
}

// cleanupTimeout bounds deleting an API key after a failure. The cleanup
// runs on a context that ignores cancellation: an interrupted run must
// still take back the key it created.
const cleanupTimeout = 30 * time.Second

func setupCreateTenant(fs *flag.FlagSet, e *env) func(context.Context, []string) error {
	var t target
	t.register(fs, e)
	var req tenantRequest
	fs.StringVar(&req.name, "name", "", "display `NAME` of the partner; required")
	fs.StringVar(&req.id, "id", "",
		"tenant `ID` (lower-case letters, digits, '_' and '-'; at most 64); default a random tn_...")
	fs.StringVar(&req.usagePlan, "usage-plan", "",
		"API Gateway usage plan `ID` (the stack's UsagePlanId output) to register the tenant's API key with; AWS only")
	asJSON := fs.Bool("json", false, "print a JSON object {tenant_id, name, token, api_key_id} instead of text")
	return func(ctx context.Context, args []string) error {
		if err := noArgs(args); err != nil {
			return err
		}
		req.name = strings.TrimSpace(req.name)
		if req.name == "" {
			return usagef("-name is required")
		}
		if req.id != "" && !auth.ValidTenantID(req.id) {
			return usagef("invalid -id %q: use 1 to 64 lower-case letters, digits, '_' or '-'", req.id)
		}
		if err := t.check(); err != nil {
			return err
		}
		// Keys made in a real account for a throwaway local table would
		// only pile up there.
		if t.local() && req.usagePlan != "" {
			return usagef("-usage-plan registers the key with API Gateway in AWS; it cannot be used with -endpoint %s", t.endpoint)
		}
		st, keys, err := e.connect(ctx, t.endpoint, t.table)
		if err != nil {
			return err
		}
		if req.usagePlan != "" && keys == nil {
			return errors.New("no API Gateway client to register the API key with")
		}
		res, err := provisionTenant(ctx, st, keys, req)
		if err != nil {
			return fmt.Errorf("%s: %w", t.where(), err)
		}
		if !t.local() && req.usagePlan == "" {
			fmt.Fprintf(e.stderr, "%s: warning: tenant %s has no API key in API Gateway, so its requests get 403 "+
				"until one is attached to the usage plan, e.g.\n"+
				"  aws apigateway create-api-key --name %s --value %s --enabled\n"+
				"  aws apigateway create-usage-plan-key --usage-plan-id PLAN_ID --key-type API_KEY --key-id KEY_ID\n",
				progName, res.TenantID, keyName(res.TenantID), res.apiKey)
		}
		if *asJSON {
			err = json.NewEncoder(e.stdout).Encode(res)
		} else {
			err = printTenant(e.stdout, res, t)
		}
		if err != nil {
			return fmt.Errorf("tenant %s was created but its token could not be printed, and it is not stored: "+
				"create another tenant (%w)", res.TenantID, err)
		}
		return nil
	}
}

type tenantRequest struct {
	name, id  string // id "" means a random one
	usagePlan string // "" means no API key in API Gateway
}

// tenantResult is what create-tenant prints; its JSON form is the -json
// output.
type tenantResult struct {
	TenantID string `json:"tenant_id"`
	Name     string `json:"name"`
	Token    string `json:"token"`
	APIKeyID string `json:"api_key_id,omitempty"`

	apiKey    string // the key's value, needed only to register it by hand
	usagePlan string
}

// provisionTenant creates the tenant, its first token and, with a usage
// plan, its API key in API Gateway. The key comes first so that the tenant
// never exists, even briefly, without it; any failure after the key was
// made deletes it again, so a failed run provisions nothing.
func provisionTenant(ctx context.Context, st *store.Store, keys keyRegistry, req tenantRequest) (tenantResult, error) {
	tenant, token := auth.NewCredentials(req.id, req.name)
	// Before any key is made: this also proves that the table exists and
	// is writable. The API's list endpoints fail without the cursor key.
	if err := st.EnsureCursorKey(ctx); err != nil {
		return tenantResult{}, fmt.Errorf("create the cursor key: %w", err)
	}
	var keyID string
	if req.usagePlan != "" {
		var err error
		keyID, err = registerKey(ctx, keys, tenant, req.usagePlan)
		if err != nil {
			return tenantResult{}, err
		}
	}
	if err := st.PutTenant(ctx, tenant, auth.HashToken(token)); err != nil {
		if groups.CodeOf(err) == groups.CodeConflict {
			err = fmt.Errorf("tenant %s already exists; choose another -id", tenant.ID)
		} else {
			err = fmt.Errorf("write tenant %s: %w", tenant.ID, err)
		}
		if keyID != "" {
			err = rollbackKey(ctx, keys, keyID, err)
		}
		return tenantResult{}, err
	}
	return tenantResult{
		TenantID: tenant.ID, Name: tenant.Name, Token: token, APIKeyID: keyID,
		apiKey: tenant.APIKey, usagePlan: req.usagePlan,
	}, nil
}

func keyName(tenantID string) string { return "fleetgroups-" + tenantID }

// registerKey creates the tenant's API key, with the value the authorizer
// returns as usageIdentifierKey, and attaches it to the usage plan.
func registerKey(ctx context.Context, keys keyRegistry, t groups.Tenant, planID string) (string, error) {
	desc := fmt.Sprintf("fleetgroups tenant %s (%s), created by %s", t.ID, t.Name, progName)
	keyID, err := keys.CreateKey(ctx, keyName(t.ID), t.APIKey, desc)
	if err != nil {
		return "", fmt.Errorf("create the API key of tenant %s: %w", t.ID, err)
	}
	if err := keys.AttachKey(ctx, planID, keyID); err != nil {
		return "", rollbackKey(ctx, keys, keyID, fmt.Errorf("attach API key %s to usage plan %s: %w", keyID, planID, err))
	}
	return keyID, nil
}

// rollbackKey deletes the key made for a tenant that could not be created
// and says in cause whether it succeeded, since a key left behind must be
// deleted by hand.
func rollbackKey(ctx context.Context, keys keyRegistry, keyID string, cause error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if err := keys.DeleteKey(ctx, keyID); err != nil {
		return errors.Join(cause, fmt.Errorf("API key %s could not be deleted again; delete it by hand "+
			"(aws apigateway delete-api-key --api-key %s): %w", keyID, keyID, err))
	}
	return fmt.Errorf("%w (API key %s was deleted again; nothing was provisioned)", cause, keyID)
}

func printTenant(w io.Writer, r tenantResult, t target) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Created tenant %s (%s) in %s.\n\n", r.TenantID, r.Name, t.where())
	fmt.Fprintf(&b, "  Tenant ID:  %s\n", r.TenantID)
	switch {
	case r.APIKeyID != "":
		fmt.Fprintf(&b, "  API key:    %s (%s), attached to usage plan %s\n", r.APIKeyID, keyName(r.TenantID), r.usagePlan)
	case t.local():
		fmt.Fprintf(&b, "  API key:    stored in the table only (no API Gateway locally)\n")
	default:
		fmt.Fprintf(&b, "  API key:    NOT registered in API Gateway (see the warning above)\n")
	}
	fmt.Fprintf(&b, "  Token:      %s\n\n", r.Token)
	fmt.Fprintf(&b, "The token cannot be shown again: the table stores only its SHA-256.\n")
	fmt.Fprintf(&b, "Hand it to the partner securely; they send it as \"Authorization: Bearer <token>\".\n")
	_, err := io.WriteString(w, b.String())
	return err
}
