package store

import (
	"cmp"
	"context"
	"maps"
	"slices"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
)

// Inherited membership. An item is an effective member of every group that
// holds it and of all their ancestors. Both questions about it (which groups
// is it in, and is it in these) are read-your-writes: the groups holding the
// item come from its edges (heldSK), written in every membership's own
// transaction and read with a strongly consistent Query of its partition;
// their ancestors from their own items' paths (GSI3SK), read with a strongly
// consistent BatchGetItem. No index sits on the path, so a check made right
// after a remove answers "not a member".
//
// Tables written before the edges (schema < 3) are read through GSI1 until
// fleetgroups-admin migrate has backfilled them (heldEdgesTrusted).

// heldEdgesTrusted reports whether every membership has its edge: the table
// is at schema 3 or later. It reads the schema item until that is so, then
// never again (a table's version only grows).
func (s *Store) heldEdgesTrusted(ctx context.Context) (bool, error) {
	if s.edges.Load() {
		return true, nil
	}
	v, err := s.TableSchemaVersion(ctx)
	if err != nil {
		return false, err
	}
	if v >= 3 {
		s.edges.Store(true)
	}
	return v >= 3, nil
}

// batchGetMax is DynamoDB's limit of keys per BatchGetItem.
const batchGetMax = 100

// holders returns the live groups that hold the item directly, by id, each
// read strongly consistently (its name and path).
func (s *Store) holders(ctx context.Context, tenant string, it groups.Item) (map[string]groupItem, error) {
	trusted, err := s.heldEdgesTrusted(ctx)
	if err != nil {
		return nil, err
	}
	kc := expression.Key(AttrPK).Equal(expression.Value(itemPK(tenant, it))).
		And(expression.Key(AttrSK).BeginsWith(gsiGroupRoot))
	index := ""
	if !trusted {
		kc = expression.Key(AttrGSI1PK).Equal(expression.Value(itemGSI1PK(tenant, it))).
			And(expression.Key(AttrGSI1SK).BeginsWith(gsiGroupRoot))
		index = IndexGSI1
	}
	var ids []string
	err = s.forEach(ctx, index, kc, func(raw map[string]types.AttributeValue) error {
		id, _ := stringAt(raw, attrGroupID)
		ids = append(ids, id)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.liveGroups(ctx, tenant, ids)
}

// liveGroups reads the groups ids (any number) with strongly consistent
// BatchGetItem calls, in parallel, leaving out those that are gone, being
// deleted, or outside a scoped caller's subtree.
func (s *Store) liveGroups(ctx context.Context, tenant string, ids []string) (map[string]groupItem, error) {
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	proj := expression.NamesList(expression.Name(AttrPK), expression.Name(AttrSK), expression.Name("id"),
		expression.Name(attrName), expression.Name(AttrGSI3SK), expression.Name(attrParentID),
		expression.Name(attrChildCount), expression.Name(attrDeletingAt), expression.Name(attrMoving))
	chunks := make([][]groupItem, (len(ids)+batchGetMax-1)/batchGetMax)
	var g errgroup.Group
	for c := range chunks {
		part := ids[c*batchGetMax : min((c+1)*batchGetMax, len(ids))]
		g.Go(func() error {
			keys := make([]map[string]types.AttributeValue, len(part))
			for i, id := range part {
				keys[i] = key(groupPK(tenant, id), skGroup)
			}
			return s.batchGet(ctx, keys, &proj, func(raw map[string]types.AttributeValue) error {
				var it groupItem
				if err := attributevalue.UnmarshalMap(raw, &it); err != nil {
					return err
				}
				if it.DeletingAt == "" && inScope(ctx, it) {
					chunks[c] = append(chunks[c], it)
				}
				return nil
			})
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	out := make(map[string]groupItem, len(ids))
	for _, chunk := range chunks {
		for _, it := range chunk {
			out[it.ID] = it
		}
	}
	return out, nil
}

// reach maps each group an item is an effective member of to the path from
// it down to a group holding the item: the shortest, and of those the one
// through the smallest group id, so that answers do not depend on read
// order.
func reach(holders map[string]groupItem) map[string][]string {
	out := map[string][]string{}
	for _, h := range holders {
		chain := append(h.ancestors(), h.ID)
		for i, g := range chain {
			path := chain[i:]
			if cur, ok := out[g]; !ok || len(path) < len(cur) ||
				len(path) == len(cur) && path[len(path)-1] < cur[len(cur)-1] {
				out[g] = path
			}
		}
	}
	return out
}

// EffectiveGroups lists every group the item is an effective member of, by
// id, with its name, whether it holds the item directly, and the path down
// to a group that does: 3 round trips (the item's edges, the groups holding
// it, their ancestors' names) for an item in up to 100 groups directly,
// whatever the tenant's size. pr pages through the list by group id.
func (s *Store) EffectiveGroups(ctx context.Context, tenant string, it groups.Item, pr PageRequest) (Page[groups.EffectiveGroup], error) {
	holders, err := s.holders(ctx, tenant, it)
	if err != nil {
		return Page[groups.EffectiveGroup]{}, err
	}
	paths := reach(holders)
	var missing []string
	for id := range paths {
		if _, ok := holders[id]; !ok {
			missing = append(missing, id)
		}
	}
	ancestors, err := s.liveGroups(ctx, tenant, missing)
	if err != nil {
		return Page[groups.EffectiveGroup]{}, err
	}
	all := make([]groups.EffectiveGroup, 0, len(paths))
	for id, path := range paths {
		g, ok := holders[id]
		if !ok {
			if g, ok = ancestors[id]; !ok {
				continue // deleted since the holder was read
			}
		}
		all = append(all, groups.EffectiveGroup{ID: id, Name: g.Name, Direct: len(path) == 1, Path: path})
	}
	slices.SortFunc(all, func(a, b groups.EffectiveGroup) int { return cmp.Compare(a.ID, b.ID) })
	if after, ok := pr.After[attrGroupID]; ok {
		i, found := slices.BinarySearchFunc(all, after, func(g groups.EffectiveGroup, id string) int { return cmp.Compare(g.ID, id) })
		if found {
			i++
		}
		all = all[i:]
	} else if pr.After != nil {
		return Page[groups.EffectiveGroup]{}, errBadPosition
	}
	page := Page[groups.EffectiveGroup]{Items: all}
	if len(all) > pr.Limit {
		page.Items = all[:pr.Limit]
		page.Next = map[string]string{attrGroupID: all[pr.Limit-1].ID}
	}
	return page, nil
}

// CheckMembership answers, for each of groupIDs in order, whether the item
// is an effective member of it, directly or not, and along which path; a
// group the tenant does not have (or is deleting) is answered as not
// existing. The groups are read in parallel with the item's edges: 2 round
// trips (3 for more than 100 direct groups' chunks in parallel), whatever
// the tenant's size.
func (s *Store) CheckMembership(ctx context.Context, tenant string, it groups.Item, groupIDs []string) ([]groups.CheckResult, error) {
	var (
		holders map[string]groupItem
		asked   map[string]groupItem
	)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) { holders, err = s.holders(gctx, tenant, it); return err })
	g.Go(func() (err error) { asked, err = s.liveGroups(gctx, tenant, groupIDs); return err })
	if err := g.Wait(); err != nil {
		return nil, err
	}
	paths := reach(holders)
	out := make([]groups.CheckResult, len(groupIDs))
	for i, id := range groupIDs {
		_, exists := asked[id]
		path, member := paths[id]
		out[i] = groups.CheckResult{GroupID: id, Exists: exists, Member: exists && member,
			Direct: exists && member && len(path) == 1}
		if out[i].Member {
			out[i].Path = path
		}
	}
	return out, nil
}

// maxVia bounds the groups a subtree member names as holding it.
const maxVia = 10

// subtreeWorkers bounds the Queries in flight for one subtree page.
const subtreeWorkers = 8

// ListSubtreeMembers lists each distinct item that a member of the group or
// of any of its descendants, of type t ("" for every type), once, in member
// order (type, then id), with up to maxVia of the subtree's groups that
// hold it (by id) and how many do. q's search, filters and cursor work as in
// ListMembers; page numbers and created order do not (the caller refuses
// them). Each page reads the group (GetItem), the subtree (a GSI3 Query,
// eventually consistent) and, in parallel, each group's members from the
// cursor on: one Query per group in the subtree, so the cost of a page
// grows with the subtree, never with the tenant. A group's read stops at
// the page size or at MaxReadPerPage entries; the page ends where the
// first group stopped, so it may come back short with a cursor.
func (s *Store) ListSubtreeMembers(ctx context.Context, tenant, groupID string, t groups.ItemType, q ListQuery) (Page[groups.SubtreeMember], error) {
	root, err := s.liveGroupItem(ctx, tenant, groupID)
	if err != nil {
		return Page[groups.SubtreeMember]{}, err
	}
	ids := []string{root.ID}
	if root.ChildCount > 0 {
		err := s.forEachBelow(ctx, tenant, root, func(id, _ string) error {
			ids = append(ids, id)
			return nil
		})
		if err != nil {
			return Page[groups.SubtreeMember]{}, err
		}
	}
	after, hasAfter := q.After[AttrSK]
	if q.After != nil && !hasAfter {
		return Page[groups.SubtreeMember]{}, errBadPosition
	}
	type read struct {
		hits []hit
		stop string // the sort key this group's read stopped at; "" when it read to the end
	}
	reads := make([]read, len(ids))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(subtreeWorkers)
	for i, id := range ids {
		g.Go(func() error {
			r, err := subtreeMembersLayout(tenant, id, t).read(ListQuery{Search: q.Search, Filters: q.Filters})
			if err != nil {
				return err
			}
			var from map[string]string
			if hasAfter {
				from = map[string]string{AttrPK: groupPK(tenant, id), AttrSK: after}
			}
			hits, _, resume, err := s.walk(gctx, r, from, q.Limit+1, MaxReadPerPage, nil)
			if err != nil {
				return err
			}
			reads[i] = read{hits: hits}
			switch {
			case resume != nil:
				reads[i].stop = resume[AttrSK]
			case len(hits) == q.Limit+1:
				reads[i].stop = sortKeyOf(hits[len(hits)-1].item, AttrSK)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return Page[groups.SubtreeMember]{}, err
	}
	// Every group was read at least up to bound: the page ends there.
	bound := ""
	for _, rd := range reads {
		if rd.stop != "" && (bound == "" || rd.stop < bound) {
			bound = rd.stop
		}
	}
	bySK := map[string]*groups.SubtreeMember{}
	for i, rd := range reads {
		for _, h := range rd.hits {
			sk := sortKeyOf(h.item, AttrSK)
			if bound != "" && sk > bound {
				continue
			}
			m := bySK[sk]
			if m == nil {
				it, _ := parseMemberSK(sk)
				m = &groups.SubtreeMember{Item: it}
				bySK[sk] = m
			}
			m.ViaCount++
			m.Via = append(m.Via, ids[i])
		}
	}
	sks := slices.Sorted(maps.Keys(bySK))
	page := Page[groups.SubtreeMember]{Items: make([]groups.SubtreeMember, 0, min(len(sks), q.Limit))}
	for _, sk := range sks[:min(len(sks), q.Limit)] {
		m := bySK[sk]
		slices.Sort(m.Via)
		m.Via = m.Via[:min(len(m.Via), maxVia)]
		page.Items = append(page.Items, *m)
	}
	switch {
	case len(sks) > q.Limit:
		page.Next = map[string]string{AttrSK: sks[q.Limit-1]}
	case bound != "":
		page.Next = map[string]string{AttrSK: bound}
	}
	return page, nil
}

// subtreeMembersLayout is one group's members of type t ("" for every
// type) in member order, as ListSubtreeMembers reads each group of the
// subtree: one key range, so that a position is a sort key alone; a search
// of every type is a filter on the item id.
func subtreeMembersLayout(tenant, groupID string, t groups.ItemType) listLayout {
	pk := expression.Key(AttrPK).Equal(expression.Value(groupPK(tenant, groupID)))
	return listLayout{
		schema: MemberFields,
		byName: func(search string) listOrder {
			o := listOrder{keyAttrs: tableKeyAttrs, sortAttr: AttrSK}
			if t != "" {
				o.ranges = []expression.KeyConditionBuilder{pk.And(expression.Key(AttrSK).BeginsWith(memberTypePrefix(t) + search))}
				return o
			}
			o.ranges = []expression.KeyConditionBuilder{pk.And(expression.Key(AttrSK).BeginsWith(skMemberRoot))}
			if search != "" {
				o.filter = expression.Name(attrItemID).BeginsWith(search)
			}
			return o
		},
	}
}
