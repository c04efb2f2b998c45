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
