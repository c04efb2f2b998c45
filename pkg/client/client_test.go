package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"testing"

	"github.com/fleetgroups/fleetgroups/pkg/client"
)

// TestGeneratedClientIsCurrent: client.gen.go is what oapi-codegen (pinned
// in tools/go.mod) makes of the OpenAPI document now; run go generate
// ./pkg/client after changing the document.
func TestGeneratedClientIsCurrent(t *testing.T) {
	// The configuration as it is, writing elsewhere.
	dir := t.TempDir()
	cfg, err := os.ReadFile("oapi-codegen.yaml")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "client.gen.go")
	cfg = regexp.MustCompile(`(?m)^output: .*$`).ReplaceAll(cfg, []byte("output: "+out))
	if err := os.WriteFile(filepath.Join(dir, "cfg.yaml"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "tool", "-modfile=../../tools/go.mod", "oapi-codegen", "-config", filepath.Join(dir, "cfg.yaml"), "../openapi/openapi.json")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("oapi-codegen: %v\n%s", err, msg)
	}
	want, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("client.gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("client.gen.go is stale: run go generate ./pkg/client")
	}
}

// standIn answers each request with the next of its answers and keeps
// what it got.
type standIn struct {
	mu      sync.Mutex
	answers []answer
	got     []*http.Request
	bodies  []string
}

type answer struct {
	status     int
	retryAfter string
	body       string
	hangUp     bool // close the connection without answering
}

func (s *standIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.got = append(s.got, r)
	s.bodies = append(s.bodies, string(body))
	a := s.answers[min(len(s.got), len(s.answers))-1]
	s.mu.Unlock()
	if a.hangUp {
		conn, _, _ := w.(http.Hijacker).Hijack()
		_ = conn.Close()
		return
	}
	if a.retryAfter != "" {
		w.Header().Set("Retry-After", a.retryAfter)
	}
	w.Header().Set("Content-Type", "application/json")
	if a.status >= 400 {
		w.Header().Set("Content-Type", "application/problem+json")
	}
	w.WriteHeader(a.status)
	_, _ = w.Write([]byte(a.body))
}

const created = `{"id":"grp_abcdefghijklmnopqrstuvwxyz","parentId":null,"depth":0,"childCount":0,"name":"Depot","description":"",` +
	`"attributes":{},"memberCounts":{"devices":0,"products":0,"services":0,"users":0,"vehicles":0},"memberCount":0,` +
	`"createdAt":"2026-12-02T00:00:00.000Z","updatedAt":"2026-12-02T00:00:00.000Z","version":1}`

func problem(status int, code string) string {
	return fmt.Sprintf(`{"type":"about:blank","title":%q,"status":%d,"detail":"d","code":%q,"request_id":"r1"}`, http.StatusText(status), status, code)
}

// TestRetries: a write is retried, with the same Idempotency-Key and body,
// on 503, 429 throttled, 409 idempotency_key_in_use and a dropped
// connection; never on 429 quota_exceeded or another 409; a read carries
// no key; every request the token.
func TestRetries(t *testing.T) {
	for _, c := range []struct {
		name     string
		answers  []answer
		attempts int
		status   int
	}{
		{"503 then 201", []answer{{status: 503, retryAfter: "0", body: problem(503, "unavailable")}, {status: 201, body: created}}, 2, 201},
		{"429 throttled then 201", []answer{{status: 429, retryAfter: "0", body: problem(429, "throttled")}, {status: 201, body: created}}, 2, 201},
		{"409 in use then 201", []answer{{status: 409, retryAfter: "0", body: problem(409, "idempotency_key_in_use")}, {status: 201, body: created}}, 2, 201},
		{"a dropped connection then 201", []answer{{hangUp: true}, {status: 201, body: created}}, 2, 201},
		{"429 quota_exceeded", []answer{{status: 429, retryAfter: "0", body: problem(429, "quota_exceeded")}}, 1, 429},
		{"409 name_taken", []answer{{status: 409, body: problem(409, "name_taken")}}, 1, 409},
		{"503 until the attempts run out", []answer{{status: 503, retryAfter: "0", body: problem(503, "unavailable")}}, 3, 503},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := &standIn{answers: c.answers}
			srv := httptest.NewServer(s)
			defer srv.Close()
			api, err := client.New(srv.URL, "fg_t.secret", client.Options{Attempts: 3})
			if err != nil {
				t.Fatal(err)
			}
			r, err := api.CreateGroupWithResponse(context.Background(), &client.CreateGroupParams{}, client.CreateGroupJSONRequestBody{Name: "Depot"})
			if err != nil {
				t.Fatal(err)
			}
			if r.StatusCode() != c.status || len(s.got) != c.attempts {
				t.Fatalf("status %d after %d attempts, want %d after %d", r.StatusCode(), len(s.got), c.status, c.attempts)
			}
			key := s.got[0].Header.Get("Idempotency-Key")
			for i, req := range s.got {
				if req.Header.Get("Idempotency-Key") != key || key == "" || s.bodies[i] != s.bodies[0] ||
					req.Header.Get("Authorization") != "Bearer fg_t.secret" {
					t.Fatalf("attempt %d: key %q (first %q), body %q, authorization %q", i+1,
						req.Header.Get("Idempotency-Key"), key, s.bodies[i], req.Header.Get("Authorization"))
				}
			}
			var e *client.Error
			if err := client.Check(r.StatusCode(), r.Body); c.status < 300 && err != nil || c.status >= 300 && (!errors.As(err, &e) || e.Status != c.status) {
				t.Fatalf("Check = %v", err)
			}
		})
	}
	s := &standIn{answers: []answer{{status: 200, body: `{"items":[]}`}}}
	srv := httptest.NewServer(s)
	defer srv.Close()
	api, _ := client.New(srv.URL, "fg_t.secret", client.Options{})
	if _, err := api.ListGroupsWithResponse(context.Background(), &client.ListGroupsParams{}); err != nil || s.got[0].Header.Get("Idempotency-Key") != "" {
		t.Fatalf("a read: %v, key %q", err, s.got[0].Header.Get("Idempotency-Key"))
	}
}

// TestPages: Pages yields every item of every page in order, stops when
// the caller does, and yields a page's error and stops.
func TestPages(t *testing.T) {
	pages := map[string]struct {
		items []int
		next  string
	}{"": {[]int{1, 2}, "a"}, "a": {[]int{3, 4}, "b"}, "b": {[]int{5}, ""}}
	fetch := func(_ context.Context, cursor *string) ([]int, *string, error) {
		c := ""
		if cursor != nil {
			c = *cursor
		}
		if c == "boom" {
			return nil, nil, errors.New("boom")
		}
		p := pages[c]
		return p.items, &p.next, nil
	}
	var got []int
	for v, err := range client.Pages(context.Background(), fetch) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	if !slices.Equal(got, []int{1, 2, 3, 4, 5}) {
		t.Fatalf("got %v", got)
	}
	got = nil
	for v, err := range client.Pages(context.Background(), fetch) {
		if err != nil {
			t.Fatal(err)
		}
		if got = append(got, v); len(got) == 3 {
			break
		}
	}
	if !slices.Equal(got, []int{1, 2, 3}) {
		t.Fatalf("stopped at %v", got)
	}
	pages["a"] = struct {
		items []int
		next  string
	}{[]int{3}, "boom"}
	var errs int
	for _, err := range client.Pages(context.Background(), fetch) {
		if err != nil {
			errs++
		}
	}
	if errs != 1 {
		t.Fatalf("%d errors yielded", errs)
	}
}

// TestUntilDone: a delete that answers 202 is repeated, after its
// Retry-After, until it answers otherwise.
func TestUntilDone(t *testing.T) {
	s := &standIn{answers: []answer{{status: 202, retryAfter: "0", body: created}, {status: 202, retryAfter: "0", body: created}, {status: 200, body: created}}}
	srv := httptest.NewServer(s)
	defer srv.Close()
	api, _ := client.New(srv.URL, "fg_t.secret", client.Options{})
	r, err := client.UntilDone(context.Background(), func(ctx context.Context) (*client.DeleteGroupResponse, error) {
		return api.DeleteGroupWithResponse(ctx, "grp_abcdefghijklmnopqrstuvwxyz", &client.DeleteGroupParams{})
	})
	if err != nil || r.StatusCode() != 200 || len(s.got) != 3 || r.JSON200 == nil {
		t.Fatalf("status %d after %d requests (%v)", r.StatusCode(), len(s.got), err)
	}
}
