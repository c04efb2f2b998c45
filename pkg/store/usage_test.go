package store_test

import (
	"context"
	"maps"
	"regexp"
	"slices"
	"strings"
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

// attrNames are the names of an item's attributes, sorted.
func attrNames(item map[string]types.AttributeValue) []string {
	return slices.Sorted(maps.Keys(item))
}

// TestCountCallRollsOverAtUTCMidnight follows one tenant's counters through
// day changes and silences, with the one item as stored after each call and
// the requests each call made.
func TestCountCallRollsOverAtUTCMidnight(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	base, _ := storetest.NewStore(t)
	st, requests := storetest.Reopen(t, base)
	var c clock
	st.Now = c.now
	berlin := time.FixedZone("CET", 3600)
	steps := []struct {
		name     string
		at       time.Time
		total    int64
		day      string
		dayCount int64
		days     []string // the day attributes the item holds after the call
	}{
		{"first-call-creates-both", time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC), 1, "2026-11-24", 1, []string{"day_20261124"}},
		{"same-day", time.Date(2026, 11, 24, 23, 59, 59, 999e6, time.UTC), 2, "2026-11-24", 2, []string{"day_20261124"}},
		{"midnight-starts-a-new-day-and-drops-the-last", time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC), 3, "2026-11-25", 1, []string{"day_20261125"}},
		// 00:30 in Berlin is still the 25th in UTC.
		{"utc-day-not-local-day", time.Date(2026, 11, 26, 0, 30, 0, 0, berlin), 4, "2026-11-25", 2, []string{"day_20261125"}},
		{"next-utc-day", time.Date(2026, 11, 26, 1, 30, 0, 0, berlin), 5, "2026-11-26", 1, []string{"day_20261126"}},
		// The write's window reaches back 31 days.
		{"silent-31-days-window-removes-the-last", time.Date(2026, 12, 27, 12, 0, 0, 0, time.UTC), 6, "2026-12-27", 1, []string{"day_20261227"}},
		// Beyond the window the write learns of the last day from lastDay ...
		{"silent-40-days-last-day-left", time.Date(2027, 2, 5, 12, 0, 0, 0, time.UTC), 7, "2027-02-05", 1, []string{"day_20261227", "day_20270205"}},
		// ... and the next count removes it.
		{"next-count-removes-it", time.Date(2027, 2, 5, 12, 0, 1, 0, time.UTC), 8, "2027-02-05", 2, []string{"day_20270205"}},
		{"silent-a-year-next-day", time.Date(2028, 2, 6, 0, 0, 0, 0, time.UTC), 9, "2028-02-06", 1, []string{"day_20270205", "day_20280206"}},
		{"removed-on-a-new-day-too", time.Date(2028, 2, 7, 0, 0, 0, 0, time.UTC), 10, "2028-02-07", 1, []string{"day_20280207"}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			c.set(s.at)
			got, err := st.CountCall(ctx, tenantA)
			want := groups.Usage{Total: s.total, Day: day(s.day), DayCount: s.dayCount}
			if err != nil || got != want {
				t.Fatalf("CountCall = %+v, %v; want %+v", got, err, want)
			}
			if n := requests.Take(); !maps.Equal(n, map[string]int{"UpdateItem": 1}) {
				t.Errorf("CountCall made %v, want one UpdateItem", n)
			}
			// Reading counts nothing and sees what was counted.
			if read, err := st.Usage(ctx, tenantA); err != nil || read != want {
				t.Fatalf("Usage = %+v, %v; want %+v", read, err, want)
			}
			if n := requests.Take(); !maps.Equal(n, map[string]int{"GetItem": 1}) {
				t.Errorf("Usage made %v, want one GetItem", n)
			}
			item, err := store.UsageItem(ctx, base, tenantA) // uncounted
			if err != nil {
				t.Fatal(err)
			}
			wantAttrs := slices.Sorted(slices.Values(append([]string{"PK", "SK", "calls", "lastDay"}, s.days...)))
			if got := attrNames(item); !slices.Equal(got, wantAttrs) {
				t.Errorf("usage item holds %v, want %v", got, wantAttrs)
			}
		})
	}
	t.Run("other-tenant-untouched", func(t *testing.T) {
		got, err := st.Usage(ctx, tenantB)
		if want := (groups.Usage{Day: day("2028-02-07")}); err != nil || got != want {
			t.Fatalf("Usage(B) = %+v, %v; want %+v", got, err, want)
		}
	})
}

func TestCountCallIsExactUnderConcurrency(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	base, _ := storetest.NewStore(t)
	st, requests := storetest.Reopen(t, base)
	const n = 50
	totals := make([]int64, n)
	days := make([]int64, n)
	storetest.Race(n, func(i int) {
		u, err := st.CountCall(ctx, tenantA)
		if err != nil {
			t.Errorf("CountCall: %v", err)
		}
		totals[i], days[i] = u.Total, u.DayCount
	})
	// Every call saw a count of its own: 1..n, each once, with one write.
	slices.Sort(totals)
	slices.Sort(days)
	for i := range n {
		if totals[i] != int64(i+1) || days[i] != int64(i+1) {
			t.Fatalf("counts seen: totals %v, days %v; want 1..%d each", totals, days, n)
		}
	}
	if got := requests.Take(); !maps.Equal(got, map[string]int{"UpdateItem": n}) {
		t.Fatalf("%d calls made %v, want %d UpdateItem", n, got, n)
	}
}

// TestCountCallCarriesOverTheOldTotal: the total stays where the code with
// one item per day kept it, so an upgraded table needs no migration; the
// old day item is left to its TTL, and the day counts from the upgrade.
func TestCountCallCarriesOverTheOldTotal(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, _ := storetest.NewStore(t)
	var c clock
	c.set(time.Date(2026, 11, 24, 15, 0, 0, 0, time.UTC))
	st.Now = c.now
	if err := store.PutOldUsage(ctx, st, tenantA, 41, day("2026-11-24"), 7); err != nil {
		t.Fatal(err)
	}
	want := groups.Usage{Total: 42, Day: day("2026-11-24"), DayCount: 1}
	if got, err := st.CountCall(ctx, tenantA); err != nil || got != want {
		t.Fatalf("CountCall = %+v, %v; want %+v", got, err, want)
	}
	if got, err := st.Usage(ctx, tenantA); err != nil || got != want {
		t.Fatalf("Usage = %+v, %v; want %+v", got, err, want)
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
	st.Now = c.now
	// Two days apart, so that the write also removes a day.
	for _, at := range []time.Time{time.Date(2026, 11, 24, 15, 0, 0, 0, time.UTC), time.Date(2026, 11, 25, 15, 0, 0, 0, time.UTC)} {
		c.set(at)
		if _, err := st.CountCall(ctx, tenantA); err != nil {
			t.Fatal(err)
		}
	}
	item, err := store.UsageItem(ctx, st, tenantA)
	if err != nil || item == nil {
		t.Fatalf("usage item = %v, %v", item, err)
	}
	granted := func(name string) bool {
		return slices.ContainsFunc(store.MeterAttributes(), func(p string) bool { return iamLike(p, name) })
	}
	for name := range item {
		if !granted(name) {
			t.Errorf("counter writes %s, which the metering grant does not allow", name)
		}
	}
	// Each name the grant allows is one the counters use, the patterns
	// matching nothing else of the table.
	for _, name := range []string{"day_20261124", "calls", "lastDay", "PK", "SK"} {
		if !granted(name) {
			t.Errorf("the grant does not allow %s", name)
		}
	}
	for _, name := range []string{store.AttrExpires, "kind", "name", "apiKey", "tenantId", "groupCount", "today"} {
		if granted(name) {
			t.Errorf("the grant allows %s, which counting calls never writes", name)
		}
	}
	pk := item[store.AttrPK].(*types.AttributeValueMemberS).Value
	if !iamLike(store.MeterLeadingKeys, pk) || iamLike(store.MeterExcludedLeadingKeys, pk) {
		t.Errorf("counter partition %s is outside the metering grant", pk)
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
		{"move", false},
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
