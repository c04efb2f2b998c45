package groups_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
)

func TestValidateID(t *testing.T) {
	cases := []struct {
		id string
		ok bool
	}{
		{"veh-001", true}, {"user@example.com", true}, {"a:b.c_d", true}, {strings.Repeat("x", 128), true},
		{"", false}, {strings.Repeat("x", 129), false}, {"has space", false}, {"hash#tag", false},
		{"slash/no", false}, {"ünïcode", false},
		// Dot segments: a path ending in /.. names the parent resource.
		{".", false}, {"..", false}, {"...", false}, {".a", true}, {"a..", true}, {"a..b", true},
	}
	for _, c := range cases {
		err := groups.ValidateID("id", c.id)
		if (err == nil) != c.ok {
			t.Errorf("ValidateID(%q) = %v, want ok=%v", c.id, err, c.ok)
		}
		if err != nil && (groups.CodeOf(err) != groups.CodeInvalidArgument || groups.FieldsOf(err)[0].Field != "id") {
			t.Errorf("ValidateID(%q) error %v lacks the field", c.id, err)
		}
	}
}

func TestCleanName(t *testing.T) {
	cases := []struct {
		in, want string
		ok       bool
	}{
		{"  Berlin Fleet  ", "Berlin Fleet", true},
		{strings.Repeat("é", 128), strings.Repeat("é", 128), true}, // characters, not bytes
		{strings.Repeat("n", 129), "", false},
		{"   ", "", false},
		{"tab\tinside", "", false},
	}
	for _, c := range cases {
		got, err := groups.CleanName("name", c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("CleanName(%q) = %q, %v; want %q ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
}

func TestValidateInitialMembers(t *testing.T) {
	many := make([]groups.Item, groups.MaxInitialMembers+1)
	for i := range many {
		many[i] = groups.Item{Type: groups.Devices, ID: fmt.Sprintf("d%d", i)}
	}
	cases := []struct {
		name    string
		members []groups.Item
		fields  []string
	}{
		{"ok", []groups.Item{{Type: groups.Users, ID: "u"}, {Type: groups.Vehicles, ID: "u"}}, nil},
		{"max-ok", many[:groups.MaxInitialMembers], nil},
		{"too-many", many, []string{"members"}},
		{"duplicate", []groups.Item{{Type: groups.Users, ID: "u"}, {Type: groups.Users, ID: "u"}}, []string{"users[1]"}},
		{"bad-id", []groups.Item{{Type: groups.Users, ID: "ok"}, {Type: groups.Users, ID: "no way"}}, []string{"users[1]"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			errs := groups.ValidateInitialMembers(c.members)
			var fields []string
			for _, e := range errs {
				fields = append(fields, e.Field)
			}
			if fmt.Sprint(fields) != fmt.Sprint(c.fields) {
				t.Fatalf("fields = %v, want %v", fields, c.fields)
			}
		})
	}
}

func TestParseItemType(t *testing.T) {
	for _, typ := range groups.ItemTypes {
		if got, err := groups.ParseItemType("t", string(typ)); err != nil || got != typ {
			t.Errorf("ParseItemType(%s) = %s, %v", typ, got, err)
		}
	}
	for _, bad := range []string{"", "cars", "Vehicles", "members"} {
		if _, err := groups.ParseItemType("t", bad); err == nil {
			t.Errorf("ParseItemType(%q) accepted", bad)
		}
	}
}

func TestFoldName(t *testing.T) {
	cases := []struct{ in, want string }{
		{"Berlin", "berlin"},
		{"ＢＥＲＬＩＮ", "berlin"},       // full-width
		{"Ⓑerlin", "berlin"},       // compatibility form
		{"Ber\u200blin", "berlin"}, // zero-width space, default-ignorable
		{"Ber\u00adlin", "berlin"}, // soft hyphen
		{"Straße", "strasse"},      // full case folding
		{"ﬁle", "file"},            // ligature
		{"e\u0301", "\u00e9"},      // composed
		{"👩\u200d💻", "👩💻"},         // joiners are default-ignorable too
		// and tags: the flags of Scotland and England fold alike
		{"\U0001F3F4\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F Depot", "\U0001F3F4 depot"},
		{"a#b c!", "a#b c!"}, // punctuation and spaces stay
		{"\u3164", ""},       // Hangul filler: looks empty, folds empty
	}
	for _, c := range cases {
		if got := groups.FoldName(c.in); got != c.want {
			t.Errorf("FoldName(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestNameRules(t *testing.T) {
	cases := []struct {
		name, in string
		ok       bool
	}{
		{"ok-plain", "Berlin Fleet", true},
		{"ok-punctuation", "a#b !c", true},
		{"ok-zwj-emoji", "👩\u200d💻", true},
		{"ok-zwj-skin-tone", "👩🏽\u200d💻", true},
		{"ok-zwnj-persian", "می\u200cخواهم", true},
		{"ok-zwj-after-mark", "क्\u200dष", true},
		{"ok-flag-of-scotland", "\U0001F3F4\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F Depot", true},
		{"ok-two-flags", "\U0001F3F4\U000E0067\U000E0062\U000E0077\U000E006C\U000E0073\U000E007F\U0001F3F4\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F", true},
		{"bad-tags-without-flag", "a\U000E0067\U000E0062\U000E007Fb", false},
		{"bad-flag-tags-unterminated", "\U0001F3F4\U000E0067\U000E0062 Depot", false},
		{"bad-flag-cancel-tag-alone", "\U0001F3F4\U000E007F", false},
		{"bad-tag-after-sequence", "\U0001F3F4\U000E0067\U000E007F\U000E0067", false},
		{"bad-zwj-alone", "\u200d", false},
		{"bad-zwj-at-start", "\u200dBerlin", false},
		{"bad-zwnj-at-end", "Berlin\u200c", false},
		{"bad-zwj-between-spaces", "a \u200d b", false},
		{"bad-zero-width-space", "Ber\u200blin", false},
		{"bad-bom", "\ufeffBerlin", false},
		{"bad-word-joiner", "Ber\u2060lin", false},
		{"bad-bidi-embedding", "a\u202ab", false},
		{"bad-bidi-override", "\u202eniltreB", false},
		{"bad-bidi-isolate", "a\u2068b\u2069", false},
		{"bad-nul", "a\x00b", false},
		{"bad-escape", "a\x1bb", false},
		{"bad-c1", "a\u0085b", false},
		{"bad-tab", "a\tb", false},
		{"bad-invalid-utf8", "Ber\xfflin", false},
		{"bad-only-ignorable", "\u3164", false},
		{"bad-folds-too-long", strings.Repeat("\ufdfa", 20), false}, // 20 characters, 660 bytes folded
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := groups.CleanName("name", c.in)
			if (err == nil) != c.ok {
				t.Fatalf("CleanName(%q) = %v, want ok=%v", c.in, err, c.ok)
			}
		})
	}
}

func TestFreeText(t *testing.T) {
	cases := []struct {
		name, in string
		ok       bool
	}{
		{"ok-newline-tab", "line 1\n\tline 2", true},
		{"ok-format-characters", "Ber\u200blin", true},
		{"bad-nul", "a\x00", false},
		{"bad-escape", "\x1b[31m", false},
		{"bad-carriage-return", "a\r\nb", false},
		{"bad-c1", "\u009b", false},
		{"bad-invalid-utf8", "\xff", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := groups.CleanDescription("description", c.in)
			errs := groups.ValidateAttributes("attributes", map[string]string{"k": c.in})
			if (err == nil) != c.ok || (len(errs) == 0) != c.ok {
				t.Fatalf("CleanDescription(%q) = %v, ValidateAttributes = %v; want ok=%v", c.in, err, errs, c.ok)
			}
		})
	}
}
