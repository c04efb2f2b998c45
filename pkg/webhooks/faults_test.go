package webhooks_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/standardwebhooks"
	"github.com/fleetgroups/fleetgroups/pkg/storetest"
	"github.com/fleetgroups/fleetgroups/pkg/webhooks"
)

// TestNoDeliveryLostUnderFaults: the publisher's and the deliverer's
// DynamoDB requests are throttled, time out, fail with 500s or lose their
// responses (30 % of all attempts), and the receiver fails half of the
// deliveries with a 500; every change still reaches the receiver, at
// least once, and no message ends in the dead-letter queue.
func TestNoDeliveryLostUnderFaults(t *testing.T) {
	st, _ := storetest.NewStreamStore(t)
	ctx := storetest.Context(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("fault seed %d", seed)
	faults := storetest.NewFaults(seed, 0.3)
	faulty := storetest.WithFaults(t, st, faults)
	q := pipeline(t, st, faulty, 10*time.Millisecond)
	var mu sync.Mutex
	coin := rand.New(rand.NewPCG(seed, 1))
	failed := 0
	rc := newReceiver(t, func(delivery) int {
		mu.Lock()
		defer mu.Unlock()
		if coin.IntN(2) == 0 {
			failed++
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	secret := webhooks.NewSecret()
	if _, err := st.CreateWebhook(ctx, "acme", groups.NewWebhook{URL: rc.URL + "/hooks", Events: []groups.EventType{groups.MemberAdded}}, secret); err != nil {
		t.Fatal(err)
	}
	g, err := st.CreateGroup(ctx, "acme", groups.NewGroup{Name: "Depot"})
	if err != nil {
		t.Fatal(err)
	}
	const n = 40
	var want []string
	for i := range n {
		id := fmt.Sprintf("v%02d", i)
		if _, _, err := st.AddMember(ctx, "acme", g.ID, groups.Item{Type: groups.Vehicles, ID: id}); err != nil {
			t.Fatal(err)
		}
		want = append(want, "member.added "+g.ID+"/"+id)
	}
	storetest.Await(t, 20*time.Millisecond, func() (bool, string) {
		got := summaries(rc.accepted("/hooks"))
		missing := slices.DeleteFunc(slices.Clone(want), func(w string) bool { return slices.Contains(got, w) })
		return len(missing) == 0, fmt.Sprintf("never delivered: %v", missing)
	})
	for _, d := range rc.all() {
		if standardwebhooks.Verify(secret, d.header, d.body, time.Now()) != nil {
			t.Errorf("delivery %s fails the Standard Webhooks check", d.body)
		}
	}
	counts := faults.Counts()
	t.Logf("%d deliveries for %d events, %d failed by the receiver; faults injected: %v", len(rc.all()), n, failed, counts)
	if failed == 0 {
		t.Error("the receiver failed no delivery: the test proved nothing of retries")
	}
	for _, k := range []storetest.Fault{storetest.Throttle, storetest.ServerError, storetest.Timeout, storetest.LostResponse} {
		if counts[k] == 0 {
			t.Errorf("no %s was injected: the test proved nothing of it", k)
		}
	}
	if dead := q.DeadLetters(); dead != 0 {
		t.Errorf("%d messages went to the dead-letter queue", dead)
	}
}
