package readme

import (
	"errors"
	"slices"
	"testing"
)

// The rules by which README text matches a response, each with a case that
// must fail: a checker that accepts anything would keep no README true.

const (
	grpA = "grp_aaaaaaaaaaaaaaaaaaaaaaaaaa"
	grpB = "grp_bbbbbbbbbbbbbbbbbbbbbbbbbb"
	grpC = "grp_cccccccccccccccccccccccccc"
)

func TestMatchJSON(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, want, got string
		ok              bool
	}{
		{"same-ok", `{"a": 1, "b": ["x"]}`, `{"b":["x"],"a":1}`, true},
		{"other-number-fails", `{"a":1}`, `{"a":2}`, false},
		{"extra-member-fails", `{"a":1}`, `{"a":1,"b":2}`, false},
		{"missing-member-fails", `{"a":1,"b":2}`, `{"a":1}`, false},
		{"open-object-ok", `{"a":1,…}`, `{"a":1,"b":2}`, true},
		{"open-object-still-checks-shown-fails", `{"a":1,…}`, `{"a":3,"b":2}`, false},
		{"any-object-ok", `{"m":{…}}`, `{"m":{"x":1}}`, true},
		{"any-object-not-a-number-fails", `{"m":{…}}`, `{"m":1}`, false},
		{"any-value-ok", `{"m":…}`, `{"m":[1]}`, true},
		{"array-ellipsis-ok", `[1,…,4]`, `[1,2,3,4]`, true},
		{"array-ellipsis-empty-ok", `[1,…,4]`, `[1,4]`, true},
		{"array-ellipsis-wrong-end-fails", `[1,…,4]`, `[1,2,3]`, false},
		{"array-longer-fails", `[1,2]`, `[1,2,3]`, false},
		{"cut-short-ok", "{\n \"a\": {\n  \"b\": 1,\n  …", `{"a":{"b":1,"c":2},"d":3}`, true},
		{"cut-short-checks-shown-fails", "{\n \"a\": {\n  \"b\": 1,\n  …", `{"a":{"b":2}}`, false},
		{"string-exact-fails", `{"s":"Berlin"}`, `{"s":"Berlin "}`, false},
		{"group-id-any-ok", `{"id":"` + grpA + `"}`, `{"id":"` + grpB + `"}`, true},
		{"group-id-shape-fails", `{"id":"` + grpA + `"}`, `{"id":"grp_demo"}`, false},
		{"fixed-id-fails", `{"id":"grp_demo"}`, `{"id":"` + grpB + `"}`, false},
		{"request-id-any-ok", `{"request_id":"0123456789abcdef"}`, `{"request_id":"fedcba9876543210"}`, true},
		{"request-id-shape-fails", `{"request_id":"0123456789abcdef"}`, `{"request_id":"x"}`, false},
		{"timestamp-any-ok", `{"t":"2026-11-24T16:38:09.058Z"}`, `{"t":"2027-01-02T03:04:05.006Z"}`, true},
		{"timestamp-precision-fails", `{"t":"2026-11-24T16:38:09.058Z"}`, `{"t":"2027-01-02T03:04:05Z"}`, false},
		{"elision-ok", `{"c":"iRWi…(5 characters)"}`, `{"c":"abcde"}`, true},
		{"elision-length-fails", `{"c":"iRWi…(5 characters)"}`, `{"c":"abcd"}`, false},
		{"location-ok", `{"l":"/v1/groups/` + grpA + `/devices/dev-9"}`, `{"l":"/v1/groups/` + grpB + `/devices/dev-9"}`, true},
		{"location-rest-fails", `{"l":"/v1/groups/` + grpA + `/devices/dev-9"}`, `{"l":"/v1/groups/` + grpB + `/devices/dev-8"}`, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			pat, err := parsePattern(c.want)
			if err != nil {
				t.Fatal(err)
			}
			got, err := decodeJSON([]byte(c.got))
			if err != nil {
				t.Fatal(err)
			}
			err = newBindings().matchJSON("body", pat, got)
			if (err == nil) != c.ok {
				t.Fatalf("match %s against %s: %v, want ok=%v", c.want, c.got, err, c.ok)
			}
		})
	}
}

func TestBindings(t *testing.T) {
	t.Parallel()
	t.Run("same-readme-id-two-real-fails", func(t *testing.T) {
		b := newBindings()
		if err := b.matchText(grpA, grpB, false); err != nil {
			t.Fatal(err)
		}
		if err := b.matchText(grpA, grpC, false); err == nil {
			t.Fatal("one README id matched two real ids")
		}
	})
	t.Run("two-readme-ids-one-real-fails", func(t *testing.T) {
		b := newBindings()
		if err := b.matchText(grpA, grpC, false); err != nil {
			t.Fatal(err)
		}
		if err := b.matchText(grpB, grpC, false); err == nil {
			t.Fatal("two README ids matched one real id")
		}
	})
	t.Run("within-one-text-fails", func(t *testing.T) {
		if err := newBindings().matchText(grpA+" "+grpA, grpB+" "+grpC, false); err == nil {
			t.Fatal("one README id matched two real ids in one text")
		}
	})
	t.Run("resolve", func(t *testing.T) {
		b := newBindings()
		if _, err := b.resolve("GROUP=" + grpA); err == nil {
			t.Fatal("resolved an id no output showed")
		}
		if err := b.matchText(`{"id":"`+grpA+`","c":"iRWi…"} 477dfcc3e043`, `{"id":"`+grpB+`","c":"REAL-cursor"} 0123456789ab`, true); err != nil {
			t.Fatal(err)
		}
		got, err := b.resolve("GROUP=" + grpA + " C=iRWi… -token-id 477dfcc3 7c0d9a52-key")
		if want := "GROUP=" + grpB + " C=REAL-cursor -token-id 01234567 7c0d9a52-key"; err != nil || got != want {
			t.Fatalf("resolve: %q, %v; want %q", got, err, want)
		}
	})
	t.Run("text-collapses-space", func(t *testing.T) {
		b := newBindings()
		if err := b.matchText("TOKEN ID  LABEL\n a", "TOKEN ID LABEL a\n", true); err != nil {
			t.Fatal(err)
		}
		if err := b.matchText("TOKEN ID LABEL", "TOKEN ID NAME", true); err == nil {
			t.Fatal("different words matched")
		}
	})
	t.Run("literal-stands-for-real", func(t *testing.T) {
		b := newBindings()
		b.literal["fleetgroups-local"] = "t-abc"
		if err := b.matchText("in table fleetgroups-local.", "in table t-abc.", true); err != nil {
			t.Fatal(err)
		}
		if err := b.matchText("in table fleetgroups-local.", "in table fleetgroups-local.", true); err == nil {
			t.Fatal("the README's table name matched itself, not the test's")
		}
	})
}

func TestWords(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"API": "http://h", "T": "tok"}
	lookup := func(n string) (string, error) {
		v, ok := vars[n]
		if !ok {
			return "", errors.New("unset " + n)
		}
		return v, nil
	}
	cases := []struct {
		name, src string
		want      []string
		err       bool
	}{
		{"quotes", `curl -s "$API/v1/x?a=1&b=2" -H 'X: $T' -d '{"a": "b c"}'`, []string{"curl", "-s", "http://h/v1/x?a=1&b=2", "-H", "X: $T", "-d", `{"a": "b c"}`}, false},
		{"continuation", "curl \\\n    -s ${T}x", []string{"curl", "-s", "tokx"}, false},
		{"comment", "G=grp_x     # the id", []string{"G=grp_x"}, false},
		{"newline-in-quotes", "-d '{\"a\":1,\n  \"b\":2}'", []string{"-d", "{\"a\":1,\n  \"b\":2}"}, false},
		{"unset-variable-fails", `curl "$NOPE"`, nil, true},
		{"pipe-fails", `curl x | jq .`, nil, true},
		{"redirect-fails", `curl x > /dev/null`, nil, true},
		{"substitution-fails", `curl "$(date)"`, nil, true},
	}
	for _, c := range cases {
		got, err := words(c.src, lookup)
		if (err != nil) != c.err || !c.err && !slices.Equal(got, c.want) {
			t.Errorf("%s: words(%q) = %q, %v; want %q (error %v)", c.name, c.src, got, err, c.want, c.err)
		}
	}
	for _, src := range []string{"curl -d '{", "curl \\", `curl "x`} {
		if _, err := words(src, nil); !errors.Is(err, errIncomplete) {
			t.Errorf("words(%q): %v, want errIncomplete", src, err)
		}
	}
}

func TestParseCurl(t *testing.T) {
	t.Parallel()
	r, err := parseCurl([]string{"-sig", "-X", "PATCH", "-H", "If-Match: \"v1\"", "-d", "{}", "http://h/v1/groups?filter[name][eq]=x"})
	if err != nil {
		t.Fatal(err)
	}
	if r.method != "PATCH" || !r.include || !r.globoff || r.data == nil || *r.data != "{}" || len(r.headers) != 1 || r.headers[0][1] != `"v1"` {
		t.Fatalf("parsed %+v", r)
	}
	if r, err := parseCurl([]string{"-d", "a", "http://h/"}); err != nil || r.method != "POST" {
		t.Fatalf("-d without -X: %+v, %v; want POST", r, err)
	}
	for _, args := range [][]string{
		{"-L", "http://h/"},                        // unknown flag
		{"-sv", "http://h/"},                       // unknown short flag in a group
		{"--compressed", "http://h/"},              // unknown long flag
		{"-s", "http://h/?filter[name][eq]=x"},     // a glob without -g
		{"-o", "out.json", "http://h/"},            // output other than /dev/null
		{"-d", "@body.json", "http://h/"},          // data from a file
		{"-s"},                                     // no URL
		{"-s", "http://h/a", "http://h/b"},         // two URLs
		{"-H", "no colon", "http://h/"},            // malformed header
		{"-X"},                                     // flag without value
		{"-s", "http://h/", "-w", "%{time_total}"}, // checked when printing
	} {
		r, err := parseCurl(args)
		if err == nil && r.hasWriteO {
			_, err = r.output(&curlResponse{status: 200})
		}
		if err == nil {
			t.Errorf("parseCurl(%q) accepted", args)
		}
	}
}
