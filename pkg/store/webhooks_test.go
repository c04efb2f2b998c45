package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/store"
	"github.com/fleetgroups/fleetgroups/pkg/storetest"
)

// TestDeliveryRecords: a delivery record keeps its latest attempts only,
// stays pending while its automatic attempts fail for less than the
// give-up time, fails for good (and says since when) at it, and is
// delivered by a later success, manual or not; a failed manual attempt
// leaves pending retries due.
func TestDeliveryRecords(t *testing.T) {
	st, _ := storetest.NewStore(t)
	ctx := context.Background()
	start := time.Now().UTC().Truncate(time.Millisecond)
	ev := groups.Event{ID: "evt_1", Type: groups.MemberAdded, Time: start}
	record := func(at time.Duration, ok, manual bool) (groups.Delivery, time.Time) {
		t.Helper()
		a := groups.Attempt{Time: start.Add(at), Manual: manual, StatusCode: 500}
		if ok {
			a.StatusCode = 200
		}
		o := store.DeliveryOutcome{Attempt: a, Delivered: ok}
		if !manual {
			o.NextAttempt, o.GiveUpAfter = a.Time.Add(time.Minute), 24*time.Hour
		}
		d, since, err := st.RecordAttempt(ctx, "acme", "wh_1", ev, []byte(`{}`), o)
		if err != nil {
			t.Fatal(err)
		}
		return d, since
	}
	for i := range store.MaxAttemptsKept + 5 {
		d, since := record(time.Duration(i)*time.Minute, false, false)
		if d.Status != groups.DeliveryPending || !since.IsZero() || len(d.Attempts) != min(i+1, store.MaxAttemptsKept) {
			t.Fatalf("attempt %d: %+v, gave up since %v", i+1, d, since)
		}
	}
	d, _ := record(30*time.Minute, false, true)
	if d.Status != groups.DeliveryPending || d.Attempts[len(d.Attempts)-1].Time != start.Add(30*time.Minute) {
		t.Fatalf("a failed manual attempt: %+v", d)
	}
	if d, since := record(24*time.Hour, false, false); d.Status != groups.DeliveryFailed || !since.Equal(start) || !d.NextAttempt.IsZero() {
		t.Fatalf("after a day: %+v, since %v", d, since)
	}
	if d, _ := record(25*time.Hour, true, true); d.Status != groups.DeliveryDelivered {
		t.Fatalf("a manual success: %+v", d)
	}
	if recorded, done, err := st.DeliveryState(ctx, "acme", "wh_1", ev); err != nil || !recorded || !done {
		t.Fatalf("DeliveryState = %v, %v, %v", recorded, done, err)
	}
}

// TestRotatedSecretSignsForADay: after a rotation the new secret and the
// one it replaced both sign, the old one until a day later; a second
// rotation keeps only the secret current until then.
func TestRotatedSecretSignsForADay(t *testing.T) {
	st, _ := storetest.NewStore(t)
	ctx := context.Background()
	w, err := st.CreateWebhook(ctx, "acme", groups.NewWebhook{URL: "https://partner.example.com/hooks"}, "whsec_a")
	if err != nil {
		t.Fatal(err)
	}
	if w, err = st.RotateWebhookSecret(ctx, "acme", w.ID, "whsec_b"); err != nil {
		t.Fatal(err)
	}
	now := st.Now()
	for _, c := range []struct {
		at   time.Time
		want []string
	}{{now, []string{"whsec_b", "whsec_a"}}, {now.Add(23 * time.Hour), []string{"whsec_b", "whsec_a"}}, {now.Add(25 * time.Hour), []string{"whsec_b"}}} {
		if got := w.SigningSecrets(c.at); !slices.Equal(got, c.want) {
			t.Errorf("at %v: %v, want %v", c.at.Sub(now), got, c.want)
		}
	}
	if w, err = st.RotateWebhookSecret(ctx, "acme", w.ID, "whsec_c"); err != nil {
		t.Fatal(err)
	}
	if got := w.SigningSecrets(now); !slices.Equal(got, []string{"whsec_c", "whsec_b"}) || w.Version != 3 {
		t.Fatalf("after a second rotation: %v (version %d)", got, w.Version)
	}
}
