// Package api is the HTTP face of each operation: it validates input at the
// edge, calls the store, and answers JSON or RFC 9457 problem details. Each
// Lambda serves one operation's routes through Handler, wrapped for API
// Gateway proxy events by LambdaHandler; the local server runs the very same
// Lambda handlers.
package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"path"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/core"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"

	"github.com/fleetgroups/fleetgroups/pkg/auth"
	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/jsonlog"
	"github.com/fleetgroups/fleetgroups/pkg/problem"
	"github.com/fleetgroups/fleetgroups/pkg/routes"
	"github.com/fleetgroups/fleetgroups/pkg/store"
	"github.com/fleetgroups/fleetgroups/pkg/webhooks"
)

// API holds what every operation needs.
type API struct {
	store   *store.Store
	log     jsonlog.Logger
	cursors *cursorSealer
	meter   *store.Store // counts calls (usage.go); store unless WithMeter
	limits  Limits
	// webhookPolicy checks webhook urls and delivers tests and retries.
	webhookPolicy webhooks.Policy
}

// Option configures an API.
type Option func(*API)

// New returns the API over st, logging to log.
func New(st *store.Store, log jsonlog.Logger, opts ...Option) *API {
	a := &API{store: st, log: log, cursors: &cursorSealer{load: st.CursorKeys}, meter: st, limits: DefaultLimits()}
	for _, o := range opts {
		o(a)
	}
	return a
}

// LambdaFunc is the signature of an operation's Lambda handler.
type LambdaFunc = func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error)

// LambdaHandler is o's Lambda handler: API Gateway proxy events in, proxy
// responses out, through aws-lambda-go-api-proxy and Handler(o).
func (a *API) LambdaHandler(o Operation) LambdaFunc {
	adapter := httpadapter.New(a.Handler(o))
	return func(ctx context.Context, e events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		if _, err := url.Parse(e.Path); err == nil {
			return adapter.ProxyWithContext(ctx, e)
		}
		// The adapter cannot make a request of a path that does not parse
		// (a stray '%': API Gateway passes paths still encoded) and would
		// fail the invocation, which API Gateway answers with a 5xx for the
		// client's mistake. The request is refused on a stand-in path, with
		// the event's request id and authorizer context.
		sent := e.Path
		e.Path = "/"
		r, err := adapter.EventToRequestWithContext(ctx, e)
		if err != nil {
			return core.GatewayTimeout(), err // as the adapter would
		}
		r.URL.Path = sent // for the log line
		w := core.NewProxyResponseWriter()
		a.serve(o.Name, fail(groups.Errorf(groups.CodeBadRequest, "the request path is not percent-encoded correctly"))).ServeHTTP(w, r)
		return w.GetProxyResponse()
	}
}

// endpoint is an operation's handler: it writes its success response itself
// and returns any error for the caller to render as a problem.
type endpoint func(w http.ResponseWriter, r *http.Request, tenant string) error

// Handler serves o's routes (and only those: in AWS each Lambda sees only
// its own), answering 404 or 405 problems for anything else.
func (a *API) Handler(o Operation) http.Handler {
	op := o.Name
	ep := func(w http.ResponseWriter, r *http.Request, tenant string) error { return o.endpoint(a, w, r, tenant) }
	h := a.serve(op, ep)
	if o.idempotent != nil {
		h = o.idempotent(a, op, h)
		h = a.refuseReadOnly(op, h)
	}
	rt := router(routes.For(op))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		route, values, ok, allow := rt.match(r)
		if !ok {
			a.serve(op, func(w http.ResponseWriter, r *http.Request, _ string) error {
				return routeError(w, r, strings.Join(allow, ", "))
			}).ServeHTTP(w, r)
			return
		}
		if err := ambiguity(op, r); err != nil {
			a.serve(op, fail(err)).ServeHTTP(w, r)
			return
		}
		for _, v := range values {
			r.SetPathValue(v.name, v.value)
		}
		r.Pattern = route.Pattern()
		h.ServeHTTP(w, r)
	})
}

// ambiguity refuses a request that could be read more than one way, before
// anything reads it (Idempotency-Key included, so that no key keeps the
// refusal as its answer).
func ambiguity(op routes.Operation, r *http.Request) error {
	// Several Authorization headers: the authorizer refuses them too, but
	// API Gateway may answer from a cached authorization of the last token
	// without running it, and the request would run as that token's tenant
	// whatever the others say. A public operation reads no token.
	if n := len(r.Header.Values("Authorization")); n > 1 && !routes.IsPublic(op) {
		return groups.Errorf(groups.CodeUnauthenticated, "send one Authorization header, not %d", n)
	}
	// A repeated query parameter: handlers read one value of each, and
	// which of two cursors or limits was meant is a guess.
	q := r.URL.Query()
	var errs []groups.FieldError
	for _, name := range slices.Sorted(maps.Keys(q)) {
		if len(q[name]) > 1 {
			errs = append(errs, groups.FieldError{Field: name, Message: "must be given once"})
		}
	}
	return groups.ValidationError(errs)
}

// Routed reports whether mux has a route for r's path exactly as it was
// sent. A path with an empty, "." or ".." segment has none: ServeMux would
// answer it with a redirect to the cleaned path, and a client that followed
// DELETE /v1/groups/{g}/vehicles/.. would delete the group {g}. API Gateway
// may hand a Lambda such a path, so each Lambda's router (router.go) refuses
// it too, not only the local gateway.
func Routed(mux *http.ServeMux, r *http.Request) bool {
	if !cleanPath(r) {
		return false
	}
	_, pattern := mux.Handler(r)
	return pattern != ""
}

// cleanPath reports whether r's path is its own cleaned form, the only form
// ServeMux serves without a redirect.
func cleanPath(r *http.Request) bool {
	p := r.URL.EscapedPath()
	return path.Clean(p) == p
}

// RouteError is the error for a request that Routed refuses: 405
// method_not_allowed (with the Allow header ServeMux computes) when the path
// exists, 404 route_not_found otherwise.
func RouteError(mux *http.ServeMux, w http.ResponseWriter, r *http.Request) error {
	allow := ""
	if cleanPath(r) {
		probe := &headerProbe{header: http.Header{}}
		h, _ := mux.Handler(r)
		h.ServeHTTP(probe, r)
		if probe.status == http.StatusMethodNotAllowed {
			allow = probe.header.Get("Allow")
		}
	}
	return routeError(w, r, allow)
}

// routeError is the error for a request that no route serves: 405
// method_not_allowed with the Allow header if some method has a route for
// its path (allow lists those), 404 route_not_found otherwise.
func routeError(w http.ResponseWriter, r *http.Request, allow string) error {
	if allow != "" {
		w.Header().Set("Allow", allow)
		return groups.Errorf(groups.CodeMethodNotAllowed, "%s is not supported on %s", r.Method, r.URL.Path)
	}
	return groups.Errorf(groups.CodeRouteNotFound, "no route for %s %s", r.Method, r.URL.Path)
}

type headerProbe struct {
	header http.Header
	status int
}

func (p *headerProbe) Header() http.Header         { return p.header }
func (p *headerProbe) Write(b []byte) (int, error) { return len(b), nil }
func (p *headerProbe) WriteHeader(status int)      { p.status = status }

// serve wraps an endpoint with what every request gets: the tenant from the
// authorizer (required unless the operation is public), the request id, the
// headers every response carries, usage metering, problem rendering, panic
// recovery and one structured log line.
func (a *API) serve(op routes.Operation, ep endpoint) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		gw, _ := core.GetAPIGatewayContextFromContext(r.Context())
		requestID := gw.RequestID
		if requestID == "" {
			requestID = NewRequestID()
		}
		tenant := tenantOf(r)
		// Every log line of the request, whoever writes it, names it.
		r = r.WithContext(jsonlog.WithRequestID(r.Context(), requestID))
		w.Header().Set("X-Request-Id", requestID)
		for k, v := range problem.CommonHeaders() {
			w.Header().Set(k, v)
		}
		w, r, waitMeter := a.startMetering(w, r, op, tenant)
		defer waitMeter()
		rec := &statusRecorder{ResponseWriter: w}
		err := func() (err error) {
			defer func() {
				if p := recover(); p != nil {
					err = &groups.Error{Code: groups.CodeInternal, Err: fmt.Errorf("panic: %v\n%s", p, debug.Stack())}
				}
			}()
			if !auth.ValidTenantID(tenant) && !routes.IsPublic(op) {
				// The authorizer always sets it; without it nothing is safe to do.
				return &groups.Error{Code: groups.CodeUnauthenticated, Detail: "the request carries no authenticated tenant"}
			}
			if r.ContentLength > MaxBodyBytes {
				// Also for operations that read no body: one limit for every
				// route, rather than a body ignored however large.
				return groups.Errorf(groups.CodePayloadTooLarge, "the body is larger than %d bytes", MaxBodyBytes)
			}
			// A token scoped to a subtree: the store keeps every call in it.
			r = r.WithContext(store.WithScope(r.Context(), fromAuthorizer(r, auth.ContextScope)))
			return ep(rec, r, tenant)
		}()
		if err != nil {
			WriteProblem(rec, err, requestID)
		}
		attrs := []any{
			"op", op, "method", r.Method, "path", r.URL.Path, "status", rec.status,
			"duration_ms", time.Since(start).Milliseconds(), "tenant", tenant,
		}
		switch {
		case rec.status >= 500:
			a.log.ErrorContext(r.Context(), "request failed", append(attrs, "error", err)...)
		default:
			a.log.InfoContext(r.Context(), "request", attrs...)
		}
	})
}

// refuseReadOnly answers a write made with a read-only token 403
// read_only_token, before anything else (an Idempotency-Key claim
// included) is written.
func (a *API) refuseReadOnly(op routes.Operation, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fromAuthorizer(r, auth.ContextReadOnly) == "true" {
			a.serve(op, fail(groups.ErrReadOnlyToken)).ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// tenantOf is the tenant the authorizer named ("" if none).
func tenantOf(r *http.Request) string { return fromAuthorizer(r, auth.ContextTenantID) }

// fromAuthorizer is the authorizer's context value key ("" if none): the
// tenant, and a token's restrictions (auth.ContextReadOnly,
// auth.ContextScope).
func fromAuthorizer(r *http.Request, key string) string {
	gw, _ := core.GetAPIGatewayContextFromContext(r.Context())
	v, _ := gw.Authorizer[key].(string)
	return v
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(status int) {
	s.status = status
	s.ResponseWriter.WriteHeader(status)
}

// NewRequestID returns a random id for a request that has none from API Gateway.
func NewRequestID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
