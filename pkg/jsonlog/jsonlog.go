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

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/fleetgroups/fleetgroups/pkg/xray"
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
func (w *Writer) DebugContext(ctx context.Context, msg string, args ...any) {
	w.log(ctx, slog.LevelDebug, msg, args)
}

// InfoContext logs at slog.LevelInfo; args are key–value pairs.
func (w *Writer) InfoContext(ctx context.Context, msg string, args ...any) {
	w.log(ctx, slog.LevelInfo, msg, args)
}

// WarnContext logs at slog.LevelWarn; args are key–value pairs.
func (w *Writer) WarnContext(ctx context.Context, msg string, args ...any) {
	w.log(ctx, slog.LevelWarn, msg, args)
}

// ErrorContext logs at slog.LevelError; args are key–value pairs.
func (w *Writer) ErrorContext(ctx context.Context, msg string, args ...any) {
	w.log(ctx, slog.LevelError, msg, args)
}

func (w *Writer) log(ctx context.Context, level slog.Level, msg string, args []any) {
	if level < w.level {
		return
	}
	b := append(make([]byte, 0, 512), `{"time":"`...)
	b = w.now().Round(0).AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","level":`...)
	b = appendString(b, level.String())
	b = append(b, `,"msg":`...)
	b = appendString(b, msg)
	b = appendArgs(b, args)
	b = appendArgs(b, Correlation(ctx))
	b = append(b, "}\n"...)
	w.mu.Lock()
	defer w.mu.Unlock()
	_, _ = w.out.Write(b)
}

// appendArgs appends key–value pairs as slog does: what is not a string key
// with a value after it is the value of slog's !BADKEY. (The project passes
// no slog.Attr.)
func appendArgs(b []byte, args []any) []byte {
	for len(args) > 0 {
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
	return b
}

// Correlation of a request's log lines (issue 10 §3): every line of one
// request carries the same request_id (the API's, which its answer's
// X-Request-Id and problem documents show), aws_request_id (the Lambda
// invocation's) and trace_id (its X-Ray trace), whatever logs it.

type requestIDKey struct{}

// WithRequestID returns ctx whose log lines carry request_id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// Correlation is what ctx tells of the request it serves, as key–value
// pairs: request_id, aws_request_id and trace_id, those it knows.
func Correlation(ctx context.Context) []any {
	if ctx == nil {
		return nil
	}
	var out []any
	if id, _ := ctx.Value(requestIDKey{}).(string); id != "" {
		out = append(out, "request_id", id)
	}
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		out = append(out, "aws_request_id", lc.AwsRequestID)
	}
	if h := xray.FromContext(ctx); h.Root != "" {
		out = append(out, "trace_id", h.Root)
	}
	return out
}

// ContextHandler is h adding Correlation's attributes to every record, for
// what logs through a *slog.Logger (make run).
func ContextHandler(h slog.Handler) slog.Handler { return contextHandler{h} }

type contextHandler struct{ slog.Handler }

func (c contextHandler) Handle(ctx context.Context, r slog.Record) error {
	r.Add(Correlation(ctx)...)
	return c.Handler.Handle(ctx, r)
}

func (c contextHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return contextHandler{c.Handler.WithAttrs(as)}
}

func (c contextHandler) WithGroup(name string) slog.Handler {
	return contextHandler{c.Handler.WithGroup(name)}
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
