package changes_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/fleetgroups/fleetgroups/pkg/changes"
	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/storetest"
)

// TestNoEventLostUnderFaults: the publisher's DynamoDB requests are
// throttled, time out, fail with 500s or lose their responses after
// committing (30 % of all attempts), and the first of every three runs of
// the function that publish fails afterwards (as a Lambda that times out
// after its writes),
// so batches fail, are bisected and retried (Follow, as Lambda does); every
// change still reaches the feed, at least once, a repeat with its first
// id.
func TestNoEventLostUnderFaults(t *testing.T) {
	st, _ := storetest.NewStreamStore(t)
	ctx := storetest.Context(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("fault seed %d", seed)
	faults := storetest.NewFaults(seed, 0.3)
	faulty := storetest.WithFaults(t, st, faults)
	publish := (&changes.Publisher{Store: faulty, Log: quiet}).Handle
	var runs, failed atomic.Int32
	storetest.FollowChanges(t, st, 20*time.Millisecond, func(ctx context.Context, ev events.DynamoDBEvent) error {
		err := publish(ctx, ev)
		// The first run that publishes fails, so a batch is always
		// retried after its events reached the feed.
		if err == nil && runs.Add(1)%3 == 1 {
			err = errors.New("injected: the function timed out after publishing")
		}
		if err != nil {
			failed.Add(1)
		}
		return err
	})

	const tenant, n = "acme", 60
	top, err := st.CreateGroup(ctx, tenant, groups.NewGroup{Name: "Top"})
	if err != nil {
		t.Fatal(err)
	}
	g, err := st.CreateGroup(ctx, tenant, groups.NewGroup{Name: "Depot", ParentID: top.ID})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range n {
		id := fmt.Sprintf("v%02d", i)
		if _, _, err := st.AddMember(ctx, tenant, g.ID, groups.Item{Type: groups.Vehicles, ID: id}); err != nil {
			t.Fatal(err)
		}
		want = append(want, "member.added "+g.ID+"/"+id, "effective_member.added "+top.ID+"/"+id)
	}
	// The retry of a batch that failed after publishing may land after
	// the last change's events: wait for the repeats too.
	got, _ := feed(t, ctx, st, tenant, nil, func(evs []groups.Event) bool {
		s := summary(evs)
		return len(evs) > 2*n+2 && !slices.ContainsFunc(want, func(w string) bool { return !slices.Contains(s, w) })
	})
	counts := faults.Counts()
	t.Logf("%d events read for %d changes; %d batches failed and were retried; faults injected: %v", len(got), 2*n+2, failed.Load(), counts)
	first := map[string]string{}
	for i, e := range got {
		if s, ok := first[e.ID]; ok && s != summary(got[i : i+1])[0] {
			t.Errorf("event %s is %s and %s", e.ID, s, summary(got[i : i+1])[0])
		}
		first[e.ID] = summary(got[i : i+1])[0]
	}
	for _, k := range []storetest.Fault{storetest.Throttle, storetest.ServerError, storetest.Timeout, storetest.LostResponse} {
		if counts[k] == 0 {
			t.Errorf("no %s was injected: the test proved nothing of it", k)
		}
	}
}
