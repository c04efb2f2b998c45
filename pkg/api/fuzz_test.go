package api

// Fuzz targets for the parsers at the edge of the API: bodies, list
// queries, cursors and entity tags. Each asserts what the finished API
// promises, not only that nothing panics.
// Run one with: go test ./pkg/api -run '^$' -fuzz '^FuzzReadBody$' -fuzztime 30s
// (make fuzz runs them all). testdata/fuzz/<target> holds seeds kept as files.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/openapi"
	"github.com/fleetgroups/fleetgroups/pkg/problem"
	"github.com/fleetgroups/fleetgroups/pkg/routes"
	"github.com/fleetgroups/fleetgroups/pkg/store"
)

// bodySeeds are JSON bodies with the shapes that trip parsers.
var bodySeeds = []string{
	``, ` `, `{}`, `null`, `[]`, `"s"`, `1`, `{"name":"a"}`, `{"name":"a"} `, `{"name":"a"}{}`, `{"name":"a"} x`,
	`{"name":"a","name":"b"}`, `{"attributes":{"k":"1","k":"2"}}`, `{"data":[{"vehicle_id":"v","vehicle_id":"w"}]}`,
	`{"name":"\ud800"}`, `{"name":"\udc00x"}`, `{"name":"\ud83d\ude00"}`, `{"name":"\\ud800"}`, "{\"name\":\"\xff\"}", "{\"n\xc3\":1}",
	`{"name":null}`, `{"name":1e999}`, `{"n":123456789012345678901234567890}`, `{"n":-0.0e-0}`,
	`{"a":` + strings.Repeat(`[`, 10001) + strings.Repeat(`]`, 10001) + `}`,
	`{"a":{"b":{"c":{"d":{}}}}}`, `{"vehicles":["a","a"]}`, `{"vehicles":null}`, `{"add":[{"type":"users","id":"u"}]}`,
	"\ufeff{}", "{\"a\":\"\x00\"}", `{"__proto__":{}}`, `{"name":"` + strings.Repeat("x", MaxBodyBytes) + `"}`,
}

// FuzzReadBody: a body is either one JSON object, read into fields that
// re-encode to the same object, or a 4xx problem (malformed_json,
// payload_too_large, unsupported_media_type); never an internal error. Every
// field getter takes any value without panicking and takes exactly the values
// of its type. The finished API also refuses duplicate keys, invalid UTF-8
// and lone surrogate escapes.
func FuzzReadBody(f *testing.F) {
	for _, b := range bodySeeds {
		f.Add("application/json", []byte(b))
	}
	for _, ct := range []string{"", "application/json; charset=utf-8", "application/merge-patch+json", "text/plain", "application/json;", "Application/JSON"} {
		f.Add(ct, []byte(`{"name":"a"}`))
	}
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		r := httptest.NewRequest("POST", "/", bytes.NewReader(body))
		if contentType != "" {
			r.Header.Set("Content-Type", contentType)
		}
		f, err := readFields(r)
		if err != nil {
			var e *groups.Error
			_, dup := keyGivenTwice(body)
			if !errors.As(err, &e) || e.Detail == "" || f != nil ||
				!(slices.Contains([]groups.Code{groups.CodeMalformedJSON, groups.CodePayloadTooLarge, groups.CodeUnsupportedMedia}, e.Code) ||
					dup && e.Code == groups.CodeInvalidArgument) {
				t.Fatalf("readFields(%q) = %v: want a malformed_json, payload_too_large or unsupported_media_type error, or invalid_argument for a key given twice", body, err)
			}
			if s := problem.Status(e.Code); s < 400 || s > 499 {
				t.Fatalf("%s is answered %d", e.Code, s)
			}
			return
		}
		if len(body) > MaxBodyBytes || !json.Valid(body) || bytes.TrimLeft(body, " \t\r\n")[0] != '{' {
			t.Fatalf("readFields accepted %q", body)
		}
		// The fields re-encode to an object that reads back the same.
		again, err := json.Marshal(f.obj)
		if err != nil {
			t.Fatalf("the fields of %q do not re-encode: %v", body, err)
		}
		r2 := httptest.NewRequest("POST", "/", bytes.NewReader(again))
		f2, err := readFields(r2)
		if err != nil || !slices.Equal(slices.Sorted(maps.Keys(f.obj)), slices.Sorted(maps.Keys(f2.obj))) {
			t.Fatalf("%q re-encoded as %q reads back as %v, %v", body, again, f2, err)
		}
		// Each getter takes exactly the values of its type.
		for _, k := range slices.Sorted(maps.Keys(f.obj)) {
			raw := f.obj[k]
			var v any
			_ = json.Unmarshal(raw, &v)
			s, ss, list, m := f.str(k, false), f.strs(k), f.rawList(k), f.strMap(k)
			if _, isStr := v.(string); isStr != (s != nil) || (s != nil && *s != v) {
				t.Fatalf("str(%q) of %s = %v", k, raw, s)
			}
			arr, isArr := v.([]any)
			if isArr != (list != nil) || (isArr && len(list) != len(arr)) {
				t.Fatalf("rawList(%q) of %s = %v", k, raw, list)
			}
			allStr := isArr
			for _, e := range arr {
				_, ok := e.(string)
				allStr = allStr && ok
			}
			if allStr != (ss != nil) {
				t.Fatalf("strs(%q) of %s = %v", k, raw, ss)
			}
			obj, isObj := v.(map[string]any)
			allStr = isObj
			for _, e := range obj {
				_, ok := e.(string)
				allStr = allStr && ok
			}
			if allStr != (m != nil) {
				t.Fatalf("strMap(%q) of %s = %v", k, raw, m)
			}
		}
		f.rejectUnknown()
		if err := f.err(); err == nil || groups.CodeOf(err) != groups.CodeInvalidArgument {
			// Every key is used by now, so the only errors are type errors
			// (there is at least one for each key but the empty object).
			if len(f.obj) > 0 {
				t.Fatalf("the getters' errors for %q = %v", body, err)
			}
		}
		// Last, the input issue 6 made refusable (#5, #6).
		if k, dup := keyGivenTwice(body); dup {
			t.Fatalf("duplicate JSON key not refused: %q accepted with key %q twice", body, k)
		}
		if !utf8.Valid(body) || escapesLoneSurrogate(body) {
			t.Fatalf("invalid UTF-8 not refused: %q accepted", body)
		}
	})
}

// keyGivenTwice returns a key that occurs twice in one object of the JSON
// document body, at any depth. It is written apart from body.go's check,
// as the oracle that check is fuzzed against.
func keyGivenTwice(body []byte) (string, bool) {
	type frame struct {
		keys    map[string]bool // nil in an array
		wantKey bool
	}
	var stack []*frame
	dec := json.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.keys != nil && top.wantKey {
			if k, ok := tok.(string); ok {
				if top.keys[k] {
					return k, true
				}
				top.keys[k], top.wantKey = true, false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{keys: map[string]bool{}, wantKey: true})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		if len(stack) > 0 && stack[len(stack)-1].keys != nil {
			stack[len(stack)-1].wantKey = true // a value ended
		}
	}
}

// escapesLoneSurrogate reports whether a JSON document escapes half of a UTF-16
// surrogate pair on its own ("\ud800"), which decoders turn into U+FFFD.
func escapesLoneSurrogate(body []byte) bool {
	inString := false
	for i := 0; i < len(body); i++ {
		switch c := body[i]; {
		case c == '"':
			inString = !inString
		case c == '\\' && inString && i+1 < len(body):
			i++
			if body[i] != 'u' || i+4 >= len(body) {
				continue
			}
			v, err := strconv.ParseUint(string(body[i+1:i+5]), 16, 16)
			i += 4
			switch {
			case err != nil:
			case v >= 0xdc00 && v <= 0xdfff:
				return true
			case v >= 0xd800 && v <= 0xdbff:
				if i+6 >= len(body) || body[i+1] != '\\' || body[i+2] != 'u' {
					return true
				}
				low, err := strconv.ParseUint(string(body[i+3:i+7]), 16, 16)
				if err != nil || low < 0xdc00 || low > 0xdfff {
					return true
				}
				i += 6
			}
		}
	}
	return false
}

// listSpecs are the lists' parameter sets, as their handlers pass them.
var listSpecs = []struct {
	list string
	spec listSpec
}{
	{"groups", listSpec{fields: store.GroupFields, aliases: map[string]string{"prefix": paramSearch}}},
	{"members:g:", listSpec{fields: store.MemberFields, extra: []string{paramInclude}}},
	{"items:vehicles", listSpec{fields: store.ItemFields}},
	{"associations:vehicles:v", listSpec{fields: store.AssociationFields, extra: []string{paramInclude}}},
}

// FuzzListQuery: a list's query parameters are either refused with one 400
// (invalid_argument or invalid_cursor) whose fields name parameters, or
// read into a query that, written back as parameters, reads the same, bound
// to the same list id; the list id changes exactly when search, filters or
// sort do. A repeated parameter never gets here: Handler refuses it first.
func FuzzListQuery(f *testing.F) {
	for _, q := range []string{
		"", "limit=5", "limit=0", "limit=101", "limit=1e2", "limit=+5", "limit=05", "limit=5&limit=5", "cursor=", "cursor=abc",
		"search=ber", "prefix=ber", "prefix=a&search=b", "search=" + strings.Repeat("é", 101), "sort=-created", "sort=name&sort=-name",
		"count=true", "count=TRUE", "page=2&per_page=10", "page=0", "page=10001&per_page=1", "page=1&cursor=x", "per_page=100&limit=5",
		"filter[name][eq]=x", "filter[name][ilk]=", "filter[name][xx]=y", "filter[nope][eq]=y", "filter[attributes.colour][eq]=red",
		"filter[attributes.a.b][eq]=v", "filter%5Bname%5D%5Beq%5D=x", "filter[name][eq]=a&filter[name][eq]=b", "filter[name]=x",
		"include=item", "include=item&include=item", "a=1;b=2", "search=%zz", "search=%FF", "search=%00", "&&&", "=x", "search",
		"page=9223372036854775807&per_page=100", "per_page=-1",
	} {
		for i := range listSpecs {
			f.Add(uint8(i), q)
		}
	}
	a := &API{cursors: testSealer(f)}
	f.Fuzz(func(t *testing.T, which uint8, rawQuery string) {
		ls := listSpecs[int(which)%len(listSpecs)]
		r := httptest.NewRequest("GET", "/v1/x", nil)
		r.URL.RawQuery = rawQuery
		params := r.URL.Query()
		if ambiguity(routes.ListGroups, r) != nil {
			return // refused before any list reads its parameters (FuzzHandler checks that)
		}
		q, list, err := a.listQuery(r, "tn_a", ls.list, ls.spec)
		if err != nil {
			var e *groups.Error
			if !errors.As(err, &e) || (e.Code != groups.CodeInvalidArgument && e.Code != groups.CodeInvalidCursor) || len(e.Fields) == 0 {
				t.Fatalf("listQuery(%q) = %v: want invalid_argument or invalid_cursor naming fields", rawQuery, err)
			}
			for _, fe := range e.Fields {
				if _, given := params[fe.Field]; !given && !slices.Contains([]string{"filter", paramPage, paramLimit, paramCursor}, fe.Field) {
					t.Fatalf("listQuery(%q) names field %q, which was not given", rawQuery, fe.Field)
				}
			}
			return
		}
		if q.Limit < 1 || q.Limit > groups.MaxPageSize || q.PageNumber < 0 || q.PageNumber*q.Limit > groups.MaxPageNumberDepth ||
			len(q.Filters) > groups.MaxFilters || utf8.RuneCountInString(q.Search) > groups.MaxSearchLength {
			t.Fatalf("listQuery(%q) = %+v: out of bounds", rawQuery, q)
		}
		bound := q.Search != "" || len(q.Filters) > 0 || q.Sort != sorts["name"]
		if bound == (list == ls.list) || !strings.HasPrefix(list, ls.list) {
			t.Fatalf("listQuery(%q): list id %q for %+v", rawQuery, list, q)
		}
		r2 := httptest.NewRequest("GET", "/v1/x", nil)
		r2.URL.RawQuery = encodeListQuery(q).Encode()
		q2, list2, err := a.listQuery(r2, "tn_a", ls.list, ls.spec)
		if err != nil || !reflect.DeepEqual(q, q2) || list != list2 {
			t.Fatalf("listQuery(%q) = %+v, %q; written back as %q it reads %+v, %q, %v", rawQuery, q, list, r2.URL.RawQuery, q2, list2, err)
		}
	})
}

// encodeListQuery writes q back as the parameters that ask for it.
func encodeListQuery(q store.ListQuery) url.Values {
	v := url.Values{}
	if q.Search != "" {
		v.Set(paramSearch, q.Search)
	}
	for name, s := range sorts {
		if s == q.Sort && name != "name" {
			v.Set(paramSort, name)
		}
	}
	if q.Count {
		v.Set(paramCount, "true")
	}
	for _, f := range q.Filters {
		v.Set("filter["+f.Field+"]["+string(f.Op)+"]", f.Value)
	}
	if q.PageNumber > 0 {
		v.Set(paramPage, strconv.Itoa(q.PageNumber))
		v.Set(paramPerPage, strconv.Itoa(q.Limit))
	} else {
		v.Set(paramLimit, strconv.Itoa(q.Limit))
	}
	return v
}

// FuzzOpenCursor: any string is refused as invalid_cursor unless this
// sealer issued it (the one seeded, for tn_a's list "groups"); a sealed cursor opens to its position for its own tenant
// and list only (another tenant: not_found, another list: invalid_cursor);
// and any other spelling of it, any truncation and any flipped bit is
// refused.
func FuzzOpenCursor(f *testing.F) {
	c := testSealer(f)
	sealed := mustSeal(f, c, "tn_a", "groups")
	for _, s := range []string{"", "A", "AAAA", "***", "====", sealed, sealed[:len(sealed)-1], sealed + "A", sealed + "=",
		strings.ToUpper(sealed), strings.Repeat("A", 40), base64.RawURLEncoding.EncodeToString(make([]byte, 28))} {
		f.Add(s, "tn_a", "groups", "PK", "T#tn_a#GROUPS", uint16(0))
	}
	f.Add("", "tn_a", "members:g:", "SK", "M#vehicles#v1", uint16(7))
	f.Add("", "", "", "", "", uint16(65535))
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, cursor, tenant, list, key, value string, at uint16) {
		want := groups.CodeInvalidCursor
		if cursor == sealed {
			want = map[bool]groups.Code{true: "", false: groups.CodeNotFound}[tenant == "tn_a"]
			if tenant == "tn_a" && list != "groups" {
				want = groups.CodeInvalidCursor
			}
		}
		if after, err := c.open(ctx, cursor, tenant, list); groups.CodeOf(err) != want {
			t.Fatalf("open(%q, %q, %q) = %v, %v: want %q", cursor, tenant, list, after, err, want)
		}
		if !utf8.ValidString(tenant) || !utf8.ValidString(list) || !utf8.ValidString(key) || !utf8.ValidString(value) {
			return // positions, tenants and list ids are ASCII
		}
		after := map[string]string{key: value}
		s, err := c.seal(ctx, cursorPayload{Tenant: tenant, List: list, After: after})
		if err != nil {
			t.Fatal(err)
		}
		if got, err := c.open(ctx, s, tenant, list); err != nil || !maps.Equal(got, after) {
			t.Fatalf("a sealed cursor opens as %v, %v; want %v", got, err, after)
		}
		if _, err := c.open(ctx, s, tenant+"x", list); groups.CodeOf(err) != groups.CodeNotFound {
			t.Fatalf("another tenant's cursor: %v, want not_found", err)
		}
		if _, err := c.open(ctx, s, tenant, list+"x"); groups.CodeOf(err) != groups.CodeInvalidCursor {
			t.Fatalf("another list's cursor: %v, want invalid_cursor", err)
		}
		i := int(at) % len(s)
		if _, err := c.open(ctx, s[:i], tenant, list); groups.CodeOf(err) != groups.CodeInvalidCursor {
			t.Fatalf("cursor cut to %d characters: %v, want invalid_cursor", i, err)
		}
		// Another spelling of the same bytes is still not the cursor issued.
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		other := []byte(s)
		other[i] = alphabet[(strings.IndexByte(alphabet, s[i])+1+int(at>>8)%63)%64]
		if _, err := c.open(ctx, string(other), tenant, list); groups.CodeOf(err) != groups.CodeInvalidCursor {
			t.Fatalf("cursor %q changed at %d to %q: %v, want invalid_cursor", s, i, other, err)
		}
		raw, _ := base64.RawURLEncoding.DecodeString(s)
		raw[int(at)%len(raw)] ^= 1 << (at >> 13)
		if _, err := c.open(ctx, base64.RawURLEncoding.EncodeToString(raw), tenant, list); groups.CodeOf(err) != groups.CodeInvalidCursor {
			t.Fatalf("cursor with a flipped bit: %v, want invalid_cursor", err)
		}
	})
}

// FuzzEntityTags: If-Match and If-None-Match, over any number of lines,
// parse as "*" or a list of entity tags that, written back, parse the same,
// or are refused with invalid_argument naming the header. If-Match asks for
// any version, or for exactly the one version its single tag names, or is a
// 4xx; If-None-Match matches a group exactly when it lists "*" or the group's
// tag (weakly), and get-openapi answers 304 exactly then too.
func FuzzEntityTags(f *testing.F) {
	for _, s := range []string{`"v3"`, `*`, ` * `, `W/"v3"`, `"v3", "v4"`, `"v3","v3"`, `"v0"`, `"v-1"`, `"v03"`, `"v+3"`,
		`"v9223372036854775808"`, `"v3`, `v3`, `""`, `"a,b"`, `"a" "b"`, `,,"v3",,`, `*, "v3"`, `W/`, `w/"v3"`, `"v 3"`, "\"v\x7f\"",
		"\"\xff\"", `"` + openapi.ETag()[1:], openapi.ETag(), `W/` + openapi.ETag()} {
		f.Add(s, "")
	}
	f.Add(`"v3"`, `"v4"`)
	f.Add(`"v3"`, `*`)
	f.Add(``, ``)
	g := groups.Group{Version: 3}
	f.Fuzz(func(t *testing.T, line1, line2 string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header["If-Match"] = []string{line1}
		r.Header["If-None-Match"] = []string{line1}
		if line2 != "" {
			r.Header["If-Match"] = append(r.Header["If-Match"], line2)
			r.Header["If-None-Match"] = append(r.Header["If-None-Match"], line2)
		}
		tags, err := entityTags(r, "If-Match")
		version, ifErr := ifMatch(r)
		if err != nil {
			if groups.CodeOf(err) != groups.CodeInvalidArgument || groups.FieldsOf(err)[0].Field != "If-Match" || tags != nil {
				t.Fatalf("entityTags(%q, %q) = %q, %v", line1, line2, tags, err)
			}
			if s := problem.Status(groups.CodeOf(ifErr)); s < 400 || s > 499 {
				t.Fatalf("ifMatch(%q, %q) = %v, %v: want a 4xx", line1, line2, version, ifErr)
			}
			return
		}
		if len(tags) == 0 || (slices.Contains(tags, "*") && len(tags) > 1) {
			t.Fatalf("entityTags(%q, %q) = %q", line1, line2, tags)
		}
		r2 := httptest.NewRequest("GET", "/", nil)
		r2.Header.Set("If-Match", strings.Join(tags, ", "))
		if again, err := entityTags(r2, "If-Match"); err != nil || !slices.Equal(again, tags) {
			t.Fatalf("entityTags(%q, %q) = %q; written back, %q, %v", line1, line2, tags, again, err)
		}
		switch {
		case ifErr != nil:
			if s := problem.Status(groups.CodeOf(ifErr)); s < 400 || s > 499 {
				t.Fatalf("ifMatch(%q, %q) = %v: want a 4xx", line1, line2, ifErr)
			}
		case !reflect.DeepEqual(version, wantIfVersion(tags)):
			t.Fatalf("ifMatch(%q, %q) = %+v, want %+v", line1, line2, version, wantIfVersion(tags))
		}
		listed := slices.ContainsFunc(tags, func(tag string) bool { return tag == "*" || strings.TrimPrefix(tag, "W/") == etag(g) })
		if notModified(tags, g) != listed {
			t.Fatalf("notModified(%q) = %v", tags, !listed)
		}
		doc := slices.ContainsFunc(tags, func(tag string) bool { return tag == "*" || strings.TrimPrefix(tag, "W/") == openapi.ETag() })
		w := httptest.NewRecorder()
		if err := (&API{}).getOpenAPI(w, r, ""); err != nil || (w.Code == http.StatusNotModified) != doc {
			t.Fatalf("get-openapi with If-None-Match %q: %d, %v; its tag is listed: %v", r.Header.Values("If-None-Match"), w.Code, err, doc)
		}
	})
}

// wantIfVersion is what If-Match with tags allows (RFC 9110 §13.1.1): any
// version for "*", else the versions its strong tags of this API name ("v3";
// a weak or foreign tag names none).
func wantIfVersion(tags []string) store.IfVersion {
	if slices.Equal(tags, []string{"*"}) {
		return store.AnyVersion
	}
	var versions []int
	for _, tag := range tags {
		digits, ok := strings.CutPrefix(tag, `"v`)
		digits, closed := strings.CutSuffix(digits, `"`)
		if n, err := strconv.Atoi(digits); ok && closed && err == nil && n > 0 && strconv.Itoa(n) == digits {
			versions = append(versions, n)
		}
	}
	return store.AtVersion(versions...)
}
