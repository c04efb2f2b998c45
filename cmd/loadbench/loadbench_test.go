package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/fleetgroups/fleetgroups/pkg/ddblocal"
)

func TestMain(m *testing.M) { os.Exit(ddblocal.RunTests(m)) }

// TestRun: a tiny data set and a short run of both phases. Every operation
// of the mix is measured in each (each client calls every operation once
// before drawing), no call fails, and the direct phase makes the
// operations' own DynamoDB requests without the authorizer's and
// metering's. Counts, not rates, so that a slow machine passes too.
func TestRun(t *testing.T) {
	c := config{Duration: time.Second, Concurrency: 2, AuthCache: 5 * time.Minute,
		Tenants: 2, Groups: 8, Members: 120, Big: 1, BigSize: 60, Registered: 5, Seed: 1}
	var log bytes.Buffer
	res, err := run(context.Background(), c, &log)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, log.String())
	}
	for _, p := range []phase{res.HTTP, res.Direct} {
		if p.All.Errors != 0 {
			t.Errorf("%s: %d calls failed: %v", p.Name, p.All.Errors, p.errors)
		}
		if len(p.ByOp) != len(mix) {
			t.Fatalf("%s: %d operations reported, want %d", p.Name, len(p.ByOp), len(mix))
		}
		for i, s := range p.ByOp {
			if s.Operation != string(mix[i].name) || s.Calls == 0 || s.P50 <= 0 || s.Requests == nil {
				t.Errorf("%s: %+v, want calls of %s", p.Name, s, mix[i].name)
			}
		}
	}
	if res.HTTP.All.Requests["Metering"] == 0 || res.HTTP.All.Requests["Authorizer"] == 0 {
		t.Errorf("over HTTP: requests %v, want the authorizer's and metering's", res.HTTP.All.Requests)
	}
	if _, ok := res.Direct.All.Requests["Metering"]; ok {
		t.Errorf("direct: requests %v include metering", res.Direct.All.Requests)
	}
	var table bytes.Buffer
	printTable(&table, res.HTTP, res.Direct)
	for _, op := range mix {
		if !strings.Contains(table.String(), string(op.name)) {
			t.Errorf("the table has no row for %s:\n%s", op.name, table.String())
		}
	}
}

// TestDataSize: the data set has the memberships asked for, big groups
// first, and an item pool large enough for the largest group; sizes that
// cannot be seeded are refused.
func TestDataSize(t *testing.T) {
	d := dataSize{tenants: 4, groups: 1000, members: 100_000, big: 3, bigSize: 10_000, registered: 1000}
	if err := d.validate(); err != nil {
		t.Fatal(err)
	}
	total := 0
	for i := range d.groups {
		total += d.size(i)
	}
	if total != d.members || d.size(0) != d.bigSize || d.size(d.big) > d.bigSize || d.pool() < d.bigSize {
		t.Fatalf("members %d (want %d), sizes %d, %d, pool %d", total, d.members, d.size(0), d.size(d.big), d.pool())
	}
	for _, bad := range []dataSize{
		{tenants: 0, groups: 10, members: 10, registered: 1},
		{tenants: 2, groups: 4, members: 100, big: 3, bigSize: 10, registered: 1},
		{tenants: 1, groups: 4, members: 100, big: 2, bigSize: 60, registered: 1},
		{tenants: 1, groups: 4, members: 100, registered: 0},
	} {
		if bad.validate() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
