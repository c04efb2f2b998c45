package model_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetgroups/fleetgroups/pkg/auth"
	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/storetest"
)

// Issue 9: the change feed.

// TestModelFeed runs seeded sequences on a table whose stream is published
// into the change feed, as make run does, and then checks the feed's
// promise to a partner: a mirror built from nothing but each tenant's
// events (groups with their names and parents, memberships, registrations,
// associations) converges to the model's final state. Events with one id
// must be the same event (at-least-once repeats), and events arrive in
// commit order per resource, or the mirror would end elsewhere.
//
// Each tenant also has a webhook of every event type from its start: every
// event of its feed reaches it, at least once, and no other event does.
func TestModelFeed(t *testing.T) {
	t.Parallel()
	st, _ := storetest.NewStreamStore(t)
	st.AtomicMoveSize = 1
	e := newEnv(t, st, nil)
	e.hooks = newHookSink(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.handlers.Queue.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	storetest.FollowChanges(t, st, 20*time.Millisecond, e.handlers.Publisher)
	seed := seeds(t)
	seqs := max(*seqsFlag/5, 2)
	t.Run("seq", func(t *testing.T) {
		for i := range seqs {
			s := seed + uint64(i)
			t.Run(strconv.FormatUint(s, 10), func(t *testing.T) {
				t.Parallel()
				w := runSequence(t, e, s, *stepsFlag, plainSend(context.Background(), e))
				for ti, m := range w.t {
					who := fmt.Sprintf("seed %d tenant %d", s, ti)
					converge(t, e, m, who)
					e.hooks.converge(t, e, m, who)
				}
			})
		}
	})
}

// mirror is a partner's copy of a tenant, built from its events only.
type mirror struct {
	names   map[string]string // group id → name
	parents map[string]string // group id → parent id ("" at top level)
	members map[string]map[groups.Item]bool
	items   map[groups.Item]string // registered item → name
	assocs  map[string]pair        // association id → pair
	seen    map[string]string      // event id → the event's JSON
}

func newMirror() *mirror {
	return &mirror{names: map[string]string{}, parents: map[string]string{}, members: map[string]map[groups.Item]bool{},
		items: map[groups.Item]string{}, assocs: map[string]pair{}, seen: map[string]string{}}
}

// apply applies one event of the feed.
func (mr *mirror) apply(ev map[string]any) error {
	raw := fmt.Sprint(ev)
	id, _ := ev["id"].(string)
	if prev, ok := mr.seen[id]; ok {
		if prev != raw {
			return fmt.Errorf("two events with id %s:\n%s\n%s", id, prev, raw)
		}
		return nil // a repeat, which at-least-once allows
	}
	mr.seen[id] = raw
	d, _ := ev["data"].(map[string]any)
	str := func(k string) string { s, _ := d[k].(string); return s }
	item := func() groups.Item { return groups.Item{Type: groups.ItemType(str("itemType")), ID: str("itemId")} }
	switch ev["type"] {
	case "group.created":
		g := d["group"].(map[string]any)
		id := g["id"].(string)
		mr.names[id] = g["name"].(string)
		parent, _ := g["parentId"].(string)
		mr.parents[id] = parent
	case "group.updated":
		if c, ok := d["changes"].(map[string]any)["name"]; ok {
			mr.names[str("groupId")] = c.(map[string]any)["after"].(string)
		}
	case "group.moved":
		parent, _ := d["to"].(map[string]any)["parentId"].(string)
		mr.parents[str("groupId")] = parent
	case "group.deleted":
		delete(mr.names, str("groupId"))
		delete(mr.parents, str("groupId"))
	case "member.added":
		if mr.members[str("groupId")] == nil {
			mr.members[str("groupId")] = map[groups.Item]bool{}
		}
		mr.members[str("groupId")][item()] = true
	case "member.removed":
		delete(mr.members[str("groupId")], item())
	case "item.put":
		mr.items[item()] = str("name")
	case "item.deleted":
		delete(mr.items, item())
	case "association.created":
		mr.assocs[str("associationId")] = pair{str("vehicleId"), str("userId")}
	case "association.deleted":
		delete(mr.assocs, str("associationId"))
	}
	return nil
}

// diff is how the mirror differs from the model, "" when it does not.
func (mr *mirror) diff(m *mTenant) string {
	var out []string
	for id, g := range m.groups {
		switch {
		case mr.names[id] != g.name:
			out = append(out, fmt.Sprintf("group %s named %q, mirror %q", id, g.name, mr.names[id]))
		case mr.parents[id] != g.parent:
			out = append(out, fmt.Sprintf("group %s under %q, mirror %q", id, g.parent, mr.parents[id]))
		}
		var live []groups.Item
		for it, in := range mr.members[id] {
			if in {
				live = append(live, it)
			}
		}
		if want := slices.Collect(maps.Keys(g.members)); !sameItems(live, want) {
			out = append(out, fmt.Sprintf("group %s holds %v, mirror %v", id, want, live))
		}
	}
	for id := range mr.names {
		if m.groups[id] == nil {
			out = append(out, fmt.Sprintf("group %s is gone, the mirror has it", id))
		}
	}
	for it, ri := range m.items {
		if mr.items[it] != ri.name {
			out = append(out, fmt.Sprintf("item %v named %q, mirror %q", it, ri.name, mr.items[it]))
		}
	}
	if len(mr.items) != len(m.items) {
		out = append(out, fmt.Sprintf("%d registrations, mirror %d", len(m.items), len(mr.items)))
	}
	want := map[pair]bool{}
	for p := range m.assocs {
		want[p] = true
	}
	got := map[pair]bool{}
	for _, p := range mr.assocs {
		got[p] = true
	}
	if !maps.Equal(got, want) {
		out = append(out, fmt.Sprintf("associations %v, mirror %v", want, got))
	}
	return strings.Join(out, "\n")
}

func sameItems(a, b []groups.Item) bool {
	key := func(it groups.Item) string { return memberKey(it) }
	ka, kb := make([]string, len(a)), make([]string, len(b))
	for i, it := range a {
		ka[i] = key(it)
	}
	for i, it := range b {
		kb[i] = key(it)
	}
	slices.Sort(ka)
	slices.Sort(kb)
	return slices.Equal(ka, kb)
}

// converge follows m's tenant's feed from its start, as a partner would,
// until the mirror it builds equals the model; the test's deadline bounds
// the wait.
func converge(t *testing.T, e *env, m *mTenant, who string) {
	t.Helper()
	mr := newMirror()
	path := "/v1/changes?limit=100"
	storetest.Await(t, 100*time.Millisecond, func() (bool, string) {
		readFeed(t, e, m.token, &path, who, func(ev map[string]any) {
			if err := mr.apply(ev); err != nil {
				t.Fatalf("%s: %v", who, err)
			}
		})
		d := mr.diff(m)
		return d == "", fmt.Sprintf("%s: the mirror built from the feed reaching the model:\n%s", who, d)
	})
}

// readFeed reads token's feed from *path up to the present, as a partner
// polls it, handing each event to each and leaving *path at the next page.
func readFeed(t *testing.T, e *env, token string, path *string, who string, each func(map[string]any)) {
	t.Helper()
	for {
		res, err := e.do(context.Background(), token, "GET", *path, "")
		if err != nil || res.status != 200 {
			t.Fatalf("%s: GET %s: %d %s (%v)", who, *path, res.status, res.raw, err)
		}
		for _, ev := range res.list("items") {
			each(ev.(map[string]any))
		}
		*path = "/v1/changes?limit=100&cursor=" + res.str("next_cursor")
		if len(res.list("items")) < 100 {
			return
		}
	}
}

// hookSink is the webhook receiver of every model tenant: it keeps the ids
// of the events delivered to each tenant's path.
type hookSink struct {
	*httptest.Server
	mu  sync.Mutex
	ids map[string]map[string]bool // tenant → event ids
}

func newHookSink(t *testing.T) *hookSink {
	h := &hookSink{ids: map[string]map[string]bool{}}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct{ ID string }
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil || ev.ID != r.Header.Get("webhook-id") {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		tenant := strings.TrimPrefix(r.URL.Path, "/")
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.ids[tenant] == nil {
			h.ids[tenant] = map[string]bool{}
		}
		h.ids[tenant][ev.ID] = true
	}))
	t.Cleanup(h.Close)
	return h
}

// converge follows m's tenant's feed until every event in it has reached
// the tenant's webhook and the webhook got no event that is not in it (an
// event delivered before the feed's settling window lets it be read is
// read on a later round).
func (h *hookSink) converge(t *testing.T, e *env, m *mTenant, who string) {
	t.Helper()
	tenant, _ := auth.TenantOf(m.token)
	feed := map[string]bool{}
	path := "/v1/changes?limit=100"
	storetest.Await(t, 100*time.Millisecond, func() (bool, string) {
		readFeed(t, e, m.token, &path, who, func(ev map[string]any) { feed[ev["id"].(string)] = true })
		h.mu.Lock()
		defer h.mu.Unlock()
		var missing, extra []string
		for id := range feed {
			if !h.ids[tenant][id] {
				missing = append(missing, id)
			}
		}
		for id := range h.ids[tenant] {
			if !feed[id] {
				extra = append(extra, id)
			}
		}
		return len(missing)+len(extra) == 0, fmt.Sprintf("%s: %d of %d events of the feed not delivered to the webhook (%v); delivered and not in the feed: %v",
			who, len(missing), len(feed), missing, extra)
	})
}
