// Package jsonlog writes the project's log lines: one JSON object a line,
// exactly as log/slog's JSONHandler writes them (time, level, msg, then the
// attributes in order). Lambdas log with it rather than with a
// *slog.Logger because a program that calls any slog.Logger method links
// slog's handler machinery (its default text handler comes along whatever
// handler is used), some 60 KB of every binary; TestLinesAreSlogJSON holds
// the two to the same bytes. What serves many operations at once (the local
// gateway) passes a *slog.Logger, which is a Logger too.
package jsonlog

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// Logger is what the project logs through: a *slog.Logger or a *Writer.
type Logger interface {
	DebugContext(ctx context.Context, msg string, args ...any)
	InfoContext(ctx context.Context, msg string, args ...any)
	WarnContext(ctx context.Context, msg string, args ...any)
	ErrorContext(ctx context.Context, msg string, args ...any)
}

// Writer writes log lines of at least a level to an io.Writer.
type Writer struct {
	mu    sync.Mutex
	out   io.Writer
	level slog.Level
	now   func() time.Time
}

// New returns a Writer of lines of level and above to out.
func New(out io.Writer, level slog.Level) *Writer {
	return &Writer{out: out, level: level, now: time.Now}
}

// DebugContext logs at slog.LevelDebug; args are key–value pairs.
func (w *Writer) DebugContext(_ context.Context, msg string, args ...any) {
	w.log(slog.LevelDebug, msg, args)
}

// InfoContext logs at slog.LevelInfo; args are key–value pairs.
func (w *Writer) InfoContext(_ context.Context, msg string, args ...any) {
	w.log(slog.LevelInfo, msg, args)
}

// WarnContext logs at slog.LevelWarn; args are key–value pairs.
func (w *Writer) WarnContext(_ context.Context, msg string, args ...any) {
	w.log(slog.LevelWarn, msg, args)
}

// ErrorContext logs at slog.LevelError; args are key–value pairs.
func (w *Writer) ErrorContext(_ context.Context, msg string, args ...any) {
	w.log(slog.LevelError, msg, args)
}

func (w *Writer) log(level slog.Level, msg string, args []any) {
	if level < w.level {
		return
	}
	b := append(make([]byte, 0, 512), `{"time":"`...)
	b = w.now().Round(0).AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","level":`...)
	b = appendString(b, level.String())
	b = append(b, `,"msg":`...)
	b = appendString(b, msg)
	for len(args) > 0 {
		// What is not a string key with a value after it is the value of
		// slog's !BADKEY. (The project passes no slog.Attr.)
		key, ok := args[0].(string)
		if !ok || len(args) == 1 {
			key = "!BADKEY"
		} else {
			args = args[1:]
		}
		b = append(b, ',')
		b = appendString(b, key)
		b = append(b, ':')
		b = appendValue(b, args[0])
		args = args[1:]
	}
	b = append(b, "}\n"...)
	w.mu.Lock()
	defer w.mu.Unlock()
	_, _ = w.out.Write(b)
}

// appendValue appends v as slog's JSONHandler writes a value of its kind.
func appendValue(b []byte, v any) []byte {
	switch v := v.(type) {
	case string:
		return appendString(b, v)
	case int:
		return strconv.AppendInt(b, int64(v), 10)
	case int64:
		return strconv.AppendInt(b, v, 10)
	case bool:
		return strconv.AppendBool(b, v)
	case time.Duration:
		return strconv.AppendInt(b, int64(v), 10)
	case time.Time:
		return append(v.AppendFormat(append(b, '"'), time.RFC3339Nano), '"')
	case error:
		if _, marshals := v.(json.Marshaler); !marshals {
			return appendString(b, v.Error())
		}
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return appendString(b, "!ERROR:"+err.Error())
	}
	return append(b, bytes.TrimSuffix(out.Bytes(), []byte("\n"))...)
}

// appendString appends s as a JSON string, escaped as slog escapes it:
// quotes, backslashes and control characters, U+2028 and U+2029, and
// invalid UTF-8 as U+FFFD; not HTML's characters.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, `\n`...)
			case c == '\r':
				b = append(b, `\r`...)
			case c == '\t':
				b = append(b, `\t`...)
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, "\ufffd"...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
