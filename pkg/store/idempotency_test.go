package store_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/fleetgroups/fleetgroups/pkg/store"
	"github.com/fleetgroups/fleetgroups/pkg/storetest"
)

const lease, ttl = time.Minute, 24 * time.Hour

func mustClaim(t *testing.T, st *store.Store, tenant, key, fp string) store.IdempotencyRecord {
	t.Helper()
	rec, claimed, err := st.ClaimIdempotencyKey(context.Background(), tenant, key, fp, lease)
	if err != nil || !claimed || rec.Claim == "" {
		t.Fatalf("claim %s/%s = %+v, claimed %v, %v; want a fresh claim", tenant, key, rec, claimed, err)
	}
	return rec
}

// later is st with its clock moved on by d, as a request arriving later sees it.
func later(st *store.Store, d time.Duration) *store.Store {
	moved := *st
	moved.Now = func() time.Time { return st.Now().Add(d) }
	return &moved
}

// frozen is st with its clock stopped at the current time: a test that moves
// time with later then sees only the moves it makes, however slowly the
// machine runs between its steps.
func frozen(st *store.Store) *store.Store {
	now := st.Now()
	stopped := *st
	stopped.Now = func() time.Time { return now }
	return &stopped
}

func TestIdempotencyKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := storetest.NewStore(t)
	resp := store.StoredResponse{Status: 201, Header: map[string]string{"ETag": `"v1"`}, Body: []byte(`{"id":"grp_1"}`)}

	cases := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"held-while-in-progress", func(t *testing.T) {
			mustClaim(t, st, tenantA, "k-held", "fp1")
			rec, claimed, err := st.ClaimIdempotencyKey(ctx, tenantA, "k-held", "fp1", lease)
			if err != nil || claimed || rec.Done || rec.Fingerprint != "fp1" {
				t.Fatalf("second claim = %+v, claimed %v, %v; want the first claim, in progress", rec, claimed, err)
			}
		}},
		{"held-with-other-fingerprint", func(t *testing.T) {
			mustClaim(t, st, tenantA, "k-other-fp", "fp1")
			rec, claimed, err := st.ClaimIdempotencyKey(ctx, tenantA, "k-other-fp", "fp2", lease)
			if err != nil || claimed || rec.Fingerprint != "fp1" {
				t.Fatalf("claim with another fingerprint = %+v, claimed %v, %v; want the first fingerprint", rec, claimed, err)
			}
		}},
		{"done-returns-the-response", func(t *testing.T) {
			c := mustClaim(t, st, tenantA, "k-done", "fp1")
			if err := st.CompleteIdempotencyKey(ctx, tenantA, "k-done", c, resp, ttl); err != nil {
				t.Fatalf("complete: %v", err)
			}
			rec, claimed, err := st.ClaimIdempotencyKey(ctx, tenantA, "k-done", "fp1", lease)
			if err != nil || claimed || !rec.Done || rec.Response.Status != 201 ||
				string(rec.Response.Body) != string(resp.Body) || rec.Response.Header["ETag"] != `"v1"` {
				t.Fatalf("claim after completion = %+v, claimed %v, %v; want the stored response", rec, claimed, err)
			}
		}},
		{"done-without-body", func(t *testing.T) {
			c := mustClaim(t, st, tenantA, "k-204", "fp1")
			if err := st.CompleteIdempotencyKey(ctx, tenantA, "k-204", c, store.StoredResponse{Status: 204}, ttl); err != nil {
				t.Fatalf("complete: %v", err)
			}
			rec, _, err := st.ClaimIdempotencyKey(ctx, tenantA, "k-204", "fp1", lease)
			if err != nil || !rec.Done || rec.Response.Status != 204 || len(rec.Response.Body) != 0 {
				t.Fatalf("record = %+v, %v", rec, err)
			}
		}},
		{"released-is-free", func(t *testing.T) {
			c := mustClaim(t, st, tenantA, "k-released", "fp1")
			if err := st.ReleaseIdempotencyKey(ctx, tenantA, "k-released", c); err != nil {
				t.Fatalf("release: %v", err)
			}
			mustClaim(t, st, tenantA, "k-released", "fp2")
		}},
		{"other-tenant-independent", func(t *testing.T) {
			mustClaim(t, st, tenantA, "k-shared", "fp1")
			mustClaim(t, st, tenantB, "k-shared", "fp1")
		}},
		{"key-with-hash-stays-in-tenant", func(t *testing.T) {
			mustClaim(t, st, tenantA, "x#IDEM#y", "fp1")
			mustClaim(t, st, tenantB, "x#IDEM#y", "fp1")
		}},
		{"stale-claim-taken-over-after-lease", func(t *testing.T) {
			st := frozen(st)
			stale := mustClaim(t, st, tenantA, "k-stale", "fp1")
			if _, claimed, _ := later(st, lease-time.Second).ClaimIdempotencyKey(ctx, tenantA, "k-stale", "fp1", lease); claimed {
				t.Fatal("claim taken over before its lease ran out")
			}
			mustClaim(t, later(st, lease), tenantA, "k-stale", "fp1")
			if err := st.CompleteIdempotencyKey(ctx, tenantA, "k-stale", stale, resp, ttl); !errors.Is(err, store.ErrClaimLost) {
				t.Fatalf("complete by the stale claim = %v, want ErrClaimLost", err)
			}
			if err := st.ReleaseIdempotencyKey(ctx, tenantA, "k-stale", stale); !errors.Is(err, store.ErrClaimLost) {
				t.Fatalf("release by the stale claim = %v, want ErrClaimLost", err)
			}
		}},
		{"done-expires-after-ttl", func(t *testing.T) {
			st := frozen(st)
			c := mustClaim(t, st, tenantA, "k-ttl", "fp1")
			if err := st.CompleteIdempotencyKey(ctx, tenantA, "k-ttl", c, resp, ttl); err != nil {
				t.Fatalf("complete: %v", err)
			}
			if rec, claimed, _ := later(st, ttl-time.Minute).ClaimIdempotencyKey(ctx, tenantA, "k-ttl", "fp2", lease); claimed || !rec.Done {
				t.Fatal("response forgotten before its TTL")
			}
			mustClaim(t, later(st, ttl+time.Second), tenantA, "k-ttl", "fp2")
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t)
		})
	}
}

func TestIdempotencyClaimRaceExactlyOneWins(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := storetest.NewStore(t)
	const racers = 8
	claimed, errs := make([]bool, racers), make([]error, racers)
	storetest.Race(racers, func(i int) {
		_, claimed[i], errs[i] = st.ClaimIdempotencyKey(ctx, tenantA, "k-race", "fp", lease)
	})
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("claims failed: %v", err)
	}
	if n := len(slices.DeleteFunc(claimed, func(c bool) bool { return !c })); n != 1 {
		t.Fatalf("%d claims won, want exactly 1", n)
	}
}
