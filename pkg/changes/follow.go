package changes

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streams "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/fleetgroups/fleetgroups/pkg/jsonlog"
	"github.com/fleetgroups/fleetgroups/pkg/routes"
	"github.com/fleetgroups/fleetgroups/pkg/store"
)

// Follow is the local event source mapping: it reads the table's stream
// (DynamoDB Local's, for make run and the tests) and hands its records to
// handle as Lambda would, until ctx ends: each shard read in order by a
// goroutine of its own, a child shard after its parent, records filtered
// as the mapping filters them (store.MakesEvents), at most
// routes.ChangeBatchSize records per call, a failed batch bisected as
// Lambda bisects it.
type Follow struct {
	DB      *dynamodb.Client
	Streams *dynamodbstreams.Client
	Table   string
	Handle  func(context.Context, events.DynamoDBEvent) error
	Log     jsonlog.Logger
	// Poll is the pause after a read that found nothing new.
	Poll time.Duration
}

// NewFollow returns a Follow of table's stream at endpoint (DynamoDB
// Local) through the clients of cfg.
func NewFollow(cfg aws.Config, endpoint, table string, handle func(context.Context, events.DynamoDBEvent) error, log jsonlog.Logger) *Follow {
	var base *string
	if endpoint != "" {
		base = aws.String(endpoint)
	}
	return &Follow{
		DB:      dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = base }),
		Streams: dynamodbstreams.NewFromConfig(cfg, func(o *dynamodbstreams.Options) { o.BaseEndpoint = base }),
		Table:   table, Handle: handle, Log: log, Poll: DefaultPoll,
	}
}

// DefaultPoll is Follow's pause after an empty read: Lambda polls each
// shard about four times a second.
const DefaultPoll = 100 * time.Millisecond

// streamArn is the table's current stream.
func (f *Follow) streamArn(ctx context.Context) (*string, error) {
	desc, err := f.DB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(f.Table)})
	if err != nil {
		return nil, fmt.Errorf("describe table %s: %w", f.Table, err)
	}
	if desc.Table.LatestStreamArn == nil {
		return nil, fmt.Errorf("table %s has no stream", f.Table)
	}
	return desc.Table.LatestStreamArn, nil
}

// Run reads the stream until ctx ends.
func (f *Follow) Run(ctx context.Context) error {
	arn, err := f.streamArn(ctx)
	if err != nil {
		return err
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
			f.Log.ErrorContext(ctx, "describe stream", "error", err.Error())
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
			f.Log.ErrorContext(ctx, "shard iterator", "shard", shard, "error", err.Error())
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
			f.Log.ErrorContext(ctx, "get records", "shard", shard, "error", err.Error())
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

// Replay publishes again the records of one shard of the table's current
// stream (streamArn, if set, names another) from sequence number from to
// to, both included: a batch the deployed mapping gave up on lands in the
// failure queue with exactly these, and the stream keeps them 24 hours.
// An empty to reads to the shard's present end. It returns the records it
// handed to the handler (after the mapping's filter).
func (f *Follow) Replay(ctx context.Context, streamArn, shard, from, to string) (int, error) {
	arn := aws.String(streamArn)
	if streamArn == "" {
		var err error
		if arn, err = f.streamArn(ctx); err != nil {
			return 0, err
		}
	}
	it, err := f.Streams.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{
		StreamArn: arn, ShardId: aws.String(shard), ShardIteratorType: streams.ShardIteratorTypeAtSequenceNumber,
		SequenceNumber: aws.String(from),
	})
	if err != nil {
		return 0, fmt.Errorf("shard %s at %s: %w", shard, from, err)
	}
	replayed, empty := 0, 0
	for iter := it.ShardIterator; iter != nil; {
		out, err := f.Streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: iter, Limit: aws.Int32(1000)})
		if err != nil {
			return replayed, fmt.Errorf("read shard %s: %w", shard, err)
		}
		recs, done := out.Records, false
		if to != "" {
			if i := slices.IndexFunc(recs, func(r streams.Record) bool { return seqAfter(seqOf(r), to) }); i >= 0 {
				recs, done = recs[:i], true
			}
		}
		for _, r := range recs {
			if store.MakesEvents(sortKey(r.Dynamodb.Keys)) {
				replayed++
			}
		}
		if err := f.deliver(ctx, arn, recs); err != nil {
			return replayed, err
		}
		// With an end, the range's end (or the shard's) stops it. Without
		// one, emptyReadsAtPresent empty reads in a row are the present: a
		// stream may answer an empty page before records further on.
		if len(out.Records) == 0 {
			empty++
		} else {
			empty = 0
		}
		if done || to == "" && empty == emptyReadsAtPresent {
			return replayed, nil
		}
		iter = out.NextShardIterator
	}
	return replayed, nil
}

// emptyReadsAtPresent is how many empty reads in a row end a replay that
// has no end: give -to for a range that must be whole.
const emptyReadsAtPresent = 5

func seqOf(r streams.Record) string {
	if r.Dynamodb == nil {
		return ""
	}
	return aws.ToString(r.Dynamodb.SequenceNumber)
}

// seqAfter reports whether sequence number a comes after b: they are
// decimal numbers of up to 40 digits, compared by length, then digits.
func seqAfter(a, b string) bool {
	if len(a) != len(b) {
		return len(a) > len(b)
	}
	return a > b
}

// deliver hands records to the handler in batches of at most
// routes.ChangeBatchSize.
func (f *Follow) deliver(ctx context.Context, arn *string, recs []streams.Record) error {
	var batch []events.DynamoDBEventRecord
	for _, r := range recs {
		if !store.MakesEvents(sortKey(r.Dynamodb.Keys)) {
			continue
		}
		er, err := eventRecord(arn, r)
		if err != nil {
			f.Log.ErrorContext(ctx, "stream record", "error", err.Error())
			continue
		}
		if batch = append(batch, er); len(batch) == routes.ChangeBatchSize {
			if err := f.publish(ctx, batch, 1); err != nil {
				return err
			}
			batch = nil
		}
	}
	if len(batch) == 0 {
		return nil
	}
	return f.publish(ctx, batch, 1)
}

// publish hands one batch to the handler as the deployed mapping does
// with BisectBatchOnFunctionError: a failed batch is split in two halves,
// published in order, so that one failing record holds back only itself.
// A single record is retried, with a backoff that grows to 5 s, until it
// succeeds or ctx ends (where Lambda would stop after its retries and send
// it to the on-failure queue; locally a record that keeps failing is a
// bug, and the log shows it).
func (f *Follow) publish(ctx context.Context, batch []events.DynamoDBEventRecord, attempt int) error {
	err := f.Handle(ctx, events.DynamoDBEvent{Records: batch})
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	case len(batch) > 1:
		half := len(batch) / 2
		if err := f.publish(ctx, batch[:half], 1); err != nil {
			return err
		}
		return f.publish(ctx, batch[half:], 1)
	}
	f.Log.ErrorContext(ctx, "publish record failed; retrying", "attempt", attempt, "error", err.Error())
	if !sleep(ctx, min(time.Duration(attempt)*f.Poll*4, 5*time.Second)) {
		return ctx.Err()
	}
	return f.publish(ctx, batch, attempt+1)
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
