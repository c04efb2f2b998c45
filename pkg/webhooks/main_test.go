package webhooks_test

import (
	"os"
	"testing"

	"github.com/fleetgroups/fleetgroups/pkg/ddblocal"
)

func TestMain(m *testing.M) { os.Exit(ddblocal.RunTests(m)) }
