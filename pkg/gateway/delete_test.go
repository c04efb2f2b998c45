package gateway_test

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/fleetgroups/fleetgroups/pkg/gateway"
	"github.com/fleetgroups/fleetgroups/pkg/routes"
	"github.com/fleetgroups/fleetgroups/pkg/store"
)

// withGateway is e behind a second gateway with opts, over the same handlers.
func (e *env) withGateway(t *testing.T, opts ...gateway.Option) *env {
	t.Helper()
	other := *e
	other.srv = httptest.NewServer(gateway.New(e.handlers, quiet, opts...))
	t.Cleanup(other.srv.Close)
	return &other
}

// TestDeleteGroupPastDeadline: a delete whose purge cannot finish before
// the request's deadline answers 202 with Retry-After, gives its
// Idempotency-Key up, and the repeated DELETE finishes it. The gateway gives
// every request API Gateway's deadline; a purge reserve as long as that
// deadline stops the purge before its first page, as a page that ran long
// would, without waiting for any clock.
func TestDeleteGroupPastDeadline(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	A := e.tokenA
	late := e.withStore(t, func(st *store.Store) { st.PurgeReserve = routes.LambdaTimeoutSeconds * time.Second })
	created := e.call(t, A, "POST", "/v1/groups", `{"name":"Slow purge","vehicles":["v1","v2"],"users":["u1"]}`)
	path := "/v1/groups/" + created.str("id")

	first := late.call(t, A, "DELETE", path, "", key("purge")...)
	expect(t, first, 202, "")
	if first.header.Get("Retry-After") != "1" || first.str("id") != created.str("id") || first.header.Get("ETag") != created.header.Get("ETag") {
		t.Fatalf("202 = %v %v, want Retry-After: 1 and the deleted group", first.header, first.body)
	}
	expect(t, e.call(t, A, "GET", path, ""), 404, "not_found")
	expect(t, e.call(t, A, "POST", "/v1/groups", `{"name":"slow PURGE"}`), 201, "") // the name is free at once

	// The 202 gave the key up: the same request runs again and finishes.
	again := e.call(t, A, "DELETE", path, "", key("purge")...)
	expect(t, again, 200, "")
	if again.header.Get("Idempotent-Replayed") != "" {
		t.Fatal("the DELETE after a 202 was replayed instead of run")
	}
	sameResponse(t, again, e.call(t, A, "DELETE", path, "", key("purge")...))
}
