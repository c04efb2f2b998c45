// Package changes publishes the change feed (issue 9): the publish-changes
// Lambda's handler turns the table's stream records into events
// (store.PublishChanges), and Follow reads DynamoDB Local's stream into the
// same handler, so that make run and the tests take the deployed path.
package changes

import (
	"context"
	"fmt"

	"github.com/aws/aws-lambda-go/events"

	"github.com/fleetgroups/fleetgroups/pkg/jsonlog"
	"github.com/fleetgroups/fleetgroups/pkg/store"
	"github.com/fleetgroups/fleetgroups/pkg/webhooks"
)

// Publisher is the publish-changes handler.
type Publisher struct {
	Store *store.Store
	Log   jsonlog.Logger
	// Bus, when set, also gets every event (EventBridge; make run has
	// none).
	Bus *Bus
	// Queue, when set, gets the webhook deliveries of the events
	// (webhooks.Enqueue).
	Queue webhooks.Queue
}

// Handle publishes the events of one batch of stream records to the feed,
// then to the bus and to the webhook queue, if there are. An error fails the whole batch: Lambda retries it, halving it on each failure
// (BisectBatchOnFunctionError) until the failing record stands alone and,
// once its retries are spent, goes to the on-failure destination. The
// events of records published again keep their ids.
func (p *Publisher) Handle(ctx context.Context, ev events.DynamoDBEvent) error {
	recs := make([]store.StreamRecord, 0, len(ev.Records))
	for _, r := range ev.Records {
		rec, err := recordOf(r)
		if err != nil {
			return fmt.Errorf("record %s: %w", r.EventID, err)
		}
		recs = append(recs, rec)
	}
	published, err := p.Store.PublishChanges(ctx, recs)
	if err == nil && p.Bus != nil {
		err = p.Bus.Put(ctx, published)
	}
	if err == nil && p.Queue != nil {
		err = webhooks.Enqueue(ctx, p.Store, p.Queue, published, recs)
	}
	if err != nil {
		p.Log.ErrorContext(ctx, "publish changes", "records", len(recs), "error", err.Error())
		return err
	}
	p.Log.InfoContext(ctx, "published changes", "records", len(recs), "events", len(published))
	return nil
}

// recordOf is the store's view of a Lambda stream record.
func recordOf(r events.DynamoDBEventRecord) (store.StreamRecord, error) {
	rec := store.StreamRecord{EventID: r.EventID, Time: r.Change.ApproximateCreationDateTime.Time}
	var err error
	if rec.Keys, err = toTable(r.Change.Keys); err != nil {
		return rec, err
	}
	if rec.Old, err = toTable(r.Change.OldImage); err != nil {
		return rec, err
	}
	rec.New, err = toTable(r.Change.NewImage)
	return rec, err
}
