package readme

import (
	"context"
	"encoding/base32"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetgroups/fleetgroups/pkg/app"
	"github.com/fleetgroups/fleetgroups/pkg/ddblocal"
	"github.com/fleetgroups/fleetgroups/pkg/gateway"
	"github.com/fleetgroups/fleetgroups/pkg/localdev"
	"github.com/fleetgroups/fleetgroups/pkg/routes"
	"github.com/fleetgroups/fleetgroups/pkg/storetest"
)

func TestMain(m *testing.M) { os.Exit(ddblocal.RunTests(m)) }

var update = flag.Bool("update", false, "rewrite in README.md the outputs of curl commands that no longer match, where they have no elision and at most one line of body")

const (
	repoRoot   = "../.."
	readmePath = repoRoot + "/README.md"
	adminPkg   = "./cmd/fleetgroups-admin"
)

// TestREADME replays README.md against the API as `make run` serves it, and
// fails wherever the README shows something the API does not do.
//
// What is replayed: every ```console block, in order, and the ```sh block
// of the Walk-through that sets TOKEN and API. A block preceded by
//
//	<!-- readme-test: skip (why) -->
//
// is not replayed (the test logs it). The server is the one of `make run`:
// DynamoDB Local (a fresh table), localdev.SeedDemo, and
// gateway.New(app.NewHandlers(st, log), log) in an httptest server, with the
// authorizer cache of `make run` (so the revoke walk-through shows what a
// user sees there). Only
// group ids are drawn from a fixed seed instead of crypto/rand, so that
// orders that follow group ids (the reverse lookup) are the same in every
// run; they keep their real shape.
//
// Commands. A line starting with "$ " is a command; it goes on over the
// next lines while it ends in "\" or a quote is open. The lines after it,
// up to the next command or the end of the block, are its output. The
// commands are run as a POSIX shell would (see words), limited to:
//
//   - NAME=value and export NAME=value …, which set shell variables. API,
//     DYNAMODB_ENDPOINT and TABLE_NAME are the test's own (the server's URL,
//     its DynamoDB Local, its table): assigning them keeps the test's value,
//     and the README's value stands for the test's one in every output.
//   - curl, run in-process with net/http, for the flags parseCurl knows
//     (-s -i -g -X -H -d --data-binary -o /dev/null -w '%{http_code}\n');
//     any other flag fails the test. As with curl, a URL with [ ] or { }
//     needs -g.
//   - go run ./cmd/fleetgroups-admin …, built once and run on the test's
//     table with the exported variables in its environment.
//
// Values that differ between runs (shapes, in match_test.go): group and
// association ids, token ids, elisions "X…" / "X…(N characters)" (cursors,
// tokens), and request ids, timestamps and dates. Where the README shows
// one, any real value of its shape matches. The README value of an id, a
// token id or an elision then stands for that real value for the rest of
// the replay (it is bound):
//
//   - the same README value must be the same real value everywhere, and two
//     different README values must be two different real ones;
//   - a command that quotes a README value sends the real one, so
//     `$ GROUP=grp_fil74…   # the id from your response` sets GROUP to the
//     real id of the output that first showed grp_fil74…, and
//     `$ CURSOR=iRWiZ…` to the real cursor the README elided as iRWiZ…
//     (of the length "(N characters)" states, if it does); a value no
//     output has shown yet is an error. A token id cut to 8 or more
//     characters is sent as the real one cut alike.
//   - request ids, timestamps and dates bind nothing: whether two writes
//     share a millisecond differs from run to run.
//
// Everything else is the same for every reader of one commit, and so must
// be exact: the OpenAPI document's ETag (its hash) included, which changes
// with the document.
//
// Outputs. With -i, the status line must be the same, and every header the
// README shows must be there with a matching value (headers it leaves out
// are not checked). A body that starts with { or [ is compared as JSON:
// white space between tokens is insignificant, members in any order, every
// member and element the README shows must be there and nothing else,
// except where "…" stands for them: a value ("…", "{…}"), members or
// elements (", …"), or, at the end of a body cut short, the rest of it.
// Strings match exactly except for shapes and elisions. Other output is
// compared as text with white space runs as one space. An empty output
// requires an empty body. A failure names the README line, the command, what
// the README shows and the response as curl would print it (its first 60
// lines), ready to paste.
//
// go test ./pkg/readme -update rewrites in README.md the outputs of curl
// commands that no longer match, where they have no elision and at most one
// line of body: the real status, the shown headers' real values and the real
// body, keeping the README's ids, request ids and timestamps where they still
// match. Review the diff; the run after it must pass without -update.
//
// A block preceded by <!-- readme-test: unordered-lines WORD (why) -->
// compares the output lines after the first of its commands containing
// WORD in any order (list-tokens lists tokens in hash order).
func TestREADME(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := readBlocks(string(data))
	if err != nil {
		t.Fatal(err)
	}
	r := newReplay(t)
	for _, b := range blocks {
		replayed := b.lang == "console" || b.lang == "sh" && b.section == "Walk-through"
		if !replayed {
			continue
		}
		if why, ok := b.directive("skip"); ok {
			t.Logf("README.md:%d: not replayed: %s", b.line, why)
			continue
		}
		if b.lang == "sh" {
			r.assignmentsBlock(b)
			continue
		}
		steps, err := b.steps()
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range steps {
			r.run(b, s)
		}
	}
	if r.commands == 0 {
		t.Fatal("README.md has no command to replay")
	}
	if len(r.edits) > 0 {
		lines := strings.Split(string(data), "\n")
		for _, e := range slices.Backward(r.edits) {
			lines = slices.Replace(lines, e.start, e.start+e.n, e.lines...)
		}
		if err := os.WriteFile(readmePath, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("rewrote %d outputs in README.md: review the diff, and run the test again without -update", len(r.edits))
	}
	t.Logf("replayed %d commands of README.md", r.commands)
}

func (b block) directive(name string) (arg string, ok bool) {
	for _, d := range b.directives {
		if rest, ok := strings.CutPrefix(d, name); ok && (rest == "" || rest[0] == ' ') {
			return strings.TrimSpace(rest), true
		}
	}
	return "", false
}

type replay struct {
	t        *testing.T
	b        *bindings
	vars     map[string]string
	exported map[string]bool
	provided map[string]string // variables whose value the test sets
	commands int
	admin    func() (string, error)
	edits    []edit // -update
}

// An edit replaces lines [start, start+n) of README.md (0-based).
type edit struct {
	start, n int
	lines    []string
}

func newReplay(t *testing.T) *replay {
	st, _ := storetest.NewStore(t)
	st.NewID = seededGroupIDs()
	if err := localdev.SeedDemo(context.Background(), st); err != nil {
		t.Fatalf("seed: %v", err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	authCache := gateway.WithAuthorizerCache(routes.AuthorizerCacheSeconds * time.Second)
	srv := httptest.NewServer(gateway.New(app.NewHandlers(st, log), log, authCache))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	return &replay{
		t: t, b: newBindings(), vars: map[string]string{}, exported: map[string]bool{},
		provided: map[string]string{
			"API":               srv.URL,
			"DYNAMODB_ENDPOINT": os.Getenv(ddblocal.EndpointEnv),
			"TABLE_NAME":        st.Table(),
		},
		admin: sync.OnceValues(func() (string, error) {
			bin := filepath.Join(dir, "fleetgroups-admin")
			cmd := exec.Command("go", "build", "-o", bin, adminPkg)
			cmd.Dir = repoRoot
			if out, err := cmd.CombinedOutput(); err != nil {
				return "", fmt.Errorf("go build %s: %v\n%s", adminPkg, err, out)
			}
			return bin, nil
		}),
	}
}

// seededGroupIDs returns group ids of the real shape from a fixed seed.
func seededGroupIDs() func() string {
	var mu sync.Mutex
	rng := rand.NewChaCha8([32]byte{'r', 'e', 'a', 'd', 'm', 'e'})
	return func() string {
		mu.Lock()
		defer mu.Unlock()
		b := make([]byte, 16)
		_, _ = rng.Read(b)
		return "grp_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
	}
}

func (r *replay) lookup(name string) (string, error) {
	v, ok := r.vars[name]
	if !ok {
		return "", fmt.Errorf("$%s is not set by any earlier command", name)
	}
	return v, nil
}

func (r *replay) assign(name, value string, export bool) {
	if real, ok := r.provided[name]; ok {
		r.b.literal[value] = real
		value = real
	}
	r.vars[name] = value
	r.exported[name] = r.exported[name] || export
}

func (r *replay) assignmentsBlock(b block) {
	for i, l := range b.lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		ws, err := words(l, r.lookup)
		pairs, ok := assignments(ws)
		if err != nil || !ok {
			r.t.Errorf("README.md:%d: only NAME=value lines are replayed in this block: %q %v", b.line+1+i, l, err)
			continue
		}
		for _, p := range pairs {
			r.assign(p[0], p[1], false)
		}
	}
}

// run replays one command and compares its output.
func (r *replay) run(b block, s step) {
	r.commands++
	fail := func(format string, args ...any) {
		r.t.Helper()
		r.t.Errorf("README.md:%d: $ %s\n%s", s.line, s.src, fmt.Sprintf(format, args...))
	}
	src, err := r.b.resolve(s.src)
	if err != nil {
		fail("%v", err)
		return
	}
	ws, err := words(src, r.lookup)
	if err != nil {
		fail("%v", err)
		return
	}
	export := len(ws) > 0 && ws[0] == "export"
	if export {
		ws = ws[1:]
	}
	if pairs, ok := assignments(ws); ok {
		for _, p := range pairs {
			r.assign(p[0], p[1], export)
		}
		if len(s.want) > 0 {
			fail("an assignment prints nothing, but the README shows output")
		}
		return
	}
	switch {
	case export:
		fail("export takes only NAME=value")
	case len(ws) > 0 && ws[0] == "curl":
		r.curl(s, ws[1:], fail)
	case len(ws) > 2 && ws[0] == "go" && ws[1] == "run" && ws[2] == adminPkg:
		unordered := ""
		if word, ok := b.directive("unordered-lines"); ok {
			if w, _, _ := strings.Cut(word, " "); slices.Contains(ws, w) {
				unordered = w
			}
		}
		r.runAdmin(s, ws[3:], unordered != "", fail)
	default:
		fail("the replay runs only curl, %s and NAME=value; add what this needs to pkg/readme, or mark the block with <!-- readme-test: skip (why) -->", adminPkg)
	}
}

func (r *replay) curl(s step, args []string, fail func(string, ...any)) {
	req, err := parseCurl(args)
	if err != nil {
		fail("%v", err)
		return
	}
	res, err := req.do()
	if err != nil {
		fail("%v", err)
		return
	}
	out, err := req.output(res)
	if err != nil {
		fail("%v", err)
		return
	}
	if err := r.compareCurl(req, res, s.want); err != nil {
		if e, ok := r.rewrite(s, req, res); ok && *update {
			r.edits = append(r.edits, e)
			r.t.Logf("README.md:%d: rewriting the output (%v)", s.line, err)
			return
		}
		fail("%v\n--- README.md shows:\n%s\n--- the API answered:\n%s", err, strings.Join(s.want, "\n"), clip(out))
	}
}

func (r *replay) compareCurl(req *curlRequest, res *curlResponse, want []string) error {
	if req.discard {
		out, err := req.output(res)
		if err != nil {
			return err
		}
		return r.b.matchText(strings.Join(want, "\n"), out, true)
	}
	if req.hasWriteO {
		return fmt.Errorf("curl -w is replayed only with -o /dev/null")
	}
	if req.include {
		if len(want) == 0 || !strings.HasPrefix(want[0], "HTTP/") {
			return fmt.Errorf("with -i the output starts with the status line")
		}
		if got := statusLine(res.status); want[0] != got {
			return fmt.Errorf("status: want %q, got %q", want[0], got)
		}
		want = want[1:]
		for len(want) > 0 && strings.TrimSpace(want[0]) != "" {
			name, value, ok := strings.Cut(want[0], ":")
			if !ok {
				return fmt.Errorf("header line without a colon: %q", want[0])
			}
			want = want[1:]
			value = strings.TrimSpace(value)
			got := res.header.Values(name)
			if len(got) == 0 {
				return fmt.Errorf("no %s header", name)
			}
			var errs []string
			for _, g := range got {
				saved := r.b.clone()
				err := r.b.matchText(value, g, false)
				if err == nil {
					errs = nil
					break
				}
				r.b.restore(saved)
				errs = append(errs, err.Error())
			}
			if errs != nil {
				return fmt.Errorf("header %s: %s", name, strings.Join(errs, "; "))
			}
		}
	}
	return r.compareBody(strings.Join(want, "\n"), res.body)
}

func (r *replay) compareBody(want string, got []byte) error {
	want = strings.TrimSpace(want)
	switch {
	case want == "":
		if len(strings.TrimSpace(string(got))) > 0 {
			return fmt.Errorf("the README shows no body")
		}
		return nil
	case want[0] == '{' || want[0] == '[':
		pat, err := parsePattern(want)
		if err != nil {
			return err
		}
		v, err := decodeJSON(got)
		if err != nil {
			return fmt.Errorf("the body is not JSON: %v", err)
		}
		return r.b.matchJSON("body", pat, v)
	default:
		return r.b.matchText(want, string(got), true)
	}
}

func (r *replay) runAdmin(s step, args []string, unordered bool, fail func(string, ...any)) {
	bin, err := r.admin()
	if err != nil {
		fail("%v", err)
		return
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = os.Environ()
	for name := range r.exported {
		cmd.Env = append(cmd.Env, name+"="+r.vars[name])
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		fail("%v\n%s", err, out)
		return
	}
	want := strings.Join(s.want, "\n")
	if unordered {
		err = r.matchLinesAnyOrder(s.want, strings.Split(string(out), "\n"))
	} else {
		err = r.b.matchText(want, string(out), true)
	}
	if err != nil {
		fail("%v\n--- README.md shows:\n%s\n--- the command printed:\n%s", err, want, clip(string(out)))
	}
}

// matchLinesAnyOrder matches the first non-blank lines in order and the
// others in any order.
func (r *replay) matchLinesAnyOrder(want, got []string) error {
	nonBlank := func(ls []string) []string {
		return slices.DeleteFunc(slices.Clone(ls), func(l string) bool { return strings.TrimSpace(l) == "" })
	}
	want, got = nonBlank(want), nonBlank(got)
	if len(want) != len(got) || len(want) == 0 {
		return fmt.Errorf("want %d lines, got %d", len(want), len(got))
	}
	if err := r.b.matchText(want[0], got[0], true); err != nil {
		return err
	}
	return r.matchSet(want[1:], got[1:])
}

func (r *replay) matchSet(want, got []string) error {
	if len(want) == 0 {
		return nil
	}
	var last error
	for i, g := range got {
		saved := r.b.clone()
		if last = r.b.matchText(want[0], g, true); last == nil {
			rest := slices.Delete(slices.Clone(got), i, i+1)
			if last = r.matchSet(want[1:], rest); last == nil {
				return nil
			}
		}
		r.b.restore(saved)
	}
	return last
}

// clip keeps a failure message readable: the first 60 lines of an output.
func clip(out string) string {
	const max = 60
	lines := strings.SplitAfter(out, "\n")
	if len(lines) <= max {
		return out
	}
	return strings.Join(lines[:max], "") + fmt.Sprintf("… (%d more lines)\n", len(lines)-max)
}

// rewrite is the README output that -update writes for a curl command
// whose output no longer matches: the real status line, the headers the
// README shows with their real values, and the real body. Real ids that
// stand for README ids are written as the README ids, so that later
// commands still find them. Outputs with an elision, a body of more than
// one line or -o are left to a human.
func (r *replay) rewrite(s step, req *curlRequest, res *curlResponse) (edit, bool) {
	body := strings.TrimSpace(string(res.body))
	if req.discard || req.hasWriteO || strings.Contains(strings.Join(s.want, "\n"), "…") || strings.Contains(body, "\n") {
		return edit{}, false
	}
	want := s.want
	var out []string
	if req.include {
		if len(want) == 0 {
			return edit{}, false
		}
		out = append(out, statusLine(res.status))
		for want = want[1:]; len(want) > 0 && strings.TrimSpace(want[0]) != ""; want = want[1:] {
			name, value, _ := strings.Cut(want[0], ":")
			v := res.header.Get(name)
			switch {
			case v == "":
			case r.b.clone().matchText(strings.TrimSpace(value), v, false) == nil:
				out = append(out, want[0]) // unchanged: keep the README's request id
			default:
				out = append(out, name+": "+v)
			}
		}
		if body != "" {
			out = append(out, "")
		}
	}
	if body != "" {
		// Strings that still match keep the README's text: its request ids
		// and timestamps stay, and the diff shows only what changed.
		if pat, err := parsePattern(strings.TrimSpace(strings.Join(want, "\n"))); err == nil {
			if got, err := decodeJSON(res.body); err == nil {
				for real, readme := range r.b.clone().keep(pat, got) {
					body = strings.ReplaceAll(body, real, readme)
				}
			}
		}
		out = append(out, body)
	}
	for i := range out {
		for _, real := range slices.Sorted(maps.Keys(r.b.readme)) {
			out[i] = strings.ReplaceAll(out[i], real, r.b.readme[real])
		}
	}
	start := s.line + strings.Count(s.src, "\n") // 0-based index of the first output line
	return edit{start: start, n: len(s.want), lines: out}, true
}

// keep pairs the JSON text of real strings with that of the README strings
// they match, where the two differ (request ids, timestamps).
func (b *bindings) keep(want, got any) map[string]string {
	pairs := map[string]string{}
	var walk func(want, got any)
	walk = func(want, got any) {
		switch w := want.(type) {
		case jsonText:
			g, ok := got.(string)
			if ok && g != string(w) && b.matchText(string(w), g, false) == nil {
				gj, _ := json.Marshal(g)
				wj, _ := json.Marshal(string(w))
				pairs[string(gj)] = string(wj)
			}
		case jsonObj:
			if g, ok := got.(map[string]any); ok {
				for _, k := range w.keys {
					walk(w.vals[k], g[k])
				}
			}
		case jsonArray:
			if g, ok := got.([]any); ok {
				for i := range min(len(w), len(g)) {
					walk(w[i], g[i])
				}
			}
		}
	}
	walk(want, got)
	return pairs
}
