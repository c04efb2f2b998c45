package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	streams "github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/fleetgroups/fleetgroups/pkg/app"
	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/store"
	"github.com/fleetgroups/fleetgroups/pkg/storetest"
)

// TestReplayChanges: nothing published a table's stream (as when every
// retry of a batch failed); replay-changes publishes the range that
// Lambda's failure record names, or one given by flags, and the feed then
// holds exactly the events of that range.
func TestReplayChanges(t *testing.T) {
	st, _ := storetest.NewStreamStore(t)
	ctx := context.Background()
	g, err := st.CreateGroup(ctx, "acme", groups.NewGroup{Name: "Depot", Members: []groups.Item{{Type: groups.Vehicles, ID: "v1"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.AddMember(ctx, "acme", g.ID, groups.Item{Type: groups.Users, ID: "u1"}); err != nil {
		t.Fatal(err)
	}
	arn, shard, seqs, created := streamRecords(t, st.Table())
	t.Logf("shard %s: %d records", shard, len(seqs))

	// The failure record as Lambda writes it to the on-failure queue.
	failure, _ := json.Marshal(map[string]any{
		"requestContext": map[string]any{"condition": "RetryAttemptsExhausted", "approximateInvokeCount": 11},
		"DDBStreamBatchInfo": map[string]any{"shardId": shard, "startSequenceNumber": seqs[0], "endSequenceNumber": seqs[len(seqs)-1],
			"batchSize": len(seqs), "streamArn": arn},
	})
	file := filepath.Join(t.TempDir(), "failure.json")
	if err := os.WriteFile(file, failure, 0o600); err != nil {
		t.Fatal(err)
	}
	settled := *st
	settled.Now = func() time.Time { return time.Now().Add(2 * groups.ChangeSettleWindow) }
	types := func() []string {
		page, err := settled.ListChanges(ctx, "acme", store.ChangeQuery{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range page.Items {
			out = append(out, string(e.Type))
		}
		slices.Sort(out)
		return out
	}
	if got := types(); len(got) != 0 {
		t.Fatalf("the feed holds %v before any publishing", got)
	}
	for _, c := range []struct {
		name string
		args []string
		want []string
	}{
		{"flags, one record", []string{"-shard", shard, "-from", created, "-to", created}, []string{"group.created"}},
		{"the failure record", []string{"-failure", file}, []string{"group.created", "group.created", "member.added", "member.added"}},
		// Repeats keep their ids: a mirror drops them.
		{"flags, to the present", []string{"-shard", shard, "-from", seqs[0]},
			[]string{"group.created", "group.created", "group.created", "member.added", "member.added", "member.added", "member.added"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := admin(t, local(st.Table()), connect, append([]string{"replay-changes"}, c.args...)...)
			if out.code != 0 {
				t.Fatalf("exit %d: %s", out.code, out.stderr)
			}
			if got := types(); !slices.Equal(got, c.want) {
				t.Errorf("the feed holds %v, want %v", got, c.want)
			}
		})
	}
	if out := admin(t, local(st.Table()), connect, "replay-changes", "-failure", os.DevNull); out.code != 2 {
		t.Errorf("a failure file without DDBStreamBatchInfo: exit %d, want 2", out.code)
	}
}

// streamRecords returns the table's stream, its shard, the sequence numbers
// of the records in it that may make events, in order, and that of the
// group's insert.
func streamRecords(t *testing.T, table string) (arn, shard string, seqs []string, created string) {
	t.Helper()
	ctx := context.Background()
	endpoint := os.Getenv("DYNAMODB_ENDPOINT")
	cfg, err := app.AWSConfig(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	db := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(endpoint) })
	ss := dynamodbstreams.NewFromConfig(cfg, func(o *dynamodbstreams.Options) { o.BaseEndpoint = aws.String(endpoint) })
	desc, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	arn = aws.ToString(desc.Table.LatestStreamArn)
	sd, err := ss.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	if len(sd.StreamDescription.Shards) != 1 {
		t.Fatalf("the stream has %d shards; the test reads one", len(sd.StreamDescription.Shards))
	}
	shard = aws.ToString(sd.StreamDescription.Shards[0].ShardId)
	it, err := ss.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{StreamArn: aws.String(arn), ShardId: aws.String(shard),
		ShardIteratorType: streams.ShardIteratorTypeTrimHorizon})
	if err != nil {
		t.Fatal(err)
	}
	out, err := ss.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: it.ShardIterator})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range out.Records {
		if sk, ok := r.Dynamodb.Keys[store.AttrSK].(*streams.AttributeValueMemberS); ok && store.MakesEvents(sk.Value) {
			seqs = append(seqs, aws.ToString(r.Dynamodb.SequenceNumber))
			if r.EventName == streams.OperationTypeInsert && sk.Value == "#GROUP" {
				created = aws.ToString(r.Dynamodb.SequenceNumber)
			}
		}
	}
	// The group's insert, two memberships and the group's new counts.
	if len(seqs) != 4 || created == "" {
		t.Fatalf("%d records of groups and memberships in the stream, want 4 with the group's insert", len(seqs))
	}
	return arn, shard, seqs, created
}
