package groups_test

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
)

// Seeds shared by the text fuzzers: the shapes that broke, or nearly broke,
// text handling elsewhere. testdata/fuzz holds more, as files.
var textSeeds = []string{
	"", " ", "Berlin Fleet", "  padded  ", "\tTab\t", "new\nline", "nul\x00byte", "\x7f",
	"é", "e\u0301", "İstanbul", "ǅ", "\u212a", "ß", "ﬃ", // case mappings that change length
	"\u00a0nbsp\u00a0", "\u3000ideographic\u3000", "\u2028", "\u0085", // Unicode spaces and line breaks
	"\u200b", "zero\u200bwidth", "\u202eevil", "\ufeffbom", "\u2066isolate\u2069", // format characters
	"\xff", "bad\xc3utf8", "\xed\xa0\x80", // invalid UTF-8, an encoded surrogate
	"\U0001F600", strings.Repeat("n", 128), strings.Repeat("n", 129), strings.Repeat("é", 129),
	"grp_abc", "#", "T#tn_a#G#x", "../..", "a/b", "%2e%2e",
}

// FuzzCleanText: every text cleaner is idempotent, and what it returns
// passes it again unchanged: trimmed (except descriptions, kept as sent),
// within its length in characters, without control characters; an error is
// always invalid_argument naming the field, with nothing returned.
func FuzzCleanText(f *testing.F) {
	for _, s := range textSeeds {
		f.Add(s)
	}
	cleaners := []struct {
		name    string
		clean   func(field, s string) (string, error)
		max     int
		trimmed bool
	}{
		{"CleanName", groups.CleanName, groups.MaxNameLength, true},
		{"CleanItemName", groups.CleanItemName, groups.MaxItemNameLength, true},
		{"CleanEnterprise", groups.CleanEnterprise, groups.MaxEnterpriseLength, true},
		{"CleanDescription", groups.CleanDescription, groups.MaxDescriptionLength, false},
	}
	f.Fuzz(func(t *testing.T, s string) {
		var defects []string
		for _, c := range cleaners {
			out, err := c.clean("f", s)
			if err != nil {
				if groups.CodeOf(err) != groups.CodeInvalidArgument || len(groups.FieldsOf(err)) != 1 ||
					groups.FieldsOf(err)[0].Field != "f" || out != "" {
					t.Fatalf("%s(%q) = %q, %v: want \"\" and one invalid_argument error on f", c.name, s, out, err)
				}
				continue
			}
			again, err := c.clean("f", out)
			if err != nil || again != out {
				t.Fatalf("%s is not idempotent: %q → %q → %q, %v", c.name, s, out, again, err)
			}
			if n := utf8.RuneCountInString(out); n > c.max || (c.trimmed && n == 0) {
				t.Fatalf("%s(%q) = %q: %d characters, want 1–%d", c.name, s, out, n, c.max)
			}
			if c.trimmed && (out != strings.TrimSpace(out) || strings.IndexFunc(out, unicode.IsControl) >= 0) {
				t.Fatalf("%s(%q) = %q: not trimmed, or holds a control character", c.name, s, out)
			}
			if !c.trimmed && out != s {
				t.Fatalf("%s(%q) = %q: a description is kept as sent", c.name, s, out)
			}
			if !utf8.ValidString(out) {
				defects = append(defects, c.name+": invalid UTF-8")
			}
			if strings.IndexFunc(out, func(r rune) bool { return forbidden(r, c.trimmed) }) >= 0 {
				defects = append(defects, c.name+": control or format character")
			}
		}
		// Last, so that these hide no other property.
		for _, d := range defects {
			if strings.HasSuffix(d, "invalid UTF-8") {
				t.Fatalf("invalid UTF-8 not refused: %q accepted: %s", s, d)
			}
			t.Fatalf("control or format character not refused: %q accepted: %s", s, d)
		}
	})
}

// forbidden reports whether r has no place in stored text: control and
// format characters (bidi overrides, zero-width ones) are invisible or
// reorder what people read. A description may hold tabs and line breaks.
func forbidden(r rune, oneLine bool) bool {
	switch {
	case !oneLine:
		// Free text: controls other than line feed and tab; format
		// characters are allowed (issue 6 #5 limits them in names only).
		return unicode.IsControl(r) && r != '\t' && r != '\n'
	case r == '\u200c' || r == '\u200d', r >= '\U000E0020' && r <= '\U000E007F':
		// Joiners between letters, marks or emoji, and tags in emoji tag
		// sequences (flags) are allowed; TestNameRules pins where.
		return false
	}
	return unicode.IsControl(r) || unicode.Is(unicode.Cf, r)
}

// FuzzValidateID: an accepted id is 1–128 characters of letters, digits and
// -_.:@ only, so it is safe in keys (no '#', the key separator), paths (no
// '/', '%', '?') and logs; a refused one is one invalid_argument error naming
// the field. Item types are exactly the ones listed.
func FuzzValidateID(f *testing.F) {
	for _, s := range append(textSeeds, "veh-001", "user@example.com", "a:b.c_d", "vehicles", "Vehicles", "vehicles\x00") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if err := groups.ValidateID("id", s); err != nil {
			if groups.CodeOf(err) != groups.CodeInvalidArgument || len(groups.FieldsOf(err)) != 1 || groups.FieldsOf(err)[0].Field != "id" {
				t.Fatalf("ValidateID(%q) = %v: want one invalid_argument error on id", s, err)
			}
		} else {
			if len(s) == 0 || len(s) > groups.MaxIDLength {
				t.Fatalf("ValidateID accepted %q: %d bytes", s, len(s))
			}
			for _, b := range []byte(s) {
				ok := b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || strings.IndexByte("-_.:@", b) >= 0
				if !ok {
					t.Fatalf("ValidateID accepted %q with byte %q", s, b)
				}
			}
		}
		typ, err := groups.ParseItemType("itemType", s)
		known := false
		for _, it := range groups.ItemTypes {
			known = known || string(it) == s
		}
		if known != (err == nil) || (err == nil && string(typ) != s) {
			t.Fatalf("ParseItemType(%q) = %q, %v", s, typ, err)
		}
	})
}
