package gateway_test

import (
	"net/url"
	"slices"
	"testing"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
)

// Text that would be stored or keyed is valid UTF-8 without controls or
// invisible format characters, and lookalike names are one name.
func TestTextHygiene(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	A := e.tokenA
	expect(t, e.call(t, A, "POST", "/v1/groups", `{"name":"Berlin"}`), 201, "")
	renamed := e.call(t, A, "POST", "/v1/groups", `{"name":"Paris"}`).str("id")

	cases := []struct {
		name, method, path, body string
		headers                  []string
		status                   int
		code                     groups.Code
		field                    string
	}{
		{"create-409-full-width-lookalike", "POST", "/v1/groups", `{"name":"ＢＥＲＬＩＮ"}`, nil, 409, groups.CodeNameTaken, ""},
		{"create-409-compatibility-form", "POST", "/v1/groups", `{"name":"Ⓑerlin"}`, nil, 409, groups.CodeNameTaken, ""},
		{"create-400-zero-width-space", "POST", "/v1/groups", `{"name":"Ber\u200blin"}`, nil, 400, groups.CodeInvalidArgument, "name"},
		{"create-400-word-joiner", "POST", "/v1/groups", `{"name":"Ber\u2060lin"}`, nil, 400, groups.CodeInvalidArgument, "name"},
		{"create-400-bom", "POST", "/v1/groups", `{"name":"\ufeffBerlin"}`, nil, 400, groups.CodeInvalidArgument, "name"},
		{"create-400-bidi-override", "POST", "/v1/groups", `{"name":"\u202eniltreB"}`, nil, 400, groups.CodeInvalidArgument, "name"},
		{"create-400-bidi-isolate", "POST", "/v1/groups", `{"name":"a\u2066b\u2069"}`, nil, 400, groups.CodeInvalidArgument, "name"},
		{"create-400-looks-empty-zwj", "POST", "/v1/groups", `{"name":"\u200d"}`, nil, 400, groups.CodeInvalidArgument, "name"},
		{"create-400-joiner-at-end", "POST", "/v1/groups", `{"name":"Berlin\u200c"}`, nil, 400, groups.CodeInvalidArgument, "name"},
		{"create-400-only-ignorable", "POST", "/v1/groups", `{"name":"\u3164"}`, nil, 400, groups.CodeInvalidArgument, "name"},
		{"create-201-zwj-emoji-sequence", "POST", "/v1/groups", `{"name":"Team 👩‍💻"}`, nil, 201, "", ""},
		{"create-201-zwnj-persian", "POST", "/v1/groups", `{"name":"می\u200cخواهم"}`, nil, 201, "", ""},
		{"create-201-zwj-devanagari", "POST", "/v1/groups", `{"name":"क्\u200dष"}`, nil, 201, "", ""},
		{"create-400-invalid-utf8", "POST", "/v1/groups", "{\"name\":\"Ber\xfflin\"}", nil, 400, groups.CodeMalformedJSON, ""},
		{"create-400-lone-high-surrogate", "POST", "/v1/groups", `{"name":"Ber\ud800lin"}`, nil, 400, groups.CodeMalformedJSON, ""},
		{"create-400-lone-low-surrogate", "POST", "/v1/groups", `{"name":"x","description":"\udc00"}`, nil, 400, groups.CodeMalformedJSON, ""},
		{"create-201-surrogate-pair", "POST", "/v1/groups", `{"name":"Car \ud83d\ude97"}`, nil, 201, "", ""},
		{"create-201-escaped-backslash-u", "POST", "/v1/groups", `{"name":"Path \\ud800"}`, nil, 201, "", ""},
		{"create-400-description-nul", "POST", "/v1/groups", `{"name":"n1","description":"a\u0000b"}`, nil, 400, groups.CodeInvalidArgument, "description"},
		{"create-400-description-escape", "POST", "/v1/groups", `{"name":"n2","description":"\u001b[31mred"}`, nil, 400, groups.CodeInvalidArgument, "description"},
		{"create-400-description-c1", "POST", "/v1/groups", `{"name":"n3","description":"a\u0085b"}`, nil, 400, groups.CodeInvalidArgument, "description"},
		{"create-201-description-newline-tab", "POST", "/v1/groups", `{"name":"n4","description":"line 1\n\tline 2"}`, nil, 201, "", ""},
		{"create-415-latin1", "POST", "/v1/groups", `{"name":"n5"}`, []string{"Content-Type", "application/json; charset=iso-8859-1"}, 415, groups.CodeUnsupportedMedia, ""},
		{"create-201-charset-utf8", "POST", "/v1/groups", `{"name":"n6"}`, []string{"Content-Type", "application/json; charset=UTF-8"}, 201, "", ""},
		{"rename-409-lookalike", "PATCH", "/v1/groups/" + renamed, `{"name":"ｂｅｒｌｉｎ"}`, nil, 409, groups.CodeNameTaken, ""},
		{"put-item-400-name-format-char", "PUT", "/v1/vehicles/veh-1", `{"name":"Van\u00ad 1"}`, nil, 400, groups.CodeInvalidArgument, "name"},
		{"put-item-400-enterprise-bidi", "PUT", "/v1/vehicles/veh-1", `{"name":"Van","enterprise":"Acme\u202e"}`, nil, 400, groups.CodeInvalidArgument, "enterprise"},
		{"put-item-400-attribute-control", "PUT", "/v1/vehicles/veh-1", `{"name":"Van","attributes":{"plate":"B\u0007"}}`, nil, 400, groups.CodeInvalidArgument, "attributes.plate"},
		{"put-item-201-full-width", "PUT", "/v1/vehicles/veh-2", `{"name":"ＴＲＡＮＳＩＴ Van"}`, nil, 201, "", ""},
		{"search-400-control", "GET", "/v1/groups?search=" + url.QueryEscape("a\x00"), "", nil, 400, groups.CodeInvalidArgument, "search"},
		{"search-400-invalid-utf8", "GET", "/v1/groups?search=%FF", "", nil, 400, groups.CodeInvalidArgument, "search"},
		{"filter-400-control", "GET", "/v1/groups?" + url.QueryEscape("filter[name][eq]") + "=" + url.QueryEscape("a\x1b"), "", nil, 400, groups.CodeInvalidArgument, "filter[name][eq]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.call(t, A, c.method, c.path, c.body, c.headers...)
			expect(t, r, c.status, c.code)
			if c.field != "" && fieldOf(r) != c.field {
				t.Fatalf("errors = %v, want field %q", r.body["errors"], c.field)
			}
		})
	}

	// Search and the ilk filter compare the folded forms too.
	B := e.tokenB
	expect(t, e.call(t, B, "POST", "/v1/groups", `{"name":"ＢＥＲＬＩＮ Mitte"}`), 201, "")
	expect(t, e.call(t, B, "POST", "/v1/groups", `{"name":"Straße"}`), 201, "")
	expect(t, e.call(t, B, "PUT", "/v1/users/usr-1", `{"name":"Ｊｏｈｎ"}`), 201, "")
	lists := []struct {
		name, path string
		want       []string
	}{
		{"search-folds-full-width", "/v1/groups?search=berlin", []string{"ＢＥＲＬＩＮ Mitte"}},
		{"search-folds-sharp-s", "/v1/groups?search=STRASS", []string{"Straße"}},
		{"search-drops-ignorables", "/v1/groups?search=" + url.QueryEscape("ber\u200blin"), []string{"ＢＥＲＬＩＮ Mitte"}},
		{"search-created-order-folds", "/v1/groups?sort=created&search=berlin", []string{"ＢＥＲＬＩＮ Mitte"}},
		{"ilk-folds", "/v1/groups?" + url.QueryEscape("filter[name][ilk]") + "=MITTE", []string{"ＢＥＲＬＩＮ Mitte"}},
		{"ilk-folds-needle", "/v1/groups?" + url.QueryEscape("filter[name][ilk]") + "=ＳＳＥ", []string{"Straße"}},
		{"items-search-folds", "/v1/users?search=john", []string{"Ｊｏｈｎ"}},
	}
	for _, l := range lists {
		t.Run(l.name, func(t *testing.T) {
			r := e.call(t, B, "GET", l.path, "")
			expect(t, r, 200, "")
			if got := r.field("name"); !slices.Equal(got, l.want) {
				t.Fatalf("names = %q, want %q", got, l.want)
			}
		})
	}
}
