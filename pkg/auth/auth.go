// Package auth issues partner tokens and implements the API Gateway REQUEST
// authorizer that turns a bearer token into a tenant. Tokens are stored only
// as their SHA-256; the plain token is shown once, when it is created.
package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/jsonlog"
	"github.com/fleetgroups/fleetgroups/pkg/store"
)

// A token is "fg_<tenant id>.<secret>": carrying the tenant id lets the
// authorizer find the token's hash with one GetItem inside the tenant's own
// partition, so every key in the table still starts with the tenant.
const tokenPrefix = "fg_"

// ContextTenantID is the authorizer context key that carries the tenant id
// to the operation Lambdas (requestContext.authorizer.tenantId).
const ContextTenantID = "tenantId"

// ContextReadOnly is the authorizer context key that marks a read-only
// token ("true"); it is absent for tokens that may write.
const ContextReadOnly = "readOnly"

// ContextScope is the authorizer context key that names the group whose
// subtree alone a scoped token sees; it is absent for tenant-wide tokens.
const ContextScope = "scopeGroup"

// ErrUnauthorized is the error API Gateway maps to 401: its message must be
// exactly "Unauthorized".
var ErrUnauthorized = errors.New("Unauthorized")

// NewCredentials makes a new tenant named name, with the given id (a random
// "tn_…" one when id is ""), a random API key and its first token. The API
// key (40 characters; API Gateway needs at least 20) is what the usage plan
// meters the tenant by. The caller checks id with ValidTenantID.
func NewCredentials(id, name string) (t groups.Tenant, token string) {
	if id == "" {
		id = "tn_" + store.RandomToken(10)
	}
	t = groups.Tenant{ID: id, Name: name, APIKey: store.RandomToken(25)}
	return t, NewToken(t.ID)
}

// NewToken makes a fresh token for the tenant.
func NewToken(tenantID string) string {
	return tokenPrefix + tenantID + "." + store.RandomToken(20)
}

// HashToken is the form in which a token is stored and looked up.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// ValidTenantID reports whether id can name a tenant: 1–64 characters of
// lower-case letters, digits, '_' and '-' (no '.', which ends the id inside a
// token, and no '#', the key separator).
func ValidTenantID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// TenantOf returns the tenant id a token names, if the token is well formed.
func TenantOf(token string) (string, bool) {
	rest, ok := strings.CutPrefix(token, tokenPrefix)
	if !ok {
		return "", false
	}
	id, secret, ok := strings.Cut(rest, ".")
	if !ok || secret == "" || !ValidTenantID(id) {
		return "", false
	}
	return id, true
}

// Authorizer is the REQUEST authorizer Lambda's handler.
type Authorizer struct {
	Store *store.Store
	Log   jsonlog.Logger
}

// Handle authenticates the request's bearer token. It answers
// ErrUnauthorized (401) for a missing, malformed or unknown token or for
// more than one Authorization header, and an
// Allow policy for the whole API otherwise (so API Gateway may cache it for
// every route), with the tenant id in the context and the tenant's API key as
// usageIdentifierKey, by which the usage plan meters and throttles the tenant.
func (a *Authorizer) Handle(ctx context.Context, req events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
	token, ok := bearerToken(req.MultiValueHeaders)
	if !ok {
		return events.APIGatewayCustomAuthorizerResponse{}, ErrUnauthorized
	}
	tenantID, ok := TenantOf(token)
	if !ok {
		return events.APIGatewayCustomAuthorizerResponse{}, ErrUnauthorized
	}
	tenant, tok, err := a.Store.TenantByToken(ctx, tenantID, HashToken(token))
	if groups.CodeOf(err) == groups.CodeNotFound {
		return events.APIGatewayCustomAuthorizerResponse{}, ErrUnauthorized
	}
	if err != nil {
		// Any other error makes API Gateway answer 500: the caller retries.
		a.Log.ErrorContext(ctx, "authorizer lookup failed", "request_id", req.RequestContext.RequestID, "error", err)
		return events.APIGatewayCustomAuthorizerResponse{}, err
	}
	return events.APIGatewayCustomAuthorizerResponse{
		PrincipalID: tenant.ID,
		PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{
			Version: "2012-10-17",
			Statement: []events.IAMPolicyStatement{{
				Action: []string{"execute-api:Invoke"}, Effect: "Allow", Resource: []string{wholeAPI(req.MethodArn)},
			}},
		},
		Context:            authorizerContext(tenant, tok),
		UsageIdentifierKey: tenant.APIKey,
	}, nil
}

// authorizerContext is what the operation Lambdas learn of the caller.
func authorizerContext(tenant groups.Tenant, tok groups.Token) map[string]any {
	c := map[string]any{ContextTenantID: tenant.ID}
	if tok.ReadOnly {
		c[ContextReadOnly] = "true"
	}
	if tok.Scope != "" {
		c[ContextScope] = tok.Scope
	}
	return c
}

// bearerToken reads "Authorization: Bearer <token>" from the event's
// multiValueHeaders, and only from there: its headers map keeps the last of
// several values, and a request that carries two tokens must run as neither
// tenant. Header names are case-insensitive, and API Gateway passes them as
// the client sent them, so "authorization" and "Authorization" are two
// values of one header.
func bearerToken(headers map[string][]string) (string, bool) {
	var values []string
	for k, vs := range headers {
		if strings.EqualFold(k, "Authorization") {
			values = append(values, vs...)
		}
	}
	if len(values) != 1 {
		return "", false
	}
	scheme, token, ok := strings.Cut(strings.TrimSpace(values[0]), " ")
	token = strings.TrimSpace(token)
	return token, ok && strings.EqualFold(scheme, "Bearer") && token != ""
}

// wholeAPI turns "arn:...:api-id/stage/GET/v1/groups" into
// "arn:...:api-id/stage/*/*": the cached policy must allow every route.
func wholeAPI(methodArn string) string {
	api, rest, ok := strings.Cut(methodArn, "/")
	if !ok {
		return methodArn
	}
	stage, _, _ := strings.Cut(rest, "/")
	return api + "/" + stage + "/*/*"
}
