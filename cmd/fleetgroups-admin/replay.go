package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/fleetgroups/fleetgroups/pkg/app"
	"github.com/fleetgroups/fleetgroups/pkg/changes"
)

// Issue 9: the change feed. A batch of stream records that publish-changes
// still failed on after its retries lands in the ChangeFailures queue as
// Lambda's invocation record, which names the shard and the sequence
// range; replay-changes publishes that range again while the stream still
// holds it (24 hours). Events keep their ids, so a receiver that got some
// of them drops the repeats.

func setupReplayChanges(fs *flag.FlagSet, e *env) func(context.Context, []string) error {
	var t target
	t.register(fs, e)
	shard := fs.String("shard", "", "the stream's shard `ID` (the failure message's DDBStreamBatchInfo.shardId)")
	from := fs.String("from", "", "the first sequence `NUMBER` to publish again (startSequenceNumber)")
	to := fs.String("to", "", "the last sequence `NUMBER` (endSequenceNumber); empty: to the shard's present end")
	failure := fs.String("failure", "", "read -shard, -from, -to and the stream from Lambda's failure message in `FILE` (- for stdin), as the ChangeFailures queue holds it")
	return func(ctx context.Context, args []string) error {
		if err := noArgs(args); err != nil {
			return err
		}
		if err := t.check(); err != nil {
			return err
		}
		var streamArn string
		if *failure != "" {
			info, err := readFailure(*failure, e.stdin)
			if err != nil {
				return err
			}
			*shard, *from, *to, streamArn = info.ShardID, info.StartSequenceNumber, info.EndSequenceNumber, info.StreamArn
		}
		if *shard == "" || *from == "" {
			return usagef("give -shard and -from (and -to), or -failure with the failure queue's message")
		}
		cfg, err := awsConfig(ctx, t.endpoint)
		if err != nil {
			return err
		}
		st, _, err := e.connect(ctx, t.endpoint, t.table)
		if err != nil {
			return err
		}
		log := slog.New(slog.NewJSONHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		pub := &changes.Publisher{Store: st, Log: log}
		n, err := changes.NewFollow(cfg, t.endpoint, t.table, pub.Handle, log).Replay(ctx, streamArn, *shard, *from, *to)
		end := *to
		if end == "" {
			end = "the present"
		}
		fmt.Fprintf(e.stdout, "Published %d stream records again from shard %s, %s to %s, of %s.\n", n, *shard, *from, end, t.where())
		if err != nil {
			return fmt.Errorf("replay stopped: %w (run it again: repeated events keep their ids)", err)
		}
		return nil
	}
}

// streamBatchInfo is the part of Lambda's on-failure record of a stream
// batch that says where the batch is.
type streamBatchInfo struct {
	ShardID             string `json:"shardId"`
	StartSequenceNumber string `json:"startSequenceNumber"`
	EndSequenceNumber   string `json:"endSequenceNumber"`
	StreamArn           string `json:"streamArn"`
}

func readFailure(path string, stdin io.Reader) (streamBatchInfo, error) {
	var raw []byte
	var err error
	if path == "-" {
		raw, err = io.ReadAll(stdin)
	} else {
		raw, err = os.ReadFile(path)
	}
	if err != nil {
		return streamBatchInfo{}, err
	}
	var msg struct {
		Info streamBatchInfo `json:"DDBStreamBatchInfo"`
	}
	if err := json.Unmarshal(raw, &msg); err != nil || msg.Info.ShardID == "" || msg.Info.StartSequenceNumber == "" {
		return streamBatchInfo{}, usagef("-failure %s is not Lambda's failure record of a stream batch (no DDBStreamBatchInfo with shardId and startSequenceNumber)", path)
	}
	return msg.Info, nil
}

// awsConfig is the SDK configuration for the stream: DynamoDB Local's, or
// the operator's full default chain in AWS.
func awsConfig(ctx context.Context, endpoint string) (aws.Config, error) {
	if endpoint != "" {
		return app.AWSConfig(endpoint)
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load the AWS configuration: %w", err)
	}
	return cfg, nil
}
