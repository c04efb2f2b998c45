// Package ddblocal fetches, verifies, caches and starts the official DynamoDB
// Local emulator, so that tests and the local server run against the real
// DynamoDB API behaviour instead of a hand-written fake.
//
// The emulator is taken from the npm package amplify-dynamodb-simulator,
// because npm is one of the few registries reachable from every machine that
// builds this project (no Docker, no manual install). The package version is
// pinned and its tarball is checked against a SHA-256 compiled into this
// package before anything in it is used or executed, so a compromised or
// changed upstream package cannot slip into test runs. The unpacked emulator
// is cached outside the repository (see [Ensure]) so that it is downloaded
// once per machine, not once per test run, and never ends up in version
// control.
//
// Only Java (17 or later, found as "java" on PATH) and npm are needed. People
// who already run DynamoDB Local themselves, for example in Docker, set
// DYNAMODB_ENDPOINT and nothing is fetched or started (see [Endpoint]).
package ddblocal

import (
	"context"
	"os"
)

const (
	// Package is the npm package that ships DynamoDB Local.
	Package = "amplify-dynamodb-simulator"
	// Version of [Package] that is fetched. Changing it requires changing
	// [SHA256] too, which is the point: an upgrade is a reviewed change.
	Version = "2.9.30"
	// SHA256 is the hex SHA-256 of the tarball that `npm pack` produces for
	// Package@Version.
	SHA256 = "3503ffac19f183407909fecdacf4db51ab1fdad1da7b2f177016670b2d80e4b9"

	// CacheDirEnv overrides the cache root (default: os.UserCacheDir()/fleetgroups).
	CacheDirEnv = "FLEETGROUPS_CACHE_DIR"
	// EndpointEnv names the variable that points clients at DynamoDB Local.
	// When it is already set, [Endpoint] and [RunTests] use it instead of
	// starting an emulator.
	EndpointEnv = "DYNAMODB_ENDPOINT"
)

// Endpoint returns the URL of a DynamoDB Local to talk to and a function that
// releases it. If DYNAMODB_ENDPOINT is set, that endpoint is returned as is
// with a no-op stop, for people who run DynamoDB Local themselves. Otherwise
// a private in-memory instance is started with [Start]; ctx bounds only the
// start-up, and the instance runs until stop is called. stop is never nil.
func Endpoint(ctx context.Context) (endpoint string, stop func(), err error) {
	endpoint, inst, err := provide(ctx)
	if err != nil || inst == nil {
		return endpoint, func() {}, err
	}
	return endpoint, func() { _ = inst.Stop() }, nil
}

// provide is Endpoint for callers that want the instance itself (nil when
// DYNAMODB_ENDPOINT was set), to report errors from stopping it.
func provide(ctx context.Context) (string, *Instance, error) {
	if ep := os.Getenv(EndpointEnv); ep != "" {
		return ep, nil, nil
	}
	inst, err := Start(ctx)
	if err != nil {
		return "", nil, err
	}
	return inst.Endpoint, inst, nil
}
