// Command withddb runs a command with DYNAMODB_ENDPOINT pointing at one
// DynamoDB Local, which it starts before and stops after:
//
//	go run ./cmd/withddb go test ./...
//
// make test runs every test package under one emulator this way. Each
// package's TestMain (ddblocal.RunTests) finds DYNAMODB_ENDPOINT set and
// starts none of its own; the tests stay apart because each creates its own
// randomly named tables. Without withddb, `go test ./pkg/store` still works:
// RunTests then starts a private emulator for the package.
//
// If DYNAMODB_ENDPOINT is already set, withddb starts nothing and runs the
// command against that endpoint. It exits with the command's exit code.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"github.com/fleetgroups/fleetgroups/pkg/ddblocal"
)

// startTimeout is generous because a cold start downloads DynamoDB Local
// through npm before the JVM even starts.
const startTimeout = 5 * time.Minute

func main() {
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: withddb command [args...]")
		os.Exit(2)
	}
	os.Exit(run(args))
}

func run(args []string) int {
	// withddb outlives the command so that it can stop the emulator: it
	// passes interrupts on instead of dying of them. (Ctrl-C reaches the
	// command anyway, through the terminal's process group; a second one
	// does no harm.)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)

	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	endpoint, stop, err := ddblocal.Endpoint(ctx)
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "withddb: %v\n", err)
		return 1
	}
	defer stop()

	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), ddblocal.EndpointEnv+"="+endpoint)
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "withddb: %v\n", err)
		return 1
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				_ = cmd.Process.Signal(s)
			case <-done:
				return
			}
		}
	}()
	err = cmd.Wait()
	close(done)
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit) && exit.ExitCode() > 0:
		return exit.ExitCode()
	default:
		fmt.Fprintf(os.Stderr, "withddb: %s: %v\n", args[0], err)
		return 1
	}
}
