package gateway

import (
	"container/list"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// authorizerCacheEntries bounds the authorizer cache: a client sending a
// fresh random token on every request evicts the least recently used
// answers instead of growing the cache. API Gateway bounds its own cache
// too; at a few hundred bytes an answer, this is a few MB.
const authorizerCacheEntries = 10_000

// authCache holds the authorizer's answers per identity source (the
// Authorization header) for a TTL, as API Gateway's authorizer cache does:
// an answer expires ttl after the authorizer gave it, however often it is
// used, and a hit only refreshes its place in the LRU order. It is safe for
// concurrent use.
type authCache struct {
	ttl  time.Duration
	max  int
	now  func() time.Time
	mu   sync.Mutex
	lru  *list.List // of *authEntry, most recently used first
	byID map[string]*list.Element
}

type authEntry struct {
	identity string
	answer   events.APIGatewayCustomAuthorizerResponse
	expires  time.Time
}

func newAuthCache(ttl time.Duration, maxEntries int, now func() time.Time) *authCache {
	return &authCache{ttl: ttl, max: maxEntries, now: now, lru: list.New(), byID: map[string]*list.Element{}}
}

// get returns the answer cached for identity, if one is there and has not
// expired.
func (c *authCache) get(identity string) (events.APIGatewayCustomAuthorizerResponse, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byID[identity]
	if !ok {
		return events.APIGatewayCustomAuthorizerResponse{}, false
	}
	e := el.Value.(*authEntry)
	if !c.now().Before(e.expires) {
		c.lru.Remove(el)
		delete(c.byID, identity)
		return events.APIGatewayCustomAuthorizerResponse{}, false
	}
	c.lru.MoveToFront(el)
	return e.answer, true
}

// put caches answer for identity for the TTL from now, evicting the least
// recently used answer when the cache is full.
func (c *authCache) put(identity string, answer events.APIGatewayCustomAuthorizerResponse) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := &authEntry{identity: identity, answer: answer, expires: c.now().Add(c.ttl)}
	if el, ok := c.byID[identity]; ok {
		el.Value = e
		c.lru.MoveToFront(el)
		return
	}
	if c.lru.Len() >= c.max {
		oldest := c.lru.Back()
		c.lru.Remove(oldest)
		delete(c.byID, oldest.Value.(*authEntry).identity)
	}
	c.byID[identity] = c.lru.PushFront(e)
}
