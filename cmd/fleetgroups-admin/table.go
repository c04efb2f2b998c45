package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/fleetgroups/fleetgroups/pkg/store"
)

func setupCreateTable(fs *flag.FlagSet, e *env) func(context.Context, []string) error {
	var t target
	t.register(fs, e)
	forceAWS := fs.Bool("force-aws", false,
		"create the table in AWS although -endpoint is empty (deployed tables come from the CDK stack)")
	return func(ctx context.Context, args []string) error {
		if err := noArgs(args); err != nil {
			return err
		}
		if err := t.check(); err != nil {
			return err
		}
		// A table created here would lack what the stack gives the real one
		// (deletion protection, backups, the Lambdas' grants), and the name
		// may well be the stack's: refuse unless that is really intended.
		if !t.local() && !*forceAWS {
			return usagef("refusing to create table %s in AWS: deployed tables come from the CDK stack (make deploy). "+
				"Set -endpoint to DynamoDB Local, or add -force-aws if you really mean AWS", t.table)
		}
		return createTable(ctx, e, t)
	}
}

func createTable(ctx context.Context, e *env, t target) error {
	st, _, err := e.connect(ctx, t.endpoint, t.table)
	if err != nil {
		return err
	}
	if err := st.CreateTable(ctx); err != nil {
		var inUse *types.ResourceInUseException
		if errors.As(err, &inUse) {
			return fmt.Errorf("%s already exists", t.where())
		}
		return err
	}
	// The list endpoints cannot page without the cursor key; making it now
	// means a fresh table works before any tenant exists.
	if err := st.EnsureCursorKey(ctx); err != nil {
		return fmt.Errorf("create the cursor key in %s: %w", t.where(), err)
	}
	// A new table holds no older shapes: migrate has nothing to do on it.
	if err := st.MarkSchemaCurrent(ctx); err != nil {
		return fmt.Errorf("record the schema version in %s: %w", t.where(), err)
	}
	fmt.Fprintf(e.stdout, "Created %s (TTL on, cursor key in place, schema version %d).\n", t.where(), store.SchemaVersion())
	return nil
}
