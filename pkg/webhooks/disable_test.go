package webhooks_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/store"
	"github.com/fleetgroups/fleetgroups/pkg/storetest"
	"github.com/fleetgroups/fleetgroups/pkg/webhooks"
)

// TestFailingWebhookIsDisabledAndCatchesUp: a webhook whose receiver fails
// an event's deliveries for a day is disabled, with a webhook.disabled
// event in the feed; what happens meanwhile is not delivered; enabling it
// again delivers what it missed, the failed event included.
func TestFailingWebhookIsDisabledAndCatchesUp(t *testing.T) {
	st, _ := storetest.NewStreamStore(t)
	ctx := storetest.Context(t)
	var offset atomic.Int64 // the clock's advance, in ns
	clocked := *st
	clocked.Now = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	q := pipeline(t, st, &clocked, 10*time.Millisecond)
	var healthy atomic.Bool
	rc := newReceiver(t, func(delivery) int {
		if healthy.Load() {
			return http.StatusNoContent
		}
		return http.StatusServiceUnavailable
	})
	w, err := clocked.CreateWebhook(ctx, "acme", groups.NewWebhook{URL: rc.URL + "/hooks", Events: []groups.EventType{groups.MemberAdded}}, webhooks.NewSecret())
	if err != nil {
		t.Fatal(err)
	}
	g, err := clocked.CreateGroup(ctx, "acme", groups.NewGroup{Name: "Depot"})
	if err != nil {
		t.Fatal(err)
	}
	add := func(id string) {
		t.Helper()
		if _, _, err := clocked.AddMember(ctx, "acme", g.ID, groups.Item{Type: groups.Vehicles, ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	deliveries := func() []groups.Delivery {
		page, err := clocked.ListDeliveries(ctx, "acme", w.ID, store.PageRequest{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		return page.Items
	}
	add("v1")
	storetest.Await(t, 20*time.Millisecond, func() (bool, string) {
		ds := deliveries()
		return len(ds) == 1 && len(ds[0].Attempts) >= 3 && ds[0].Status == groups.DeliveryPending, fmt.Sprintf("retries of v1: %+v", ds)
	})
	offset.Store(int64(25 * time.Hour))
	storetest.Await(t, 20*time.Millisecond, func() (bool, string) {
		got, err := clocked.GetWebhook(ctx, "acme", w.ID)
		return err == nil && !got.Enabled && got.DisabledReason == "failing", fmt.Sprintf("webhook %+v (%v)", got, err)
	})
	if ds := deliveries(); ds[0].Status != groups.DeliveryFailed || !ds[0].NextAttempt.IsZero() {
		t.Fatalf("the given-up delivery: %+v", ds[0])
	}
	storetest.Await(t, 20*time.Millisecond, func() (bool, string) {
		page, err := clocked.ListChanges(ctx, "acme", store.ChangeQuery{Limit: 100, Types: []groups.EventType{groups.WebhookDisabled}})
		return err == nil && len(page.Items) == 1, fmt.Sprintf("webhook.disabled in the feed: %+v (%v)", page.Items, err)
	})

	add("v2") // while disabled: not delivered
	storetest.Await(t, 20*time.Millisecond, func() (bool, string) {
		page, err := clocked.ListChanges(ctx, "acme", store.ChangeQuery{Limit: 100, Types: []groups.EventType{groups.MemberAdded}})
		return err == nil && len(page.Items) == 2 && q.Pending() == 0, fmt.Sprintf("v2 in the feed: %+v (%v), %d pending", page.Items, err, q.Pending())
	})
	if ds := deliveries(); len(ds) != 1 {
		t.Fatalf("a disabled webhook was delivered to: %+v", ds)
	}

	healthy.Store(true)
	enabled := true
	if _, err := clocked.UpdateWebhook(ctx, "acme", w.ID, groups.WebhookUpdate{Enabled: &enabled}); err != nil {
		t.Fatal(err)
	}
	want := []string{"member.added " + g.ID + "/v1", "member.added " + g.ID + "/v2"}
	storetest.Await(t, 20*time.Millisecond, func() (bool, string) {
		got := summaries(rc.accepted("/hooks"))
		return hasAll(got, want...), fmt.Sprintf("caught up: %v", got)
	})
	for _, d := range deliveries() {
		if d.Status != groups.DeliveryDelivered {
			t.Errorf("after the catch-up: %+v", d)
		}
	}
}

// TestSlowTenantHoldsUpNoOther: a tenant whose receiver never answers
// (each delivery waits out its timeout) holds up only its own deliveries:
// another tenant's all arrive while the slow ones still hang.
func TestSlowTenantHoldsUpNoOther(t *testing.T) {
	st, _ := storetest.NewStore(t)
	ctx := storetest.Context(t)
	release := make(chan struct{})
	var entered, returned atomic.Int32
	rc := newReceiver(t, func(d delivery) int {
		if d.path == "/slow" {
			entered.Add(1)
			<-release
			returned.Add(1)
		}
		return http.StatusOK
	})
	defer close(release)
	d := &webhooks.Deliverer{Sender: webhooks.Sender{Store: st, HTTP: webhooks.Policy{AllowLoopback: true}.Client()}, Log: quiet}
	q := webhooks.NewLocalQueue(d.Handle, quiet, 10, 1000)
	d.Queue = q
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { q.Run(runCtx); close(done) }()
	defer func() { cancel(); <-done }()

	var msgs []webhooks.Message
	for tenant, path := range map[string]string{"slow": "/slow", "fast": "/fast"} {
		w, err := st.CreateWebhook(ctx, tenant, groups.NewWebhook{URL: rc.URL + path}, webhooks.NewSecret())
		if err != nil {
			t.Fatal(err)
		}
		for i := range 30 {
			ev := webhooks.Event{ID: fmt.Sprintf("evt_%s_%d", tenant, i), Type: groups.MemberAdded, Time: time.Now(), Data: []byte(`{}`)}
			msgs = append(msgs, webhooks.Message{Tenant: tenant, WebhookID: w.ID, Event: &ev})
		}
	}
	if err := q.Send(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	storetest.Await(t, 10*time.Millisecond, func() (bool, string) {
		n := len(rc.accepted("/fast"))
		return n == 30, fmt.Sprintf("%d of the fast tenant's 30 deliveries", n)
	})
	if entered.Load() == 0 || returned.Load() != 0 {
		t.Fatalf("the slow tenant's receiver: %d entered, %d returned", entered.Load(), returned.Load())
	}
}

// TestCatchUpReadsEveryPage: a webhook enabled again after more events
// than one page of the feed (and other events between them, which its
// types leave out) gets every one it missed.
func TestCatchUpReadsEveryPage(t *testing.T) {
	st, _ := storetest.NewStreamStore(t)
	ctx := storetest.Context(t)
	pipeline(t, st, st, 10*time.Millisecond)
	rc := newReceiver(t, nil)
	w, err := st.CreateWebhook(ctx, "acme", groups.NewWebhook{URL: rc.URL + "/hooks", Events: []groups.EventType{groups.MemberAdded}}, webhooks.NewSecret())
	if err != nil {
		t.Fatal(err)
	}
	off, on := false, true
	if _, err := st.UpdateWebhook(ctx, "acme", w.ID, groups.WebhookUpdate{Enabled: &off}); err != nil {
		t.Fatal(err)
	}
	g, err := st.CreateGroup(ctx, "acme", groups.NewGroup{Name: "Depot"})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range 130 {
		it := groups.Item{Type: groups.Vehicles, ID: fmt.Sprintf("v%03d", i)}
		if _, _, err := st.PutRegisteredItem(ctx, "acme", groups.RegisteredItem{Item: it, Name: it.ID}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := st.AddMember(ctx, "acme", g.ID, it); err != nil {
			t.Fatal(err)
		}
		want = append(want, "member.added "+g.ID+"/"+it.ID)
	}
	storetest.Await(t, 20*time.Millisecond, func() (bool, string) {
		page, err := st.ListChanges(ctx, "acme", store.ChangeQuery{Limit: 100, Types: []groups.EventType{groups.MemberAdded}, After: store.ChangesSince(time.Now().Add(-time.Minute))})
		return err == nil && len(page.Items) == 100, "the members' events in the feed"
	})
	if got := rc.accepted("/hooks"); len(got) != 0 {
		t.Fatalf("a disabled webhook got %d deliveries", len(got))
	}
	if _, err := st.UpdateWebhook(ctx, "acme", w.ID, groups.WebhookUpdate{Enabled: &on}); err != nil {
		t.Fatal(err)
	}
	storetest.Await(t, 20*time.Millisecond, func() (bool, string) {
		got := summaries(rc.accepted("/hooks"))
		missing := slices.DeleteFunc(slices.Clone(want), func(w string) bool { return slices.Contains(got, w) })
		return len(missing) == 0, fmt.Sprintf("%d of %d missed events not delivered: %v", len(missing), len(want), missing)
	})
}

// TestCatchUpAfterTheFeedsRetention: a webhook enabled again after more
// than the feed's 30 days gets what the feed still keeps, and its
// catch-up ends instead of failing on an expired position.
func TestCatchUpAfterTheFeedsRetention(t *testing.T) {
	st, _ := storetest.NewStreamStore(t)
	ctx := storetest.Context(t)
	var offset atomic.Int64
	clocked := *st
	clocked.Now = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	q := pipeline(t, st, &clocked, 10*time.Millisecond)
	rc := newReceiver(t, nil)
	w, err := clocked.CreateWebhook(ctx, "acme", groups.NewWebhook{URL: rc.URL + "/hooks", Events: []groups.EventType{groups.MemberAdded}}, webhooks.NewSecret())
	if err != nil {
		t.Fatal(err)
	}
	off, on := false, true
	if _, err := clocked.UpdateWebhook(ctx, "acme", w.ID, groups.WebhookUpdate{Enabled: &off}); err != nil {
		t.Fatal(err)
	}
	offset.Store(int64(groups.ChangeRetention + 24*time.Hour))
	g, err := clocked.CreateGroup(ctx, "acme", groups.NewGroup{Name: "Depot"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := clocked.AddMember(ctx, "acme", g.ID, groups.Item{Type: groups.Vehicles, ID: "v1"}); err != nil {
		t.Fatal(err)
	}
	storetest.Await(t, 20*time.Millisecond, func() (bool, string) {
		page, err := clocked.ListChanges(ctx, "acme", store.ChangeQuery{Limit: 10, Types: []groups.EventType{groups.MemberAdded}})
		return err == nil && len(page.Items) == 1, fmt.Sprintf("v1 in the feed: %v (%v)", page.Items, err)
	})
	if _, err := clocked.UpdateWebhook(ctx, "acme", w.ID, groups.WebhookUpdate{Enabled: &on}); err != nil {
		t.Fatal(err)
	}
	storetest.Await(t, 20*time.Millisecond, func() (bool, string) {
		got := summaries(rc.accepted("/hooks"))
		return slices.Contains(got, "member.added "+g.ID+"/v1") && q.Pending() == 0,
			fmt.Sprintf("caught up: %v, %d messages pending", got, q.Pending())
	})
}
