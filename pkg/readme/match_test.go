package readme

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// A shape is a kind of value that differs from run to run. Wherever the
// README shows a value of a shape, any real value of that shape matches.
// bind: the README value names the real one for the rest of the replay (the
// same README value must stand for the same real value everywhere, and a
// command that quotes it sends the real one). injective: two different README
// values must stand for two different real values.
type shape struct {
	name      string
	re        string // in README text and in real values alike
	bind      bool
	injective bool
}

// shapes are tried in this order at each position of a text, so longer
// shapes come before shorter ones that would match their start. A shape
// matches only where the characters around it are not letters or digits.
var shapes = []shape{
	{name: "group id", re: `grp_[a-z2-7]{26}`, bind: true, injective: true},
	{name: "association id", re: `asc_[a-z2-7]{26}`, bind: true, injective: true},
	{name: "webhook id", re: `wh_[a-z2-7]{26}`, bind: true, injective: true},
	// Timestamps are not bound: whether two writes share a millisecond
	// differs from run to run (two associations of one request may, or not).
	{name: "timestamp", re: `\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z`},
	{name: "timestamp", re: `\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`},
	{name: "date", re: `\d{4}-\d\d-\d\d`},
	// Not the OpenAPI document's ETag (32 hex digits): it is the same for
	// every reader of one commit, so the README must show the current one.
	// Request ids are new on every request: never bound.
	{name: "request id", re: `[0-9a-f]{16}`},
	{name: "token id", re: `[0-9a-f]{12}`, bind: true, injective: true},
}

// elision is a value the README cut short: "X…" or "X…(N characters)",
// where X is the start of the README's value (cursors, tokens). It stands for
// a whole real value, of N characters if given, and X… names it like a bound
// shape. A bare "…" inside a string stands for any text and names nothing.
const elisionRe = `([A-Za-z0-9_.-]*)…(?:\((\d+) characters\))?`

// elidedValue is what an elision with a name matches: a cursor or a token.
const elidedValue = `[^\s"]+`

// tokenIDPrefixMin is the shortest start of a token id that revoke-token
// takes; a command may quote a README token id cut to it.
const tokenIDPrefixMin = 8

var scanner = func() *regexp.Regexp {
	alts := []string{"(" + elisionRe + ")"}
	for _, s := range shapes {
		alts = append(alts, "("+s.re+")")
	}
	return regexp.MustCompile(strings.Join(alts, "|"))
}()

// A piece of README text: literal, a shape, or an elision.
type piece struct {
	text   string // as the README has it
	shape  *shape // nil for literal text and elisions
	elided bool
	name   string // elisions: the name ("X…"), empty for a bare "…"
	length int    // elisions: the stated length, or 0
}

func isWordByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
}

// split cuts README text into literal text, shapes and elisions.
func split(s string) []piece {
	var out []piece
	lit := 0
	for pos := 0; pos < len(s); {
		m := scanner.FindStringSubmatchIndex(s[pos:])
		if m == nil {
			break
		}
		start, end := pos+m[0], pos+m[1]
		var p piece
		var ok bool
		if m[2] >= 0 { // elision
			p = piece{text: s[start:end], elided: true, name: s[pos+m[4] : pos+m[5]]}
			if p.name != "" {
				p.name += "…"
			}
			if m[6] >= 0 {
				p.length, _ = strconv.Atoi(s[pos+m[6] : pos+m[7]])
			}
			ok = start == 0 || !isWordByte(s[start-1]) || p.name == ""
		} else {
			for i := range shapes {
				if m[2*(i+4)] >= 0 { // groups 1–3 are the elision's
					p = piece{text: s[start:end], shape: &shapes[i]}
				}
			}
			ok = (start == 0 || !isWordByte(s[start-1])) && (end == len(s) || !isWordByte(s[end]))
		}
		if !ok {
			// Not a whole value here; try again one character on.
			_, size := utf8.DecodeRuneInString(s[start:])
			pos = start + size
			continue
		}
		if lit < start {
			out = append(out, piece{text: s[lit:start]})
		}
		out = append(out, p)
		lit, pos = end, end
		if end == start {
			pos++
		}
	}
	if lit < len(s) {
		out = append(out, piece{text: s[lit:]})
	}
	return out
}

// bindings map README values to the real values they stand for.
type bindings struct {
	real   map[string]string // README value → real value
	readme map[string]string // real value → README value, for injective shapes
	// literal maps README text that names the test's environment (the
	// server's URL, DynamoDB Local's endpoint, the table) to the real one.
	literal map[string]string
}

func newBindings() *bindings {
	return &bindings{real: map[string]string{}, readme: map[string]string{}, literal: map[string]string{}}
}

func (b *bindings) clone() *bindings {
	return &bindings{real: maps.Clone(b.real), readme: maps.Clone(b.readme), literal: b.literal}
}

func (b *bindings) restore(from *bindings) { b.real, b.readme = from.real, from.readme }

// bind records that README value v stands for real value r.
func (b *bindings) bind(v, r string, injective bool) error {
	if old, ok := b.real[v]; ok {
		if old != r {
			return fmt.Errorf("%s stands for %s earlier in the README, but here the real value is %s", v, old, r)
		}
		return nil
	}
	if injective {
		if other, ok := b.readme[r]; ok {
			return fmt.Errorf("%s and %s are different in the README, but both are %s in reality", other, v, r)
		}
		b.readme[r] = v
	}
	b.real[v] = r
	return nil
}

func (b *bindings) literalText(s string) string {
	for _, k := range slices.Sorted(maps.Keys(b.literal)) {
		s = strings.ReplaceAll(s, k, b.literal[k])
	}
	return s
}

// resolve turns README text that a command sends into the real text: every
// bound shape and named elision becomes its real value, and a start of a
// README token id of at least tokenIDPrefixMin characters becomes the same
// start of the real one. A value of a bound shape that no output has shown
// yet is an error: the README would send something the reader cannot know.
func (b *bindings) resolve(s string) (string, error) {
	var out strings.Builder
	for _, p := range split(s) {
		switch {
		case p.elided && p.name != "", p.shape != nil && p.shape.bind:
			key := p.text
			if p.elided {
				key = p.name
			}
			r, ok := b.real[key]
			if !ok {
				return "", fmt.Errorf("%s is sent before any output shows it", p.text)
			}
			out.WriteString(r)
		case p.elided:
			return "", fmt.Errorf("a command cannot send %q", p.text)
		default:
			out.WriteString(b.tokenIDPrefixes(p.text))
		}
	}
	return out.String(), nil
}

var (
	hexWord = regexp.MustCompile(`\b[0-9a-f]{8,11}\b`)
	tokenID = regexp.MustCompile(`^[0-9a-f]{12}$`)
)

func (b *bindings) tokenIDPrefixes(s string) string {
	return hexWord.ReplaceAllStringFunc(s, func(w string) string {
		var match string
		for v, r := range b.real {
			if tokenID.MatchString(v) && strings.HasPrefix(v, w) && len(w) >= tokenIDPrefixMin {
				if match != "" {
					return w // ambiguous: leave it as the README has it
				}
				match = r[:len(w)]
			}
		}
		if match == "" {
			return w
		}
		return match
	})
}

var spaces = regexp.MustCompile(`\s+`)

// matchText matches README text against a real text: literal text exactly
// (after literal substitutions), shapes and elisions as described above.
// With collapse, runs of white space are one space and the ends are trimmed
// in both (command output that is not JSON).
func (b *bindings) matchText(want, got string, collapse bool) error {
	if collapse {
		want = strings.TrimSpace(spaces.ReplaceAllString(want, " "))
		got = strings.TrimSpace(spaces.ReplaceAllString(got, " "))
	}
	var re strings.Builder
	var caps []piece
	for _, p := range split(want) {
		switch {
		case p.shape == nil && !p.elided:
			re.WriteString(regexp.QuoteMeta(b.literalText(p.text)))
		case p.elided && p.name == "":
			re.WriteString(`.*?`)
		default:
			key := p.text
			if p.elided {
				key = p.name
			}
			if r, ok := b.real[key]; ok && (p.elided || p.shape.bind) {
				re.WriteString(regexp.QuoteMeta(r))
				continue
			}
			caps = append(caps, p)
			if p.elided {
				re.WriteString("(" + elidedValue + ")")
			} else {
				re.WriteString("(" + p.shape.re + ")")
			}
		}
	}
	m := regexp.MustCompile(`^(?s:` + re.String() + `)$`).FindStringSubmatch(got)
	if m == nil {
		return fmt.Errorf("want %q, got %q", want, got)
	}
	for i, p := range caps {
		r := m[i+1]
		switch {
		case p.elided:
			if p.length > 0 && utf8.RuneCountInString(r) != p.length {
				return fmt.Errorf("%s: the real value has %d characters: %q", p.text, utf8.RuneCountInString(r), r)
			}
			if err := b.bind(p.name, r, true); err != nil {
				return err
			}
		case p.shape.bind:
			if err := b.bind(p.text, r, p.shape.injective); err != nil {
				return err
			}
		}
	}
	return nil
}

// JSON as the README shows it: JSON in which "…" may stand for any value
// ({…} for any object), for any number of an object's members or an
// array's elements (a member or element of its own), or, at the end of a
// text cut short, for the rest of every open object and array.
type (
	anyValue  struct{}
	ellipsis  struct{} // in arrays: any number of elements
	jsonText  string   // a string, matched with matchText
	jsonToken string   // a number, true, false or null
	jsonArray []any
	jsonObj   struct {
		keys []string
		vals map[string]any
		open bool // "…" among the members: other members may follow
	}
)

type jsonParser struct {
	s         string
	pos       int
	truncated bool // a container ended at the end of the text, after "…"
}

func parsePattern(s string) (any, error) {
	p := &jsonParser{s: s}
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	if p.ws(); p.pos < len(p.s) {
		return nil, p.errorf("text after the value")
	}
	return v, nil
}

func (p *jsonParser) errorf(format string, args ...any) error {
	line := 1 + strings.Count(p.s[:p.pos], "\n")
	return fmt.Errorf("README JSON, line %d of the output: %s", line, fmt.Sprintf(format, args...))
}

func (p *jsonParser) ws() {
	for p.pos < len(p.s) && strings.ContainsRune(" \t\r\n", rune(p.s[p.pos])) {
		p.pos++
	}
}

func (p *jsonParser) ellipsis() bool {
	if strings.HasPrefix(p.s[p.pos:], "…") {
		p.pos += len("…")
		return true
	}
	return false
}

func (p *jsonParser) value() (any, error) {
	p.ws()
	if p.pos == len(p.s) {
		return nil, p.errorf("unexpected end")
	}
	switch c := p.s[p.pos]; {
	case p.ellipsis():
		return anyValue{}, nil
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		return p.str()
	default:
		start := p.pos
		for p.pos < len(p.s) && !strings.ContainsRune(",:}] \t\r\n", rune(p.s[p.pos])) {
			p.pos++
		}
		tok := p.s[start:p.pos]
		if !json.Valid([]byte(tok)) {
			return nil, p.errorf("not a JSON value: %q", tok)
		}
		return jsonToken(tok), nil
	}
}

func (p *jsonParser) str() (jsonText, error) {
	start := p.pos
	p.pos++
	for p.pos < len(p.s) && p.s[p.pos] != '"' {
		if p.s[p.pos] == '\\' {
			p.pos++
		}
		p.pos++
	}
	if p.pos >= len(p.s) {
		return "", p.errorf("unterminated string")
	}
	p.pos++
	var s string
	if err := json.Unmarshal([]byte(p.s[start:p.pos]), &s); err != nil {
		return "", p.errorf("string %s: %v", p.s[start:p.pos], err)
	}
	return jsonText(s), nil
}

// end reports whether a container ends here: at its closing byte, or (cut)
// at the end of a text cut short after "…".
func (p *jsonParser) end(closing byte, afterEllipsis bool) (done, cut bool, err error) {
	p.ws()
	switch {
	case p.pos == len(p.s) && (afterEllipsis || p.truncated):
		p.truncated = true
		return true, true, nil
	case p.pos == len(p.s):
		return false, false, p.errorf("unexpected end")
	case p.s[p.pos] == closing:
		p.pos++
		return true, false, nil
	}
	return false, false, nil
}

func (p *jsonParser) object() (any, error) {
	p.pos++ // {
	o := jsonObj{vals: map[string]any{}}
	after := false
	for first := true; ; first = false {
		done, cut, err := p.end('}', after)
		if done || err != nil {
			o.open = o.open || cut
			return o, err
		}
		if !first {
			if p.s[p.pos] != ',' {
				return nil, p.errorf("want , or } in an object")
			}
			p.pos++
			p.ws()
		}
		if after = p.ellipsis(); after {
			o.open = true
			continue
		}
		if p.pos == len(p.s) || p.s[p.pos] != '"' {
			return nil, p.errorf("want a member name")
		}
		k, err := p.str()
		if err != nil {
			return nil, err
		}
		if p.ws(); p.pos == len(p.s) || p.s[p.pos] != ':' {
			return nil, p.errorf("want : after %q", k)
		}
		p.pos++
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		if _, dup := o.vals[string(k)]; dup {
			return nil, p.errorf("member %q twice", k)
		}
		o.keys = append(o.keys, string(k))
		o.vals[string(k)] = v
	}
}

func (p *jsonParser) array() (any, error) {
	p.pos++ // [
	var a jsonArray
	after := false
	for first := true; ; first = false {
		done, cut, err := p.end(']', after)
		if done || err != nil {
			if cut && !after {
				a = append(a, ellipsis{})
			}
			return a, err
		}
		if !first {
			if p.s[p.pos] != ',' {
				return nil, p.errorf("want , or ] in an array")
			}
			p.pos++
			p.ws()
		}
		if after = p.ellipsis(); after {
			a = append(a, ellipsis{})
			continue
		}
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		a = append(a, v)
	}
}

// decodeJSON decodes a real body, keeping numbers as they were written.
func decodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("more than one JSON value")
	}
	return v, nil
}

// matchJSON matches a README JSON pattern against a decoded real value.
func (b *bindings) matchJSON(path string, want, got any) error {
	switch w := want.(type) {
	case anyValue:
		return nil
	case jsonText:
		g, ok := got.(string)
		if !ok {
			return fmt.Errorf("%s: want a string, got %s", path, show(got))
		}
		if err := b.matchText(string(w), g, false); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	case jsonToken:
		var g string
		switch v := got.(type) {
		case json.Number:
			g = v.String()
		case bool, nil:
			g = fmt.Sprint(v)
			if v == nil {
				g = "null"
			}
		}
		if g != string(w) {
			return fmt.Errorf("%s: want %s, got %s", path, w, show(got))
		}
	case jsonObj:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: want an object, got %s", path, show(got))
		}
		for _, k := range w.keys {
			v, ok := g[k]
			if !ok {
				return fmt.Errorf("%s: no member %q", path, k)
			}
			if err := b.matchJSON(path+"."+k, w.vals[k], v); err != nil {
				return err
			}
		}
		if !w.open {
			for _, k := range slices.Sorted(maps.Keys(g)) {
				if _, ok := w.vals[k]; !ok {
					return fmt.Errorf("%s: member %q (%s) is not in the README", path, k, show(g[k]))
				}
			}
		}
	case jsonArray:
		g, ok := got.([]any)
		if !ok {
			return fmt.Errorf("%s: want an array, got %s", path, show(got))
		}
		return b.matchElems(path, 0, w, g)
	default:
		return fmt.Errorf("%s: unknown pattern %T", path, want)
	}
	return nil
}

// matchElems matches array elements from index i on; an ellipsis takes as
// few elements as lets the rest match.
func (b *bindings) matchElems(path string, i int, want jsonArray, got []any) error {
	if len(want) == 0 {
		if len(got) > 0 {
			return fmt.Errorf("%s[%d]: %s is not in the README", path, i, show(got[0]))
		}
		return nil
	}
	if _, ok := want[0].(ellipsis); ok {
		var err error
		for n := 0; n <= len(got); n++ {
			saved := b.clone()
			if err = b.matchElems(path, i+n, want[1:], got[n:]); err == nil {
				return nil
			}
			b.restore(saved)
		}
		return err
	}
	if len(got) == 0 {
		return fmt.Errorf("%s[%d]: missing; the README shows more elements", path, i)
	}
	if err := b.matchJSON(fmt.Sprintf("%s[%d]", path, i), want[0], got[0]); err != nil {
		return err
	}
	return b.matchElems(path, i+1, want[1:], got[1:])
}

func show(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if len(data) > 200 {
		return string(data[:200]) + "…"
	}
	return string(data)
}
