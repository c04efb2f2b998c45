package gateway

import (
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// clock is a clock that moves only when told.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func answer(principal string) events.APIGatewayCustomAuthorizerResponse {
	return events.APIGatewayCustomAuthorizerResponse{PrincipalID: principal}
}

// TestAuthCache: answers expire ttl after they were cached, however often
// they are used; identities are kept apart; a full cache evicts the least
// recently used answer, so it never holds more than its bound.
func TestAuthCache(t *testing.T) {
	t.Parallel()
	ttl := 5 * time.Minute
	cases := []struct {
		name string
		run  func(t *testing.T, c *authCache, clk *clock)
	}{
		{"hit-within-ttl", func(t *testing.T, c *authCache, clk *clock) {
			c.put("Bearer a", answer("a"))
			clk.advance(ttl - time.Millisecond)
			if got, ok := c.get("Bearer a"); !ok || got.PrincipalID != "a" {
				t.Fatalf("get = %v %v, want a's answer", got, ok)
			}
		}},
		{"miss-at-ttl-even-when-used", func(t *testing.T, c *authCache, clk *clock) {
			c.put("Bearer a", answer("a"))
			for range 4 {
				clk.advance(ttl / 4)
				c.get("Bearer a")
			}
			if _, ok := c.get("Bearer a"); ok {
				t.Fatal("answer served at its TTL")
			}
			if c.lru.Len() != 0 {
				t.Fatalf("expired answer still held: %d entries", c.lru.Len())
			}
		}},
		{"identities-apart", func(t *testing.T, c *authCache, clk *clock) {
			c.put("Bearer a", answer("a"))
			c.put("Bearer b", answer("b"))
			if _, ok := c.get("Bearer c"); ok {
				t.Fatal("an identity never cached was found")
			}
			for _, p := range []string{"a", "b"} {
				if got, _ := c.get("Bearer " + p); got.PrincipalID != p {
					t.Fatalf("get(Bearer %s) = %q", p, got.PrincipalID)
				}
			}
		}},
		{"put-again-restarts-ttl", func(t *testing.T, c *authCache, clk *clock) {
			c.put("Bearer a", answer("old"))
			clk.advance(ttl - time.Second)
			c.put("Bearer a", answer("new"))
			clk.advance(2 * time.Second)
			if got, ok := c.get("Bearer a"); !ok || got.PrincipalID != "new" {
				t.Fatalf("get = %v %v, want the new answer", got, ok)
			}
			if c.lru.Len() != 1 {
				t.Fatalf("%d entries for one identity", c.lru.Len())
			}
		}},
		{"bounded-evicts-least-recently-used", func(t *testing.T, c *authCache, clk *clock) {
			for i := range c.max {
				c.put(fmt.Sprint("Bearer ", i), answer(fmt.Sprint(i)))
			}
			c.get("Bearer 0") // 0 is now the most recently used; 1 the least
			for i := range 3 * c.max {
				c.put(fmt.Sprint("Bearer flood-", i), answer("flood"))
				if c.lru.Len() > c.max || len(c.byID) != c.lru.Len() {
					t.Fatalf("after %d puts: %d entries, %d ids, bound %d", i+1, c.lru.Len(), len(c.byID), c.max)
				}
				if i == 0 {
					if _, ok := c.get("Bearer 1"); ok {
						t.Fatal("the least recently used answer was not the one evicted")
					}
					if _, ok := c.get("Bearer 0"); !ok {
						t.Fatal("a recently used answer was evicted first")
					}
				}
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := &clock{t: time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)}
			tc.run(t, newAuthCache(ttl, 8, clk.now), clk)
		})
	}
}
