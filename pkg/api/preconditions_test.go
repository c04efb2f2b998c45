package api

import (
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/store"
)

// The header grammar, case by case; the end-to-end tests cover how the
// operations answer.
func TestEntityTagHeaders(t *testing.T) {
	t.Parallel()
	g := groups.Group{Version: 3}
	// If-Match is valid exactly where If-None-Match is: any list of entity
	// tags (RFC 9110 §13.1.1). Only the API's strong tags can match.
	cases := []struct {
		name     string
		values   []string // header lines; nil: no header
		ifMatch  store.IfVersion
		modified bool // as If-None-Match on version 3 (when valid)
		invalid  bool // 400 for both headers
	}{
		{"absent", nil, store.AnyVersion, true, false},
		{"star", []string{"*"}, store.AnyVersion, false, false},
		{"current", []string{`"v3"`}, store.AtVersion(3), false, false},
		{"other", []string{`"v12"`}, store.AtVersion(12), true, false},
		{"padded", []string{` "v3" `}, store.AtVersion(3), false, false},
		{"weak", []string{`W/"v3"`}, store.AtVersion(), false, false},
		{"list", []string{`"v1", "v3"`}, store.AtVersion(1, 3), false, false},
		{"lines", []string{`"v1"`, `"v3"`}, store.AtVersion(1, 3), false, false},
		{"weak-and-strong", []string{`W/"v1", "v2"`}, store.AtVersion(2), true, false},
		{"comma-inside-tag", []string{`"a,b", "v3"`}, store.AtVersion(3), false, false},
		{"foreign", []string{`"abc"`}, store.AtVersion(), true, false},
		{"empty-tag", []string{`""`}, store.AtVersion(), true, false},
		{"leading-zero", []string{`"v03"`}, store.AtVersion(), true, false},
		{"zero", []string{`"v0"`}, store.AtVersion(), true, false},
		{"negative", []string{`"v-1"`}, store.AtVersion(), true, false},
		{"unquoted", []string{`v3`}, store.AnyVersion, false, true},
		{"unterminated", []string{`"v3`}, store.AnyVersion, false, true},
		{"no-comma", []string{`"v1" "v3"`}, store.AnyVersion, false, true},
		{"space-inside", []string{`"v 3"`}, store.AnyVersion, false, true},
		{"empty", []string{``}, store.AnyVersion, false, true},
		{"star-in-list", []string{`*, "v3"`}, store.AnyVersion, false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			for _, v := range c.values {
				r.Header.Add("If-Match", v)
				r.Header.Add("If-None-Match", v)
			}
			v, err := ifMatch(r)
			if (err != nil) != c.invalid || (err == nil && !reflect.DeepEqual(v, c.ifMatch)) {
				t.Fatalf("If-Match = %+v, %v; want %+v, invalid %v", v, err, c.ifMatch, c.invalid)
			}
			if err != nil && !slices.ContainsFunc(groups.FieldsOf(err), func(f groups.FieldError) bool { return f.Field == "If-Match" }) {
				t.Fatalf("If-Match error %v does not name the header", err)
			}
			tags, err := entityTags(r, "If-None-Match")
			if (err != nil) != c.invalid || (err == nil && notModified(tags, g) == c.modified) {
				t.Fatalf("If-None-Match: tags %q, %v; want modified %v, invalid %v", tags, err, c.modified, c.invalid)
			}
		})
	}
}

func TestIdempotencyKeyHeader(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("k", 256)
	cases := []struct {
		name   string
		values []string
		ok     bool
	}{
		{"printable", []string{"order-42 #retry/1"}, true},
		{"uuid", []string{"7f1c2a4e-3b5d-4c6e-8f90-a1b2c3d4e5f6"}, true},
		{"max-length", []string{long[:255]}, true},
		{"empty", []string{""}, false},
		{"two-values", []string{"a", "b"}, false},
		{"too-long", []string{long}, false},
		{"tab", []string{"a\tb"}, false},
		{"non-ascii", []string{"ключ"}, false},
		{"delete-char", []string{"a\x7fb"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k, err := idempotencyKey(c.values)
			if (err == nil) != c.ok || (c.ok && k != c.values[0]) {
				t.Fatalf("key %q, %v; want ok %v", k, err, c.ok)
			}
		})
	}
}
