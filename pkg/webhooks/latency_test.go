package webhooks_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/fleetgroups/fleetgroups/pkg/changes"
	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/latency"
	"github.com/fleetgroups/fleetgroups/pkg/storetest"
	"github.com/fleetgroups/fleetgroups/pkg/webhooks"
)

// BenchmarkCommitToWebhook measures the time from a committed write (an
// item joining a group) to the receiver getting its member.added, as make
// run delivers it: DynamoDB Local's stream read every changes.DefaultPoll
// into the publisher, the in-memory queue into the deliverer. It reports
// the p50 and p99 of b.N writes and the p99 against the target of 2 s:
//
//	go test ./pkg/webhooks -run '^$' -bench CommitToWebhook -benchtime 100x
func BenchmarkCommitToWebhook(b *testing.B) {
	st, _ := storetest.NewStreamStore(b)
	ctx := b.Context()
	d := &webhooks.Deliverer{Sender: webhooks.Sender{Store: st, HTTP: webhooks.Policy{AllowLoopback: true}.Client()}, Log: quiet}
	q := webhooks.NewLocalQueue(d.Handle, quiet, 10, 50)
	d.Queue = q
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { q.Run(runCtx); close(done) }()
	b.Cleanup(func() { cancel(); <-done })
	storetest.FollowChanges(b, st, changes.DefaultPoll, (&changes.Publisher{Store: st, Log: quiet, Queue: q}).Handle)
	got := make(chan string, 1024)
	rc := newReceiver(b, func(d delivery) int {
		got <- summary(d.event)
		return http.StatusOK
	})
	g, err := st.CreateGroup(ctx, "acme", groups.NewGroup{Name: "Depot"})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := st.CreateWebhook(ctx, "acme", groups.NewWebhook{URL: rc.URL, Events: []groups.EventType{groups.MemberAdded}}, webhooks.NewSecret()); err != nil {
		b.Fatal(err)
	}
	var took []time.Duration
	for i := 0; b.Loop(); i++ {
		want := fmt.Sprintf("member.added %s/v%d", g.ID, i)
		start := time.Now()
		if _, _, err := st.AddMember(ctx, "acme", g.ID, groups.Item{Type: groups.Vehicles, ID: fmt.Sprintf("v%d", i)}); err != nil {
			b.Fatal(err)
		}
		for s := ""; s != want; {
			select {
			case s = <-got:
			case <-ctx.Done():
				b.Fatal(ctx.Err())
			}
		}
		took = append(took, time.Since(start))
	}
	slices.Sort(took)
	p50, p99 := latency.Quantile(took, 0.5), latency.Quantile(took, 0.99)
	b.ReportMetric(float64(p50.Milliseconds()), "p50-ms")
	b.ReportMetric(float64(p99.Milliseconds()), "p99-ms")
	b.ReportMetric(float64(p99)/float64(2*time.Second), "p99/target")
}

// BenchmarkDeliveryThroughput measures deliveries per second: b.N queued
// events of 4 tenants, each delivered to its tenant's webhook (a receiver
// that answers 200 at once) and recorded, against the baseline of the same
// number of signed POSTs to the same receiver straight from the same
// client, as many at once as the queue lets the 4 tenants have:
//
//	go test ./pkg/webhooks -run '^$' -bench DeliveryThroughput -benchtime 2000x
func BenchmarkDeliveryThroughput(b *testing.B) {
	st, _ := storetest.NewStore(b)
	ctx := b.Context()
	var received atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { received.Add(1) }))
	defer srv.Close()
	d := &webhooks.Deliverer{Sender: webhooks.Sender{Store: st, HTTP: webhooks.Policy{AllowLoopback: true}.Client()}, Log: quiet}
	q := webhooks.NewLocalQueue(d.Handle, quiet, 10, 50)
	d.Queue = q
	const tenants = 4
	var hooks []groups.Webhook
	for i := range tenants {
		w, err := st.CreateWebhook(ctx, fmt.Sprintf("t%d", i), groups.NewWebhook{URL: srv.URL}, webhooks.NewSecret())
		if err != nil {
			b.Fatal(err)
		}
		hooks = append(hooks, w)
	}
	n := b.N
	msgs := make([]webhooks.Message, n)
	for i := range msgs {
		ev := webhooks.Event{ID: fmt.Sprintf("evt_%d", i), Type: groups.MemberAdded, Time: time.Now(), Data: []byte(`{"itemId":"v"}`)}
		msgs[i] = webhooks.Message{Tenant: fmt.Sprintf("t%d", i%tenants), WebhookID: hooks[i%tenants].ID, Event: &ev}
	}
	b.ResetTimer()
	// The baseline: the same POSTs, signed, without the queue or the store.
	client := webhooks.Policy{AllowLoopback: true}.Client()
	start := time.Now()
	var eg errgroup.Group
	eg.SetLimit(tenants * 2 * webhooks.PerTenantDeliveries)
	for i := range n {
		eg.Go(func() error {
			sig, err := webhooks.Sign([]string{hooks[0].Secrets[0].Secret}, msgs[i].Event.ID, time.Now(), msgs[i].Event.Data)
			if err != nil {
				return err
			}
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL, nil)
			if err != nil {
				return err
			}
			req.Header.Set(webhooks.HeaderSignature, sig)
			res, err := client.Do(req)
			if err != nil {
				return err
			}
			return res.Body.Close()
		})
	}
	if err := eg.Wait(); err != nil {
		b.Fatal(err)
	}
	baseline := time.Since(start)
	received.Store(0)
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	start = time.Now()
	go func() { q.Run(runCtx); close(done) }()
	if err := q.Send(ctx, msgs); err != nil {
		b.Fatal(err)
	}
	storetest.Await(b, time.Millisecond, func() (bool, string) {
		return q.Pending() == 0, fmt.Sprintf("%d messages not delivered", q.Pending())
	})
	took := time.Since(start)
	cancel()
	<-done
	if received.Load() < int64(n) {
		b.Fatalf("%d of %d delivered", received.Load(), n)
	}
	b.ReportMetric(float64(n)/took.Seconds(), "deliveries/s")
	b.ReportMetric(float64(n)/baseline.Seconds(), "baseline-posts/s")
	b.ReportMetric(baseline.Seconds()/took.Seconds(), "ratio")
}
