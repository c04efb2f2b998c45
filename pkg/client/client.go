// Package client is the Go client of the fleetgroups API (issue 10 §1):
// client.gen.go is generated from the OpenAPI document by oapi-codegen
// (go generate ./pkg/client; TestGeneratedClientIsCurrent fails when it is
// stale), and this file is the thin layer a partner needs around it:
//
//   - New authenticates every request with the tenant's bearer token;
//   - every write carries an Idempotency-Key, made before its first
//     attempt and sent again unchanged with each retry of it;
//   - a request is retried (honouring Retry-After) on 429 throttled, 503,
//     409 idempotency_key_in_use and network errors; never on 429
//     quota_exceeded, which lasts until the day ends;
//   - Check turns a response that is not 2xx into an *Error (with its
//     code), Pages walks a list's cursor pages as an iter.Seq2, and
//     UntilDone repeats a delete or move that answered 202.
package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// API is the generated client over the retrying, authenticating transport.
type API struct {
	*ClientWithResponses
}

// Options tune New.
type Options struct {
	// HTTP sends the requests (http.DefaultClient when nil).
	HTTP *http.Client
	// Attempts bounds the attempts of one request (5 when 0).
	Attempts int
	// MaxWait bounds a wait between attempts, whatever Retry-After says
	// (30 s when 0).
	MaxWait time.Duration
}

// New is the client of the API at baseURL (make run's
// http://127.0.0.1:3000, or the stack's ApiUrl), for the tenant of token.
func New(baseURL, token string, o Options) (*API, error) {
	if token == "" {
		return nil, errors.New("client: no token")
	}
	t := &transport{http: o.HTTP, token: token, attempts: o.Attempts, maxWait: o.MaxWait}
	if t.http == nil {
		t.http = http.DefaultClient
	}
	if t.attempts <= 0 {
		t.attempts = 5
	}
	if t.maxWait <= 0 {
		t.maxWait = 30 * time.Second
	}
	c, err := NewClientWithResponses(strings.TrimSuffix(baseURL, "/"), WithHTTPClient(t))
	if err != nil {
		return nil, err
	}
	return &API{c}, nil
}

// transport authenticates, keys and retries requests.
type transport struct {
	http     *http.Client
	token    string
	attempts int
	maxWait  time.Duration
}

// Do sends req, again while the answer says a retry may succeed.
func (t *transport) Do(req *http.Request) (*http.Response, error) {
	req.Header.Set("Authorization", "Bearer "+t.token)
	if req.Method != http.MethodGet && req.Method != http.MethodHead && req.Header.Get("Idempotency-Key") == "" {
		req.Header.Set("Idempotency-Key", newKey())
	}
	for attempt := 1; ; attempt++ {
		r := req
		if attempt > 1 && req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			r = req.Clone(req.Context())
			r.Body = body
		}
		res, err := t.http.Do(r)
		wait, again := t.retry(res, err, attempt)
		if !again || attempt == t.attempts || (req.Body != nil && req.GetBody == nil) {
			return res, err
		}
		if res != nil {
			_ = res.Body.Close()
		}
		select {
		case <-req.Context().Done():
			return nil, req.Context().Err()
		case <-time.After(wait):
		}
	}
}

// retry says whether an attempt's outcome is worth another attempt, and
// after how long: what Retry-After says, else a backoff from 100 ms.
func (t *transport) retry(res *http.Response, err error, attempt int) (time.Duration, bool) {
	backoff := min(time.Duration(100<<(attempt-1))*time.Millisecond, t.maxWait)
	if err != nil {
		// A request its context ended is not retried; a network failure is.
		return backoff, !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
	}
	switch res.StatusCode {
	case http.StatusTooManyRequests, http.StatusConflict:
		code := peekCode(res)
		if res.StatusCode == http.StatusTooManyRequests && code == "quota_exceeded" ||
			res.StatusCode == http.StatusConflict && code != "idempotency_key_in_use" {
			return 0, false
		}
	case http.StatusServiceUnavailable:
	default:
		return 0, false
	}
	if s, err := strconv.Atoi(res.Header.Get("Retry-After")); err == nil && s >= 0 {
		return min(time.Duration(s)*time.Second, t.maxWait), true
	}
	if at, err := http.ParseTime(res.Header.Get("Retry-After")); err == nil {
		return min(max(time.Until(at), 0), t.maxWait), true
	}
	return backoff, true
}

// peekCode reads the problem code of res's body and puts the body back.
func peekCode(res *http.Response) string {
	body, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	_ = res.Body.Close()
	res.Body = io.NopCloser(bytes.NewReader(body))
	var p struct{ Code string }
	_ = json.Unmarshal(body, &p)
	return p.Code
}

// newKey is a fresh Idempotency-Key: 128 random bits.
func newKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}

// Error is an answer that is not 2xx: the API's RFC 9457 problem details
// (the generated Problem), whose Code is stable (docs/errors.md).
type Error struct {
	Status    int
	Code      string
	Title     string
	Detail    string
	RequestID string
	// Fields are the invalid input fields, for invalid_argument.
	Fields []FieldError
}

func (p *Error) Error() string {
	return fmt.Sprintf("%d %s: %s (request %s)", p.Status, p.Code, p.Detail, p.RequestID)
}

// Check is nil for a 2xx answer, else its *Error (errors.As finds it).
func Check(status int, body []byte) error {
	if status >= 200 && status <= 299 {
		return nil
	}
	var p struct {
		Code      string       `json:"code"`
		Title     string       `json:"title"`
		Detail    string       `json:"detail"`
		RequestID string       `json:"request_id"`
		Errors    []FieldError `json:"errors"`
	}
	if err := json.Unmarshal(body, &p); err != nil || p.Code == "" {
		// Not a problem document: a proxy's page, say.
		return &Error{Status: status, Code: "unknown", Detail: strings.TrimSpace(string(body))}
	}
	return &Error{Status: status, Code: p.Code, Title: p.Title, Detail: p.Detail, RequestID: p.RequestID, Fields: p.Errors}
}

// Response is what every generated response has.
type Response interface{ StatusCode() int }

// Pages walks a list from its first page: fetch reads the page after
// cursor (nil: the first) and returns its items and next_cursor. The walk
// stops at the first error, which it yields.
func Pages[T any](ctx context.Context, fetch func(ctx context.Context, cursor *string) ([]T, *string, error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var cursor *string
		for {
			items, next, err := fetch(ctx, cursor)
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, it := range items {
				if !yield(it, nil) {
					return
				}
			}
			if next == nil || *next == "" {
				return
			}
			cursor = next
		}
	}
}

// Groups is every group of the tenant that params select, a page at a
// time (params.Cursor is the walk's own).
func (a *API) Groups(ctx context.Context, params ListGroupsParams) iter.Seq2[Group, error] {
	return Pages(ctx, func(ctx context.Context, cursor *string) ([]Group, *string, error) {
		params.Cursor = cursor
		r, err := a.ListGroupsWithResponse(ctx, &params)
		if err != nil {
			return nil, nil, err
		}
		if err := Check(r.StatusCode(), r.Body); err != nil {
			return nil, nil, err
		}
		return r.JSON200.Items, r.JSON200.NextCursor, nil
	})
}

// UntilDone repeats call while it answers 202 (a delete or a move that
// goes on step by step), waiting what its Retry-After says (1 s when it
// says nothing), and returns its last answer.
func UntilDone[R interface {
	Response
	comparable
}](ctx context.Context, call func(ctx context.Context) (R, error)) (R, error) {
	for {
		r, err := call(ctx)
		var zero R
		if err != nil || r == zero || r.StatusCode() != http.StatusAccepted {
			return r, err
		}
		wait := time.Second
		if h, ok := any(r).(interface{ retryAfter() string }); ok {
			if s, err := strconv.Atoi(h.retryAfter()); err == nil && s >= 0 {
				wait = time.Duration(s) * time.Second
			}
		}
		select {
		case <-ctx.Done():
			return r, ctx.Err()
		case <-time.After(wait):
		}
	}
}

func (r *DeleteGroupResponse) retryAfter() string { return r.HTTPResponse.Header.Get("Retry-After") }

func (r *UpdateGroupResponse) retryAfter() string { return r.HTTPResponse.Header.Get("Retry-After") }
