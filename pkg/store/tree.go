package store

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
)

// The group hierarchy. Each group item holds its tree path (GSI3SK, see
// keys.go): the ids of its ancestors and its own. Its parent, ancestors and
// depth are read off that one item, strongly consistently, and GSI3 lists a
// subtree depth-first with one begins_with range. A parent counts its
// children (childCount) in the transactions that create, move and delete
// them, so a delete can refuse a group that has children, and a move can
// prove that the subtree it read from GSI3 (eventually consistent) is whole.
//
// Tree fields are derived: a move rewrites its descendants' paths without
// changing their version (their ETags stay), and a parent's childCount
// changes without changing its version either.

// atPath holds while the group is live at the tree path it was read at: it
// has not been moved, nor has any of its ancestors.
func atPath(it groupItem) expression.ConditionBuilder {
	path := expression.Name(AttrGSI3SK)
	if it.GSI3SK == "" {
		return liveGroup.And(expression.AttributeNotExists(path))
	}
	return liveGroup.And(path.Equal(expression.Value(it.GSI3SK)))
}

// standsAt is atPath for a structural change (a create under the group, a
// move or delete of it, a move under it): also no move in progress holds
// the group (move.go), so that none lands in a moving subtree.
func standsAt(it groupItem) expression.ConditionBuilder {
	return atPath(it).And(expression.AttributeNotExists(expression.Name(attrMoving)))
}

// sameTree holds while the group stands at its path (standsAt) and has the
// children it was read with: no child was created, moved in or out, or
// deleted since.
func sameTree(it groupItem) expression.ConditionBuilder {
	n := expression.Name(attrChildCount)
	kids := n.Equal(expression.Value(it.ChildCount))
	if it.ChildCount == 0 {
		kids = expression.AttributeNotExists(n).Or(kids)
	}
	return standsAt(it).And(kids)
}

// adoptUpdate counts a child more (delta 1) or less (delta -1) on a parent.
// It also writes the parent's tree keys, which only a group written before
// the hierarchy lacks (atPath then requires them absent).
func adoptUpdate(tenant string, parent groupItem, delta int) expression.UpdateBuilder {
	return setPath(expression.Add(expression.Name(attrChildCount), expression.Value(delta)), tenant, parent.path())
}

// setPath adds to upd the write of a group's tree keys: path in GSI3.
func setPath(upd expression.UpdateBuilder, tenant, path string) expression.UpdateBuilder {
	return upd.Set(expression.Name(AttrGSI3PK), expression.Value(treeGSI3PK(tenant))).
		Set(expression.Name(AttrGSI3SK), expression.Value(path))
}

// liveParent reads the group a request names as a parent: a live group of
// the tenant, else ErrParentNotFound.
func (s *Store) liveParent(ctx context.Context, tenant, id string) (groupItem, error) {
	p, err := s.getGroupItem(ctx, tenant, id)
	if groups.CodeOf(err) == groups.CodeNotFound || err == nil && p.DeletingAt != "" {
		return groupItem{}, groups.ErrParentNotFound
	}
	return p, err
}

// underParent places g under parent: its ancestors, checked against the
// depth limit.
func (s *Store) underParent(g *groups.Group, parent groupItem) error {
	anc := append(parent.ancestors(), parent.ID)
	if len(anc) > s.MaxDepth {
		return groups.TooDeep(s.MaxDepth)
	}
	g.Ancestors = anc
	return nil
}

// movePlan is a move as read: where the group goes and its subtree as it
// stands, every node read strongly consistently; or, for a subtree larger
// than one transaction takes (large), only its size and height as GSI3
// lists them, for the move to go step by step (move.go).
type movePlan struct {
	parent      *groupItem // nil: to top level
	path        string     // the moved group's new path
	descendants []groupItem
	large       bool
}

// planMove reads what moving cur under parentID ("" for top level) takes,
// and refuses a move under its own subtree (ErrCycle) or past the depth
// limit (too_deep).
func (s *Store) planMove(ctx context.Context, tenant string, cur groupItem, parentID string) (movePlan, error) {
	var plan movePlan
	newDepth := 0
	if parentID == "" && scopeOf(ctx) != "" {
		return plan, groups.ErrOutOfScope // no group leaves the subtree
	}
	if parentID != "" {
		p, err := s.liveParent(ctx, tenant, parentID)
		if err != nil {
			return plan, err
		}
		if p.ID == cur.ID || slices.Contains(p.ancestors(), cur.ID) {
			return plan, groups.ErrCycle
		}
		plan.parent, newDepth = &p, len(p.ancestors())+1
		plan.path = treePath(append(p.ancestors(), p.ID), cur.ID)
	} else {
		plan.path = cur.ID
	}
	subtree, err := s.subtree(ctx, tenant, cur)
	height := 0
	switch {
	case errors.Is(err, errLargeSubtree):
		// The depth limit is checked again, on the subtree as it then
		// stands, before the move takes effect.
		plan.large = true
		err = s.forEachBelow(ctx, tenant, cur, func(_, path string) error {
			height = max(height, strings.Count(path, treeSep)-len(cur.ancestors()))
			return nil
		})
	case err == nil:
		for _, d := range subtree {
			height = max(height, len(d.ancestors())-len(cur.ancestors()))
		}
	}
	if err != nil {
		return plan, err
	}
	if newDepth+height > s.MaxDepth {
		return plan, groups.TooDeep(s.MaxDepth)
	}
	plan.descendants = subtree
	return plan, nil
}

// errLargeSubtree is subtree's report of more descendants than one move
// transaction takes.
var errLargeSubtree = errors.New("the subtree is larger than one move transaction takes")

// subtreeReads bounds how often subtree reads GSI3 again while the index
// has not caught up with the table.
const subtreeReads = 8

// subtree returns root's descendants, each read strongly consistently. It
// finds them in GSI3, which lags the table, and checks the find against
// the table: every node found is still in the subtree, and every node's
// childCount (kept with the table's writes) equals the children found, so
// no child created or moved in is missed. A mismatch is the index catching
// up: it reads again, and answers unavailable if it never catches up.
// More than s.AtomicMoveSize-1 descendants is errLargeSubtree.
func (s *Store) subtree(ctx context.Context, tenant string, root groupItem) ([]groupItem, error) {
	if root.ChildCount == 0 {
		return nil, nil
	}
	prefix := subtreePrefix(root.path())
	for attempt := 1; ; attempt++ {
		nodes, err := s.subtreeNodes(ctx, tenant, root, s.AtomicMoveSize-1)
		if err != nil {
			return nil, err
		}
		if wholeSubtree(root, prefix, nodes) {
			return nodes, nil
		}
		if attempt == subtreeReads {
			return nil, errVersionMoved
		}
		if err := pause(ctx, attempt); err != nil {
			return nil, err
		}
	}
}

// subtreeNodes reads root's descendants that GSI3 lists, each strongly
// consistently (whole or not: see wholeSubtree); more than most (unless 0)
// is errLargeSubtree.
func (s *Store) subtreeNodes(ctx context.Context, tenant string, root groupItem, most int) ([]groupItem, error) {
	var ids []string
	err := s.forEachBelow(ctx, tenant, root, func(id, _ string) error {
		if most > 0 && len(ids) == most {
			return errLargeSubtree
		}
		ids = append(ids, id)
		return nil
	})
	if err != nil {
		return nil, err
	}
	byID, err := s.liveGroups(ctx, tenant, ids)
	nodes := make([]groupItem, 0, len(byID))
	for _, n := range byID {
		nodes = append(nodes, n)
	}
	return nodes, err
}

// wholeSubtree reports whether nodes, read strongly consistently, are all
// of root's subtree: each is live and under prefix, and each node's
// children are all among them.
func wholeSubtree(root groupItem, prefix string, nodes []groupItem) bool {
	children := map[string]int{}
	for _, n := range nodes {
		if n.DeletingAt != "" || !strings.HasPrefix(n.GSI3SK, prefix) {
			return false
		}
		children[n.ParentID]++
	}
	if children[root.ID] != root.ChildCount {
		return false
	}
	for _, n := range nodes {
		if children[n.ID] != n.ChildCount {
			return false
		}
	}
	return true
}

// Ancestors returns the chain of the group's ancestors, from its top-level
// group down to its parent, with their names (empty for a top-level
// group): one GetItem and, below top level, one BatchGetItem, both strongly
// consistent.
func (s *Store) Ancestors(ctx context.Context, tenant, id string) ([]groups.GroupName, error) {
	g, err := s.GetGroup(ctx, tenant, id)
	g = AsSeen(ctx, g)
	if err != nil || len(g.Ancestors) == 0 {
		return []groups.GroupName{}, err
	}
	keys := make([]map[string]types.AttributeValue, len(g.Ancestors))
	for i, a := range g.Ancestors {
		keys[i] = key(groupPK(tenant, a), skGroup)
	}
	proj := expression.NamesList(expression.Name("id"), expression.Name(attrName))
	names := make(map[string]string, len(keys))
	err = s.batchGet(ctx, keys, &proj, func(raw map[string]types.AttributeValue) error {
		var a groupItem
		if err := attributevalue.UnmarshalMap(raw, &a); err != nil {
			return err
		}
		names[a.ID] = a.Name
		return nil
	})
	if err != nil {
		return nil, err
	}
	chain := make([]groups.GroupName, len(g.Ancestors))
	for i, a := range g.Ancestors {
		chain[i] = groups.GroupName{ID: a, Name: names[a]}
	}
	return chain, nil
}

// forEachBelow hands the id and path of each of root's descendants that
// GSI3 lists to fn, depth-first (eventually consistent: the caller checks
// what it needs against the table).
func (s *Store) forEachBelow(ctx context.Context, tenant string, root groupItem, fn func(id, path string) error) error {
	return s.forEach(ctx, IndexGSI3, subtreeRange(tenant, root), func(raw map[string]types.AttributeValue) error {
		id, _ := stringAt(raw, "id")
		path, _ := stringAt(raw, AttrGSI3SK)
		return fn(id, path)
	})
}

// subtreeRange is root's descendants in GSI3, depth-first (keys.go).
func subtreeRange(tenant string, root groupItem) expression.KeyConditionBuilder {
	return expression.Key(AttrGSI3PK).Equal(expression.Value(treeGSI3PK(tenant))).
		And(expression.Key(AttrGSI3SK).BeginsWith(subtreePrefix(root.path())))
}

// treeLayout is a group's subtree in GSI3, depth-first (keys.go), narrowed
// by filter: the whole subtree, or its direct children.
func treeLayout(tenant string, root groupItem, filter expression.ConditionBuilder) listLayout {
	return listLayout{
		schema: GroupFields,
		tree: &listOrder{index: IndexGSI3, keyAttrs: treeKeyAttrs, sortAttr: AttrGSI3SK, filter: filter,
			ranges: []expression.KeyConditionBuilder{subtreeRange(tenant, root)}},
		search: func(search string) expression.ConditionBuilder {
			return expression.Name(attrNameLower).BeginsWith(groups.FoldName(search))
		},
	}
}

// ListChildren lists the group's direct children in tree order (by id), as
// q asks; the unfiltered total is the group's childCount. ListDescendants
// lists its whole subtree depth-first: each group just before its own
// subtree, siblings by id. Both read GSI3, which is eventually consistent: a
// group created or moved a moment ago may be missing for that moment. The
// group is read first (ErrNotFound if it is not a live group): its path is
// where the subtree lies. Cost grows with the subtree, never the tenant.
func (s *Store) ListChildren(ctx context.Context, tenant, id string, q ListQuery) (Page[groups.Group], error) {
	return s.listTree(ctx, tenant, id, q, true)
}

// ListDescendants: see ListChildren.
func (s *Store) ListDescendants(ctx context.Context, tenant, id string, q ListQuery) (Page[groups.Group], error) {
	return s.listTree(ctx, tenant, id, q, false)
}

func (s *Store) listTree(ctx context.Context, tenant, id string, q ListQuery, children bool) (Page[groups.Group], error) {
	root, err := s.liveGroupItem(ctx, tenant, id)
	if err != nil {
		return Page[groups.Group]{}, err
	}
	var only expression.ConditionBuilder
	if children {
		only = expression.Name(attrParentID).Equal(expression.Value(root.ID))
	}
	r, err := treeLayout(tenant, root, only).read(q)
	if err != nil {
		return Page[groups.Group]{}, err
	}
	var counter *listParent
	if children {
		// The root as read above counts the children: no second read.
		counter = &listParent{key: key(root.PK, root.SK), known: true, total: func(map[string]types.AttributeValue) (int, error) {
			return root.ChildCount, nil
		}}
	}
	return runList(ctx, s, r, counter, q, groupItem.toGroup)
}

// DeleteTree deletes the group and its whole subtree with every membership
// (DELETE ?cascade=true), leaves first, so that the table never holds a
// group whose parent is gone: each group goes with DeleteGroup's own
// transaction, deepest level first, a level's groups in parallel. The
// subtree is found in GSI3; a group the index has not caught up with yet
// (or created meanwhile) makes its parent's delete answer has_children, and
// the subtree is read again. ifVersion applies to the root only, whose
// version the deletes below do not change.
//
// Like DeleteGroup's purge it works until PurgeReserve before ctx's
// deadline and then answers ErrDeleteInProgress (with the root): what is
// deleted stays deleted, the rest (the root included) is still there and
// still a tree, and a repeated DELETE goes on from there. Its cost grows
// with the subtree and its memberships, never with the tenant.
func (s *Store) DeleteTree(ctx context.Context, tenant, id string, ifVersion IfVersion) (groups.Group, error) {
	work := ctx
	if deadline, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		work, cancel = context.WithDeadline(ctx, deadline.Add(-s.PurgeReserve))
		defer cancel()
	}
	var found *groupItem // the root as this request first found it, which it answers
	for {
		root, err := s.getGroupItem(ctx, tenant, id)
		if err != nil {
			return groups.Group{}, err
		}
		if err := checkVersion(root, ifVersion); err != nil {
			return groups.Group{}, err
		}
		if found == nil {
			if root.ID == scopeOf(ctx) {
				return groups.Group{}, groups.ErrOutOfScope // before anything below it goes
			}
			found = &root
		}
		if root.DeletingAt != "" || root.ChildCount == 0 {
			g, err := s.deleteGroup(ctx, tenant, id, ifVersion, &root)
			if err == nil || errors.Is(err, ErrDeleteInProgress) {
				g = found.toGroup()
			}
			return g, err
		}
		err = s.deleteDescendants(work, tenant, root)
		switch {
		case errors.Is(err, ErrDeleteInProgress), err != nil && work.Err() != nil && ctx.Err() == nil:
			return found.toGroup(), ErrDeleteInProgress
		case err != nil:
			return groups.Group{}, err
		}
	}
}

// deleteDescendants deletes the descendants of root that GSI3 lists, the
// deepest level first; a group that still has children (the index lagging)
// is left for the next round.
func (s *Store) deleteDescendants(ctx context.Context, tenant string, root groupItem) error {
	levels := map[int][]string{}
	deepest := 0
	err := s.forEachBelow(ctx, tenant, root, func(id, path string) error {
		depth := strings.Count(path, treeSep)
		levels[depth] = append(levels[depth], id)
		deepest = max(deepest, depth)
		return nil
	})
	if err != nil {
		return err
	}
	for depth := deepest; depth > len(root.ancestors()); depth-- {
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(purgeWorkers)
		for _, id := range levels[depth] {
			g.Go(func() error {
				_, err := s.DeleteGroup(gctx, tenant, id, AnyVersion)
				if c := groups.CodeOf(err); c == groups.CodeNotFound || c == groups.CodeHasChildren {
					return nil // gone already, or its children come next round
				}
				return err
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
	}
	return nil
}
