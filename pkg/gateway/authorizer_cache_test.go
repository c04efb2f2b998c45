package gateway_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/fleetgroups/fleetgroups/pkg/auth"
	"github.com/fleetgroups/fleetgroups/pkg/gateway"
	"github.com/fleetgroups/fleetgroups/pkg/groups"
)

// fakeClock is a gateway clock that moves only when told; requests read it
// from the server's goroutines.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestAuthorizerCache: with the cache on, as make run has it, the gateway
// runs the authorizer once per token per TTL, as API Gateway does; a token
// revoked meanwhile keeps working until its answer expires; refusals are
// not cached. With the cache off every request runs the authorizer.
func TestAuthorizerCache(t *testing.T) {
	t.Parallel()
	const ttl = 5 * time.Minute
	base := newEnv(t)
	// newCached is base behind a gateway with the cache on (ttl > 0) or
	// off, whose authorizer counts its runs.
	newCached := func(t *testing.T, ttl time.Duration) (*env, *atomic.Int64, *fakeClock) {
		var runs atomic.Int64
		counted := *base
		authorize := base.handlers.Authorizer
		counted.handlers.Authorizer = func(ctx context.Context, req events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
			runs.Add(1)
			return authorize(ctx, req)
		}
		clk := &fakeClock{t: time.Now()}
		return counted.withGateway(t, gateway.WithAuthorizerCache(ttl), gateway.WithClock(clk.now)), &runs, clk
	}
	runs := func(t *testing.T, n *atomic.Int64, want int64) {
		t.Helper()
		if got := n.Swap(0); got != want {
			t.Fatalf("authorizer ran %d times, want %d", got, want)
		}
	}

	t.Run("hit-skips-authorizer", func(t *testing.T) {
		e, n, _ := newCached(t, ttl)
		for range 3 {
			expect(t, e.call(t, e.tokenA, "GET", "/v1/groups", ""), 200, "")
		}
		runs(t, n, 1)
	})
	t.Run("tokens-cached-apart", func(t *testing.T) {
		e, n, _ := newCached(t, ttl)
		a := e.call(t, e.tokenA, "POST", "/v1/groups", `{"name":"Of A"}`)
		expect(t, a, 201, "")
		expect(t, e.call(t, e.tokenB, "GET", "/v1/groups/"+a.str("id"), ""), 404, groups.CodeNotFound)
		expect(t, e.call(t, e.tokenA, "GET", "/v1/groups/"+a.str("id"), ""), 200, "")
		expect(t, e.call(t, e.tokenB, "GET", "/v1/groups/"+a.str("id"), ""), 404, groups.CodeNotFound)
		runs(t, n, 2)
	})
	t.Run("expires-after-ttl", func(t *testing.T) {
		e, n, clk := newCached(t, ttl)
		expect(t, e.call(t, e.tokenA, "GET", "/v1/groups", ""), 200, "")
		clk.advance(ttl - time.Second)
		expect(t, e.call(t, e.tokenA, "GET", "/v1/groups", ""), 200, "")
		runs(t, n, 1)
		clk.advance(time.Second)
		expect(t, e.call(t, e.tokenA, "GET", "/v1/groups", ""), 200, "")
		runs(t, n, 1)
	})
	t.Run("revoked-token-works-until-ttl", func(t *testing.T) {
		e, n, clk := newCached(t, ttl)
		ctx := context.Background()
		tenant, _ := auth.TenantOf(e.tokenA)
		revoked := auth.NewToken(tenant)
		if _, err := e.st.CreateToken(ctx, tenant, groups.Token{Hash: auth.HashToken(revoked), Label: "soon revoked"}); err != nil {
			t.Fatal(err)
		}
		expect(t, e.call(t, revoked, "GET", "/v1/groups", ""), 200, "")
		if err := e.st.DeleteToken(ctx, tenant, auth.HashToken(revoked)); err != nil {
			t.Fatal(err)
		}
		clk.advance(ttl - time.Second)
		expect(t, e.call(t, revoked, "GET", "/v1/groups", ""), 200, "")
		clk.advance(time.Second)
		expect(t, e.call(t, revoked, "GET", "/v1/groups", ""), 401, groups.CodeUnauthenticated)
		runs(t, n, 2)
	})
	t.Run("refusals-not-cached", func(t *testing.T) {
		e, n, _ := newCached(t, ttl)
		for range 2 {
			expect(t, e.call(t, "fg_tn_nobody.secret", "GET", "/v1/groups", ""), 401, groups.CodeUnauthenticated)
		}
		runs(t, n, 2)
	})
	t.Run("several-headers-bypass-cache", func(t *testing.T) {
		e, n, _ := newCached(t, ttl)
		expect(t, e.call(t, e.tokenA, "GET", "/v1/groups", ""), 200, "")
		two := map[string][]string{"Authorization": {"Bearer " + e.tokenA, "Bearer " + e.tokenA}}
		expect(t, e.send(t, "GET", "/v1/groups", "", two), 401, groups.CodeUnauthenticated)
		runs(t, n, 2)
	})
	t.Run("off-runs-authorizer-every-time", func(t *testing.T) {
		e, n, _ := newCached(t, 0)
		for range 3 {
			expect(t, e.call(t, e.tokenA, "GET", "/v1/groups", ""), 200, "")
		}
		runs(t, n, 3)
	})
}
