package storetest

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/fleetgroups/fleetgroups/pkg/app"
	"github.com/fleetgroups/fleetgroups/pkg/changes"
	"github.com/fleetgroups/fleetgroups/pkg/store"
)

// FollowChanges hands the stream of st's table (NewStreamStore's), read
// every poll, to handle until the test ends, as make run hands it to the
// publisher (changes.Follow); a nil handle publishes into st's feed.
func FollowChanges(t testing.TB, st *store.Store, poll time.Duration, handle func(context.Context, events.DynamoDBEvent) error) {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	if handle == nil {
		handle = (&changes.Publisher{Store: st, Log: quiet}).Handle
	}
	endpoint := os.Getenv("DYNAMODB_ENDPOINT")
	cfg, err := app.AWSConfig(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	f := changes.NewFollow(cfg, endpoint, st.Table(), handle, quiet)
	f.Poll = poll
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("change feed: %v", err)
		}
	})
}

// Await calls check every poll until it reports done, as a client polls
// for what it waits on: the wait ends with the event itself, not after a
// set time. Should the event never come, it fails t with check's last
// word five seconds before t's deadline (a test without one, such as a
// benchmark, is bounded by go test's -timeout).
func Await(t testing.TB, poll time.Duration, check func() (done bool, why string)) {
	t.Helper()
	deadline, bounded := time.Time{}, false
	if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		deadline, bounded = d.Deadline()
	}
	for {
		done, why := check()
		if done {
			return
		}
		if bounded && time.Until(deadline) < awaitReserve {
			t.Fatalf("never came: %s", why)
		}
		time.Sleep(poll)
	}
}

// awaitReserve is what Await leaves of a test's time to report and clean up.
const awaitReserve = 5 * time.Second

// Context is t's context, ended awaitReserve before the test's deadline,
// so that a call still waiting then fails the test with its own error
// instead of the test binary timing out.
func Context(t *testing.T) context.Context {
	ctx := t.Context()
	if dl, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-awaitReserve))
		t.Cleanup(cancel)
	}
	return ctx
}
