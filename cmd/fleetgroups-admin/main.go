// Command fleetgroups-admin provisions what the Groups API cannot provision
// for itself: tables for local development and tenants (partners) with their
// API keys and tokens. The API has no endpoint for this on purpose, since
// creating a tenant creates credentials.
//
// Usage:
//
//	go run ./cmd/fleetgroups-admin <command> [flags]
//
// Commands:
//
//	create-table   create the table (DynamoDB Local; deployed tables come from the CDK stack)
//	create-tenant  create a tenant and print its token, which is shown only once
//	create-token   create another token for a tenant and print it, shown only once (-read-only: it may only read; -group: it sees only that subtree)
//	list-tokens    list a tenant's tokens (id, label, creation time, access; never the token)
//	revoke-token   delete one of a tenant's tokens
//	migrate        bring a table's stored shapes to the version this code writes
//	rotate-cursor-key  make a new key seal pagination cursors (the old one opens them for 31 days more)
//	hash-token     print the SHA-256 under which the table stores a token
//	help           print the commands and their flags
//
// Every command that touches the table takes -table (default $TABLE_NAME) and
// -endpoint (default $DYNAMODB_ENDPOINT). A non-empty endpoint means DynamoDB
// Local; an empty one means AWS, with the SDK's default credential chain and
// region (AWS_PROFILE, AWS_REGION, ...).
//
// Locally, with DynamoDB Local listening on port 8000:
//
//	export DYNAMODB_ENDPOINT=http://127.0.0.1:8000 TABLE_NAME=fleetgroups
//	go run ./cmd/fleetgroups-admin create-table
//	go run ./cmd/fleetgroups-admin create-tenant -name "Acme Logistics"
//
// In AWS, against the deployed stack (its outputs name the table and the usage
// plan):
//
//	export AWS_PROFILE=prod AWS_REGION=eu-west-1
//	go run ./cmd/fleetgroups-admin create-tenant -endpoint= -table "$TABLE_NAME" \
//	    -usage-plan "$USAGE_PLAN_ID" -name "Acme Logistics" -json
//
// With -usage-plan the tenant's API key is created in API Gateway and attached
// to the plan before the tenant is written, because the authorizer hands the
// key to the usage plan on every request: a tenant without it gets 403. If any
// step fails the key is deleted again, so a failed run leaves nothing behind.
//
// A tenant may hold several tokens, e.g. one per system of the partner, so
// that one can be replaced without stopping the others. A token's id is the
// first 12 hex characters of its SHA-256; list-tokens shows ids and labels,
// and revoke-token takes an id (or its first 8 or more characters):
//
//	go run ./cmd/fleetgroups-admin create-token -tenant tn_abc -label "billing system"
//	go run ./cmd/fleetgroups-admin list-tokens -tenant tn_abc
//	go run ./cmd/fleetgroups-admin revoke-token -tenant tn_abc -token-id 3f2a9c01d4e5
//
// API Gateway caches the authorizer's answer per token for 5 minutes, so a
// revoked token may keep working that long for a client that just used it.
//
// Every token is printed once. The table keeps only its SHA-256, which
// hash-token computes for support work (finding a token's item):
//
//	go run ./cmd/fleetgroups-admin hash-token fg_tn_abc.secret
//	printf %s "$TOKEN" | go run ./cmd/fleetgroups-admin hash-token -
//
// A deployed table keeps the key formats it was written with. After deploying
// code that changes them, migrate the table; it applies the numbered
// migrations after the table's schema version (an item #SYSTEM / SCHEMA),
// saves its position after every page so that an interrupted run resumes,
// and reports what it cannot decide alone, such as two group names that now
// fold to one, leaving them as they are and the version unchanged:
//
//	go run ./cmd/fleetgroups-admin migrate -endpoint= -table "$TABLE_NAME"
//
// Exit status: 0 on success, 2 on a usage error (nothing was done), 1 when a
// command failed.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// Cancel on Ctrl-C rather than die, so that create-tenant can still
	// delete an API key it created (its cleanup outlives the cancellation).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], &env{
		stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr,
		getenv: os.Getenv, connect: connect,
	})
	stop()
	os.Exit(code)
}
