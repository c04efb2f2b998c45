package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/fleetgroups/fleetgroups/pkg/store"
)

func setupMigrate(fs *flag.FlagSet, e *env) func(context.Context, []string) error {
	var t target
	t.register(fs, e)
	pageSize := fs.Int("page-size", 100, "items per Scan `N`: the position is saved after each page, so an interrupted run repeats at most one")
	return func(ctx context.Context, args []string) error {
		if err := noArgs(args); err != nil {
			return err
		}
		if err := t.check(); err != nil {
			return err
		}
		if *pageSize < 1 || *pageSize > 1000 {
			return usagef("-page-size must be 1–1000")
		}
		st, _, err := e.connect(ctx, t.endpoint, t.table)
		if err != nil {
			return err
		}
		return migrate(ctx, e, t, st, *pageSize)
	}
}

// migrate brings the table to store.SchemaVersion, printing each step's
// progress after every page and what it left to resolve.
func migrate(ctx context.Context, e *env, t target, st *store.Store, pageSize int) error {
	from, err := st.TableSchemaVersion(ctx)
	if err != nil {
		return fmt.Errorf("read the schema version of %s: %w", t.where(), err)
	}
	fmt.Fprintf(e.stdout, "%s is at schema version %d; this code writes version %d.\n", capitalize(t.where()), from, store.SchemaVersion())
	if from >= store.SchemaVersion() {
		fmt.Fprintln(e.stdout, "Nothing to migrate.")
		return nil
	}
	reports, err := st.Migrate(ctx, store.MigrateOptions{PageSize: pageSize, Progress: func(r store.StepReport) {
		fmt.Fprintf(e.stdout, "  migration %d (%s): %d items read, %d rewritten, %d conflicts\n",
			r.Version, r.Name, r.Scanned, r.Rewritten, len(r.Conflicts))
	}})
	for _, r := range reports {
		state := "done"
		switch {
		case !r.Done && len(r.Conflicts) > 0:
			state = "stopped on conflicts"
		case !r.Done:
			state = "interrupted"
		}
		resumed := ""
		if r.Resumed {
			resumed = ", resumed where the last run stopped"
		}
		fmt.Fprintf(e.stdout, "Migration %d (%s) %s%s: %d items read, %d rewritten.\n", r.Version, r.Name, state, resumed, r.Scanned, r.Rewritten)
		for _, c := range r.Conflicts {
			fmt.Fprintf(e.stdout, "  conflict: %s\n", c)
		}
	}
	switch {
	case errors.Is(err, store.ErrMigrationConflicts):
		last := reports[len(reports)-1]
		return fmt.Errorf("migration %d (%s) left items as they were (%d, listed above), so %s stays at schema version %d: "+
			"resolve them and run migrate again", last.Version, last.Name, len(last.Conflicts), t.where(), last.Version-1)
	case err != nil:
		return fmt.Errorf("%s: %w (run migrate again: it resumes where it stopped)", t.where(), err)
	}
	fmt.Fprintf(e.stdout, "%s is at schema version %d.\n", capitalize(t.where()), store.SchemaVersion())
	return nil
}
