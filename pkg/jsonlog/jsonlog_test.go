package jsonlog

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

type named string

type marshalingError struct{}

func (marshalingError) Error() string                { return "as text" }
func (marshalingError) MarshalJSON() ([]byte, error) { return []byte(`{"as":"json"}`), nil }

// TestLinesAreSlogJSON logs the same records through a Writer and through
// slog's JSONHandler and requires the same bytes: for every kind of value
// the project logs, strings with every ASCII byte, U+2028, U+2029, invalid
// UTF-8 and HTML's characters, odd keys, and each level.
func TestLinesAreSlogJSON(t *testing.T) {
	t.Parallel()
	var ascii strings.Builder
	for c := range 0x80 {
		ascii.WriteByte(byte(c))
	}
	var nilErr error
	at := time.Date(2026, 12, 1, 6, 7, 8, 123456789, time.UTC)
	cases := []struct {
		name  string
		level slog.Level
		msg   string
		args  []any
	}{
		{"request", slog.LevelInfo, "request", []any{"op", named("get-group"), "method", "GET", "path", "/v1/groups/g", "status", 200,
			"duration_ms", int64(12), "tenant", "tn_a"}},
		{"errors", slog.LevelError, "request failed", []any{"error", errors.New("boom\n\t\"x\""), "nil", nilErr, "marshaler", marshalingError{}}},
		{"every-ascii-byte", slog.LevelWarn, ascii.String(), []any{ascii.String(), ascii.String()}},
		{"unicode", slog.LevelInfo, "a\u2028b\u2029c\xffd\xe2\x80e<&>é😀", []any{"k\u2029", "\xc3"}},
		{"kinds", slog.LevelDebug, "", []any{"bool", true, "dur", 1500 * time.Millisecond, "at", at.Add(time.Hour),
			"float", 1.5, "uint", uint8(7), "map", map[string]int{"b": 2, "a": 1}, "nil", nil, "slice", []string{"<x>"}}},
		{"bad-keys", slog.LevelInfo, "m", []any{42, "k", "v", "dangling"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got, want bytes.Buffer
			w := New(&got, slog.LevelDebug)
			w.now = func() time.Time { return at }
			ref := slog.New(ContextHandler(slog.NewJSONHandler(&want, &slog.HandlerOptions{
				Level: slog.LevelDebug,
				ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
					if a.Key == slog.TimeKey && len(groups) == 0 {
						return slog.Time(slog.TimeKey, at)
					}
					return a
				},
			})))
			for _, l := range []Logger{w, ref} {
				ctx := invocation()
				switch c.level {
				case slog.LevelDebug:
					l.DebugContext(ctx, c.msg, c.args...)
				case slog.LevelInfo:
					l.InfoContext(ctx, c.msg, c.args...)
				case slog.LevelWarn:
					l.WarnContext(ctx, c.msg, c.args...)
				case slog.LevelError:
					l.ErrorContext(ctx, c.msg, c.args...)
				}
			}
			if got.String() != want.String() {
				t.Errorf("jsonlog wrote\n%s\nslog wrote\n%s", got.String(), want.String())
			}
			for _, f := range []string{`"request_id":"r-7"`, `"aws_request_id":"c6af9ac6-7b61-11e6-9a41-93e8deadbeef"`, `"trace_id":"1-5759e988-bd862e3fe1be46a994272793"`} {
				if !strings.Contains(got.String(), f) {
					t.Errorf("the line lacks %s: %s", f, got.String())
				}
			}
		})
	}
}

// invocation is the context of a request in a traced Lambda invocation:
// the API's request id, the invocation's and its trace header, as
// aws-lambda-go sets them.
func invocation() context.Context {
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"})
	//nolint:staticcheck // the key aws-lambda-go uses
	ctx = context.WithValue(ctx, "x-amzn-trace-id", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
	return WithRequestID(ctx, "r-7")
}

// TestLevelThreshold drops lines below the Writer's level and keeps the rest.
func TestLevelThreshold(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	w := New(&out, slog.LevelWarn)
	ctx := context.Background()
	w.DebugContext(ctx, "debug")
	w.InfoContext(ctx, "info")
	w.WarnContext(ctx, "warn")
	w.ErrorContext(ctx, "error")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"level":"WARN","msg":"warn"`) || !strings.Contains(lines[1], `"level":"ERROR","msg":"error"`) {
		t.Fatalf("lines = %q, want the warning and the error", lines)
	}
}
