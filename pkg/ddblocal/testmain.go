package ddblocal

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"
)

// startTimeout is generous because a cold start downloads about 57 MB
// through npm before the JVM even starts.
const startTimeout = 5 * time.Minute

// RunTests runs the tests of a package against DynamoDB Local; use it as
//
//	func TestMain(m *testing.M) { os.Exit(ddblocal.RunTests(m)) }
//
// It starts an instance unless DYNAMODB_ENDPOINT is already set (see
// [Endpoint]), sets DYNAMODB_ENDPOINT to it while the tests run so that code
// under test and helpers find it, and stops it afterwards. If no emulator
// can be had, it says why on stderr and returns 1: tests that silently skip
// would look green without testing anything.
func RunTests(m *testing.M) int {
	defer stopOnSignal()()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	endpoint, inst, err := provide(ctx)
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "ddblocal: cannot start DynamoDB Local for these tests: %v\n"+
			"ddblocal: it needs java (17+) and npm on PATH; or run DynamoDB Local yourself and set %s=http://host:port\n",
			err, EndpointEnv)
		return 1
	}
	if inst != nil {
		defer func() {
			if err := inst.Stop(); err != nil {
				fmt.Fprintln(os.Stderr, err)
			}
		}()
	}

	prev, had := os.LookupEnv(EndpointEnv)
	os.Setenv(EndpointEnv, endpoint)
	defer func() {
		if had {
			os.Setenv(EndpointEnv, prev)
		} else {
			os.Unsetenv(EndpointEnv)
		}
	}()
	return m.Run()
}

// stopOnSignal stops every running instance when the test binary is
// interrupted: the JVMs have their own process group, so Ctrl-C does not
// reach them, and outside Linux nothing else would stop them once this
// process is gone. It returns a function that undoes the signal handling.
func stopOnSignal() func() {
	sigs := make(chan os.Signal, 1)
	done := make(chan struct{})
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case s := <-sigs:
			live.stopAll()
			fmt.Fprintf(os.Stderr, "ddblocal: %v: stopped DynamoDB Local\n", s)
			os.Exit(1)
		case <-done:
		}
	}()
	return func() {
		signal.Stop(sigs)
		close(done)
	}
}
