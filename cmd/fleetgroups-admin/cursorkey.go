package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/fleetgroups/fleetgroups/pkg/store"
)

// rotate-cursor-key makes a new key seal pagination cursors. Cursors in
// circulation keep working: the replaced key still opens them for
// store.CursorKeyRetention (the change feed's 30 days and a day more),
// and functions started before the rotation read the new key when they
// first meet a cursor it sealed. Keys retired longer ago are dropped.
func setupRotateCursorKey(fs *flag.FlagSet, e *env) func(context.Context, []string) error {
	var t target
	t.register(fs, e)
	return func(ctx context.Context, args []string) error {
		if err := noArgs(args); err != nil {
			return err
		}
		if err := t.check(); err != nil {
			return err
		}
		st, _, err := e.connect(ctx, t.endpoint, t.table)
		if err != nil {
			return err
		}
		ks, err := st.RotateCursorKey(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "Cursor key %d of %s now seals cursors.\n", ks.Current.ID, t.where())
		for _, k := range ks.Retired {
			fmt.Fprintf(e.stdout, "  key %d, retired %s, opens cursors until %s\n", k.ID,
				k.RetiredAt.UTC().Format("2006-01-02 15:04 MST"), k.RetiredAt.Add(store.CursorKeyRetention).UTC().Format("2006-01-02 15:04 MST"))
		}
		return nil
	}
}
