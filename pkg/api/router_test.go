package api

import (
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/fleetgroups/fleetgroups/pkg/routes"
)

// TestRouterAnswersAsServeMux holds each operation's router to what
// ServeMux, behind Routed, answers for the same routes: the same route with
// the same path values, or none with the same Allow methods, for every
// method on every route's path with its {name} segments filled in many ways
// and the path bent (a segment more or less, slashes, dot segments, escapes,
// case).
func TestRouterAnswersAsServeMux(t *testing.T) {
	methods := []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "get"}
	fills := []string{"g1", "members", "%6Dembers", "a%2Fb", "%ff", "%25zz", "%C3%A9", "vehicles", "associations", "members:batch", "members%3Abatch", "groups", ".."}
	var paths []string
	for _, rt := range routes.Routes {
		for _, fill := range fills {
			p := rt.Path
			for strings.Contains(p, "{") {
				p = p[:strings.Index(p, "{")] + fill + p[strings.Index(p, "}")+1:]
			}
			paths = append(paths, p, p+"/", p+"/x", p[:strings.LastIndex(p, "/")], strings.ToUpper(p),
				strings.Replace(p, "/", "//", 2), strings.Replace(p, "/v1/", "/v1/./", 1), strings.Replace(p, "/v1/", "/v1/x/../", 1))
		}
	}
	paths = append(paths, "/", "")
	slices.Sort(paths)
	paths = slices.Compact(paths)
	// Each Lambda's router (one operation's routes) against a ServeMux of
	// the same routes. A request is parsed once and cloned for every
	// operation: the parse is most of this test's time.
	type lambda struct {
		name routes.Operation
		mux  *http.ServeMux
		rt   router
	}
	var lambdas []lambda
	for _, o := range Operations() {
		mux := http.NewServeMux()
		for _, rt := range routes.For(o.Name) {
			mux.HandleFunc(rt.Pattern(), func(http.ResponseWriter, *http.Request) {})
		}
		lambdas = append(lambdas, lambda{o.Name, mux, router(routes.For(o.Name))})
	}
	seen := 0
	for _, method := range methods {
		for _, p := range paths {
			parsed := httptest.NewRequest("GET", "https://api.example"+p, nil)
			parsed.Method = method
			for _, l := range lambdas {
				r := parsed.Clone(parsed.Context())
				route, values, ok, allow := l.rt.match(r)
				wantPattern, wantValues, wantAllow := serveMuxAnswer(l.mux, r)
				if ok {
					seen++
				}
				got := map[string]string{}
				for _, v := range values {
					got[v.name] = v.value
				}
				if ok != (wantPattern != "") || ok && route.Pattern() != wantPattern || !maps.Equal(got, wantValues) ||
					strings.Join(allow, ", ") != wantAllow {
					t.Errorf("%s: %s %s: router: %v %q %v allow %q; ServeMux: %q %v allow %q",
						l.name, method, p, ok, route.Pattern(), got, allow, wantPattern, wantValues, wantAllow)
				}
			}
		}
	}
	if seen < len(routes.Routes) {
		t.Fatalf("the cases reach %d routes, fewer than the table has", seen)
	}
}

// serveMuxAnswer is what Handler answered when it routed with ServeMux:
// the pattern and path values of the route (Routed), or the Allow header
// of a 405 (RouteError).
func serveMuxAnswer(mux *http.ServeMux, r *http.Request) (pattern string, values map[string]string, allow string) {
	values = map[string]string{}
	if !Routed(mux, r) {
		if !cleanPath(r) {
			return "", values, ""
		}
		rec := httptest.NewRecorder()
		h, _ := mux.Handler(r)
		h.ServeHTTP(rec, r)
		return "", values, rec.Header().Get("Allow")
	}
	_, pattern = mux.Handler(r)
	var served *http.Request
	probe := http.NewServeMux()
	probe.HandleFunc(pattern, func(_ http.ResponseWriter, r *http.Request) { served = r })
	probe.ServeHTTP(httptest.NewRecorder(), r)
	for _, seg := range strings.Split(strings.SplitN(pattern, " ", 2)[1], "/") {
		if name, ok := strings.CutPrefix(seg, "{"); ok {
			name = strings.TrimSuffix(name, "}")
			values[name] = served.PathValue(name)
		}
	}
	return pattern, values, ""
}
