package store_test

import (
	"context"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/store"
	"github.com/fleetgroups/fleetgroups/pkg/storetest"
)

// clock is a settable store clock.
type clock struct{ t atomic.Pointer[time.Time] }

func (c *clock) set(t time.Time) { c.t.Store(&t) }
func (c *clock) now() time.Time  { return *c.t.Load() }

func day(s string) time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return d
}

func TestCountCallRollsOverAtUTCMidnight(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := storetest.NewStore(t)
	var c clock
	st.Now = c.now
	berlin := time.FixedZone("CET", 3600)
	steps := []struct {
		name     string
		at       time.Time
		total    int64
		day      string
		dayCount int64
	}{
		{"first-call-creates-both", time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC), 1, "2026-11-24", 1},
		{"same-day", time.Date(2026, 11, 24, 23, 59, 59, 999e6, time.UTC), 2, "2026-11-24", 2},
		{"midnight-starts-a-new-day", time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC), 3, "2026-11-25", 1},
		// 00:30 in Berlin is still the 25th in UTC.
		{"utc-day-not-local-day", time.Date(2026, 11, 26, 0, 30, 0, 0, berlin), 4, "2026-11-25", 2},
		{"next-utc-day", time.Date(2026, 11, 26, 1, 30, 0, 0, berlin), 5, "2026-11-26", 1},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			c.set(s.at)
			got, err := st.CountCall(ctx, tenantA)
			want := groups.Usage{Total: s.total, Day: day(s.day), DayCount: s.dayCount}
			if err != nil || got != want {
				t.Fatalf("CountCall = %+v, %v; want %+v", got, err, want)
			}
			// Reading counts nothing and sees what was counted.
			if read, err := st.Usage(ctx, tenantA); err != nil || read != want {
				t.Fatalf("Usage = %+v, %v; want %+v", read, err, want)
			}
		})
	}
	t.Run("other-tenant-untouched", func(t *testing.T) {
		got, err := st.Usage(ctx, tenantB)
		if want := (groups.Usage{Day: day("2026-11-26")}); err != nil || got != want {
			t.Fatalf("Usage(B) = %+v, %v; want %+v", got, err, want)
		}
	})
}

func TestCountCallIsExactUnderConcurrency(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := storetest.NewStore(t)
	const n = 20
	totals := make([]int64, n)
	days := make([]int64, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u, err := st.CountCall(ctx, tenantA)
			if err != nil {
				t.Errorf("CountCall: %v", err)
			}
			totals[i], days[i] = u.Total, u.DayCount
		}()
	}
	wg.Wait()
	// Every call saw a count of its own: 1..n, each once.
	slices.Sort(totals)
	slices.Sort(days)
	for i := range n {
		if totals[i] != int64(i+1) || days[i] != int64(i+1) {
			t.Fatalf("counts seen: totals %v, days %v; want 1..%d each", totals, days, n)
		}
	}
}

// TestCountersStayWithinTheMeteringGrant ties the IAM grant to what CountCall
// writes: DynamoDB Local does not enforce IAM, so this is where a counter
// that wrote another attribute, or lived outside a tenant partition, would
// be caught before AWS denied it.
func TestCountersStayWithinTheMeteringGrant(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := storetest.NewStore(t)
	var c clock
	c.set(time.Date(2026, 11, 24, 15, 0, 0, 0, time.UTC))
	st.Now = c.now
	if _, err := st.CountCall(ctx, tenantA); err != nil {
		t.Fatal(err)
	}
	items, err := store.UsageItems(ctx, st, tenantA, day("2026-11-24"))
	if err != nil || len(items) != 2 {
		t.Fatalf("usage items = %v, %v; want the total and the day", items, err)
	}
	for _, it := range items {
		for name := range it {
			if !slices.Contains(store.MeterAttributes(), name) {
				t.Errorf("counter writes %s, which the metering grant does not allow", name)
			}
		}
		pk := it[store.AttrPK].(*types.AttributeValueMemberS).Value
		if !iamLike(store.MeterLeadingKeys, pk) || iamLike(store.MeterExcludedLeadingKeys, pk) {
			t.Errorf("counter partition %s is outside the metering grant", pk)
		}
	}
	// The day's counter expires 400 days after the day began; the total never.
	wantExpiry := strconv.FormatInt(day("2026-11-24").Add(400*24*time.Hour).Unix(), 10)
	for _, it := range items {
		sk := it[store.AttrSK].(*types.AttributeValueMemberS).Value
		exp, has := it[store.AttrExpires].(*types.AttributeValueMemberN)
		switch {
		case sk == "USAGE" && has:
			t.Errorf("the total counter expires at %s", exp.Value)
		case sk != "USAGE" && (!has || exp.Value != wantExpiry):
			t.Errorf("day counter %s expires at %v, want %s", sk, exp, wantExpiry)
		}
	}

	// The grant admits the tenant partition and no other key format.
	cases := []struct {
		kind    string
		granted bool
	}{
		{"tenant", true},
		{"group", false},
		{"name guard", false},
		{"system", false},
	}
	keys := store.PartitionKeys(tenantA)
	for _, c := range cases {
		pk := keys[c.kind]
		got := iamLike(store.MeterLeadingKeys, pk) && !iamLike(store.MeterExcludedLeadingKeys, pk)
		if got != c.granted {
			t.Errorf("%s partition %s: granted %v, want %v", c.kind, pk, got, c.granted)
		}
	}
	if len(keys) != len(cases) {
		t.Errorf("key formats %v, want a case for each", keys)
	}
}

// iamLike is IAM's StringLike: '*' matches any run of characters, '?' one.
func iamLike(pattern, s string) bool {
	re := regexp.QuoteMeta(pattern)
	re = strings.ReplaceAll(re, `\*`, ".*")
	re = strings.ReplaceAll(re, `\?`, ".")
	return regexp.MustCompile("^" + re + "$").MatchString(s)
}
