package changes_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/fleetgroups/fleetgroups/pkg/changes"
	"github.com/fleetgroups/fleetgroups/pkg/ddblocal"
	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/openapi/openapitest"
	"github.com/fleetgroups/fleetgroups/pkg/store"
	"github.com/fleetgroups/fleetgroups/pkg/storetest"
)

func TestMain(m *testing.M) { os.Exit(ddblocal.RunTests(m)) }

// follow publishes st's stream, as make run does, until the test ends.
func follow(t *testing.T, st *store.Store) { storetest.FollowChanges(t, st, 20*time.Millisecond, nil) }

// feed reads the tenant's whole feed until want(events) holds, polling as
// a partner would; it fails the test if the test's deadline comes first.
func feed(t *testing.T, ctx context.Context, st *store.Store, tenant string, after map[string]string, want func([]groups.Event) bool) ([]groups.Event, map[string]string) {
	t.Helper()
	var all []groups.Event
	storetest.Await(t, 50*time.Millisecond, func() (bool, string) {
		for {
			page, err := st.ListChanges(ctx, tenant, store.ChangeQuery{Limit: 100, After: after})
			if err != nil {
				t.Fatalf("ListChanges: %v", err)
			}
			all, after = append(all, page.Items...), page.Next
			if want(all) || len(page.Items) == 0 {
				return want(all), fmt.Sprintf("what the test waits for; the feed holds %v", summary(all))
			}
		}
	})
	return all, after
}

// summary is each event as "type groupId/itemId".
func summary(evs []groups.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		var d struct {
			GroupID, ItemID, AssociationID, Via string
			Group                               struct{ ID string }
		}
		_ = json.Unmarshal(e.Data, &d)
		s := string(e.Type) + " " + d.GroupID + d.Group.ID + d.AssociationID
		if d.ItemID != "" {
			s += "/" + d.ItemID
		}
		out[i] = s
	}
	return out
}

// TestEveryChangeMakesItsEvents runs each kind of write through the store,
// one step at a time, and waits for exactly its events after each step:
// effective-member events are decided when published, so a step's events
// are read before the next step changes the holdings.
func TestEveryChangeMakesItsEvents(t *testing.T) {
	st, _ := storetest.NewStreamStore(t)
	follow(t, st)
	ctx := storetest.Context(t)
	const tenant = "acme"
	v1 := groups.Item{Type: groups.Vehicles, ID: "v1"}
	var top, mid, leaf groups.Group
	var assoc groups.Association
	create := func(g *groups.Group, name string, parent *groups.Group) func() error {
		return func() (err error) {
			ng := groups.NewGroup{Name: name}
			if parent != nil {
				ng.ParentID = parent.ID
			}
			*g, err = st.CreateGroup(ctx, tenant, ng)
			return err
		}
	}
	rename, topLevel := "Leaf 2", ""
	steps := []struct {
		name string
		do   func() error
		want func() []string
	}{
		{"create top", create(&top, "Top", nil), func() []string { return []string{"group.created " + top.ID} }},
		{"create mid", create(&mid, "Mid", &top), func() []string { return []string{"group.created " + mid.ID} }},
		{"create leaf", create(&leaf, "Leaf", &mid), func() []string { return []string{"group.created " + leaf.ID} }},
		{"rename leaf", func() error {
			_, err := st.UpdateGroup(ctx, tenant, leaf.ID, groups.GroupPatch{Name: &rename}, store.AnyVersion)
			return err
		}, func() []string { return []string{"group.updated " + leaf.ID} }},
		{"add v1 to leaf: mid and top gain it", func() error { _, _, err := st.AddMember(ctx, tenant, leaf.ID, v1); return err },
			func() []string {
				return []string{"member.added " + leaf.ID + "/v1", "effective_member.added " + top.ID + "/v1", "effective_member.added " + mid.ID + "/v1"}
			}},
		{"add v1 to top: no one gains it", func() error { _, _, err := st.AddMember(ctx, tenant, top.ID, v1); return err },
			func() []string { return []string{"member.added " + top.ID + "/v1"} }},
		{"remove v1 from leaf: mid loses it, top keeps it", func() error { return st.RemoveMember(ctx, tenant, leaf.ID, v1) },
			func() []string {
				return []string{"member.removed " + leaf.ID + "/v1", "effective_member.removed " + mid.ID + "/v1"}
			}},
		{"move leaf to top level", func() error {
			_, err := st.UpdateGroup(ctx, tenant, leaf.ID, groups.GroupPatch{Parent: &topLevel}, store.AnyVersion)
			return err
		}, func() []string { return []string{"group.moved " + leaf.ID} }},
		{"register v1", func() error {
			_, _, err := st.PutRegisteredItem(ctx, tenant, groups.RegisteredItem{Item: v1, Name: "Van 1"})
			return err
		}, func() []string { return []string{"item.put /v1"} }},
		{"associate v1 with u1", func() (err error) { assoc, _, err = st.CreateAssociation(ctx, tenant, "v1", "u1"); return err },
			func() []string { return []string{"association.created " + assoc.ID} }},
		{"dissociate", func() error { return st.DeleteAssociation(ctx, tenant, assoc) },
			func() []string { return []string{"association.deleted " + assoc.ID} }},
		{"delete leaf", func() error { _, err := st.DeleteGroup(ctx, tenant, leaf.ID, store.AnyVersion); return err },
			func() []string { return []string{"group.deleted " + leaf.ID} }},
		{"delete the registration: v1 leaves top too", func() error { _, _, err := st.DeleteRegisteredItem(ctx, tenant, v1); return err },
			func() []string { return []string{"member.removed " + top.ID + "/v1", "item.deleted /v1"} }},
	}
	doc, err := openapitest.Load()
	if err != nil {
		t.Fatal(err)
	}
	var after map[string]string
	for _, step := range steps {
		if err := step.do(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		want := step.want()
		var got []groups.Event
		got, after = feed(t, ctx, st, tenant, after, func(evs []groups.Event) bool { return len(evs) >= len(want) })
		if g := summary(got); !sameSet(g, want) {
			t.Errorf("%s: events %v, want %v", step.name, g, want)
		}
		// Each event as GET /v1/changes shows it is what the OpenAPI
		// document says its type's is.
		for _, e := range got {
			raw, _ := json.Marshal(map[string]any{"id": e.ID, "type": e.Type, "time": e.Time, "data": e.Data})
			if err := openapitest.CheckSchema(doc, "ChangeEvent", raw); err != nil {
				t.Errorf("%s: %s is not a ChangeEvent of the OpenAPI document: %v", step.name, raw, err)
			}
		}
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// recorder keeps the batches a Follow hands to the publisher.
type recorder struct {
	pub     *changes.Publisher
	mu      sync.Mutex
	batches []events.DynamoDBEvent
}

func (r *recorder) handle(ctx context.Context, ev events.DynamoDBEvent) error {
	r.mu.Lock()
	r.batches = append(r.batches, ev)
	r.mu.Unlock()
	return r.pub.Handle(ctx, ev)
}

// TestRepublishedRecordsKeepTheirIDs: Lambda retries a batch whose
// publisher failed after writing (at-least-once); the repeat carries the
// same event ids, so receivers drop it by id.
func TestRepublishedRecordsKeepTheirIDs(t *testing.T) {
	st, _ := storetest.NewStreamStore(t)
	rec := &recorder{pub: &changes.Publisher{Store: st, Log: quiet}}
	storetest.FollowChanges(t, st, 20*time.Millisecond, rec.handle)
	ctx := storetest.Context(t)
	g, err := st.CreateGroup(ctx, "acme", groups.NewGroup{Name: "G", Members: []groups.Item{{Type: groups.Users, ID: "u1"}}})
	if err != nil {
		t.Fatal(err)
	}
	first, after := feed(t, ctx, st, "acme", nil, func(evs []groups.Event) bool { return len(evs) >= 2 })
	rec.mu.Lock()
	batches := slices.Clone(rec.batches)
	rec.mu.Unlock()
	for _, b := range batches {
		if err := rec.pub.Handle(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	again, _ := feed(t, ctx, st, "acme", after, func(evs []groups.Event) bool { return len(evs) >= len(first) })
	ids := func(evs []groups.Event) []string {
		out := make([]string, len(evs))
		for i, e := range evs {
			out[i] = e.ID
		}
		return out
	}
	if !sameSet(ids(first), ids(again)) {
		t.Errorf("republished events have ids %v, first published %v", ids(again), ids(first))
	}
	if got := summary(first); !sameSet(got, []string{"group.created " + g.ID, "member.added " + g.ID + "/u1"}) {
		t.Errorf("events %v", got)
	}
}

// TestFeedReads covers the feed's reading rules on one published history:
// types, a scoped caller's subtree, start=now, expired cursors.
func TestFeedReads(t *testing.T) {
	st, _ := storetest.NewStreamStore(t)
	follow(t, st)
	ctx := storetest.Context(t)
	const tenant = "acme"
	top, err := st.CreateGroup(ctx, tenant, groups.NewGroup{Name: "Top"})
	if err != nil {
		t.Fatal(err)
	}
	other, err := st.CreateGroup(ctx, tenant, groups.NewGroup{Name: "Other"})
	if err != nil {
		t.Fatal(err)
	}
	child, err := st.CreateGroup(ctx, tenant, groups.NewGroup{Name: "Child", ParentID: top.ID,
		Members: []groups.Item{{Type: groups.Devices, ID: "d1"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.PutRegisteredItem(ctx, tenant, groups.RegisteredItem{Item: groups.Item{Type: groups.Devices, ID: "d1"}, Name: "Tracker"}); err != nil {
		t.Fatal(err)
	}
	all, _ := feed(t, ctx, st, tenant, nil, func(evs []groups.Event) bool { return len(evs) >= 6 })
	if len(all) != 6 {
		t.Fatalf("feed %v, want 6 events", summary(all))
	}
	read := func(ctx context.Context, q store.ChangeQuery) []string {
		q.Limit = 100
		page, err := st.ListChanges(ctx, tenant, q)
		if err != nil {
			t.Fatalf("ListChanges(%+v): %v", q, err)
		}
		return summary(page.Items)
	}
	for _, tc := range []struct {
		name string
		ctx  context.Context
		q    store.ChangeQuery
		want []string
	}{
		{"types", ctx, store.ChangeQuery{Types: []groups.EventType{groups.MemberAdded, groups.ItemPut}},
			[]string{"member.added " + child.ID + "/d1", "item.put /d1"}},
		{"scoped to top: its subtree, no registry", store.WithScope(ctx, top.ID), store.ChangeQuery{},
			[]string{"group.created " + top.ID, "group.created " + child.ID, "member.added " + child.ID + "/d1", "effective_member.added " + top.ID + "/d1"}},
		{"scoped to other", store.WithScope(ctx, other.ID), store.ChangeQuery{}, []string{"group.created " + other.ID}},
		{"scoped and typed", store.WithScope(ctx, top.ID), store.ChangeQuery{Types: []groups.EventType{groups.GroupCreated}},
			[]string{"group.created " + top.ID, "group.created " + child.ID}},
		{"start=now", ctx, store.ChangeQuery{After: st.ChangesNow()}, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := read(tc.ctx, tc.q); !sameSet(got, tc.want) {
				t.Errorf("events %v, want %v", got, tc.want)
			}
		})
	}

	t.Run("a cursor older than the retention has expired", func(t *testing.T) {
		page, err := st.ListChanges(ctx, tenant, store.ChangeQuery{Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		late := *st
		late.Now = func() time.Time { return time.Now().Add(groups.ChangeRetention + time.Hour) }
		_, err = late.ListChanges(ctx, tenant, store.ChangeQuery{Limit: 1, After: page.Next})
		if !errors.Is(err, groups.ErrCursorExpired) {
			t.Errorf("an expired cursor answers %v, want ErrCursorExpired", err)
		}
	})

	t.Run("pages chain without loss or repeat", func(t *testing.T) {
		var got []groups.Event
		var after map[string]string
		for range 10 {
			page, err := st.ListChanges(ctx, tenant, store.ChangeQuery{Limit: 4, After: after})
			if err != nil {
				t.Fatal(err)
			}
			got, after = append(got, page.Items...), page.Next
		}
		if !slices.Equal(summary(got), summary(all)) {
			t.Errorf("paged %v, want %v", summary(got), summary(all))
		}
	})
}

// TestSlowPublishIsWrittenAgain: a batch whose write outlasts its budget
// may have landed behind a reader's cursor, so it is written again at a
// fresh position, and a reader that had passed the first copy's position
// still reads every event.
func TestSlowPublishIsWrittenAgain(t *testing.T) {
	st, _ := storetest.NewStreamStore(t)
	ctx := storetest.Context(t)
	// The publisher's third clock reading (after the expiry of the one
	// event, and the start of its write) jumps past the budget: its first
	// write counts as too slow, the second as on time. Both the publisher's
	// clock and the reader's keep the jump from then on.
	var mu sync.Mutex
	calls, skew := 0, time.Duration(0)
	clocked, reader := *st, *st
	clocked.Now = func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		if calls++; calls == 3 {
			skew = 2 * groups.ChangePublishBudget
		}
		return time.Now().Add(skew)
	}
	reader.Now = func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return time.Now().Add(skew)
	}
	storetest.FollowChanges(t, st, changes.DefaultPoll, (&changes.Publisher{Store: &clocked, Log: quiet}).Handle)
	g, err := st.CreateGroup(ctx, "acme", groups.NewGroup{Name: "G"})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := feed(t, ctx, &reader, "acme", nil, func(evs []groups.Event) bool { return len(evs) >= 2 })
	if s := summary(got); !slices.Equal(s, []string{"group.created " + g.ID, "group.created " + g.ID}) || got[0].ID != got[1].ID {
		t.Errorf("feed %v (ids %s, %s), want the event twice with one id", s, got[0].ID, got[len(got)-1].ID)
	}
}

var quiet = slog.New(slog.DiscardHandler)
