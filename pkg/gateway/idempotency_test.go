package gateway_test

import (
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetgroups/fleetgroups/pkg/app"
	"github.com/fleetgroups/fleetgroups/pkg/gateway"
	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/store"
	"github.com/fleetgroups/fleetgroups/pkg/storetest"
)

// Safe retries: Idempotency-Key on POST, PUT, PATCH and DELETE.

// withStore is e served by a second gateway, as if by a second set of
// Lambdas, over a copy of the store that change adjusts (its clock, its id
// source): same table, same tenants.
func (e *env) withStore(t *testing.T, change func(*store.Store)) *env {
	t.Helper()
	st := *e.st
	change(&st)
	other := *e
	other.srv = httptest.NewServer(gateway.New(app.NewHandlers(&st, quiet), quiet))
	t.Cleanup(other.srv.Close)
	return &other
}

// count is the number of the tenant's groups whose name starts with prefix.
func (e *env) count(t *testing.T, token, prefix string) int {
	t.Helper()
	return len(e.call(t, token, "GET", "/v1/groups?prefix="+url.QueryEscape(prefix), "").items())
}

func key(k string) []string { return []string{"Idempotency-Key", k} }

// sameResponse checks that replay is first answered again, marked as a replay.
func sameResponse(t *testing.T, first, replay response) {
	t.Helper()
	if replay.status != first.status || !reflect.DeepEqual(replay.body, first.body) {
		t.Fatalf("replay = %d %v, want the first response %d %v", replay.status, replay.body, first.status, first.body)
	}
	for _, h := range []string{"Content-Type", "Location", "ETag"} {
		if replay.header.Get(h) != first.header.Get(h) {
			t.Fatalf("replayed %s = %q, want %q", h, replay.header.Get(h), first.header.Get(h))
		}
	}
	if first.header.Get("Idempotent-Replayed") != "" || replay.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("Idempotent-Replayed: first %q, replay %q; want none, then true",
			first.header.Get("Idempotent-Replayed"), replay.header.Get("Idempotent-Replayed"))
	}
}

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	A, B := e.tokenA, e.tokenB
	existing := e.call(t, A, "POST", "/v1/groups", `{"name":"Idem existing","vehicles":["veh-1"]}`).str("id")

	cases := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"create-201-replayed-once-created", func(t *testing.T) {
			body := `{"name":"Idem create","users":["u1"]}`
			first := e.call(t, A, "POST", "/v1/groups", body, key("create-1")...)
			expect(t, first, 201, "")
			sameResponse(t, first, e.call(t, A, "POST", "/v1/groups", body, key("create-1")...))
			if n := e.count(t, A, "Idem create"); n != 1 {
				t.Fatalf("%d groups created, want 1", n)
			}
		}},
		{"create-422-same-key-other-body", func(t *testing.T) {
			expect(t, e.call(t, A, "POST", "/v1/groups", `{"name":"Idem body 1"}`, key("body")...), 201, "")
			expect(t, e.call(t, A, "POST", "/v1/groups", `{"name":"Idem body 2"}`, key("body")...), 422, groups.CodeIdempotencyKeyReused)
			if n := e.count(t, A, "Idem body 2"); n != 0 {
				t.Fatal("the refused request was carried out")
			}
		}},
		{"422-same-key-other-path", func(t *testing.T) {
			expect(t, e.call(t, A, "PUT", "/v1/groups/"+existing+"/users/u-path", "", key("path")...), 201, "")
			expect(t, e.call(t, A, "PUT", "/v1/groups/"+existing+"/users/u-other", "", key("path")...), 422, groups.CodeIdempotencyKeyReused)
			expect(t, e.call(t, A, "DELETE", "/v1/groups/"+existing+"/users/u-path", "", key("path")...), 422, groups.CodeIdempotencyKeyReused)
		}},
		{"409-name-taken-replayed-as-stored", func(t *testing.T) {
			taken := e.call(t, A, "POST", "/v1/groups", `{"name":"Idem taken"}`).str("id")
			body := `{"name":"Idem taken"}`
			first := e.call(t, A, "POST", "/v1/groups", body, key("taken")...)
			expect(t, first, 409, groups.CodeNameTaken)
			expect(t, e.call(t, A, "DELETE", "/v1/groups/"+taken, ""), 200, "")
			// The name is free now, yet the key answers what it answered.
			sameResponse(t, first, e.call(t, A, "POST", "/v1/groups", body, key("taken")...))
			if n := e.count(t, A, "Idem taken"); n != 0 {
				t.Fatalf("the replay created a group")
			}
		}},
		{"400-invalid-body-replayed", func(t *testing.T) {
			first := e.call(t, A, "POST", "/v1/groups", `{"nom":"x"}`, key("bad-body")...)
			expect(t, first, 400, groups.CodeInvalidArgument)
			sameResponse(t, first, e.call(t, A, "POST", "/v1/groups", `{"nom":"x"}`, key("bad-body")...))
		}},
		{"add-member-201-replayed-not-200", func(t *testing.T) {
			path := "/v1/groups/" + existing + "/devices/d-add"
			first := e.call(t, A, "PUT", path, "", key("add")...)
			expect(t, first, 201, "")
			sameResponse(t, first, e.call(t, A, "PUT", path, "", key("add")...))
			expect(t, e.call(t, A, "PUT", path, ""), 200, "") // without the key: already a member
		}},
		{"remove-member-204-replayed-not-404", func(t *testing.T) {
			path := "/v1/groups/" + existing + "/devices/d-remove"
			e.call(t, A, "PUT", path, "")
			first := e.call(t, A, "DELETE", path, "", key("remove")...)
			expect(t, first, 204, "")
			sameResponse(t, first, e.call(t, A, "DELETE", path, "", key("remove")...))
			expect(t, e.call(t, A, "DELETE", path, ""), 404, groups.CodeNotFound)
		}},
		{"delete-group-200-replayed-not-404", func(t *testing.T) {
			id := e.call(t, A, "POST", "/v1/groups", `{"name":"Idem delete"}`).str("id")
			first := e.call(t, A, "DELETE", "/v1/groups/"+id, "", key("delete")...)
			expect(t, first, 200, "")
			sameResponse(t, first, e.call(t, A, "DELETE", "/v1/groups/"+id, "", key("delete")...))
		}},
		{"patch-if-match-replayed-not-412", func(t *testing.T) {
			g := e.call(t, A, "POST", "/v1/groups", `{"name":"Idem patch"}`)
			headers := append(key("patch"), "If-Match", g.header.Get("ETag"))
			first := e.call(t, A, "PATCH", "/v1/groups/"+g.str("id"), `{"description":"once"}`, headers...)
			expect(t, first, 200, "")
			sameResponse(t, first, e.call(t, A, "PATCH", "/v1/groups/"+g.str("id"), `{"description":"once"}`, headers...))
			if v := e.call(t, A, "GET", "/v1/groups/"+g.str("id"), "").num("version"); v != 2 {
				t.Fatalf("version = %v after one update and its replay, want 2", v)
			}
		}},
		{"tenant-B-same-key-independent", func(t *testing.T) {
			body := `{"name":"Idem shared key"}`
			a := e.call(t, A, "POST", "/v1/groups", body, key("shared")...)
			b := e.call(t, B, "POST", "/v1/groups", body, key("shared")...)
			expect(t, a, 201, "")
			expect(t, b, 201, "")
			if a.str("id") == b.str("id") || b.header.Get("Idempotent-Replayed") != "" {
				t.Fatalf("B got A's response: %v", b.body)
			}
			// B's other body under A's key is B's own business, not a reuse.
			expect(t, e.call(t, B, "POST", "/v1/groups", `{"name":"Idem B only"}`, key("create-1")...), 201, "")
		}},
		{"get-ignores-key", func(t *testing.T) {
			for range 2 {
				r := e.call(t, A, "GET", "/v1/groups/"+existing, "", key("get")...)
				expect(t, r, 200, "")
				if r.header.Get("Idempotent-Replayed") != "" {
					t.Fatal("a GET was replayed")
				}
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t)
		})
	}
}

func TestIdempotencyKeyInvalid(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cases := []struct{ name, key string }{
		{"400-empty", ""},
		{"400-too-long", strings.Repeat("k", 256)},
		{"400-non-ascii", "ключ"},
		{"400-control-character", "a\tb"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.call(t, e.tokenA, "POST", "/v1/groups", `{"name":"Invalid key"}`, key(c.key)...)
			expect(t, r, 400, groups.CodeInvalidArgument)
			if errs, _ := r.body["errors"].([]any); len(errs) != 1 || errs[0].(map[string]any)["field"] != "Idempotency-Key" {
				t.Fatalf("errors = %v, want the field Idempotency-Key", r.body["errors"])
			}
		})
	}
	expect(t, e.call(t, e.tokenA, "POST", "/v1/groups", `{"name":"Longest key"}`, key(strings.Repeat("k", 255))...), 201, "")
	if n := e.count(t, e.tokenA, ""); n != 1 {
		t.Fatalf("%d groups, want only the one with a valid key", n)
	}
}

// TestIdempotencyConcurrentRetries: retries racing each other do the work
// once; each gets the one response or is told to retry.
func TestIdempotencyConcurrentRetries(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const racers = 8
	out := make([]response, racers)
	storetest.Race(racers, func(i int) {
		out[i] = e.call(t, e.tokenA, "POST", "/v1/groups", `{"name":"Raced","vehicles":["v1"]}`, key("race")...)
	})
	ids := map[string]bool{}
	for _, r := range out {
		switch r.status {
		case 201:
			ids[r.str("id")] = true
		case 409:
			expect(t, r, 409, groups.CodeIdempotencyKeyInUse)
			if r.header.Get("Retry-After") != "1" {
				t.Fatal("409 idempotency_key_in_use without Retry-After")
			}
		default:
			t.Fatalf("status %d %v, want 201 or 409", r.status, r.body)
		}
	}
	list := e.call(t, e.tokenA, "GET", "/v1/groups", "")
	if len(ids) != 1 || len(list.items()) != 1 || list.num("total_count") != 1 {
		t.Fatalf("created ids %v, listed %v; want exactly one group", ids, list.body)
	}
}

// TestIdempotencyKeyInUse holds a create inside the store (its id source
// waits) to see a retry arrive while the first request is in progress.
func TestIdempotencyKeyInUse(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	entered, release := make(chan struct{}), make(chan struct{})
	slow := e.withStore(t, func(st *store.Store) {
		st.NewID = func() string {
			close(entered)
			<-release
			return store.NewGroupID()
		}
	})
	releaseOnce := sync.OnceFunc(func() { close(release) })
	t.Cleanup(releaseOnce) // before the server closes, should the test fail early
	body := `{"name":"Slow"}`
	done := make(chan response, 1)
	go func() {
		// Sent even when call fails the test (and ends this goroutine), so
		// that the wait below ends and reports rather than hanging.
		var r response
		defer func() { done <- r }()
		r = slow.call(t, e.tokenA, "POST", "/v1/groups", body, key("slow")...)
	}()
	<-entered

	retry := e.call(t, e.tokenA, "POST", "/v1/groups", body, key("slow")...)
	expect(t, retry, 409, groups.CodeIdempotencyKeyInUse)
	if retry.header.Get("Retry-After") != "1" {
		t.Fatal("409 idempotency_key_in_use without Retry-After")
	}
	expect(t, e.call(t, e.tokenA, "POST", "/v1/groups", `{"name":"Other"}`, key("slow")...), 422, groups.CodeIdempotencyKeyReused)

	releaseOnce()
	first := <-done
	expect(t, first, 201, "")
	sameResponse(t, first, e.call(t, e.tokenA, "POST", "/v1/groups", body, key("slow")...))
}

// TestIdempotencyFailuresAreNotStored: a 5xx gives the key up, so that the
// client's retry runs.
func TestIdempotencyFailuresAreNotStored(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	broken := e.withStore(t, func(st *store.Store) { st.NewID = func() string { panic("id source broken") } })
	body := `{"name":"Retried"}`
	expect(t, broken.call(t, e.tokenA, "POST", "/v1/groups", body, key("retry")...), 500, groups.CodeInternal)
	r := e.call(t, e.tokenA, "POST", "/v1/groups", body, key("retry")...)
	expect(t, r, 201, "")
	if r.header.Get("Idempotent-Replayed") != "" || e.count(t, e.tokenA, "Retried") != 1 {
		t.Fatalf("the retry after a 500 was not run: %v", r.header)
	}
}

// TestIdempotencyKeyExpires: a response is replayed for 24 hours; after
// that the key is new again and the request runs again.
func TestIdempotencyKeyExpires(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	at := func(d time.Duration) *env {
		return e.withStore(t, func(st *store.Store) { st.Now = func() time.Time { return time.Now().Add(d) } })
	}
	id := e.call(t, e.tokenA, "POST", "/v1/groups", `{"name":"Expiring"}`).str("id")
	path := "/v1/groups/" + id + "/users/u-expiring"
	first := e.call(t, e.tokenA, "PUT", path, "", key("expiring")...)
	expect(t, first, 201, "")
	expect(t, e.call(t, e.tokenA, "DELETE", path, ""), 204, "")

	sameResponse(t, first, at(23*time.Hour).call(t, e.tokenA, "PUT", path, "", key("expiring")...))
	again := at(25*time.Hour).call(t, e.tokenA, "PUT", path, "", key("expiring")...)
	expect(t, again, 201, "")
	if again.header.Get("Idempotent-Replayed") != "" || again.str("addedAt") == first.str("addedAt") {
		t.Fatalf("after 24 h the key was replayed: %v %v", again.header, again.body)
	}
	if g := e.call(t, e.tokenA, "GET", "/v1/groups/"+id, ""); g.num("memberCount") != 1 {
		t.Fatalf("the request did not run again: %v", g.body)
	}
}
