package changes_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/fleetgroups/fleetgroups/pkg/changes"
	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/latency"
	"github.com/fleetgroups/fleetgroups/pkg/store"
	"github.com/fleetgroups/fleetgroups/pkg/storetest"
)

// BenchmarkCommitToFeed measures the time from a committed write (an item
// joining a group at depth 1) to its member.added event in the feed, as
// make run publishes it (DynamoDB Local's stream read every
// changes.DefaultPoll) and as a partner reads it (polling every 20 ms from
// its cursor). It reports the p50 and p99 of b.N writes, and the ratio of
// the p50 to the settling window, which is the floor:
//
//	go test ./pkg/changes -run '^$' -bench CommitToFeed -benchtime 200x
func BenchmarkCommitToFeed(b *testing.B) {
	st, _ := storetest.NewStreamStore(b)
	storetest.FollowChanges(b, st, changes.DefaultPoll, nil)
	ctx := b.Context()
	const tenant = "acme"
	top, err := st.CreateGroup(ctx, tenant, groups.NewGroup{Name: "Top"})
	if err != nil {
		b.Fatal(err)
	}
	g, err := st.CreateGroup(ctx, tenant, groups.NewGroup{Name: "Depot", ParentID: top.ID})
	if err != nil {
		b.Fatal(err)
	}
	cursor := st.ChangesNow()
	var took []time.Duration
	for i := 0; b.Loop(); i++ {
		id := fmt.Sprintf("v%d", i)
		start := time.Now()
		if _, _, err := st.AddMember(ctx, tenant, g.ID, groups.Item{Type: groups.Vehicles, ID: id}); err != nil {
			b.Fatal(err)
		}
		storetest.Await(b, 20*time.Millisecond, func() (bool, string) {
			page, err := st.ListChanges(ctx, tenant, store.ChangeQuery{Limit: 100, After: cursor, Types: []groups.EventType{groups.MemberAdded}})
			if err != nil {
				b.Fatal(err)
			}
			cursor = page.Next
			return slices.ContainsFunc(page.Items, func(e groups.Event) bool { return eventOf(e, id) }), "the event of " + id
		})
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	p50, p99 := latency.Quantile(took, 0.5), latency.Quantile(took, 0.99)
	b.ReportMetric(float64(p50.Milliseconds()), "p50-ms")
	b.ReportMetric(float64(p99.Milliseconds()), "p99-ms")
	b.ReportMetric(float64(p50)/float64(groups.ChangeSettleWindow), "p50/window")
}

func eventOf(e groups.Event, itemID string) bool {
	var d struct{ ItemID string }
	_ = json.Unmarshal(e.Data, &d)
	return d.ItemID == itemID
}
