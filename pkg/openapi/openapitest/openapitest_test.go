package openapitest_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/fleetgroups/fleetgroups/pkg/openapi/openapitest"
)

// Valid response bodies, as the API writes them.
const (
	group = `{"id":"grp_1","parentId":null,"depth":0,"childCount":0,"name":"Berlin","description":"","attributes":{},"memberCounts":{"vehicles":1,"users":0,"services":0,"products":0,"devices":0},` +
		`"memberCount":1,"createdAt":"2026-01-31T12:00:00.000Z","updatedAt":"2026-01-31T12:00:00.000Z","version":1}`
	notFound   = `{"type":"https://x/errors.md#not_found","title":"Not Found","status":404,"detail":"d","code":"not_found","request_id":"r1"}`
	stale      = `{"type":"https://x/errors.md#precondition_failed","title":"Precondition Failed","status":412,"detail":"d","code":"precondition_failed","request_id":"r1"}`
	routeMiss  = `{"type":"https://x/errors.md#route_not_found","title":"Not Found","status":404,"detail":"d","code":"route_not_found","request_id":"r1"}`
	notAllowed = `{"type":"https://x/errors.md#method_not_allowed","title":"Method Not Allowed","status":405,"detail":"d","code":"method_not_allowed","request_id":"r1"}`
	unauth     = `{"type":"https://x/errors.md#unauthenticated","title":"Unauthorized","status":401,"detail":"d","code":"unauthenticated","request_id":"r1"}`
	emptyList  = `{"items":[],"total_count":0}`
)

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestTransportChecksTheContract proves that each of the Transport's checks
// can fail: a stub transport answers each request with a canned response, valid
// or broken in one way, and the round trip must fail naming the breakage.
func TestTransportChecksTheContract(t *testing.T) {
	t.Parallel()
	doc, err := openapitest.Load()
	if err != nil {
		t.Fatal(err)
	}
	type answer struct {
		status int
		header map[string]string
		body   string
	}
	problem := func(status int, body string, header ...string) answer {
		h := map[string]string{"Content-Type": "application/problem+json"}
		for i := 0; i+1 < len(header); i += 2 {
			h[header[i]] = header[i+1]
		}
		return answer{status, h, body}
	}
	ok := func(status int, body string, header ...string) answer {
		h := map[string]string{"Content-Type": "application/json", "X-Request-Id": "r1"}
		for i := 0; i+1 < len(header); i += 2 {
			h[header[i]] = header[i+1]
		}
		if body == "" {
			delete(h, "Content-Type")
		}
		return answer{status, h, body}
	}
	// groupOK is a group response: the API sends the group's ETag with it.
	groupOK := func(status int, body string, header ...string) answer {
		return ok(status, body, append([]string{"ETag", `"v1"`}, header...)...)
	}
	const token = "Bearer fg_t.s"
	cases := []struct {
		name, method, path, auth, body string
		answer                         answer
		want                           string // part of the error; "" for none
	}{
		{"get-200-passes", "GET", "/v1/groups/grp_1", token, "", groupOK(200, group), ""},
		{"create-201-passes", "POST", "/v1/groups", token, `{"name":"a"}`, groupOK(201, group, "Location", "/v1/groups/grp_1"), ""},
		{"remove-204-passes", "DELETE", "/v1/groups/g/users/u", token, "", ok(204, ""), ""},
		{"not-found-404-passes", "GET", "/v1/groups/grp_1", token, "", problem(404, notFound), ""},
		{"unauthenticated-401-passes", "GET", "/v1/groups", "", "", problem(401, unauth, "WWW-Authenticate", "Bearer"), ""},
		{"unknown-path-404-passes", "GET", "/v1/nothing", token, "", problem(404, routeMiss), ""},
		{"wrong-method-405-passes", "POST", "/v1/groups/grp_1", token, "", problem(405, notAllowed, "Allow", "GET, PATCH, DELETE"), ""},
		{"group-304-passes", "GET", "/v1/groups/grp_1", token, "", answer{304, map[string]string{"ETag": `"v1"`, "X-Request-Id": "r1"}, ""}, ""},
		{"precondition-412-passes", "PATCH", "/v1/groups/grp_1", token, `{"name":"a"}`, problem(412, stale), ""},
		{"public-304-passes", "GET", "/v1/openapi.json", "", "", answer{304, map[string]string{"ETag": `"x"`, "X-Request-Id": "r1"}, ""}, ""},

		{"status-undocumented", "GET", "/v1/groups/grp_1", token, "", ok(418, group), "status 418 is not documented"},
		{"status-304-undocumented", "GET", "/v1/groups", token, "", answer{304, nil, ""}, "status 304 is not documented"},
		{"content-type-wrong", "GET", "/v1/groups/grp_1", token, "", answer{200, map[string]string{"Content-Type": "text/plain", "X-Request-Id": "r", "ETag": `"v1"`}, group}, "Content-Type"},
		{"field-missing", "GET", "/v1/groups/grp_1", token, "", groupOK(200, strings.Replace(group, `"name":"Berlin",`, "", 1)), `missing property 'name'`},
		{"field-undocumented", "GET", "/v1/groups/grp_1", token, "", groupOK(200, strings.Replace(group, `"version":1`, `"version":1,"colour":"red"`, 1)), `additional properties 'colour' not allowed`},
		{"field-wrong-type", "GET", "/v1/groups", token, "", ok(200, `{"items":[],"total_count":"0"}`), "total_count"},
		{"item-type-unknown", "GET", "/v1/groups/grp_1", token, "", groupOK(200, strings.Replace(group, `"devices":0`, `"devices":0,"cars":0`, 1)), `additional properties 'cars' not allowed`},
		{"etag-missing", "GET", "/v1/groups/grp_1", token, "", ok(200, group), `"ETag"`},
		{"etag-not-a-version", "GET", "/v1/groups/grp_1", token, "", ok(200, group, "ETag", `"abc"`), `"ETag"`},
		{"location-missing", "POST", "/v1/groups", token, `{"name":"a"}`, groupOK(201, group), `"Location"`},
		{"request-id-missing", "GET", "/v1/groups", token, "", answer{200, map[string]string{"Content-Type": "application/json"}, emptyList}, `"X-Request-Id"`},
		{"body-on-204", "DELETE", "/v1/groups/g/users/u", token, "", ok(204, "{}"), "documented without content, but has a body"},
		{"code-of-other-status", "GET", "/v1/groups/grp_1", token, "", problem(404, strings.ReplaceAll(notFound, "not_found", "name_taken")), `"/code"`},
		{"code-unknown", "GET", "/v1/groups/grp_1", token, "", problem(404, strings.ReplaceAll(notFound, "not_found", "gone")), `"/code"`},
		{"problem-as-json", "GET", "/v1/groups/grp_1", token, "", ok(404, notFound), "Content-Type"},
		{"www-authenticate-missing", "GET", "/v1/groups", "", "", problem(401, unauth), `"WWW-Authenticate"`},
		{"invalid-limit-accepted", "GET", "/v1/groups?limit=0", token, "", ok(200, emptyList), "the document rejects the request"},
		{"invalid-body-accepted", "POST", "/v1/groups", token, `{"colour":"red"}`, groupOK(201, group, "Location", "/v1/groups/grp_1"), "the document rejects the request"},
		{"bad-path-param-accepted", "GET", "/v1/groups/bad!id", token, "", groupOK(200, group), "the document rejects the request"},
		{"no-token-accepted", "GET", "/v1/groups", "", "", ok(200, emptyList), "the document rejects the request"},
		{"unknown-path-answered", "GET", "/v1/nothing", token, "", ok(200, emptyList), "no operation for the request, so want 404"},
		{"wrong-method-answered-404", "POST", "/v1/groups/grp_1", token, "", problem(404, routeMiss), "so want 405"},
		{"allow-missing", "POST", "/v1/groups/grp_1", token, "", problem(405, notAllowed), `"Allow"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			tr, err := openapitest.NewTransport(doc)
			if err != nil {
				t.Fatal(err)
			}
			// The answer comes straight from the base transport: an HTTP
			// server would drop some breakages (a 204's body) on the way.
			tr.Base = roundTripFunc(func(req *http.Request) (*http.Response, error) {
				h := http.Header{}
				for k, v := range c.answer.header {
					h.Set(k, v)
				}
				return &http.Response{StatusCode: c.answer.status, Header: h, Request: req,
					Body: io.NopCloser(strings.NewReader(c.answer.body))}, nil
			})
			req, _ := http.NewRequest(c.method, "http://api.test"+c.path, strings.NewReader(c.body))
			if c.auth != "" {
				req.Header.Set("Authorization", c.auth)
			}
			if c.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			res, err := (&http.Client{Transport: tr}).Do(req)
			if err == nil {
				res.Body.Close()
			}
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("want no error, got %v", err)
			case c.want != "" && err == nil:
				t.Fatalf("want an error about %q, got none", c.want)
			case c.want != "" && !strings.Contains(err.Error(), c.want):
				t.Fatalf("want an error about %q, got %v", c.want, err)
			}
		})
	}
}
