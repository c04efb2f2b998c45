// Package knowndefect names the defects of issue 6 that other branches are
// fixing while the fuzz targets and the security table test, which find them,
// are written. A test that meets one calls Skip at the one assertion the
// defect breaks, so the property stays in the code and the input that shows
// the defect stays in the corpus, while the suite stays green.
//
// When a fix is merged, delete its constant here: the compiler then names
// every Skip that must go, and the assertions behind them count again. Until
// then, KNOWN_DEFECTS=fail turns every Skip into a failure, which shows which
// skips a merge has made unnecessary:
//
//	KNOWN_DEFECTS=fail go test ./pkg/...
//
// Only tests import this package.
package knowndefect

import (
	"os"
	"testing"
)

// Defect is one known defect, named after the issue item it belongs to.
type Defect string

// The known defects and the branch that fixes each.
const (
	// NonCanonicalPath: ServeMux answers a path with dot segments ("/./",
	// "/../", also percent-encoded) or an empty segment ("//") with a 307
	// redirect to the cleaned path, instead of a 404 problem. Branch edge.
	NonCanonicalPath Defect = "issue 6: dot segments and // in paths are redirected (307) instead of refused (branch edge)"
	// RepeatedQueryParam: a query parameter given more than once is read
	// once (the first or last value) where it should be refused with 400.
	// Branch edge.
	RepeatedQueryParam Defect = "issue 6: a repeated query parameter is accepted, one of its values ignored (branch edge)"
	// MultipleAuthorization: with several Authorization header lines the
	// authorizer reads the last one and may let the request through.
	// Branch edge.
	MultipleAuthorization Defect = "issue 6: several Authorization headers are accepted (branch edge)"
	// DuplicateJSONKey: a body with the same key twice in an object is
	// accepted, the last value winning. Branch text.
	DuplicateJSONKey Defect = "issue 6: duplicate JSON keys are accepted, the last one winning (branch text)"
	// InvalidUTF8: a body that is not valid UTF-8, or that escapes a lone
	// UTF-16 surrogate ("\ud800"), is accepted, each bad sequence silently
	// replaced by U+FFFD. Branch text.
	InvalidUTF8 Defect = "issue 6: invalid UTF-8 and lone surrogate escapes in bodies become U+FFFD silently (branch text)"
	// ControlOrFormatChar: names, enterprises and descriptions accept
	// format characters (bidi overrides, zero-width characters) and
	// descriptions control characters. Branch text.
	ControlOrFormatChar Defect = "issue 6: text fields accept control and format characters (branch text)"
)

// Skip skips the rest of the test or fuzz input because it meets defect,
// with what was observed; with KNOWN_DEFECTS=fail it fails instead.
func Skip(t testing.TB, defect Defect, format string, args ...any) {
	t.Helper()
	if os.Getenv("KNOWN_DEFECTS") == "fail" {
		t.Fatalf("known defect %q: "+format, append([]any{string(defect)}, args...)...)
	}
	t.Skipf("known defect %q: "+format, append([]any{string(defect)}, args...)...)
}
