package ddblocal

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func newClient(endpoint, key, region string) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider(key, key, ""),
		BaseEndpoint: aws.String(endpoint),
	})
}

func startInstance(t *testing.T) *Instance {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	start := time.Now()
	inst, err := Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Start took %v (%s)", time.Since(start).Round(time.Millisecond), inst.Endpoint)
	t.Cleanup(func() { _ = inst.Stop() })
	return inst
}

func createTable(ctx context.Context, t *testing.T, c *dynamodb.Client, name string) {
	t.Helper()
	_, err := c.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(name),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
	})
	if err != nil {
		t.Fatalf("CreateTable: %v", err)
	}
}

// TestInstances starts an instance (a JVM start is the most expensive step
// of this package's tests, so its cases share it) and checks, in turn, that
// it keeps its data apart from the one RunTests provides this process, that
// a second JVM on its port is not taken for it, and a round trip through it
// ending with its Stop.
func TestInstances(t *testing.T) {
	t.Parallel()
	a := startInstance(t)
	t.Run("isolated", func(t *testing.T) { testIsolated(t, a, os.Getenv(EndpointEnv)) })
	t.Run("port-taken", func(t *testing.T) { testPortTaken(t, a) })
	t.Run("round-trip", func(t *testing.T) { testRoundTrip(t, a) })
}

// Instances must not share data: a table made in a is not in the instance
// at other (started by RunTests, or by make test's cmd/withddb, for this
// process), which may hold tables of its own.
func testIsolated(t *testing.T, a *Instance, other string) {
	if other == "" || a.Endpoint == other {
		t.Fatalf("instance at %s, the other at %q", a.Endpoint, other)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	createTable(ctx, t, newClient(a.Endpoint, "local", "us-east-1"), "only-in-a")
	_, err := newClient(other, "local", "us-east-1").DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("only-in-a")})
	var notFound *types.ResourceNotFoundException
	if !errors.As(err, &notFound) {
		t.Errorf("the other instance describes a's table: %v", err)
	}
}

// A JVM started on a port that another instance holds does not exit, and the
// other instance answers the readiness probe. Start must notice instead of
// taking the other instance for its own.
func testPortTaken(t *testing.T, a *Instance) {
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()

	dir, err := Ensure(ctx)
	if err != nil {
		t.Fatal(err)
	}
	java, err := exec.LookPath("java")
	if err != nil {
		t.Fatal(err)
	}
	b, err := launch(java, dir, a.port)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.Stop() }()
	if err := b.waitReady(ctx); !errors.Is(err, errBind) {
		t.Fatalf("waitReady on a taken port: %v, want %v\n%s", err, errBind, b.Output())
	}

	checks := map[string]func(pid, port int) (bool, error){"listensOn": listensOn}
	if _, err := exec.LookPath("lsof"); err == nil {
		checks["lsof"] = listensOnLsof
	} else {
		t.Log("lsof not installed; its check is not exercised")
	}
	for name, listens := range checks {
		for _, tc := range []struct {
			inst *Instance
			want bool
		}{{a, true}, {b, false}} {
			got, err := listens(tc.inst.cmd.Process.Pid, a.port)
			if err != nil || got != tc.want {
				t.Errorf("%s(%s pid, port %d) = %v, %v; want %v", name, tc.inst.Endpoint, a.port, got, err, tc.want)
			}
		}
	}
	if err := probe(ctx, http.DefaultClient, a.Endpoint); err != nil {
		t.Errorf("first instance no longer answers: %v", err)
	}
}

// A round trip through inst, which it stops at the end.
func testRoundTrip(t *testing.T, inst *Instance) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	if !strings.Contains(inst.Output(), "Initializing DynamoDB Local") {
		t.Errorf("unexpected output:\n%s", inst.Output())
	}

	c := newClient(inst.Endpoint, "local", "us-east-1")
	createTable(ctx, t, c, "roundtrip")
	_, err := c.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String("roundtrip"),
		Item: map[string]types.AttributeValue{
			"pk":   &types.AttributeValueMemberS{Value: "group#1"},
			"name": &types.AttributeValueMemberS{Value: "Fleet One"},
			"size": &types.AttributeValueMemberN{Value: "3"},
		},
	})
	if err != nil {
		t.Fatalf("PutItem: %v", err)
	}

	// -sharedDb: other credentials and another region see the same table,
	// as code under test and test helpers seldom configure them alike.
	for _, c := range []*dynamodb.Client{c, newClient(inst.Endpoint, "other", "eu-west-1")} {
		got, err := c.GetItem(ctx, &dynamodb.GetItemInput{
			TableName:      aws.String("roundtrip"),
			Key:            map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "group#1"}},
			ConsistentRead: aws.Bool(true),
		})
		if err != nil {
			t.Fatalf("GetItem: %v", err)
		}
		name, _ := got.Item["name"].(*types.AttributeValueMemberS)
		size, _ := got.Item["size"].(*types.AttributeValueMemberN)
		if name == nil || name.Value != "Fleet One" || size == nil || size.Value != "3" {
			t.Errorf("GetItem returned %#v", got.Item)
		}
	}

	if err := inst.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := inst.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	addr := strings.TrimPrefix(inst.Endpoint, "http://")
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err == nil {
		conn.Close()
		t.Fatalf("%s still accepts connections after Stop", addr)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial after Stop: %v, want connection refused", err)
	}
}

// Not parallel: it sets DYNAMODB_ENDPOINT for the whole process.
func TestEndpointUsesEnv(t *testing.T) {
	t.Setenv(EndpointEnv, "http://127.0.0.1:1")
	ep, stop, err := Endpoint(context.Background())
	if err != nil || ep != "http://127.0.0.1:1" || stop == nil {
		t.Fatalf("Endpoint() = %q, %v, %v", ep, stop != nil, err)
	}
	stop()
}

// A JVM that dies during start-up must fail Start at once, with its output,
// rather than after the readiness timeout. Not parallel: it points the
// cache at a fake install through the environment.
func TestStartFailsFastWithOutput(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, installName)
	if err := os.MkdirAll(filepath.Join(dir, libDirName), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{jarName: "not a jar", markerName: markerContent} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv(CacheDirEnv, root)

	start := time.Now()
	inst, err := Start(context.Background())
	if err == nil {
		_ = inst.Stop()
		t.Fatal("Start succeeded with a broken jar")
	}
	t.Logf("Start failed after %v: %v", time.Since(start).Round(time.Millisecond), err)
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("Start took %v to notice the JVM had exited", d)
	}
	for _, s := range []string{"exited before it was ready", "jarfile"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error does not mention %q:\n%v", s, err)
		}
	}
}
