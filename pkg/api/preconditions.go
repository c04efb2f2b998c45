package api

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/store"
)

// A group's entity tag is its version, quoted: "v3". Every change of the
// group's representation (name, description, counts) bumps the version in
// the same write, so the tag is strong.
func etag(g groups.Group) string { return versionTag(g.Version) }

func versionTag(v int) string { return `"v` + strconv.Itoa(v) + `"` }

// tagVersion is the inverse of versionTag.
func tagVersion(tag string) (int, bool) {
	v, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(tag, `"v`), `"`))
	return v, err == nil && v > 0 && versionTag(v) == tag
}

// writeGroup answers g with its ETag, as the caller's token sees it
// (store.AsSeen).
func writeGroup(w http.ResponseWriter, r *http.Request, status int, g groups.Group) {
	w.Header().Set("ETag", etag(g))
	writeJSON(w, status, viewGroup(store.AsSeen(r.Context(), g)))
}

// seenGroupView renders the groups of a list as the caller's token sees
// them (store.AsSeen).
func seenGroupView(r *http.Request) func(groups.Group) groupView {
	return func(g groups.Group) groupView { return viewGroup(store.AsSeen(r.Context(), g)) }
}

// ifMatch reads If-Match (RFC 9110 §13.1.1) as the versions a write
// allows: store.AnyVersion without the header or for "*" (any existing
// group), else the versions its strong tags of ours name. Any list of entity
// tags is valid; a weak tag never matches (If-Match compares strongly), nor
// does a tag this API never issued, so a list of only such tags allows no
// version and the write fails with 412, or 404 if there is no group: the
// store looks at the group before the condition, since a request that would
// fail without its precondition fails the same way with it (§13.2.1).
// Only a malformed header is an error.
func ifMatch(r *http.Request) (store.IfVersion, error) {
	tags, err := entityTags(r, "If-Match")
	switch {
	case err != nil || tags == nil:
		return store.AnyVersion, err
	case len(tags) == 1 && tags[0] == "*":
		return store.AnyVersion, nil
	}
	var versions []int
	for _, t := range tags {
		if v, ok := tagVersion(t); ok {
			versions = append(versions, v)
		}
	}
	return store.AtVersion(versions...), nil
}

// notModified reports whether If-None-Match (RFC 9110 §13.1.2), parsed by
// entityTags, names g's current tag or is "*".
func notModified(ifNoneMatch []string, g groups.Group) bool { return listsTag(ifNoneMatch, etag(g)) }

// listsTag reports whether If-None-Match, parsed by entityTags, is "*" or
// names tag; the comparison is weak, as RFC 9110 asks for If-None-Match
// (W/"x" matches "x").
func listsTag(ifNoneMatch []string, tag string) bool {
	for _, t := range ifNoneMatch {
		if t == "*" || strings.TrimPrefix(t, "W/") == tag {
			return true
		}
	}
	return false
}

// entityTags parses the header field as "*" or a list of entity tags, over
// all of its lines: nil when absent, an invalid_argument error naming field
// when malformed. A tag may contain a comma, so the list is scanned, not split.
func entityTags(r *http.Request, field string) ([]string, error) {
	values := r.Header.Values(field)
	if values == nil {
		return nil, nil
	}
	s := strings.Trim(strings.Join(values, ","), " \t")
	if s == "*" {
		return []string{"*"}, nil
	}
	var tags []string
	for {
		s = strings.TrimLeft(s, " \t,")
		if s == "" {
			break
		}
		start := 0
		if strings.HasPrefix(s, "W/") {
			start = 2
		}
		end := -1
		if len(s) > start && s[start] == '"' {
			end = strings.IndexByte(s[start+1:], '"')
		}
		if end < 0 {
			return nil, fieldErrorf(field, `must be "*" or quoted entity tags, such as "v3"`)
		}
		tag := s[:start+end+2]
		for _, c := range []byte(tag[start+1 : len(tag)-1]) {
			if c < 0x21 || c == 0x7f { // etagc: no space, control or quote (RFC 9110 §8.8.3)
				return nil, fieldErrorf(field, "must not contain spaces or control characters inside an entity tag")
			}
		}
		tags = append(tags, tag)
		s = strings.TrimLeft(s[len(tag):], " \t")
		if s != "" && s[0] != ',' {
			return nil, fieldErrorf(field, "separate entity tags with commas")
		}
	}
	if tags == nil {
		return nil, fieldErrorf(field, `must be "*" or quoted entity tags, such as "v3"`)
	}
	return tags, nil
}
