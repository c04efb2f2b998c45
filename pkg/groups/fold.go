package groups

import (
	"slices"
	"unicode/utf8"
)

// caseFold is Unicode's full case folding (CaseFolding.txt, statuses C and
// F, without the Turkic mappings), exactly as golang.org/x/text/cases.Fold
// applies it: rune by rune, from a table generated from that package
// (fold_table.go; TestCaseFoldTable regenerates it and holds it to
// x/text). Invalid UTF-8 passes through unchanged, as it does there.
//
// The table replaces x/text/cases in the Lambdas, each of which imports
// this package: that package parses a hundred language tags at init and so
// links the language package's tables, about 200 KB in every binary and
// work at every cold start, for this one mapping.
func caseFold(s string) string {
	var b []byte // nil until a rune changes
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		j, found := slices.BinarySearch(foldFrom[:], r)
		if found {
			if b == nil {
				b = append(make([]byte, 0, len(s)+utf8.UTFMax), s[:i]...)
			}
			b = append(b, foldTo[foldStart(j):foldEnd[j]]...)
		} else if b != nil {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	if b == nil {
		return s
	}
	return string(b)
}

// foldStart is where foldFrom[j]'s folding starts in foldTo.
func foldStart(j int) uint16 {
	if j == 0 {
		return 0
	}
	return foldEnd[j-1]
}
