package store

import (
	"testing"
	"time"
)

// TestCountsSweepOncePerTenantAndDay: a process's first count of a tenant
// on a UTC day removes the window's days before it, and its later counts
// of the tenant that day send the short write, unless the sweep failed.
func TestCountsSweepOncePerTenantAndDay(t *testing.T) {
	day1 := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	day2 := day1.AddDate(0, 0, 1)
	m := &meterState{}
	steps := []struct {
		name        string
		tenant      string
		day         time.Time
		fails       bool
		wantRemoved int
	}{
		{"first-count-of-the-day-sweeps", "acme", day1, false, usageWindowDays},
		{"later-counts-remove-nothing", "acme", day1, false, 0},
		{"each-tenant-sweeps-once", "globex", day1, false, usageWindowDays},
		{"a-failed-sweep", "initech", day1, true, usageWindowDays},
		{"is-made-again", "initech", day1, false, usageWindowDays},
		{"and-then-not", "initech", day1, false, 0},
		{"a-failed-short-write-stays-short", "acme", day1, true, 0},
		{"the-next-day-sweeps-again", "acme", day2, false, usageWindowDays},
		{"for-every-tenant", "globex", day2, false, usageWindowDays},
		{"once", "globex", day2, false, 0},
	}
	for _, s := range steps {
		sweep, stale := m.take(s.tenant, s.day)
		u, err := m.update(s.day, sweep, stale)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		// The names are calls, lastDay, today's attribute and those removed.
		if removed := len(u.names) - 3; removed != s.wantRemoved {
			t.Errorf("%s: the count removes %d attributes, want %d (%s)", s.name, removed, s.wantRemoved, *u.expr)
		}
		if s.fails {
			m.putBack(s.tenant, s.day, sweep, stale)
		}
	}
}
