package gateway_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/standardwebhooks"
	"github.com/fleetgroups/fleetgroups/pkg/storetest"
)

// hookReceiver is a partner's endpoint on this machine.
type hookReceiver struct {
	*httptest.Server
	fail atomic.Bool // answer 500
	mu   sync.Mutex
	got  []hookRequest
}

type hookRequest struct {
	header http.Header
	body   []byte
	typ    string
}

func newHookReceiver(t *testing.T) *hookReceiver {
	h := &hookReceiver{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev struct{ Type string }
		_ = json.Unmarshal(body, &ev)
		h.mu.Lock()
		h.got = append(h.got, hookRequest{header: r.Header.Clone(), body: body, typ: ev.Type})
		h.mu.Unlock()
		if h.fail.Load() {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	t.Cleanup(h.Close)
	return h
}

// last is the latest request of type typ, awaited.
func (h *hookReceiver) last(t *testing.T, typ string) hookRequest {
	t.Helper()
	var out hookRequest
	storetest.Await(t, 20*time.Millisecond, func() (bool, string) {
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, r := range slices.Backward(h.got) {
			if r.typ == typ {
				out = r
				return true, ""
			}
		}
		return false, "a delivery of " + typ
	})
	return out
}

// count is how many requests of type typ came.
func (h *hookReceiver) count(typ string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, r := range h.got {
		if r.typ == typ {
			n++
		}
	}
	return n
}

// TestWebhooksOverHTTP: a partner registers a webhook, receives its
// events signed with the secret it was shown once, tests it, rotates the
// secret (deliveries then verify with the old and the new one), reads the
// deliveries log, redelivers a failed delivery, disables and deletes it.
func TestWebhooksOverHTTP(t *testing.T) {
	t.Parallel()
	e := newFeedEnv(t)
	rc := newHookReceiver(t)
	A := e.tokenA

	created := e.call(t, A, "POST", "/v1/webhooks", `{"url":"`+rc.URL+`/hooks","events":["group.created","member.added"],"description":"Dispatch"}`)
	expect(t, created, 201, "")
	id, secret := created.str("id"), created.str("secret")
	if !strings.HasPrefix(secret, "whsec_") || created.header.Get("Location") != "/v1/webhooks/"+id || created.at("enabled") != true {
		t.Fatalf("created %s (Location %q)", created.raw, created.header.Get("Location"))
	}
	for _, r := range []response{e.call(t, A, "GET", "/v1/webhooks/"+id, ""), e.call(t, A, "GET", "/v1/webhooks", "")} {
		expect(t, r, 200, "")
		if strings.Contains(string(r.raw), secret) || strings.Contains(string(r.raw), `"secret"`) {
			t.Fatalf("a read shows the secret: %s", r.raw)
		}
	}

	g := e.call(t, A, "POST", "/v1/groups", `{"name":"Depot"}`).str("id")
	expect(t, e.call(t, A, "PUT", "/v1/groups/"+g+"/vehicles/v1", ""), 201, "")
	for _, typ := range []string{"group.created", "member.added"} {
		d := rc.last(t, typ)
		if standardwebhooks.Verify(secret, d.header, d.body, time.Now()) != nil || !strings.Contains(string(d.body), g) {
			t.Fatalf("%s delivery %s (headers %v) fails the check", typ, d.body, d.header)
		}
	}

	test := e.call(t, A, "POST", "/v1/webhooks/"+id+"/test", "")
	expect(t, test, 200, "")
	if test.str("status") != groups.DeliveryDelivered || test.str("eventType") != "webhook.test" {
		t.Fatalf("test: %s", test.raw)
	}
	if d := rc.last(t, "webhook.test"); standardwebhooks.Verify(secret, d.header, d.body, time.Now()) != nil {
		t.Fatalf("the test delivery fails the check: %v", d.header)
	}

	rotated := e.call(t, A, "POST", "/v1/webhooks/"+id+":rotate-secret", "")
	expect(t, rotated, 200, "")
	next := rotated.str("secret")
	if next == secret || !strings.HasPrefix(next, "whsec_") || rotated.str("previousSecretExpiresAt") == "" {
		t.Fatalf("rotated: %s", rotated.raw)
	}
	tests := rc.count("webhook.test")
	expect(t, e.call(t, A, "POST", "/v1/webhooks/"+id+"/test", "{}"), 200, "")
	storetest.Await(t, 20*time.Millisecond, func() (bool, string) { return rc.count("webhook.test") > tests, "the second test" })
	d := rc.last(t, "webhook.test")
	if len(strings.Fields(d.header.Get("webhook-signature"))) != 2 ||
		standardwebhooks.Verify(secret, d.header, d.body, time.Now()) != nil || standardwebhooks.Verify(next, d.header, d.body, time.Now()) != nil {
		t.Fatalf("after the rotation, a delivery must verify with both secrets: %v", d.header)
	}

	rc.fail.Store(true)
	failed := e.call(t, A, "POST", "/v1/webhooks/"+id+"/test", "")
	expect(t, failed, 200, "")
	attempts, _ := failed.at("attempts").([]any)
	if failed.str("status") != groups.DeliveryFailed || len(attempts) != 1 || attempts[0].(map[string]any)["statusCode"] != 500.0 {
		t.Fatalf("a failed test: %s", failed.raw)
	}
	rc.fail.Store(false)
	retried := e.call(t, A, "POST", "/v1/webhooks/"+id+"/deliveries/"+failed.str("id")+":retry", "")
	expect(t, retried, 200, "")
	if attempts, _ := retried.at("attempts").([]any); retried.str("status") != groups.DeliveryDelivered || len(attempts) != 2 ||
		attempts[0].(map[string]any)["statusCode"] != 200.0 {
		t.Fatalf("the retry: %s", retried.raw)
	}
	log := e.call(t, A, "GET", "/v1/webhooks/"+id+"/deliveries", "")
	expect(t, log, 200, "")
	if items := log.items(); len(items) < 5 || items[0]["id"] != failed.str("id") {
		t.Fatalf("the deliveries log, newest first: %s", log.raw)
	}

	for _, c := range []struct {
		method, path, body string
		status             int
		code               groups.Code
		field              string
	}{
		{"POST", "/v1/webhooks", `{"url":"https://169.254.169.254/latest"}`, 400, groups.CodeInvalidArgument, "url"},
		{"POST", "/v1/webhooks", `{"url":"http://partner.example.com/hooks"}`, 400, groups.CodeInvalidArgument, "url"},
		{"POST", "/v1/webhooks", `{"url":"https://10.0.0.7/hooks"}`, 400, groups.CodeInvalidArgument, "url"},
		{"POST", "/v1/webhooks", `{"events":["group.created"]}`, 400, groups.CodeInvalidArgument, "url"},
		{"POST", "/v1/webhooks", `{"url":"` + rc.URL + `","events":["group.renamed"]}`, 400, groups.CodeInvalidArgument, "events"},
		{"POST", "/v1/webhooks", `{"url":"` + rc.URL + `","secret":"mine"}`, 400, groups.CodeInvalidArgument, "secret"},
		{"PATCH", "/v1/webhooks/" + id, `{}`, 400, groups.CodeInvalidArgument, "body"},
		{"PATCH", "/v1/webhooks/" + id, `{"enabled":"no"}`, 400, groups.CodeInvalidArgument, "enabled"},
		{"POST", "/v1/webhooks/" + id, "", 404, groups.CodeRouteNotFound, ""},
		{"POST", "/v1/webhooks/" + id + "/deliveries/" + failed.str("id"), "", 404, groups.CodeRouteNotFound, ""},
		{"POST", "/v1/webhooks/" + id + "/deliveries/1_evt_none:retry", "", 404, groups.CodeNotFound, ""},
		{"GET", "/v1/webhooks/wh_none", "", 404, groups.CodeNotFound, ""},
	} {
		t.Run(c.method+" "+c.path+" "+c.body, func(t *testing.T) {
			r := e.call(t, A, c.method, c.path, c.body)
			expect(t, r, c.status, c.code)
			if c.field != "" && !strings.Contains(string(r.raw), `"field":"`+c.field+`"`) {
				t.Fatalf("the problem does not name %s: %s", c.field, r.raw)
			}
		})
	}

	off := e.call(t, A, "PATCH", "/v1/webhooks/"+id, `{"enabled":false,"description":"paused"}`)
	expect(t, off, 200, "")
	if off.at("enabled") != false || off.str("description") != "paused" || off.num("version") <= created.num("version") {
		t.Fatalf("disabled: %s", off.raw)
	}
	expect(t, e.call(t, A, "DELETE", "/v1/webhooks/"+id, ""), 204, "")
	expect(t, e.call(t, A, "GET", "/v1/webhooks/"+id, ""), 404, groups.CodeNotFound)
	expect(t, e.call(t, A, "GET", "/v1/webhooks/"+id+"/deliveries", ""), 404, groups.CodeNotFound)
}

// TestWebhookLimit: a tenant has at most 20 webhooks, whatever the race;
// deleting one makes room.
func TestWebhookLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var created atomic.Int32
	var mu sync.Mutex
	var ids []string
	storetest.Race(groups.MaxWebhooks+5, func(i int) {
		r := e.call(t, e.tokenA, "POST", "/v1/webhooks", fmt.Sprintf(`{"url":"http://127.0.0.1:9/%d"}`, i))
		switch r.status {
		case 201:
			created.Add(1)
			mu.Lock()
			ids = append(ids, r.str("id"))
			mu.Unlock()
		case 409:
			if r.str("code") != string(groups.CodeTooManyWebhooks) {
				t.Errorf("409 %s", r.raw)
			}
		default:
			t.Errorf("status %d: %s", r.status, r.raw)
		}
	})
	if created.Load() != groups.MaxWebhooks {
		t.Fatalf("%d webhooks created, want %d", created.Load(), groups.MaxWebhooks)
	}
	expect(t, e.call(t, e.tokenA, "POST", "/v1/webhooks", `{"url":"http://127.0.0.1:9/x"}`), 409, groups.CodeTooManyWebhooks)
	expect(t, e.call(t, e.tokenB, "POST", "/v1/webhooks", `{"url":"http://127.0.0.1:9/b"}`), 201, "")
	expect(t, e.call(t, e.tokenA, "DELETE", "/v1/webhooks/"+ids[0], ""), 204, "")
	r := e.call(t, e.tokenA, "POST", "/v1/webhooks", `{"url":"http://127.0.0.1:9/x","events":[]}`)
	expect(t, r, 201, "")
	if evs, ok := r.at("events").([]any); !ok || len(evs) != 0 {
		t.Fatalf("events [] (all types): %s", r.raw)
	}
}
