package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fleetgroups/fleetgroups/pkg/store"
	"github.com/fleetgroups/fleetgroups/pkg/storetest"
)

// TestRotateCursorKey: each rotation makes a new key current and keeps
// the ones it replaced for store.CursorKeyRetention, no longer.
func TestRotateCursorKey(t *testing.T) {
	t.Parallel()
	st, _ := storetest.NewStore(t)
	ctx := context.Background()
	first, err := st.CursorKeys(ctx)
	if err != nil || first.Current.ID != 0 || len(first.Retired) != 0 {
		t.Fatalf("the first key: %+v, %v", first, err)
	}
	out := admin(t, local(st.Table()), connect, "rotate-cursor-key")
	if out.code != 0 || !strings.Contains(out.stdout, "Cursor key 1 ") || !strings.Contains(out.stdout, "key 0, retired") {
		t.Fatalf("rotate-cursor-key: exit %d: %s %s", out.code, out.stdout, out.stderr)
	}
	ks, err := st.CursorKeys(ctx)
	if err != nil || ks.Current.ID != 1 || len(ks.Retired) != 1 || string(ks.Retired[0].Secret) != string(first.Current.Secret) ||
		string(ks.Current.Secret) == string(first.Current.Secret) {
		t.Fatalf("after a rotation: %+v, %v", ks, err)
	}
	// A rotation beyond the retention drops the keys retired before it.
	later := *st
	later.Now = func() time.Time { return time.Now().Add(store.CursorKeyRetention + time.Hour) }
	ks, err = later.RotateCursorKey(ctx)
	if err != nil || ks.Current.ID != 2 || len(ks.Retired) != 1 || ks.Retired[0].ID != 1 {
		t.Fatalf("a rotation a month later: %+v, %v", ks, err)
	}
}
