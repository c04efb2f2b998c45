package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/fleetgroups/fleetgroups/pkg/app"
	"github.com/fleetgroups/fleetgroups/pkg/auth"
	"github.com/fleetgroups/fleetgroups/pkg/gateway"
	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/routes"
)

// The edges of a request: paths, headers and queries that could be read
// more than one way. Each is refused with a problem document, and nothing is
// written.

// TestDotSegments: ServeMux answers a path with a dot or empty segment with
// a redirect to the cleaned path, and a client that follows
// DELETE /v1/groups/{g}/vehicles/.. would delete the group. Both the local
// gateway and each Lambda (whatever path API Gateway hands it) answer 404.
func TestDotSegments(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	g := e.call(t, e.tokenA, "POST", "/v1/groups", `{"name":"Dots","vehicles":["v1"]}`).str("id")
	tenant, _ := auth.TenantOf(e.tokenA)
	h := app.NewHandlers(e.st, quiet)
	cases := []struct {
		name   string
		op     routes.Operation // the Lambda the cleaned path belongs to
		method string
		path   string
	}{
		{"404-remove-member-dotdot", routes.DeleteGroup, "DELETE", "/v1/groups/" + g + "/vehicles/.."},
		{"404-remove-member-dot", routes.RemoveMember, "DELETE", "/v1/groups/" + g + "/vehicles/./v1"},
		{"404-delete-group-dotdot", routes.DeleteGroup, "DELETE", "/v1/groups/x/../" + g},
		{"404-empty-segment", routes.RemoveMember, "DELETE", "/v1/groups/" + g + "//vehicles/v1"},
		{"404-double-slash", routes.ListGroups, "GET", "/v1//groups"},
		{"404-item-groups-dotdot", routes.ListGroups, "GET", "/v1/vehicles/../groups"},
	}
	for _, c := range cases {
		t.Run("gateway/"+c.name, func(t *testing.T) {
			req, err := http.NewRequest(c.method, e.srv.URL+c.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+e.tokenA)
			r := e.do(t, req)
			expect(t, r, 404, groups.CodeRouteNotFound)
			if loc := r.header.Get("Location"); loc != "" {
				t.Fatalf("Location: %s", loc)
			}
		})
		t.Run("lambda/"+c.name, func(t *testing.T) {
			r := invoke(t, h, c.op, c.method, c.path, tenant, nil)
			expect(t, r, 404, groups.CodeRouteNotFound)
			if loc := r.header.Get("Location"); loc != "" {
				t.Fatalf("Location: %s", loc)
			}
		})
	}
	if r := e.call(t, e.tokenA, "GET", "/v1/groups/"+g, ""); r.status != 200 || r.num("memberCount") != 1 {
		t.Fatalf("group after dot segments: %d %v", r.status, r.body)
	}
}

// TestLambdaPathThatDoesNotParse: the proxy adapter cannot make a request of
// a path with a stray '%', and failed the invocation (a 5xx from API
// Gateway for the client's mistake); each Lambda answers 400 instead.
func TestLambdaPathThatDoesNotParse(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tenant, _ := auth.TenantOf(e.tokenA)
	h := app.NewHandlers(e.st, quiet)
	for _, c := range []struct {
		name string
		op   routes.Operation
		path string
	}{
		{"400-group-id", routes.GetGroup, "/v1/groups/%ZZ"},
		{"400-public-route", routes.GetOpenAPI, "/v1/openapi.json%"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := invoke(t, h, c.op, "GET", c.path, tenant, nil)
			expect(t, r, 400, groups.CodeBadRequest)
			if r.header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("headers %v", r.header)
			}
		})
	}
}

// TestDotOnlyIDs: an id of dots only would be a dot segment in every path
// that names it, so no route could reach it safely; it is refused wherever an
// id enters.
func TestDotOnlyIDs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	g := e.call(t, e.tokenA, "POST", "/v1/groups", `{"name":"Dotted"}`).str("id")
	cases := []struct {
		name, method, path, body, field string
	}{
		{"create-400-dotdot-member", "POST", "/v1/groups", `{"name":"x","vehicles":[".."]}`, "vehicles[0]"},
		{"batch-400-dot-id", "POST", "/v1/groups/" + g + "/members:batch", `{"add":[{"type":"users","id":"."}]}`, "add[0]"},
		{"add-member-400-encoded-dotdot", "PUT", "/v1/groups/" + g + "/vehicles/%2E%2E", "", "itemId"},
		{"put-item-400-three-dots", "PUT", "/v1/vehicles/...", `{"name":"x"}`, "itemId"},
		{"put-item-400-encoded-dot", "PUT", "/v1/devices/%2e", `{"name":"x"}`, "itemId"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.call(t, e.tokenA, c.method, c.path, c.body)
			expect(t, r, 400, groups.CodeInvalidArgument)
			errs, _ := r.body["errors"].([]any)
			if len(errs) == 0 || errs[0].(map[string]any)["field"] != c.field {
				t.Fatalf("errors = %v, want %s", r.body["errors"], c.field)
			}
		})
	}
	if r := e.call(t, e.tokenA, "GET", "/v1/groups/"+g, ""); r.num("memberCount") != 0 {
		t.Fatalf("a dot id was added: %v", r.body)
	}
}

// TestSeveralAuthorizationHeaders: API Gateway's headers map keeps the last
// of several values, so two tokens would let the request run as either
// tenant. The authorizer refuses them, and so does every Lambda, since API
// Gateway may answer from a cached authorization without running the
// authorizer.
func TestSeveralAuthorizationHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tenantB, _ := auth.TenantOf(e.tokenB)
	A, B := "Bearer "+e.tokenA, "Bearer "+e.tokenB
	cases := []struct {
		name    string
		headers map[string][]string
	}{
		{"401-two-tenants", map[string][]string{"Authorization": {A, B}}},
		{"401-same-token-twice", map[string][]string{"Authorization": {B, B}}},
		{"401-two-spellings", map[string][]string{"authorization": {A}, "Authorization": {B}}},
	}
	h := app.NewHandlers(e.st, quiet)
	for _, c := range cases {
		t.Run("gateway/"+c.name, func(t *testing.T) {
			req, err := http.NewRequest("GET", e.srv.URL+"/v1/groups", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header = c.headers
			r := e.do(t, req)
			expect(t, r, 401, groups.CodeUnauthenticated)
		})
		t.Run("authorizer/"+c.name, func(t *testing.T) {
			_, err := h.Authorizer(context.Background(), events.APIGatewayCustomAuthorizerRequestTypeRequest{
				Type: "REQUEST", MethodArn: "arn:aws:execute-api:local:000000000000:local/live/GET/v1/groups",
				Headers: map[string]string{"Authorization": B}, MultiValueHeaders: c.headers,
			})
			if !errors.Is(err, auth.ErrUnauthorized) {
				t.Fatalf("authorizer error = %v, want Unauthorized", err)
			}
		})
		t.Run("lambda/"+c.name, func(t *testing.T) {
			// As if API Gateway had the last token's authorization cached.
			r := invoke(t, h, routes.ListGroups, "GET", "/v1/groups", tenantB, c.headers)
			expect(t, r, 401, groups.CodeUnauthenticated)
			if r.header.Get("WWW-Authenticate") != "Bearer" {
				t.Fatal("401 without WWW-Authenticate: Bearer")
			}
		})
	}
	t.Run("200-public-route-ignores-them", func(t *testing.T) {
		r := invoke(t, h, routes.GetOpenAPI, "GET", "/v1/openapi.json", "", cases[0].headers)
		expect(t, r, 200, "")
	})
}

// TestRepeatedQueryParameters: every route refuses a parameter given twice,
// instead of reading one of the two values.
func TestRepeatedQueryParameters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	g := e.call(t, e.tokenA, "POST", "/v1/groups", `{"name":"One","vehicles":["v1"]}`).str("id")
	e.call(t, e.tokenA, "POST", "/v1/groups", `{"name":"Two","vehicles":["v1"]}`)
	cursor := e.call(t, e.tokenA, "GET", "/v1/vehicles/v1/groups?limit=1", "").str("next_cursor")
	if cursor == "" {
		t.Fatal("no cursor")
	}
	check := func(t *testing.T, r response, field string) {
		t.Helper()
		expect(t, r, 400, groups.CodeInvalidArgument)
		errs, _ := r.body["errors"].([]any)
		if len(errs) == 0 || errs[0].(map[string]any)["field"] != field || errs[0].(map[string]any)["message"] != "must be given once" {
			t.Fatalf("errors = %v, want %s given once", r.body["errors"], field)
		}
	}
	t.Run("400-item-groups-cursor-twice", func(t *testing.T) {
		check(t, e.call(t, e.tokenA, "GET", "/v1/vehicles/v1/groups?cursor="+cursor+"&cursor="+cursor, ""), "cursor")
	})
	t.Run("400-members-include-twice", func(t *testing.T) {
		check(t, e.call(t, e.tokenA, "GET", "/v1/groups/"+g+"/members?include=item&include=item", ""), "include")
	})
	for _, rt := range routes.Routes {
		t.Run("400-"+rt.Pattern(), func(t *testing.T) {
			path := strings.NewReplacer("{groupId}", g, "{itemType}", "vehicles", "{itemId}", "v1").Replace(rt.Path)
			check(t, e.call(t, e.tokenA, rt.Method, path+"?limit=1&limit=1", ""), "limit")
		})
	}
	if r := e.call(t, e.tokenA, "GET", "/v1/groups/"+g, ""); r.status != 200 || r.num("memberCount") != 1 {
		t.Fatalf("group after refused requests: %d %v", r.status, r.body)
	}
}

// TestResponseHeaders: no answer is stored by a browser or a shared cache
// (the public OpenAPI document excepted), and no browser sniffs a body into
// something else, whichever layer answers.
func TestResponseHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	g := e.call(t, e.tokenA, "POST", "/v1/groups", `{"name":"Headers"}`).str("id")
	cases := []struct {
		name, token, method, path string
		status                    int
		cacheControl              string
	}{
		{"200-group", e.tokenA, "GET", "/v1/groups/" + g, 200, "no-store"},
		{"200-list", e.tokenA, "GET", "/v1/groups", 200, "no-store"},
		{"404-lambda-problem", e.tokenA, "GET", "/v1/groups/grp_missing", 404, "no-store"},
		{"400-lambda-problem", e.tokenA, "GET", "/v1/groups?limit=0", 400, "no-store"},
		{"401-gateway-problem", "", "GET", "/v1/groups", 401, "no-store"},
		{"404-gateway-problem", e.tokenA, "GET", "/v1/nothing", 404, "no-store"},
		{"405-gateway-problem", e.tokenA, "POST", "/v1/groups/" + g, 405, "no-store"},
		{"200-public-document", "", "GET", "/v1/openapi.json", 200, "public, max-age=300"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.call(t, c.token, c.method, c.path, "")
			if r.status != c.status {
				t.Fatalf("status %d, want %d", r.status, c.status)
			}
			if got := r.header.Get("Cache-Control"); got != c.cacheControl {
				t.Errorf("Cache-Control = %q, want %q", got, c.cacheControl)
			}
			if got := r.header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
			}
		})
	}
}

// TestMalformedRequests: what net/http or the Lambda adapter cannot read
// (a Host that is no host, a query that does not parse, a path with a bad
// escape) is a 400 problem document from the gateway server itself, never a
// bare 502, a plain-text error or a silently dropped parameter. The requests
// are written by hand, since no well-behaved client sends them.
func TestMalformedRequests(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	addr := serve(t, e)
	bearer := "Authorization: Bearer " + e.tokenA + "\r\n"
	cases := []struct{ name, request string }{
		{"400-host-bad-port", "GET /v1/groups HTTP/1.1\r\nHost: x:y\r\n" + bearer + "\r\n"},
		{"400-host-bad-escape", "GET /v1/groups HTTP/1.1\r\nHost: %zz\r\n" + bearer + "\r\n"},
		{"400-host-with-space", "GET /v1/groups HTTP/1.1\r\nHost: a b\r\n" + bearer + "\r\n"},
		{"400-two-hosts", "GET /v1/groups HTTP/1.1\r\nHost: a\r\nHost: b\r\n" + bearer + "\r\n"},
		{"400-no-host", "GET /v1/groups HTTP/1.1\r\n" + bearer + "\r\n"},
		{"400-query-semicolon", "GET /v1/groups?limit=1;search=x HTTP/1.1\r\nHost: localhost\r\n" + bearer + "\r\n"},
		{"400-query-bad-escape", "GET /v1/groups?%ZZ=1 HTTP/1.1\r\nHost: localhost\r\n" + bearer + "\r\n"},
		{"400-path-bad-escape", "GET /v1/groups/%ZZ HTTP/1.1\r\nHost: localhost\r\n" + bearer + "\r\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := exchange(t, addr, c.request)
			expect(t, r, 400, groups.CodeBadRequest)
			if r.header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("headers %v lack X-Content-Type-Options: nosniff", r.header)
			}
		})
	}
	t.Run("200-well-formed", func(t *testing.T) {
		expect(t, exchange(t, addr, "GET /v1/groups?limit=1 HTTP/1.1\r\nHost: localhost:3000\r\n"+bearer+"\r\n"), 200, "")
	})
}

// TestLambdaFailure: a Lambda that fails (returns an error, as the proxy
// adapter does on an event it cannot convert) is API Gateway's 502, which
// the deployed DEFAULT_5XX gateway response renders as a retryable 503
// problem; the local gateway answers the same, not a bare 502.
func TestLambdaFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	h := app.NewHandlers(e.st, quiet)
	h.Operations[routes.ListGroups] = func(context.Context, events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
		return events.APIGatewayProxyResponse{}, errors.New("the Lambda failed")
	}
	srv := httptest.NewServer(gateway.New(h, quiet))
	t.Cleanup(srv.Close)
	req, err := http.NewRequest("GET", srv.URL+"/v1/groups", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.tokenA)
	r := e.do(t, req)
	expect(t, r, 503, groups.CodeUnavailable)
	if r.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("headers %v lack X-Content-Type-Options: nosniff", r.header)
	}
}

// serve runs the gateway server over e's table until the test ends, and
// returns its address.
func serve(t *testing.T, e *env) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- gateway.Serve(ctx, ln, gateway.New(app.NewHandlers(e.st, quiet), quiet)) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// exchange writes request to addr as it is and reads the answer.
func exchange(t *testing.T, addr, request string) response {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, request); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	out := response{status: res.StatusCode, header: res.Header, raw: raw}
	if err := json.Unmarshal(raw, &out.body); err != nil {
		t.Fatalf("body is not JSON: %d %v %q", res.StatusCode, res.Header, raw)
	}
	return out
}

// invoke runs op's Lambda handler on the proxy event API Gateway would send
// for method and path once it has authorized tenant, with the path exactly as
// given and headers as its multiValueHeaders.
func invoke(t *testing.T, h app.Handlers, op routes.Operation, method, path, tenant string, headers map[string][]string) response {
	t.Helper()
	event := events.APIGatewayProxyRequest{
		HTTPMethod: method, Path: path, MultiValueHeaders: headers,
		RequestContext: events.APIGatewayProxyRequestContext{
			RequestID: "edge", Stage: routes.Stage, DomainName: "api.example.com",
			Authorizer: map[string]any{auth.ContextTenantID: tenant},
		},
	}
	res, err := h.Operations[op](context.Background(), event)
	if err != nil {
		t.Fatal(err)
	}
	out := response{status: res.StatusCode, header: http.Header{}, raw: []byte(res.Body)}
	for k, v := range res.Headers {
		out.header.Set(k, v)
	}
	for k, vs := range res.MultiValueHeaders {
		out.header[http.CanonicalHeaderKey(k)] = vs
	}
	if res.Body != "" {
		if err := json.Unmarshal(out.raw, &out.body); err != nil {
			t.Fatalf("body is not JSON: %q", res.Body)
		}
	}
	return out
}
