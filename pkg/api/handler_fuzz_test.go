package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/smithy-go/middleware"
	"github.com/awslabs/aws-lambda-go-api-proxy/core"

	"github.com/fleetgroups/fleetgroups/pkg/auth"
	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/problem"
	"github.com/fleetgroups/fleetgroups/pkg/routes"
	"github.com/fleetgroups/fleetgroups/pkg/store"
)

// errNoStore is what every DynamoDB call of FuzzHandler's store fails with.
var errNoStore = errors.New("FuzzHandler: the store is not reachable")

// unreachableDB is a DynamoDB client whose every call fails in the SDK's
// first step, before any request is built, counting itself in calls. It is
// no fake of the store: nothing answers, so the fuzzer sees exactly which
// requests the edge lets through to the store.
func unreachableDB(calls *atomic.Int32) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region: "us-east-1", Credentials: aws.AnonymousCredentials{},
		APIOptions: []func(*middleware.Stack) error{func(s *middleware.Stack) error {
			return s.Initialize.Add(middleware.InitializeMiddlewareFunc("fuzzUnreachable",
				func(context.Context, middleware.InitializeInput, middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
					if calls != nil {
						calls.Add(1)
					}
					return middleware.InitializeOutput{}, middleware.Metadata{}, errNoStore
				}), middleware.Before)
		}},
	})
}

// lockedBuffer collects log lines written from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) take() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.b.String()
	l.b.Reset()
	return s
}

var fuzzMethods = []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "CONNECT", "PROPFIND"}

// FuzzHandler sends any method, path, query, headers and body to any
// operation's Lambda handler, as API Gateway would deliver them (the path
// still percent-encoded, the tenant from the authorizer), over a store that
// cannot be reached. Whatever comes in:
//
//   - the handler returns a response, never an error (API Gateway's 502),
//     and never a redirect;
//   - a 5xx comes only from the store failing, never from the edge;
//   - every error is a problem document whose status and code agree, a 405
//     names the allowed methods, and nothing panics (not even recovered);
//   - only requests on one of the operation's routes with valid ids reach
//     the store (except to claim an Idempotency-Key, which comes first).
func FuzzHandler(f *testing.F) {
	type seed struct {
		method, target, headers, body string
	}
	seeds := []seed{
		{"GET", "/v1/groups", "", ""}, {"GET", "/v1/groups?limit=5&cursor=x", "", ""}, {"GET", "/v1/groups?limit=1&limit=2", "", ""},
		{"POST", "/v1/groups", "", `{"name":"a","vehicles":["v1"]}`}, {"POST", "/v1/groups", "", `{"name":"a","name":"b"}`},
		{"POST", "/v1/groups", "Content-Type: text/plain", `{"name":"a"}`}, {"POST", "/v1/groups", "Idempotency-Key: k1", `{"name":"a"}`},
		{"GET", "/v1/groups/grp_1", "If-None-Match: \"v1\"", ""}, {"PATCH", "/v1/groups/grp_1", "If-Match: W/\"v1\"", `{"name":"b"}`},
		{"DELETE", "/v1/groups/grp_1", "If-Match: *", ""}, {"GET", "/v1/groups/grp_1/members?include=item", "", ""},
		{"GET", "/v1/groups/grp_1/vehicles?sort=-created&filter[name][sw]=v", "", ""}, {"PUT", "/v1/groups/grp_1/vehicles/v1", "", ""},
		{"DELETE", "/v1/groups/grp_1/users/u@x", "", ""}, {"POST", "/v1/groups/grp_1/members:batch", "", `{"add":[{"type":"users","id":"u"}]}`},
		{"GET", "/v1/vehicles/v1/groups", "", ""}, {"PUT", "/v1/vehicles/v1", "", `{"name":"Van","attributes":{"k":"v"}}`},
		{"GET", "/v1/vehicles/v1", "", ""}, {"DELETE", "/v1/devices/d1", "", ""}, {"GET", "/v1/products?page=2&per_page=5", "", ""},
		{"POST", "/v1/vehicles/associations/users", "", `{"data":[{"vehicle_id":"v","user_id":"u"}]}`},
		{"DELETE", "/v1/vehicles/associations/users", "", `{"data":[{"type":"user_permission","id":"asc_1"}]}`},
		{"GET", "/v1/users/u1/associations/vehicles", "", ""}, {"GET", "/v1/openapi.json", "", ""}, {"GET", "/v1/usage", "", ""},
		// Paths that are not what they seem.
		{"GET", "/v1/groups/../groups", "", ""}, {"GET", "/v1/groups/%2E%2E/groups", "", ""}, {"GET", "/v1/./groups", "", ""},
		{"GET", "//v1/groups", "", ""}, {"GET", "/v1//groups", "", ""}, {"GET", "/v1/groups/", "", ""}, {"GET", "/v1/groups/a%2Fb", "", ""},
		{"GET", "/v1/groups/%00", "", ""}, {"GET", "/v1/groups/%C3%A9", "", ""}, {"GET", "/v1/groups/%ff", "", ""}, {"GET", "/V1/GROUPS", "", ""},
		{"GET", "/v1/groups/grp_1/members%3Abatch", "", ""}, {"POST", "/v1/groups/grp_1/members%3abatch", "", `{}`}, {"HEAD", "/v1/groups", "", ""},
		{"CONNECT", "/v1/groups/../x", "", ""}, {"OPTIONS", "/v1/groups", "", ""}, {"GET", "/v1/groups/" + strings.Repeat("x", 129), "", ""},
	}
	ops := slices.Collect(func(yield func(routes.Operation) bool) {
		for _, fn := range routes.Functions {
			if !routes.Routeless(fn.Operation) && !yield(fn.Operation) {
				return
			}
		}
	})
	for _, s := range seeds {
		for i, op := range ops {
			for _, rt := range routes.For(op) {
				if rt.Method == s.method && routeMatches(rt, s.target) {
					f.Add(uint8(i), uint8(slices.Index(fuzzMethods, s.method)), s.target, s.headers, []byte(s.body))
				}
			}
		}
		f.Add(uint8(0), uint8(slices.Index(fuzzMethods, s.method)), s.target, s.headers, []byte(s.body)) // at the wrong Lambda
	}

	var calls atomic.Int32
	logs := &lockedBuffer{}
	a := New(store.New(unreachableDB(&calls), "fuzz"), slog.New(slog.NewTextHandler(logs, nil)),
		WithMeter(store.New(unreachableDB(nil), "fuzz")))
	a.cursors = testSealer(f)
	handlers := map[routes.Operation]LambdaFunc{}
	for _, o := range Operations() {
		handlers[o.Name] = a.LambdaHandler(o)
	}

	f.Fuzz(func(t *testing.T, opIndex, methodIndex uint8, target, headers string, body []byte) {
		op := ops[int(opIndex)%len(ops)]
		method := fuzzMethods[int(methodIndex)%len(fuzzMethods)]
		u, err := url.ParseRequestURI(target)
		if err != nil || !strings.HasPrefix(target, "/") {
			return // not a request line a server would take
		}
		ev := events.APIGatewayProxyRequest{
			HTTPMethod: method, Path: u.EscapedPath(), Body: string(body), MultiValueHeaders: map[string][]string{},
			RequestContext: events.APIGatewayProxyRequestContext{RequestID: "fuzz", DomainName: "api.example",
				Authorizer: map[string]any{auth.ContextTenantID: "tn_a"}},
		}
		if len(body) > 0 {
			ev.MultiValueHeaders["Content-Type"] = []string{"application/json"}
		}
		for _, line := range strings.Split(headers, "\n") {
			name, value, ok := strings.Cut(line, ":")
			name, value = http.CanonicalHeaderKey(strings.TrimSpace(name)), strings.TrimSpace(value)
			if ok && validHeader(name, value) {
				if name == "Content-Type" {
					delete(ev.MultiValueHeaders, name)
				}
				ev.MultiValueHeaders[name] = append(ev.MultiValueHeaders[name], value)
			}
		}
		if q := u.Query(); len(q) > 0 {
			ev.MultiValueQueryStringParameters = q
		}
		calls.Store(0)
		logs.take()
		res, err := handlers[op](context.Background(), ev)
		reached := calls.Load() > 0
		log := logs.take()
		if err != nil {
			t.Fatalf("%s %s at %s: the handler failed (API Gateway answers 502): %v", method, target, op, err)
		}
		if strings.Contains(log, "panic: ") {
			t.Fatalf("%s %s at %s panicked:\n%s", method, target, op, log)
		}
		status := res.StatusCode
		if status >= 300 && status < 400 && status != http.StatusNotModified {
			if p := u.EscapedPath(); path.Clean(p) != p || strings.Contains(strings.ToLower(p), "%2e") {
				t.Fatalf("path with a dot or empty segment redirected: %s %s at %s: %d to %q", method, target, op, status, resHeader(res, "Location"))
			}
			t.Fatalf("%s %s at %s: %d redirect to %q", method, target, op, status, resHeader(res, "Location"))
		}
		if status >= 500 && !reached {
			t.Fatalf("%s %s at %s: %d without reaching the store: %s", method, target, op, status, res.Body)
		}
		if status >= 400 {
			var p problem.Problem
			if err := json.Unmarshal([]byte(res.Body), &p); err != nil || resHeader(res, "Content-Type") != problem.MediaType ||
				p.Status != status || problem.Status(p.Code) != status || p.Detail == "" {
				t.Fatalf("%s %s at %s: %d %q %s is not its problem document", method, target, op, status, resHeader(res, "Content-Type"), res.Body)
			}
			if status == http.StatusMethodNotAllowed && resHeader(res, "Allow") == "" {
				t.Fatalf("%s %s at %s: 405 without Allow", method, target, op)
			}
		}
		if !reached {
			return
		}
		// What reached the store came in on one of op's routes, with valid
		// ids, and passed every check of the edge.
		req, err := (&core.RequestAccessor{}).EventToRequest(ev)
		if err != nil {
			t.Fatalf("the request of %s %s cannot be rebuilt: %v", method, target, err)
		}
		rt, values, ok := matchRoute(op, req)
		if !ok {
			t.Fatalf("%s %s reached %s's store without matching one of its routes", method, target, op)
		}
		if _, claim := ev.MultiValueHeaders[headerIdempotencyKey]; claim && mutating(method) {
			return // the key is claimed before anything else is checked
		}
		for name, v := range values {
			if err := checkPathValue(name, v); err != nil {
				t.Fatalf("%s %s reached the store through %s with %s: %v", method, target, rt.Pattern(), name, err)
			}
		}
		for name, vs := range req.URL.Query() {
			if len(vs) > 1 {
				t.Fatalf("repeated query parameter not refused: %s %s reached the store with %s given %d times", method, target, name, len(vs))
			}
		}
		if len(body) > 0 && readsBody[op] {
			if k, dup := keyGivenTwice(body); dup {
				t.Fatalf("duplicate JSON key not refused: %s %s reached the store with key %q twice in %q", method, target, k, body)
			}
			if !utf8.Valid(body) || escapesLoneSurrogate(body) {
				t.Fatalf("invalid UTF-8 not refused: %s %s reached the store with %q", method, target, body)
			}
		}
	})
}

// readsBody are the operations that read a request body. The others
// (add-member, remove-member, delete-group, delete-item) ignore one, as
// GitHub's and Stripe's DELETEs do; only its size is checked (413).
var readsBody = map[routes.Operation]bool{
	routes.CreateGroup: true, routes.UpdateGroup: true, routes.BatchMembers: true,
	routes.PutItem: true, routes.CreateAssociations: true, routes.DeleteAssociations: true,
	routes.CheckMembership: true,
}

// resHeader is a response header, wherever the adapter put it.
func resHeader(res events.APIGatewayProxyResponse, name string) string {
	if vs := http.Header(res.MultiValueHeaders).Values(name); len(vs) > 0 {
		return vs[0]
	}
	return res.Headers[name]
}

// routeMatches reports whether target's path is one rt serves.
func routeMatches(rt routes.Route, target string) bool {
	req, err := http.NewRequest(rt.Method, "https://api.example"+target, nil)
	if err != nil {
		return false
	}
	mux := http.NewServeMux()
	mux.HandleFunc(rt.Pattern(), func(http.ResponseWriter, *http.Request) {})
	_, pattern := mux.Handler(req)
	return pattern == rt.Pattern()
}

// matchRoute finds which of op's routes req is on, with its path values.
func matchRoute(op routes.Operation, req *http.Request) (routes.Route, map[string]string, bool) {
	for _, rt := range routes.For(op) {
		mux := http.NewServeMux()
		values := map[string]string{}
		mux.HandleFunc(rt.Pattern(), func(_ http.ResponseWriter, r *http.Request) {
			for _, seg := range strings.Split(rt.Path, "/") {
				if name, ok := strings.CutPrefix(seg, "{"); ok {
					name = strings.TrimSuffix(name, "}")
					values[name] = r.PathValue(name)
				}
			}
		})
		if _, pattern := mux.Handler(req); pattern == rt.Pattern() {
			mux.ServeHTTP(&headerProbe{header: http.Header{}}, req)
			return rt, values, true
		}
	}
	return routes.Route{}, nil, false
}

func checkPathValue(name, v string) error {
	if name == "itemType" {
		_, err := groups.ParseItemType(name, v)
		return err
	}
	return groups.ValidateID(name, v)
}

// validHeader reports whether a header line could come through API
// Gateway: a token for a name, no control characters in the value.
func validHeader(name, value string) bool {
	if name == "" {
		return false
	}
	for _, c := range []byte(name) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	for _, c := range []byte(value) {
		if c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
