package gateway_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/problem"
)

var gatewayMethods = []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "PROPFIND"}

// How FuzzGateway authenticates a request.
const (
	authToken       = iota // A's token
	authLine               // the fuzzed line, with $TOKEN standing for A's token
	authNone               // no Authorization
	authBadThenGood        // two lines: the fuzzed one, then A's token
	authGoodThenBad        // two lines: A's token, then the fuzzed one
	authModes
)

// FuzzGateway sends any request over HTTP to the local gateway, which runs
// the authorizer and the operations' Lambda handlers on DynamoDB Local, as
// tenant A or with any Authorization. Whatever comes in:
//
//   - a response comes back (a panic outside the handlers' recovery would
//     drop the connection), and it is no redirect and no 5xx;
//   - every error is a problem document whose status and code agree, and
//     a 401 asks for Bearer;
//   - only a request carrying a real token gets past the authorizer.
func FuzzGateway(f *testing.F) {
	type seed struct {
		method, target, authorization, body string
		mode                                int
	}
	seeds := []seed{
		{"GET", "/v1/groups", "", "", authToken}, {"POST", "/v1/groups", "", `{"name":"fuzz","vehicles":["v1"]}`, authToken},
		{"GET", "/v1/groups?limit=1&limit=2", "", "", authToken}, {"GET", "/v1/groups?cursor=a&cursor=b", "", "", authToken},
		{"GET", "/v1/vehicles/v1/groups?cursor=a&cursor=b", "", "", authToken}, {"GET", "/v1/groups?include=item&include=item", "", "", authToken},
		{"POST", "/v1/groups", "", `{"name":"a","name":"b"}`, authToken}, {"PUT", "/v1/vehicles/v1", "", "{\"name\":\"\xff\"}", authToken},
		{"PUT", "/v1/vehicles/v1", "", `{"name":"\ud800"}`, authToken}, {"PATCH", "/v1/groups/grp_x", "", `{"description":"` + strings.Repeat("é", 1025) + `"}`, authToken},
		{"GET", "/v1/groups/../groups", "", "", authToken}, {"GET", "/v1/groups/%2E%2E/groups", "", "", authToken}, {"GET", "/v1/./usage", "", "", authToken},
		{"GET", "//v1/groups", "", "", authToken}, {"GET", "/v1//groups", "", "", authToken}, {"GET", "/v1/groups/", "", "", authToken},
		{"GET", "/v1/groups/a%2Fb/members", "", "", authToken}, {"GET", "/v1/groups/%00", "", "", authToken}, {"DELETE", "/v1/users/%ff", "", "", authToken},
		{"GET", "/v1/openapi.json", "", "", authNone}, {"GET", "/v1/../v1/openapi.json", "", "", authNone}, {"OPTIONS", "/v1/groups", "", "", authToken},
		{"POST", "/v1/groups/grp_x/members:batch", "", `{"add":[{"type":"users","id":"u","id":"v"}]}`, authToken},
		{"GET", "/v1/groups", "bearer $TOKEN", "", authLine}, {"GET", "/v1/groups", "Bearer  $TOKEN ", "", authLine},
		{"GET", "/v1/groups", "Bearer $TOKEN $TOKEN", "", authLine}, {"GET", "/v1/groups", "Bearer $TOKEN,", "", authLine},
		{"GET", "/v1/groups", "Bearer fg_tn_x.y", "", authLine}, {"GET", "/v1/groups", "Bearer fg_.", "", authLine},
		{"GET", "/v1/groups", "Basic Zm9vOmJhcg==", "", authLine}, {"GET", "/v1/groups", "Bearer", "", authLine},
		{"GET", "/v1/groups", "Bearer hello", "", authBadThenGood}, {"GET", "/v1/groups", "Bearer hello", "", authGoodThenBad},
	}
	for _, s := range seeds {
		f.Add(uint8(slices.Index(gatewayMethods, s.method)), s.target, uint8(s.mode), s.authorization, []byte(s.body))
	}
	e := newEnv(f)
	client := e.srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	f.Fuzz(func(t *testing.T, methodIndex uint8, target string, mode uint8, authorization string, body []byte) {
		method := gatewayMethods[int(methodIndex)%len(gatewayMethods)]
		if !strings.HasPrefix(target, "/") {
			return
		}
		req, err := http.NewRequest(method, e.srv.URL+target, bytes.NewReader(body))
		if err != nil || req.URL.Host != strings.TrimPrefix(e.srv.URL, "http://") {
			return // not a request a client can send to this server
		}
		if len(body) > 0 {
			req.Header.Set("Content-Type", "application/json")
		}
		line := strings.ReplaceAll(authorization, "$TOKEN", e.tokenA)
		switch mode % authModes {
		case authToken:
			req.Header["Authorization"] = []string{"Bearer " + e.tokenA}
		case authLine:
			req.Header["Authorization"] = []string{line}
		case authBadThenGood:
			req.Header["Authorization"] = []string{line, "Bearer " + e.tokenA}
		case authGoodThenBad:
			req.Header["Authorization"] = []string{"Bearer " + e.tokenA, line}
		}
		res, err := client.Do(req)
		if err != nil {
			if strings.Contains(err.Error(), "net/http: invalid") {
				return // refused by the client: no such request reaches a server
			}
			t.Fatalf("%s %s: no response: %v", method, target, err)
		}
		raw, _ := io.ReadAll(res.Body)
		res.Body.Close()
		status := res.StatusCode
		what := method + " " + target
		if status >= 300 && status < 400 && status != http.StatusNotModified {
			if p := req.URL.EscapedPath(); path.Clean(p) != p || strings.Contains(strings.ToLower(p), "%2e") {
				t.Fatalf("path with a dot or empty segment redirected: %s: %d to %q", what, status, res.Header.Get("Location"))
			}
			t.Fatalf("%s: %d redirect to %q", what, status, res.Header.Get("Location"))
		}
		if status >= 500 {
			t.Fatalf("%s: %d %s", what, status, raw)
		}
		var p problem.Problem
		if status >= 400 {
			if res.Header.Get("Content-Type") != problem.MediaType {
				t.Fatalf("%s: %d with Content-Type %q", what, status, res.Header.Get("Content-Type"))
			}
			if method == "HEAD" {
				return // the same headers as GET, no body to read
			}
			if err := json.Unmarshal(raw, &p); err != nil || p.Status != status || problem.Status(p.Code) != status || p.Detail == "" {
				t.Fatalf("%s: %d %q %s is not its problem document", what, status, res.Header.Get("Content-Type"), raw)
			}
			if status == http.StatusUnauthorized && res.Header.Get("WWW-Authenticate") != "Bearer" {
				t.Fatalf("%s: 401 without WWW-Authenticate: Bearer", what)
			}
		}
		// Past the authorizer: the gateway matched a route that is not
		// public, and the answer is not the authorizer's 401.
		refusedBefore := slices.Contains([]groups.Code{groups.CodeUnauthenticated, groups.CodeRouteNotFound, groups.CodeMethodNotAllowed}, p.Code)
		public := strings.HasPrefix(req.URL.Path, "/v1/openapi.json")
		if refusedBefore || public {
			return
		}
		lines := req.Header.Values("Authorization")
		if !slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, e.tokenA) }) {
			t.Fatalf("%s with Authorization %q: %d, past the authorizer without a token", what, lines, status)
		}
		if len(lines) > 1 {
			t.Fatalf("several Authorization headers not refused with 401: %s with Authorization %q: %d", what, lines, status)
		}
	})
}
