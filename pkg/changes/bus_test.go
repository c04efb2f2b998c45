package changes_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/fleetgroups/fleetgroups/pkg/changes"
	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/store"
	"github.com/fleetgroups/fleetgroups/pkg/storetest"
)

// eventBridge is a stand-in for EventBridge's PutEvents endpoint: it
// checks each call's form, keeps the entries it accepts, and fails the
// entries fail picks.
type eventBridge struct {
	t    *testing.T
	fail func(call, i int) bool
	mu   sync.Mutex
	call int
	got  []map[string]any // accepted entries
	sent int              // entries received, resent ones included
}

func (eb *eventBridge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	auth := r.Header.Get("Authorization")
	if r.Method != http.MethodPost || r.Header.Get("X-Amz-Target") != "AWSEvents.PutEvents" ||
		r.Header.Get("Content-Type") != "application/x-amz-json-1.1" || r.Header.Get("X-Amz-Date") == "" ||
		!strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKID/") || !strings.Contains(auth, "/eu-west-1/events/aws4_request") {
		eb.t.Errorf("not a signed PutEvents call: %s %v", r.Method, r.Header)
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	var in struct{ Entries []map[string]any }
	if err := json.Unmarshal(body, &in); err != nil || len(in.Entries) == 0 || len(in.Entries) > 10 {
		eb.t.Errorf("PutEvents body %s", body)
	}
	eb.mu.Lock()
	defer eb.mu.Unlock()
	eb.call++
	type result struct{ EventId, ErrorCode, ErrorMessage string }
	out := struct {
		FailedEntryCount int
		Entries          []result
	}{}
	for i, e := range in.Entries {
		eb.sent++
		if eb.fail(eb.call, i) {
			out.FailedEntryCount++
			out.Entries = append(out.Entries, result{ErrorCode: "ThrottlingException", ErrorMessage: "injected"})
			continue
		}
		eb.got = append(eb.got, e)
		out.Entries = append(out.Entries, result{EventId: "eb-1"})
	}
	_ = json.NewEncoder(w).Encode(out)
}

func newBus(srv *httptest.Server) *changes.Bus {
	c := changes.NewBusClient("eu-west-1", credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""), srv.Client())
	c.Endpoint = srv.URL
	return &changes.Bus{Name: "fleetgroups-changes", Client: c}
}

// TestBusGetsEveryEvent: with a bus, every event of the feed is put on it
// too, with its type as detail-type and its tenant in the detail; entries
// EventBridge fails are sent again.
func TestBusGetsEveryEvent(t *testing.T) {
	st, _ := storetest.NewStreamStore(t)
	ctx := storetest.Context(t)
	eb := &eventBridge{t: t, fail: func(call, i int) bool { return call == 1 && i == 0 }}
	srv := httptest.NewServer(eb)
	defer srv.Close()
	storetest.FollowChanges(t, st, 20*time.Millisecond, (&changes.Publisher{Store: st, Log: quiet, Bus: newBus(srv)}).Handle)

	g, err := st.CreateGroup(ctx, "acme", groups.NewGroup{Name: "Depot", Members: []groups.Item{{Type: groups.Devices, ID: "d1"}}})
	if err != nil {
		t.Fatal(err)
	}
	evs, _ := feed(t, ctx, st, "acme", nil, func(evs []groups.Event) bool { return len(evs) >= 2 })
	storetest.Await(t, 20*time.Millisecond, func() (bool, string) {
		eb.mu.Lock()
		defer eb.mu.Unlock()
		return len(eb.got) >= len(evs), fmt.Sprintf("the bus got %d entries for %d events", len(eb.got), len(evs))
	})
	eb.mu.Lock()
	defer eb.mu.Unlock()
	var ids []string
	for _, e := range eb.got {
		var d struct{ Tenant, ID, Type string }
		if err := json.Unmarshal([]byte(e["Detail"].(string)), &d); err != nil {
			t.Fatalf("detail %v: %v", e["Detail"], err)
		}
		if e["Source"] != changes.BusSource || e["DetailType"] != d.Type || e["EventBusName"] != "fleetgroups-changes" || d.Tenant != "acme" {
			t.Errorf("entry %v (detail %+v)", e, d)
		}
		ids = append(ids, d.ID)
	}
	for _, e := range evs {
		if !slices.Contains(ids, e.ID) {
			t.Errorf("event %s (%s) never reached the bus; it got %v", e.ID, e.Type, ids)
		}
	}
	if eb.sent <= len(eb.got) {
		t.Errorf("%d entries sent for %d accepted: the failed one was not sent again", eb.sent, len(eb.got))
	}
	if s := summary(evs); !sameSet(s, []string{"group.created " + g.ID, "member.added " + g.ID + "/d1"}) {
		t.Errorf("feed %v", s)
	}
}

// TestBusFailsTheBatch: entries EventBridge keeps failing fail the batch,
// so that Lambda retries it, rather than being dropped.
func TestBusFailsTheBatch(t *testing.T) {
	eb := &eventBridge{t: t, fail: func(int, int) bool { return true }}
	srv := httptest.NewServer(eb)
	defer srv.Close()
	err := newBus(srv).Put(context.Background(), []store.PublishedEvent{{Tenant: "acme", Event: groups.Event{ID: "evt_1", Type: groups.ItemPut, Data: json.RawMessage(`{}`)}}})
	if err == nil || !strings.Contains(err.Error(), "ThrottlingException") {
		t.Errorf("Put = %v, want the entry's failure", err)
	}
	if eb.sent < 2 {
		t.Errorf("%d attempts, want the entry sent again before giving up", eb.sent)
	}
}
