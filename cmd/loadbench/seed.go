package main

import (
	"context"
	"fmt"

	"golang.org/x/sync/errgroup"

	"github.com/fleetgroups/fleetgroups/pkg/auth"
	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/store"
)

// dataSize is the data set's shape: tenants share groups round-robin; the
// first big groups have bigSize members each, the others share what is
// left of members.
type dataSize struct {
	tenants, groups, members, big, bigSize, registered int
}

func (d dataSize) validate() error {
	switch {
	case d.tenants < 1 || d.groups < d.tenants:
		return fmt.Errorf("need at least one tenant and a group per tenant (-tenants %d, -groups %d)", d.tenants, d.groups)
	case d.big > d.groups-d.tenants:
		return fmt.Errorf("-big %d leaves fewer small groups than tenants (-groups %d)", d.big, d.groups)
	case d.members < d.big*d.bigSize:
		return fmt.Errorf("-members %d cannot hold -big %d groups of -big-size %d", d.members, d.big, d.bigSize)
	case d.registered < 1:
		return fmt.Errorf("-registered must be at least 1")
	}
	return nil
}

// size is the number of members of group i.
func (d dataSize) size(i int) int {
	if i < d.big {
		return d.bigSize
	}
	small := d.groups - d.big
	rest := d.members - d.big*d.bigSize
	n := rest / small
	if i-d.big < rest%small {
		n++
	}
	return n
}

// pool is the number of distinct items per tenant that memberships draw
// on: enough for the largest group, and few enough that an item is in
// several groups, so that list-item-groups has groups to list.
func (d dataSize) pool() int {
	largest := d.size(d.big) // the first small group is the largest small one
	if d.big > 0 {
		largest = max(largest, d.bigSize)
	}
	return max(largest, d.registered, d.members/d.tenants/3)
}

// item is a tenant's k-th item: three vehicles to one user.
func item(k int) groups.Item {
	if k%4 == 3 {
		return groups.Item{Type: groups.Users, ID: fmt.Sprintf("usr-%06d", k)}
	}
	return groups.Item{Type: groups.Vehicles, ID: fmt.Sprintf("veh-%06d", k)}
}

// tenantData is what the load knows of one seeded tenant.
type tenantData struct {
	id, token string
	groups    []string // ids
	pool      int      // items item(0) … item(pool-1) are members of its groups
	// registered items are item(0) … item(registered-1).
	registered int
}

// seed writes the data set: tenants with a token each, groups, their
// members (in bulk, store.LoadMembers) and registered items.
func seed(ctx context.Context, st *store.Store, d dataSize) ([]*tenantData, error) {
	tenants := make([]*tenantData, d.tenants)
	for i := range tenants {
		t, token := auth.NewCredentials("", fmt.Sprintf("Load tenant %d", i))
		if err := st.PutTenant(ctx, t, auth.HashToken(token)); err != nil {
			return nil, err
		}
		tenants[i] = &tenantData{id: t.ID, token: token, pool: d.pool(), registered: d.registered}
	}
	ids := make([]string, d.groups)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i := range ids {
		g.Go(func() error {
			grp, err := st.CreateGroup(gctx, tenants[i%d.tenants].id, groups.NewGroup{Name: fmt.Sprintf("Fleet %05d", i)})
			ids[i] = grp.ID
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("create groups: %w", err)
	}
	g, gctx = errgroup.WithContext(ctx)
	g.SetLimit(4) // each load runs 4 BatchWriteItem calls at once
	for i, id := range ids {
		t := tenants[i%d.tenants]
		t.groups = append(t.groups, id)
		members := make([]groups.Item, d.size(i))
		start := i * 7919 // a prime, so groups start at spread-out items
		for k := range members {
			members[k] = item((start + k) % t.pool)
		}
		g.Go(func() error { return st.LoadMembers(gctx, t.id, id, members) })
	}
	for _, t := range tenants {
		for k := range t.registered {
			g.Go(func() error {
				_, _, err := st.PutRegisteredItem(gctx, t.id, groups.RegisteredItem{
					Item: item(k), Name: fmt.Sprintf("Unit %06d", k), Enterprise: "Load Logistics",
					Attributes: map[string]string{"depot": fmt.Sprint("D", k%17)},
				})
				return err
			})
		}
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("load members and items: %w", err)
	}
	return tenants, nil
}
