package webhooks_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fleetgroups/fleetgroups/pkg/changes"
	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/standardwebhooks"
	"github.com/fleetgroups/fleetgroups/pkg/store"
	"github.com/fleetgroups/fleetgroups/pkg/storetest"
	"github.com/fleetgroups/fleetgroups/pkg/webhooks"
)

var quiet = slog.New(slog.DiscardHandler)

// delivery is one request a receiver got.
type delivery struct {
	path     string
	header   http.Header
	body     []byte
	event    webhooks.Event
	accepted bool // answered 2xx
}

// receiver is a partner's endpoint: it records every delivery and answers
// what answer says (200 when nil).
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	got    []delivery
	answer func(d delivery) int
}

func newReceiver(t testing.TB, answer func(d delivery) int) *receiver {
	rc := &receiver{answer: answer}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		d := delivery{path: r.URL.Path, header: r.Header.Clone(), body: body}
		_ = json.Unmarshal(body, &d.event)
		status := http.StatusOK
		if rc.answer != nil {
			status = rc.answer(d)
		}
		d.accepted = status/100 == 2
		rc.mu.Lock()
		rc.got = append(rc.got, d)
		rc.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(rc.Close)
	return rc
}

// accepted are the deliveries to path the receiver accepted, as
// "type itemId" (or "type groupName" for group events).
func (rc *receiver) accepted(path string) []delivery {
	var out []delivery
	for _, d := range rc.all() {
		if d.path == path && d.accepted {
			out = append(out, d)
		}
	}
	return out
}

// all is every delivery the receiver got.
func (rc *receiver) all() []delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got)
}

// summary names an event as "type itemId", or "type groupId" for one with
// no item.
func summary(e webhooks.Event) string {
	var d struct {
		GroupID, ItemID string
		Group           struct{ ID string }
	}
	_ = json.Unmarshal(e.Data, &d)
	switch {
	case d.ItemID != "":
		return string(e.Type) + " " + d.GroupID + "/" + d.ItemID
	case d.Group.ID != "":
		return string(e.Type) + " " + d.Group.ID
	}
	return string(e.Type) + " " + d.GroupID
}

func summaries(ds []delivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = summary(d.event)
	}
	return out
}

// pipeline runs what is deployed around st: the stream into the publisher
// (which queues deliveries), the queue into the deliverer; pub is the store
// the publisher and the deliverer use (st, or one with faults or another
// clock). Retries come after retryDelay.
func pipeline(t *testing.T, st, pub *store.Store, retryDelay time.Duration) *webhooks.LocalQueue {
	t.Helper()
	d := &webhooks.Deliverer{Sender: webhooks.Sender{Store: pub, HTTP: webhooks.Policy{AllowLoopback: true}.Client()},
		Log: quiet, RetryDelay: func(int) time.Duration { return retryDelay }}
	q := webhooks.NewLocalQueue(d.Handle, quiet, 10, 1000)
	d.Queue = q
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { q.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	storetest.FollowChanges(t, st, 20*time.Millisecond, (&changes.Publisher{Store: pub, Log: quiet, Queue: q}).Handle)
	return q
}

func hasAll(got []string, want ...string) bool {
	return !slices.ContainsFunc(want, func(w string) bool { return !slices.Contains(got, w) })
}

// TestWebhooksReceiveTheirEvents: each webhook gets the events it
// subscribed to, of its tenant and (for a scoped one) its subtree only,
// signed so that the independent check passes with its secret, with the
// event's id as webhook-id; the deliveries log records each.
func TestWebhooksReceiveTheirEvents(t *testing.T) {
	st, _ := storetest.NewStreamStore(t)
	ctx := storetest.Context(t)
	q := pipeline(t, st, st, 20*time.Millisecond)
	rc := newReceiver(t, nil)

	top, err := st.CreateGroup(ctx, "acme", groups.NewGroup{Name: "Top"})
	if err != nil {
		t.Fatal(err)
	}
	depot, err := st.CreateGroup(ctx, "acme", groups.NewGroup{Name: "Depot", ParentID: top.ID})
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string]string{}
	hook := func(ctx context.Context, tenant, path string, events ...groups.EventType) groups.Webhook {
		secrets[path] = webhooks.NewSecret()
		w, err := st.CreateWebhook(ctx, tenant, groups.NewWebhook{URL: rc.URL + path, Events: events}, secrets[path])
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	all := hook(ctx, "acme", "/all")
	hook(ctx, "acme", "/added", groups.MemberAdded)
	hook(store.WithScope(ctx, depot.ID), "acme", "/depot")
	hook(ctx, "globex", "/globex")

	for _, c := range []struct {
		group, item string
		add         bool
	}{{depot.ID, "v1", true}, {top.ID, "v2", true}, {depot.ID, "v1", false}} {
		it := groups.Item{Type: groups.Vehicles, ID: c.item}
		if c.add {
			_, _, err = st.AddMember(ctx, "acme", c.group, it)
		} else {
			err = st.RemoveMember(ctx, "acme", c.group, it)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	wantAll := []string{"member.added " + depot.ID + "/v1", "effective_member.added " + top.ID + "/v1", "member.added " + top.ID + "/v2",
		"member.removed " + depot.ID + "/v1", "effective_member.removed " + top.ID + "/v1"}
	storetest.Await(t, 20*time.Millisecond, func() (bool, string) {
		got := summaries(rc.accepted("/all"))
		return hasAll(got, wantAll...) && q.Pending() == 0, fmt.Sprintf("/all got %v, %d messages pending", got, q.Pending())
	})
	// Group creations came before the webhooks: whether they were
	// delivered depends on when they were published.
	drop := func(ss []string) []string {
		return slices.DeleteFunc(ss, func(s string) bool { return s == "group.created "+top.ID || s == "group.created "+depot.ID })
	}
	for path, want := range map[string][]string{
		"/all":    wantAll,
		"/added":  {"member.added " + depot.ID + "/v1", "member.added " + top.ID + "/v2"},
		"/depot":  {"member.added " + depot.ID + "/v1", "member.removed " + depot.ID + "/v1"},
		"/globex": nil,
	} {
		got := drop(summaries(rc.accepted(path)))
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s got %v, want %v", path, got, want)
		}
	}
	for _, d := range rc.all() {
		if standardwebhooks.Verify(secrets[d.path], d.header, d.body, time.Now()) != nil || d.header.Get("webhook-id") != d.event.ID || d.event.ID == "" {
			t.Errorf("%s: delivery of %s fails the Standard Webhooks check (webhook-id %s)", d.path, d.body, d.header.Get("webhook-id"))
		}
	}
	page, err := st.ListDeliveries(ctx, "acme", all.ID, store.PageRequest{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	delivered := 0
	for _, d := range page.Items {
		if d.Status == groups.DeliveryDelivered && len(d.Attempts) == 1 && d.Attempts[0].StatusCode == 200 {
			delivered++
		}
	}
	if delivered < len(wantAll) {
		t.Errorf("the deliveries log of /all shows %d delivered: %+v", delivered, page.Items)
	}
}
