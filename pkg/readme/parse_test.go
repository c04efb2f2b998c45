package readme

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// A block is a fenced code block of the README.
type block struct {
	line       int // of the opening fence, 1-based
	lang       string
	section    string // the last "## " heading before it
	lines      []string
	directives []string // of a <!-- readme-test: … --> comment just before it
}

var directiveLine = regexp.MustCompile(`^<!-- readme-test: (.*) -->$`)

// readBlocks returns the README's fenced code blocks.
func readBlocks(readme string) ([]block, error) {
	var (
		out      []block
		cur      *block
		section  string
		lastText string // the last non-blank line outside blocks
	)
	lines := strings.Split(readme, "\n")
	for i, l := range lines {
		fence := strings.HasPrefix(l, "```")
		switch {
		case cur != nil && fence:
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.lines = append(cur.lines, l)
		case fence:
			cur = &block{line: i + 1, lang: strings.TrimPrefix(l, "```"), section: section}
			if m := directiveLine.FindStringSubmatch(lastText); m != nil {
				for _, d := range strings.Split(m[1], ";") {
					cur.directives = append(cur.directives, strings.TrimSpace(d))
				}
			}
		default:
			if h, ok := strings.CutPrefix(l, "## "); ok {
				section = h
			}
			if strings.TrimSpace(l) != "" {
				lastText = strings.TrimSpace(l)
			}
		}
	}
	if cur != nil {
		return nil, fmt.Errorf("README.md:%d: the block never ends", cur.line)
	}
	return out, nil
}

// A step is one command of a console block and the output the README shows
// for it.
type step struct {
	line int    // of the command, 1-based
	src  string // the command after "$ ", its continuation lines joined with "\n"
	want []string
}

// steps cuts a console block into commands and outputs: a line starting
// with "$ " starts a command, which goes on over the next lines while it
// ends in a backslash or a quote is open; the lines after it, up to the next
// command or the end of the block, are its output.
func (b block) steps() ([]step, error) {
	var out []step
	for i := 0; i < len(b.lines); i++ {
		l := b.lines[i]
		src, ok := strings.CutPrefix(l, "$ ")
		if !ok {
			if len(out) == 0 {
				if strings.TrimSpace(l) == "" {
					continue
				}
				return nil, fmt.Errorf("README.md:%d: output before any command: %q", b.line+1+i, l)
			}
			last := &out[len(out)-1]
			last.want = append(last.want, l)
			continue
		}
		s := step{line: b.line + 1 + i, src: src}
		for {
			_, err := words(s.src, nil)
			if !errors.Is(err, errIncomplete) {
				break
			}
			if i++; i == len(b.lines) {
				return nil, fmt.Errorf("README.md:%d: the command does not end", s.line)
			}
			s.src += "\n" + b.lines[i]
		}
		out = append(out, s)
	}
	for i := range out {
		w := out[i].want
		for len(w) > 0 && strings.TrimSpace(w[len(w)-1]) == "" {
			w = w[:len(w)-1]
		}
		out[i].want = w
	}
	return out, nil
}

var errIncomplete = errors.New("the command goes on on the next line")

func isNameByte(c byte, first bool) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || !first && c >= '0' && c <= '9'
}

// words splits a command into words as a POSIX shell does, for the part of
// the shell the README uses: blanks between words, '…' and "…" quotes,
// backslash escapes and line continuations, $NAME and ${NAME} (also inside
// double quotes), and # comments. lookup gives a variable's value; with nil
// lookup, variables are left unexpanded (to find where a command ends). Any
// other shell syntax (pipes, redirections, ;, &, `…`, $(…)) is an error, so
// that a README command the replay cannot run fails instead of being
// half-run.
func words(src string, lookup func(string) (string, error)) ([]string, error) {
	var (
		out  []string
		cur  strings.Builder
		in   bool // inside a word
		quot byte // 0, '\'' or '"'
	)
	expand := func(i int) (int, error) { // src[i] == '$'; returns the index after the reference
		j := i + 1
		name := ""
		switch {
		case j < len(src) && src[j] == '{':
			end := strings.IndexByte(src[j:], '}')
			if end < 0 {
				return 0, fmt.Errorf("unterminated ${")
			}
			name, j = src[j+1:j+end], j+end+1
		case j < len(src) && isNameByte(src[j], true):
			for j < len(src) && isNameByte(src[j], false) {
				j++
			}
			name = src[i+1 : j]
		case j < len(src) && src[j] == '(':
			return 0, fmt.Errorf("command substitution $(…) is not supported")
		default:
			cur.WriteByte('$')
			return j, nil
		}
		if lookup == nil {
			cur.WriteString("$" + name)
			return j, nil
		}
		v, err := lookup(name)
		if err != nil {
			return 0, err
		}
		cur.WriteString(v)
		return j, nil
	}
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case quot == '\'':
			if c == '\'' {
				quot = 0
			} else {
				cur.WriteByte(c)
			}
			i++
		case quot == '"':
			switch {
			case c == '"':
				quot = 0
				i++
			case c == '\\' && i+1 < len(src) && strings.IndexByte("$`\"\\\n", src[i+1]) >= 0:
				if src[i+1] != '\n' {
					cur.WriteByte(src[i+1])
				}
				i += 2
			case c == '$':
				j, err := expand(i)
				if err != nil {
					return nil, err
				}
				i = j
			case c == '`':
				return nil, fmt.Errorf("command substitution `…` is not supported")
			default:
				cur.WriteByte(c)
				i++
			}
		case c == '\\':
			if i+1 == len(src) {
				return nil, errIncomplete
			}
			if src[i+1] != '\n' {
				cur.WriteByte(src[i+1])
				in = true
			}
			i += 2
		case c == ' ' || c == '\t' || c == '\n':
			if in {
				out = append(out, cur.String())
				cur.Reset()
				in = false
			}
			i++
		case c == '#' && !in:
			end := strings.IndexByte(src[i:], '\n')
			if end < 0 {
				i = len(src)
			} else {
				i += end
			}
		case c == '\'' || c == '"':
			quot, in = c, true
			i++
		case c == '$':
			in = true
			j, err := expand(i)
			if err != nil {
				return nil, err
			}
			i = j
		case strings.IndexByte("|&;<>()`", c) >= 0:
			return nil, fmt.Errorf("shell syntax %q is not supported", c)
		default:
			cur.WriteByte(c)
			in = true
			i++
		}
	}
	if quot != 0 {
		return nil, errIncomplete
	}
	if in {
		out = append(out, cur.String())
	}
	return out, nil
}

var assignment = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)=(.*)$`)

// assignments returns NAME=value words as pairs, or ok false if a word is
// not an assignment.
func assignments(ws []string) (pairs [][2]string, ok bool) {
	for _, w := range ws {
		m := assignment.FindStringSubmatch(w)
		if m == nil {
			return nil, false
		}
		pairs = append(pairs, [2]string{m[1], m[2]})
	}
	return pairs, len(pairs) > 0
}
