package groups

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// The rules for text a client sends. Names (of groups, items, enterprises)
// are what people tell things apart by, so they must look like what they
// are: valid UTF-8, no control characters, and no invisible format
// characters (Unicode category Cf: zero-width space, BOM, word joiner, bidi
// controls), except a zero-width joiner or non-joiner between two letters,
// marks or emoji, which emoji sequences and Persian or Indic names need,
// and the tag characters of an emoji tag sequence (the flags of Scotland,
// England and Wales).
// Free text (descriptions, attribute values) may hold anything printable,
// and line feeds and tabs. Names are compared in one folded form (FoldName),
// so lookalikes are one name.

// MaxFoldedNameBytes bounds a group name's and a search's folded form, so
// that it fits a key (DynamoDB allows 1,024 bytes for a sort key). Only names
// whose characters expand under NFKC (ligatures, some Arabic signs) come near.
const MaxFoldedNameBytes = 512

const (
	zwnj = '\u200c' // zero-width non-joiner
	zwj  = '\u200d' // zero-width joiner
)

// FoldName is the one form in which names are compared: for uniqueness (the
// name guards), for search and name order (the index keys) and for the ilk
// filter. It is the name with default-ignorable characters removed, in NFKC
// and case-folded, so that "ＢＥＲＬＩＮ", "Ⓑerlin", "Ber\u200blin" and
// "BERLIN" all fold to "berlin", and "Straße" to "strasse".
func FoldName(s string) string {
	s = strings.Map(func(r rune) rune {
		if defaultIgnorable(r) {
			return -1
		}
		return r
	}, s)
	// Case folding can undo NFKC (and NFKC can make foldable letters), so
	// normalise on both sides, as Unicode's NFKC_Casefold does.
	return norm.NFKC.String(caseFold(norm.NFKC.String(s)))
}

// defaultIgnorable reports Unicode's Default_Ignorable_Code_Point, which the
// unicode package has no table for: Other_Default_Ignorable_Code_Point, Cf
// and variation selectors, less the format characters that are visible.
func defaultIgnorable(r rune) bool {
	switch {
	case unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r), unicode.Is(unicode.Variation_Selector, r):
		return true
	case unicode.Is(unicode.Cf, r):
		return !unicode.Is(unicode.Prepended_Concatenation_Mark, r) &&
			!(r >= '\ufff9' && r <= '\ufffb') && !(r >= 0x13430 && r <= 0x1343f)
	}
	return false
}

// cleanName trims a name and checks it: 1–max characters, the rules of
// names (see nameProblem), and something visible once folded.
func cleanName(field, s string, max int) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" || utf8.RuneCountInString(s) > max {
		return "", fieldError(field, fmt.Sprintf("must be 1–%d characters after trimming", max))
	}
	if msg := nameProblem(s); msg != "" {
		return "", fieldError(field, msg)
	}
	if FoldName(s) == "" {
		return "", fieldError(field, "must contain a visible character")
	}
	return s, nil
}

// nameProblem says what in s breaks the rules of names, if anything.
func nameProblem(s string) string {
	if msg := textProblem(s, ""); msg != "" {
		return msg
	}
	var prev rune
	flags := tagSequences(s)
	for i, r := range s {
		if !unicode.Is(unicode.Cf, r) || flags[i] {
			prev = r
			continue
		}
		rest := s[i+utf8.RuneLen(r):]
		next, _ := utf8.DecodeRuneInString(rest)
		if (r == zwj || r == zwnj) && joins(prev) && rest != "" && joins(next) {
			prev = r
			continue
		}
		return fmt.Sprintf("must not contain invisible format characters (U+%04X); "+
			"U+200C and U+200D are allowed only between letters, marks or emoji", r)
	}
	return ""
}

// The parts of an emoji tag sequence (Unicode's UTS #51): a tag base, in
// practice the black flag, then tag characters, then the cancel tag.
const (
	blackFlag         = '\U0001F3F4'
	firstTag, lastTag = '\U000E0020', '\U000E007E'
	cancelTag         = '\U000E007F'
)

// tagSequences returns the byte offsets of the tag characters of s that
// form emoji tag sequences: a black flag, one or more tag characters and
// the cancel tag. Tags anywhere else are invisible text, and refused.
func tagSequences(s string) map[int]bool {
	var flags map[int]bool
	var pending []int // the tags after a black flag, until the cancel tag
	prev := rune(-1)
	for i, r := range s {
		switch {
		case r >= firstTag && r <= lastTag && (prev == blackFlag || len(pending) > 0):
			pending = append(pending, i)
		case r == cancelTag && len(pending) > 0:
			if flags == nil {
				flags = map[int]bool{}
			}
			for _, at := range append(pending, i) {
				flags[at] = true
			}
			pending = nil
		default:
			pending = nil
		}
		prev = r
	}
	return flags
}

// joins reports whether a zero-width joiner or non-joiner may stand next to
// r: letters and marks (Persian, Indic scripts), and emoji, which are
// symbols (So) or skin-tone modifiers (Sk).
func joins(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsMark(r) || unicode.Is(unicode.So, r) || (r >= 0x1f3fb && r <= 0x1f3ff)
}

// textProblem says why s is not acceptable text, if it is not: invalid
// UTF-8, or a control character other than those in allowed.
func textProblem(s, allowed string) string {
	if !utf8.ValidString(s) {
		return "must be valid UTF-8"
	}
	for _, r := range s {
		if unicode.IsControl(r) && !strings.ContainsRune(allowed, r) {
			if allowed == "" {
				return fmt.Sprintf("must not contain control characters (U+%04X)", r)
			}
			return fmt.Sprintf("must not contain control characters other than line feed and tab (U+%04X)", r)
		}
	}
	return ""
}

// freeText is what free text may hold besides printable characters.
const freeText = "\n\t"

// ValidateQueryText checks a search or filter value: valid UTF-8 without
// control characters (a search becomes a key prefix, which a control
// character could end).
func ValidateQueryText(field, s string) error {
	if msg := textProblem(s, ""); msg != "" {
		return fieldError(field, msg)
	}
	return nil
}

// ValidateSearch checks a list's search: ValidateQueryText, and short
// enough once folded to be a key prefix.
func ValidateSearch(field, s string) error {
	if err := ValidateQueryText(field, s); err != nil {
		return err
	}
	if len(FoldName(s)) > MaxFoldedNameBytes {
		return fieldError(field, fmt.Sprintf("must be at most %d bytes once normalised", MaxFoldedNameBytes))
	}
	return nil
}
