package ddblocal

import (
	"context"
	"net/http"
	"os"
	"testing"
)

// The package's own tests run under RunTests, like every other package's.
func TestMain(m *testing.M) { os.Exit(RunTests(m)) }

func TestRunTestsSetsEndpoint(t *testing.T) {
	t.Parallel()
	ep := os.Getenv(EndpointEnv)
	if ep == "" {
		t.Fatalf("RunTests did not set %s", EndpointEnv)
	}
	if err := probe(context.Background(), http.DefaultClient, ep); err != nil {
		t.Fatalf("%s=%s does not answer: %v", EndpointEnv, ep, err)
	}
}
