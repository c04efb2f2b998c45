package xray_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/fleetgroups/fleetgroups/pkg/app"
	"github.com/fleetgroups/fleetgroups/pkg/ddblocal"
	"github.com/fleetgroups/fleetgroups/pkg/storetest"
	"github.com/fleetgroups/fleetgroups/pkg/xray"
)

func TestMain(m *testing.M) { os.Exit(ddblocal.RunTests(m)) }

// TestSubsegments: a DynamoDB call of a sampled invocation reaches the
// daemon as a subsegment of the function's segment (the trace header's
// Root and Parent) with its operation, table, status and times; a call of
// an invocation that is not sampled sends nothing; a failed call is
// marked.
func TestSubsegments(t *testing.T) {
	daemon, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = daemon.Close() }()
	st, _ := storetest.NewStore(t)
	e := xray.NewEmitter(daemon.LocalAddr().String())
	db, err := app.NewDynamoDB(os.Getenv(ddblocal.EndpointEnv), e.Middleware)
	if err != nil {
		t.Fatal(err)
	}
	invocation := func(header string) context.Context {
		//nolint:staticcheck // the key aws-lambda-go uses
		return context.WithValue(context.Background(), "x-amzn-trace-id", header)
	}
	key := map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "#SYSTEM"}, "SK": &types.AttributeValueMemberS{Value: "SCHEMA"}}
	// Not sampled: nothing is sent.
	if _, err := db.GetItem(invocation("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0"),
		&dynamodb.GetItemInput{TableName: aws.String(st.Table()), Key: key}); err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	if _, err := db.GetItem(invocation("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"),
		&dynamodb.GetItemInput{TableName: aws.String(st.Table()), Key: key}); err != nil {
		t.Fatal(err)
	}
	_, _ = db.GetItem(invocation("Root=1-5759e988-bd862e3fe1be46a994272794;Parent=53995c3f42cd8ad9;Sampled=1"),
		&dynamodb.GetItemInput{TableName: aws.String("no-such-table"), Key: key})

	read := func() map[string]any {
		t.Helper()
		buf := make([]byte, 64<<10)
		_ = daemon.SetReadDeadline(time.Now().Add(time.Minute))
		n, _, err := daemon.ReadFrom(buf)
		if err != nil {
			t.Fatal(err)
		}
		header, doc, ok := bytes.Cut(buf[:n], []byte("\n"))
		var h struct{ Format string }
		var s map[string]any
		if !ok || json.Unmarshal(header, &h) != nil || h.Format != "json" || json.Unmarshal(doc, &s) != nil {
			t.Fatalf("datagram %q", buf[:n])
		}
		return s
	}
	s := read()
	fields := s["aws"].(map[string]any)
	if s["trace_id"] != "1-5759e988-bd862e3fe1be46a994272793" || s["parent_id"] != "53995c3f42cd8ad8" || s["type"] != "subsegment" ||
		s["name"] != "DynamoDB" || s["namespace"] != "aws" || len(s["id"].(string)) != 16 ||
		fields["operation"] != "GetItem" || fields["table_name"] != st.Table() || fields["request_id"] == "" ||
		s["http"].(map[string]any)["response"].(map[string]any)["status"] != 200.0 || s["error"] != nil {
		t.Fatalf("subsegment %v", s)
	}
	if start, end := s["start_time"].(float64), s["end_time"].(float64); start < float64(before.Unix())-1 || end < start {
		t.Fatalf("times %v to %v", start, end)
	}
	failed := read()
	if failed["trace_id"] != "1-5759e988-bd862e3fe1be46a994272794" || failed["error"] != true || failed["cause"] == nil {
		t.Fatalf("a failed call's subsegment %v", failed)
	}
}

func TestParseHeader(t *testing.T) {
	for _, c := range []struct {
		in   string
		want xray.Header
	}{
		{"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1", xray.Header{Root: "1-5759e988-bd862e3fe1be46a994272793", Parent: "53995c3f42cd8ad8", Sampled: true}},
		{"Root=1-a-b;Sampled=0;Lineage=x:1", xray.Header{Root: "1-a-b"}},
		{"", xray.Header{}},
	} {
		if got := xray.ParseHeader(c.in); got != c.want {
			t.Errorf("ParseHeader(%q) = %+v, want %+v", c.in, got, c.want)
		}
	}
}
