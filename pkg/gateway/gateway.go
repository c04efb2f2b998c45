// Package gateway plays API Gateway on a developer's machine, as `sam local
// start-api` does: it matches a request against the route table, runs the
// authorizer Lambda's handler on a REQUEST event (except for public routes),
// builds the proxy event the deployed API would send (authorizer context
// included) and invokes the operation's Lambda handler. Nothing between the HTTP request and the
// handlers is specific to local use, so what passes here passes in AWS.
package gateway

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/fleetgroups/fleetgroups/pkg/api"
	"github.com/fleetgroups/fleetgroups/pkg/app"
	"github.com/fleetgroups/fleetgroups/pkg/auth"
	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/problem"
	"github.com/fleetgroups/fleetgroups/pkg/routes"
)

// maxPayload is API Gateway's request size limit.
const maxPayload = 10 << 20

// Gateway is an http.Handler in front of the Lambda handlers.
type Gateway struct {
	handlers app.Handlers
	mux      *http.ServeMux
	log      *slog.Logger
	timeout  time.Duration
	authTTL  time.Duration
	now      func() time.Time
	authz    *authCache // nil: every request runs the authorizer
}

// Option configures a Gateway.
type Option func(*Gateway)

// WithTimeout sets the time an operation's handler gets per request, API
// Gateway's integration timeout and the Lambda's (29 s) unless set; tests
// shorten it.
func WithTimeout(d time.Duration) Option { return func(g *Gateway) { g.timeout = d } }

// WithAuthorizerCache makes the gateway keep the authorizer's answer for
// each Authorization header for ttl, as the deployed API does for
// routes.AuthorizerCacheSeconds, so that local figures reflect AWS: a
// revoked token keeps working until its cached answer expires. Without it,
// or with ttl 0, every request runs the authorizer afresh, which tests of
// authentication need.
func WithAuthorizerCache(ttl time.Duration) Option { return func(g *Gateway) { g.authTTL = ttl } }

// WithClock sets the clock by which cached authorizer answers expire (and
// the events' request time); tests move it instead of waiting.
func WithClock(now func() time.Time) Option { return func(g *Gateway) { g.now = now } }

// New routes every entry of the route table to its operation's handler.
func New(h app.Handlers, log *slog.Logger, opts ...Option) *Gateway {
	g := &Gateway{handlers: h, mux: http.NewServeMux(), log: log, timeout: routes.LambdaTimeoutSeconds * time.Second, now: time.Now}
	for _, o := range opts {
		o(g)
	}
	if g.authTTL > 0 {
		g.authz = newAuthCache(g.authTTL, authorizerCacheEntries, g.now)
	}
	for _, rt := range routes.Routes {
		g.mux.HandleFunc(rt.Pattern(), func(w http.ResponseWriter, r *http.Request) { g.invoke(w, r, rt) })
	}
	return g
}

// ServeHTTP answers unknown routes and methods as the deployed gateway
// responses do (404 route_not_found, 405 method_not_allowed), and forwards
// everything else. A path with dot or empty segments is an unknown route,
// never a redirect (see api.Routed).
//
// It refuses with 400 bad_request what API Gateway could not put into a
// proxy event: a Host that is not a host (the Lambda adapter would fail to
// parse the request's URL) and a query that does not parse (url.Query would
// drop the bad pairs silently).
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if u, err := url.Parse("https://" + r.Host); err != nil || u.Host != r.Host {
		g.fail(w, groups.Errorf(groups.CodeBadRequest, "the Host header is not a host name or host:port"), api.NewRequestID())
		return
	}
	if _, err := url.ParseQuery(r.URL.RawQuery); err != nil {
		g.fail(w, groups.Errorf(groups.CodeBadRequest, "the query is not name=value pairs joined by & and percent-encoded"), api.NewRequestID())
		return
	}
	if api.Routed(g.mux, r) {
		g.mux.ServeHTTP(w, r)
		return
	}
	g.fail(w, api.RouteError(g.mux, w, r), api.NewRequestID())
}

func (g *Gateway) invoke(w http.ResponseWriter, r *http.Request, rt routes.Route) {
	start := time.Now()
	requestID := api.NewRequestID()
	body, err := io.ReadAll(io.LimitReader(r.Body, maxPayload+1))
	if err != nil || len(body) > maxPayload {
		g.answer(w, problem.Gateway("REQUEST_TOO_LARGE"), requestID)
		return
	}
	event := proxyEvent(r, rt, body, requestID, g.now())
	// Public routes have no authorizer in the deployed API either.
	if !routes.IsPublic(rt.Operation) && !g.authorize(w, r, &event) {
		return
	}
	res, err := g.run(r.Context(), rt.Operation, event)
	if errors.Is(err, context.DeadlineExceeded) {
		// API Gateway gives up on the integration and answers its own 5xx.
		g.log.Error("lambda timed out", "op", rt.Operation, "request_id", requestID, "timeout", g.timeout)
		g.answer(w, problem.Gateway("DEFAULT_5XX"), requestID)
		return
	}
	if err != nil && r.Context().Err() != nil {
		return // the client went away: no one to answer, nothing failed
	}
	if err != nil {
		// API Gateway answers a Lambda that fails with a 502, which the
		// deployed DEFAULT_5XX gateway response renders.
		g.log.Error("lambda failed", "op", rt.Operation, "request_id", requestID, "error", err)
		g.answer(w, problem.Gateway("DEFAULT_5XX"), requestID)
		return
	}
	writeProxyResponse(w, res)
	g.log.Info("gateway", "request_id", requestID, "method", r.Method, "resource_path", rt.Path,
		"status", res.StatusCode, "tenant", event.RequestContext.Authorizer[auth.ContextTenantID], "latency_ms", time.Since(start).Milliseconds())
}

// run invokes op's handler as Lambda does: its context ends at the
// deadline, and a handler still running then has no answer
// (context.DeadlineExceeded). The handler is left to notice its context and
// end, as a Lambda's runtime would stop it.
func (g *Gateway) run(ctx context.Context, op routes.Operation, event events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	defer cancel()
	type result struct {
		res events.APIGatewayProxyResponse
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := g.handlers.Operations[op](ctx, event)
		done <- result{res, err}
	}()
	select {
	case r := <-done:
		return r.res, r.err
	case <-ctx.Done():
		return events.APIGatewayProxyResponse{}, context.Cause(ctx)
	}
}

// authorize runs the authorizer on the event, or takes its cached answer,
// and puts its context into the event, as API Gateway does; when the answer
// is a refusal, it answers the request itself and returns false.
func (g *Gateway) authorize(w http.ResponseWriter, r *http.Request, event *events.APIGatewayProxyRequest) bool {
	requestID := event.RequestContext.RequestID
	authz, err := g.authorizer(r, *event)
	switch {
	case errors.Is(err, auth.ErrUnauthorized):
		g.answer(w, problem.Gateway("UNAUTHORIZED"), requestID)
		return false
	case err != nil:
		// API Gateway answers a failed authorizer (AUTHORIZER_FAILURE, a
		// 5xx) with its DEFAULT_5XX response: 503 unavailable, retryable.
		g.log.Error("authorizer failed", "request_id", requestID, "error", err)
		g.answer(w, problem.Gateway("DEFAULT_5XX"), requestID)
		return false
	case !allows(authz.PolicyDocument):
		g.answer(w, problem.Gateway("ACCESS_DENIED"), requestID)
		return false
	}
	event.RequestContext.Authorizer = map[string]any{"principalId": authz.PrincipalID}
	for k, v := range authz.Context {
		event.RequestContext.Authorizer[k] = v
	}
	return true
}

// authorizer is the authorizer's answer for the request: from the cache
// when one is there, else from the authorizer, cached when it is a policy.
//
// What is cached follows API Gateway: the policy the authorizer returns,
// with its principal and context, keyed by the identity source (here the
// Authorization header) and judged again on each request, so a Deny policy
// is held like an Allow. API Gateway's documentation speaks of caching the
// returned policy and is silent on a refusal; an authorizer that answers
// Unauthorized or fails returns no policy, so nothing is cached and the
// next request runs it again. A client cannot tell the difference: a token
// never turns valid after being refused (it exists before it is handed
// out), and a flood of bad tokens does not fill the cache.
//
// Only a request with exactly one Authorization header uses the cache: the
// authorizer (and every Lambda) refuses several, and a request carrying two
// tokens must never be answered with the cached answer for one of them.
func (g *Gateway) authorizer(r *http.Request, event events.APIGatewayProxyRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
	identity := r.Header.Values("Authorization")
	cacheable := g.authz != nil && len(identity) == 1
	if cacheable {
		if authz, ok := g.authz.get(identity[0]); ok {
			return authz, nil
		}
	}
	authz, err := g.handlers.Authorizer(r.Context(), authorizerEvent(event))
	if err == nil && cacheable {
		g.authz.put(identity[0], authz)
	}
	return authz, err
}

// answer writes one of API Gateway's own error responses.
func (g *Gateway) answer(w http.ResponseWriter, gr problem.GatewayResponse, requestID string) {
	for k, v := range gr.AllHeaders() {
		w.Header().Set(k, v)
	}
	g.fail(w, gr.Err(), requestID)
}

// fail answers err as the gateway itself, with the headers every response
// carries. (A Lambda's answer passes as the Lambda wrote it, as in AWS, so
// that a header missing there is missing here too.)
func (g *Gateway) fail(w http.ResponseWriter, err error, requestID string) {
	w.Header().Set("X-Request-Id", requestID)
	for k, v := range problem.CommonHeaders() {
		w.Header().Set(k, v)
	}
	api.WriteProblem(w, err, requestID)
}

// proxyEvent builds the Lambda proxy integration event API Gateway sends.
func proxyEvent(r *http.Request, rt routes.Route, body []byte, requestID string, now time.Time) events.APIGatewayProxyRequest {
	// REST APIs deliver the path still percent-encoded (path parameters
	// decoded), and the Lambda adapter parses it as a URL again.
	e := events.APIGatewayProxyRequest{
		Resource: rt.Path, Path: r.URL.EscapedPath(), HTTPMethod: r.Method,
		Headers: map[string]string{}, MultiValueHeaders: map[string][]string(r.Header.Clone()),
		PathParameters: map[string]string{},
		RequestContext: events.APIGatewayProxyRequestContext{
			RequestID: requestID, Stage: routes.Stage, ResourcePath: rt.Path, HTTPMethod: r.Method,
			APIID: "local", AccountID: "000000000000", DomainName: r.Host, Path: "/" + routes.Stage + r.URL.EscapedPath(),
			RequestTimeEpoch: now.UnixMilli(),
			Identity:         events.APIGatewayRequestIdentity{SourceIP: sourceIP(r), UserAgent: r.UserAgent()},
		},
		Body: string(body),
	}
	for k, vs := range r.Header {
		e.Headers[k] = vs[len(vs)-1]
	}
	if q := r.URL.Query(); len(q) > 0 {
		e.QueryStringParameters = map[string]string{}
		e.MultiValueQueryStringParameters = map[string][]string(q)
		for k, vs := range q {
			e.QueryStringParameters[k] = vs[len(vs)-1]
		}
	}
	for _, seg := range strings.Split(rt.Path, "/") {
		if name, ok := strings.CutPrefix(seg, "{"); ok {
			name = strings.TrimSuffix(name, "}")
			e.PathParameters[name] = r.PathValue(name)
		}
	}
	return e
}

// authorizerEvent is the REQUEST authorizer's input for a proxy event.
func authorizerEvent(e events.APIGatewayProxyRequest) events.APIGatewayCustomAuthorizerRequestTypeRequest {
	return events.APIGatewayCustomAuthorizerRequestTypeRequest{
		Type:      "REQUEST",
		MethodArn: "arn:aws:execute-api:local:000000000000:local/" + routes.Stage + "/" + e.HTTPMethod + e.Path,
		Resource:  e.Resource, Path: e.Path, HTTPMethod: e.HTTPMethod,
		Headers: e.Headers, MultiValueHeaders: e.MultiValueHeaders,
		QueryStringParameters: e.QueryStringParameters, MultiValueQueryStringParameters: e.MultiValueQueryStringParameters,
		PathParameters: e.PathParameters,
		RequestContext: events.APIGatewayCustomAuthorizerRequestTypeRequestContext{
			RequestID: e.RequestContext.RequestID, Stage: routes.Stage, ResourcePath: e.Resource, HTTPMethod: e.HTTPMethod,
			APIID: "local", AccountID: "000000000000",
		},
	}
}

func allows(p events.APIGatewayCustomAuthorizerPolicy) bool {
	for _, s := range p.Statement {
		if s.Effect == "Allow" {
			return true
		}
	}
	return false
}

func writeProxyResponse(w http.ResponseWriter, res events.APIGatewayProxyResponse) {
	for k, v := range res.Headers {
		w.Header().Set(k, v)
	}
	for k, vs := range res.MultiValueHeaders {
		w.Header()[http.CanonicalHeaderKey(k)] = vs
	}
	body := []byte(res.Body)
	if res.IsBase64Encoded {
		if decoded, err := base64.StdEncoding.DecodeString(res.Body); err == nil {
			body = decoded
		}
	}
	w.WriteHeader(res.StatusCode)
	_, _ = io.Copy(w, bytes.NewReader(body))
}

func sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
