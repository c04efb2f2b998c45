package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
)

// MaxBodyBytes is the largest request body accepted (413 beyond).
const MaxBodyBytes = 64 << 10

// readObject reads the request body as one JSON object, keeping each field's
// raw value so that fields can be checked one by one, with precise messages.
// The body must be UTF-8 (RFC 8259), and so must every string in it: an
// invalid byte or an unpaired surrogate escape ("\ud800") is refused rather
// than stored as U+FFFD, which encoding/json would make of it.
func readObject(r *http.Request) (map[string]json.RawMessage, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && mt != "application/merge-patch+json") {
			return nil, groups.Errorf(groups.CodeUnsupportedMedia, "send the body as application/json, not %q", ct)
		}
		if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
			return nil, groups.Errorf(groups.CodeUnsupportedMedia, "send the body in UTF-8, not charset %q", cs)
		}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		return nil, groups.Errorf(groups.CodeMalformedJSON, "the body could not be read")
	}
	if len(body) > MaxBodyBytes {
		return nil, groups.Errorf(groups.CodePayloadTooLarge, "the body is larger than %d bytes", MaxBodyBytes)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, groups.Errorf(groups.CodeMalformedJSON, "the body must be a JSON object")
	}
	if !utf8.Valid(body) {
		return nil, groups.Errorf(groups.CodeMalformedJSON, "the body is not valid UTF-8 (from byte %d)", invalidUTF8(body))
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var obj map[string]json.RawMessage
	if err := dec.Decode(&obj); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return nil, groups.Errorf(groups.CodeMalformedJSON, "malformed JSON at byte %d: %v", syn.Offset, err)
		case errors.As(err, &typ):
			return nil, groups.Errorf(groups.CodeMalformedJSON, "the body must be a JSON object, not %s", typ.Value)
		default:
			return nil, groups.Errorf(groups.CodeMalformedJSON, "malformed JSON: %v", err)
		}
	}
	if obj == nil {
		return nil, groups.Errorf(groups.CodeMalformedJSON, "the body must be a JSON object, not null")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, groups.Errorf(groups.CodeMalformedJSON, "unexpected data after the JSON object")
	}
	if at, ok := loneSurrogate(body); ok {
		return nil, groups.Errorf(groups.CodeMalformedJSON,
			"unpaired UTF-16 surrogate escape at byte %d: \\ud800–\\udfff must come as a high-low pair", at)
	}
	// encoding/json keeps the last of repeated keys, so a client that
	// sends two would never learn which one counted.
	if path, ok := duplicateKey(body); ok {
		return nil, fieldErrorf(path, "appears more than once in its object")
	}
	return obj, nil
}

// invalidUTF8 is the offset of the first byte of b that is not valid UTF-8.
func invalidUTF8(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return len(b)
}

// loneSurrogate returns the offset of the first \u escape in body, a valid
// JSON document, that is half of a surrogate pair without the other half.
// Backslashes occur only inside strings there, so no string state is kept.
func loneSurrogate(body []byte) (int, bool) {
	escape := func(i int) (rune, bool) { // the \uXXXX at i, if there is one
		if i+6 > len(body) || body[i] != '\\' || body[i+1] != 'u' {
			return 0, false
		}
		n, err := strconv.ParseUint(string(body[i+2:i+6]), 16, 16)
		return rune(n), err == nil
	}
	for i := 0; i < len(body); i++ {
		if body[i] != '\\' {
			continue
		}
		r, ok := escape(i)
		if !ok {
			i++ // a two-character escape such as \\ or \"
			continue
		}
		switch {
		case r >= 0xd800 && r < 0xdc00:
			if lo, ok := escape(i + 6); ok && lo >= 0xdc00 && lo <= 0xdfff {
				i += 11
				continue
			}
			return i, true
		case r >= 0xdc00 && r <= 0xdfff:
			return i, true
		}
		i += 5
	}
	return 0, false
}

// duplicateKey returns the path of the first key that appears twice in one
// object of body, a valid JSON document: "name", "attributes.plate",
// "add[1].id". Keys compare as decoded, so "na\u006de" repeats "name".
func duplicateKey(body []byte) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	var walk func(path string) (string, bool)
	walk = func(path string) (string, bool) {
		tok, err := dec.Token()
		if err != nil {
			return "", false
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				tok, _ := dec.Token()
				k, _ := tok.(string)
				p := k
				if path != "" {
					p = path + "." + k
				}
				if seen[k] {
					return p, true
				}
				seen[k] = true
				if dup, ok := walk(p); ok {
					return dup, true
				}
			}
			_, _ = dec.Token() // the closing '}'
		case json.Delim('['):
			for i := 0; dec.More(); i++ {
				if dup, ok := walk(fmt.Sprintf("%s[%d]", path, i)); ok {
					return dup, true
				}
			}
			_, _ = dec.Token() // the closing ']'
		}
		return "", false
	}
	return walk("")
}

// fields takes typed values out of a JSON object and collects every field
// error, so that a client sees all of its mistakes at once.
type fields struct {
	obj  map[string]json.RawMessage
	used map[string]bool
	errs []groups.FieldError
}

// readFields reads the request body (see readObject) for field-by-field
// checks.
func readFields(r *http.Request) (*fields, error) {
	obj, err := readObject(r)
	if err != nil {
		return nil, err
	}
	return &fields{obj: obj, used: map[string]bool{}}, nil
}

func (f *fields) fail(field, msg string) {
	f.errs = append(f.errs, groups.FieldError{Field: field, Message: msg})
}

// add appends the field errors of err (a validation error), if any.
func (f *fields) add(err error) {
	if err != nil {
		f.errs = append(f.errs, groups.FieldsOf(err)...)
	}
}

// str returns the string field name, or nil when it is absent.
func (f *fields) str(name string, required bool) *string {
	raw, ok := f.obj[name]
	f.used[name] = true
	if !ok {
		if required {
			f.fail(name, "is required")
		}
		return nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		f.fail(name, "must be a string")
		return nil
	}
	return &s
}

// strs returns the array of strings name, or nil when it is absent. A null
// entry is refused like any other non-string (json.Unmarshal would quietly
// make it "").
func (f *fields) strs(name string) []string {
	raw, ok := f.obj[name]
	f.used[name] = true
	if !ok {
		return nil
	}
	var ps []*string
	if err := json.Unmarshal(raw, &ps); err != nil || ps == nil || slices.Contains(ps, nil) {
		f.fail(name, "must be an array of strings")
		return nil
	}
	ss := make([]string, len(ps))
	for i, p := range ps {
		ss[i] = *p
	}
	return ss
}

// rawList returns the array name with its elements undecoded, or nil when
// it is absent.
func (f *fields) rawList(name string) []json.RawMessage {
	raw, ok := f.obj[name]
	f.used[name] = true
	if !ok {
		return nil
	}
	var list []json.RawMessage
	if err := json.Unmarshal(raw, &list); err != nil || list == nil {
		f.fail(name, "must be an array")
		return nil
	}
	return list
}

// strMap returns the object of strings name, or nil when it is absent. A
// null value is refused like any other non-string (json.Unmarshal would
// quietly make it "").
func (f *fields) strMap(name string) map[string]string {
	raw, ok := f.obj[name]
	f.used[name] = true
	if !ok {
		return nil
	}
	var m map[string]*string
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		f.fail(name, "must be an object whose values are strings")
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		if v == nil {
			f.fail(name, "must be an object whose values are strings")
			return nil
		}
		out[k] = *v
	}
	return out
}

// mergePatchMap is a map-of-strings field of a JSON merge patch (RFC 7396):
// null clears it, and in an object a null value removes its key. present is
// false when the body lacks the field.
func (f *fields) mergePatchMap(name string) (patch map[string]*string, clear, present bool) {
	raw, ok := f.obj[name]
	f.used[name] = true
	if !ok {
		return nil, false, false
	}
	if string(bytes.TrimSpace(raw)) == "null" {
		return nil, true, true
	}
	if err := json.Unmarshal(raw, &patch); err != nil || patch == nil {
		f.fail(name, "must be null, or an object whose values are strings or null")
		return nil, false, true
	}
	return patch, false, true
}

// parentID is the parentId field: a group id, or null for top level ("").
// present is false when the body lacks the field.
func (f *fields) parentID() (id string, present bool) {
	raw, ok := f.obj["parentId"]
	f.used["parentId"] = true
	if !ok || string(bytes.TrimSpace(raw)) == "null" {
		return "", ok
	}
	if err := json.Unmarshal(raw, &id); err != nil {
		f.fail("parentId", "must be a group id or null")
		return "", true
	}
	f.add(groups.ValidateID("parentId", id))
	return id, true
}

// rejectUnknown reports every field that no getter asked for.
func (f *fields) rejectUnknown() {
	var unknown []string
	for k := range f.obj {
		if !f.used[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		f.fail(k, "is not a known field")
	}
}

func (f *fields) err() error { return groups.ValidationError(f.errs) }

// fieldErrorf is a single-field validation error.
func fieldErrorf(field, format string, args ...any) error {
	return groups.ValidationError([]groups.FieldError{{Field: field, Message: fmt.Sprintf(format, args...)}})
}

// decodeEntry decodes raw, one entry of a list in a body, strictly into an
// E: an object whose keys are each exactly the JSON name of one of E's
// fields (readBody has refused a key given twice). encoding/json alone
// would also take a key in another case ("ID" for "id", and of "id" and
// "ID" the last), so that what a proxy reads as the entry could differ
// from what is applied. A refused entry still comes back with what could be
// read of it, for the answer to name.
func decodeEntry[E any](raw json.RawMessage) (E, error) {
	var e E
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(raw, &keys); err != nil || keys == nil {
		return e, errors.New("not an object")
	}
	err := json.Unmarshal(raw, &e)
	for k := range keys {
		if !slices.ContainsFunc(reflect.VisibleFields(reflect.TypeFor[E]()), func(f reflect.StructField) bool {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			return name == k
		}) {
			err = fmt.Errorf("unknown field %q", k)
		}
	}
	return e, err
}
