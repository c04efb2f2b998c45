package changes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streams "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/fleetgroups/fleetgroups/pkg/store"
)

// Follow is the local event source mapping: it reads the table's stream
// (DynamoDB Local's, for make run and the tests) and hands its records to
// handle as Lambda would, until ctx ends: each shard read in order by a
// goroutine of its own, a child shard after its parent, records filtered
// as the mapping filters them (store.MakesEvents), at most BatchSize
// records per call, a failed batch retried with backoff (Lambda would
// bisect it; locally a failure is a bug to see in the log).
type Follow struct {
	DB      *dynamodb.Client
	Streams *dynamodbstreams.Client
	Table   string
	Handle  func(context.Context, events.DynamoDBEvent) error
	Log     *slog.Logger
	// Poll is the pause after a read that found nothing new.
	Poll time.Duration
}

// NewFollow returns a Follow of table's stream at endpoint (DynamoDB
// Local) through the clients of cfg.
func NewFollow(cfg aws.Config, endpoint, table string, handle func(context.Context, events.DynamoDBEvent) error, log *slog.Logger) *Follow {
	return &Follow{
		DB: dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(endpoint) }),
		Streams: dynamodbstreams.NewFromConfig(cfg, func(o *dynamodbstreams.Options) {
			o.BaseEndpoint = aws.String(endpoint)
		}),
		Table: table, Handle: handle, Log: log, Poll: DefaultPoll,
	}
}

// DefaultPoll is Follow's pause after an empty read: Lambda polls each
// shard about four times a second.
const DefaultPoll = 100 * time.Millisecond

// BatchSize is the most records in one call of the handler, as the
// deployed mapping's batch size.
const BatchSize = 100

// Run reads the stream until ctx ends.
func (f *Follow) Run(ctx context.Context) error {
	desc, err := f.DB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(f.Table)})
	if err != nil {
		return fmt.Errorf("describe table %s: %w", f.Table, err)
	}
	arn := desc.Table.LatestStreamArn
	if arn == nil {
		return fmt.Errorf("table %s has no stream", f.Table)
	}
	var (
		mu      sync.Mutex
		started = map[string]bool{}
		done    = map[string]bool{}
		wg      sync.WaitGroup
	)
	defer wg.Wait()
	for {
		shards, err := f.shards(ctx, arn)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			f.Log.Error("describe stream", "error", err.Error())
		}
		known := map[string]bool{}
		for _, s := range shards {
			known[aws.ToString(s.ShardId)] = true
		}
		for _, s := range shards {
			id, parent := aws.ToString(s.ShardId), aws.ToString(s.ParentShardId)
			mu.Lock()
			ready := !started[id] && (parent == "" || done[parent] || !known[parent])
			if ready {
				started[id] = true
			}
			mu.Unlock()
			if !ready {
				continue
			}
			wg.Go(func() {
				f.readShard(ctx, arn, id)
				mu.Lock()
				done[id] = true
				mu.Unlock()
			})
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(10 * f.Poll):
		}
	}
}

func (f *Follow) shards(ctx context.Context, arn *string) ([]streams.Shard, error) {
	var all []streams.Shard
	var after *string
	for {
		out, err := f.Streams.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: arn, ExclusiveStartShardId: after})
		if err != nil {
			return nil, err
		}
		all = append(all, out.StreamDescription.Shards...)
		if after = out.StreamDescription.LastEvaluatedShardId; after == nil {
			return all, nil
		}
	}
}

// readShard hands the shard's records to the handler until the shard ends
// or ctx does.
func (f *Follow) readShard(ctx context.Context, arn *string, shard string) {
	it, err := f.Streams.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{
		StreamArn: arn, ShardId: aws.String(shard), ShardIteratorType: streams.ShardIteratorTypeTrimHorizon,
	})
	if err != nil {
		if ctx.Err() == nil {
			f.Log.Error("shard iterator", "shard", shard, "error", err.Error())
		}
		return
	}
	iter := it.ShardIterator
	for iter != nil {
		out, err := f.Streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(1000)})
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			f.Log.Error("get records", "shard", shard, "error", err.Error())
			if !sleep(ctx, f.Poll) {
				return
			}
			continue
		}
		if err := f.deliver(ctx, arn, out.Records); err != nil {
			return
		}
		iter = out.NextShardIterator
		if len(out.Records) == 0 && !sleep(ctx, f.Poll) {
			return
		}
	}
}

// deliver hands records to the handler in batches, each retried until it
// succeeds or ctx ends.
func (f *Follow) deliver(ctx context.Context, arn *string, recs []streams.Record) error {
	var batch []events.DynamoDBEventRecord
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		ev := events.DynamoDBEvent{Records: batch}
		for attempt := 1; ; attempt++ {
			err := f.Handle(ctx, ev)
			if err == nil {
				batch = nil
				return nil
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			f.Log.Error("publish batch failed; retrying", "records", len(batch), "attempt", attempt, "error", err.Error())
			if !sleep(ctx, min(time.Duration(attempt)*f.Poll*4, 5*time.Second)) {
				return ctx.Err()
			}
		}
	}
	for _, r := range recs {
		if !store.MakesEvents(sortKey(r.Dynamodb.Keys)) {
			continue
		}
		er, err := eventRecord(arn, r)
		if err != nil {
			f.Log.Error("stream record", "error", err.Error())
			continue
		}
		if batch = append(batch, er); len(batch) == BatchSize {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

func sortKey(keys map[string]streams.AttributeValue) string {
	if s, ok := keys[store.AttrSK].(*streams.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

// eventRecord is the Lambda event record of a Streams API record.
func eventRecord(arn *string, r streams.Record) (events.DynamoDBEventRecord, error) {
	if r.Dynamodb == nil {
		return events.DynamoDBEventRecord{}, errors.New("record without its change")
	}
	d := r.Dynamodb
	er := events.DynamoDBEventRecord{
		AWSRegion: aws.ToString(r.AwsRegion), EventID: aws.ToString(r.EventID), EventName: string(r.EventName),
		EventSource: "aws:dynamodb", EventVersion: aws.ToString(r.EventVersion), EventSourceArn: aws.ToString(arn),
		Change: events.DynamoDBStreamRecord{
			SequenceNumber: aws.ToString(d.SequenceNumber), SizeBytes: aws.ToInt64(d.SizeBytes),
			StreamViewType: string(d.StreamViewType),
		},
	}
	if d.ApproximateCreationDateTime != nil {
		er.Change.ApproximateCreationDateTime = events.SecondsEpochTime{Time: *d.ApproximateCreationDateTime}
	}
	var err error
	if er.Change.Keys, err = toEvent(d.Keys); err != nil {
		return er, err
	}
	if er.Change.OldImage, err = toEvent(d.OldImage); err != nil {
		return er, err
	}
	er.Change.NewImage, err = toEvent(d.NewImage)
	return er, err
}

// sleep waits d or until ctx ends; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
