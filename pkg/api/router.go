package api

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/fleetgroups/fleetgroups/pkg/routes"
)

// router matches a request against one operation's routes, answering as
// ServeMux does for patterns of the route table's shape (a method, and a
// path of literal and {name} segments). A Lambda routes with it rather than
// with ServeMux because ServeMux's pattern parser, conflict checks and
// redirects are 64 KB of every Lambda binary, for at most a few routes of
// one operation; TestRouterAnswersAsServeMux holds the two to the same
// answers. The local gateway, which serves the whole table, keeps ServeMux.
type router []routes.Route

// pathValue is the value a request's path gives a route's {name} segment.
type pathValue struct{ name, value string }

// match returns the route that serves r and its path values; ok is false
// if none does, and allow then lists the methods of the routes whose path
// matches (for a 405's Allow header, as ServeMux computes it: sorted, with
// HEAD wherever GET is). No route serves a path that is not clean (see
// Routed), whatever the method.
func (rt router) match(r *http.Request) (route routes.Route, values []pathValue, ok bool, allow []string) {
	if !cleanPath(r) {
		return routes.Route{}, nil, false, nil
	}
	segments := strings.Split(r.URL.EscapedPath(), "/")
	for i, s := range segments {
		// ServeMux compares each segment unescaped, or as sent if it does
		// not unescape.
		if u, err := url.PathUnescape(s); err == nil {
			segments[i] = u
		}
	}
	literals := -1
	for _, candidate := range rt {
		vs, n, matched := matchPath(candidate.Path, segments)
		switch {
		case !matched:
		case candidate.Method != r.Method && (candidate.Method != http.MethodGet || r.Method != http.MethodHead):
			allow = append(allow, candidate.Method)
			if candidate.Method == http.MethodGet {
				allow = append(allow, http.MethodHead)
			}
		case n > literals:
			// The most specific pattern wins: of two that match a path
			// (ServeMux registers no two of which neither is more
			// specific), the one with more literal segments.
			route, values, ok, literals = candidate, vs, true, n
		}
	}
	if ok {
		return route, values, true, nil
	}
	slices.Sort(allow)
	return routes.Route{}, nil, false, slices.Compact(allow)
}

// matchPath reports whether pattern (a route's path) matches the path's
// segments, with the values of its {name} segments and how many of its
// segments are literal.
func matchPath(pattern string, segments []string) (values []pathValue, literals int, ok bool) {
	parts := strings.Split(pattern, "/")
	if len(parts) != len(segments) {
		return nil, 0, false
	}
	for i, p := range parts {
		if name, wild := strings.CutPrefix(p, "{"); wild {
			values = append(values, pathValue{strings.TrimSuffix(name, "}"), segments[i]})
			continue
		}
		if p != segments[i] {
			return nil, 0, false
		}
		literals++
	}
	return values, literals, true
}
