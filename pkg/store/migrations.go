package store

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
)

// migrations are every migration (migrate.go), in order; the last one's
// version is the schema this code writes. A new one goes at the end, with
// the next number, and must be safe to run again over its own output.
var migrations = []migration{
	{version: 1, name: "fold-names", item: foldNames},
	{version: 2, name: "tree-paths", item: treePaths},
	{version: 3, name: "held-edges", item: heldEdges},
}

// heldEdges (schema 3) writes each membership's edge in its item's
// partition (heldSK), which memberships written before had none of. The
// put is conditional on the membership still being there, in one
// transaction, so that a membership removed meanwhile leaves no edge
// behind. Until the table is at schema 3, membership checks do not trust
// the edges (Store.heldEdgesTrusted) and read GSI1 instead.
func heldEdges(ctx context.Context, s *Store, raw map[string]types.AttributeValue) (itemOutcome, error) {
	if kind, _ := stringAt(raw, "kind"); kind != "member" {
		return itemOutcome{}, nil
	}
	var m memberItem
	if err := attributevalue.UnmarshalMap(raw, &m); err != nil {
		return itemOutcome{}, err
	}
	tenant, _, ok := parseGroupPK(m.PK)
	if !ok {
		return itemOutcome{}, nil
	}
	var tx txBuilder
	tx.add(s.checkIf(key(m.PK, m.SK), expression.AttributeExists(expression.Name(AttrPK))))
	tx.add(s.putIf(toHeldItem(tenant, m.toMembership()), absent))
	if tx.err != nil {
		return itemOutcome{}, tx.err
	}
	err := s.transact(ctx, tx.items)
	if _, ok := failedChecks(err); ok {
		return itemOutcome{}, nil // removed since the scan, or its edge is there
	}
	if err != nil {
		return itemOutcome{}, err
	}
	return itemOutcome{rewritten: true}, nil
}

// treePaths (schema 2) gives each live group written before the hierarchy
// its tree keys: the path of a top-level group, which it is, so that GSI3
// lists it. Creating a child under such a group writes them too (adoptUpdate),
// so a group that has them is left alone.
func treePaths(ctx context.Context, s *Store, raw map[string]types.AttributeValue) (itemOutcome, error) {
	if kind, _ := stringAt(raw, "kind"); kind != "group" {
		return itemOutcome{}, nil
	}
	var g groupItem
	if err := attributevalue.UnmarshalMap(raw, &g); err != nil {
		return itemOutcome{}, err
	}
	tenant, _, ok := parseGroupPK(g.PK)
	if !ok || g.DeletingAt != "" || g.GSI3SK != "" {
		return itemOutcome{}, nil
	}
	untouched := atPath(g)
	var tx txBuilder
	tx.add(s.updateIf(key(g.PK, g.SK), setPath(expression.UpdateBuilder{}, tenant, g.ID), &untouched))
	if tx.err != nil {
		return itemOutcome{}, tx.err
	}
	err := s.transact(ctx, tx.items)
	if _, ok := failedChecks(err); ok {
		return itemOutcome{}, nil // deleted, or given its keys, since the scan
	}
	if err != nil {
		return itemOutcome{}, err
	}
	return itemOutcome{rewritten: true}, nil
}

// foldNames (schema 1) keys names in their folded form (groups.FoldName)
// where schema 0 lower-cased them, and ends a registered item's name key
// with nameSep where schema 0 used '#'. Groups move their name guard;
// a group whose folded name another group already holds is left as it was
// and reported: two groups must not end up sharing one name.
func foldNames(ctx context.Context, s *Store, raw map[string]types.AttributeValue) (itemOutcome, error) {
	kind, _ := stringAt(raw, "kind")
	switch kind {
	case "group":
		var g groupItem
		if err := attributevalue.UnmarshalMap(raw, &g); err != nil {
			return itemOutcome{}, err
		}
		return s.refoldGroup(ctx, g)
	case "item":
		var it registeredItem
		if err := attributevalue.UnmarshalMap(raw, &it); err != nil {
			return itemOutcome{}, err
		}
		return s.refoldRegisteredItem(ctx, it, raw)
	}
	return itemOutcome{}, nil
}

// refoldGroup rewrites a live group's name key and folded copy and moves its
// guard to the folded name, in one transaction conditional on the name the
// scan read. A tombstone is skipped: its guard and index keys are gone.
func (s *Store) refoldGroup(ctx context.Context, g groupItem) (itemOutcome, error) {
	tenant, _, ok := parseGroupPK(g.PK)
	fold := groups.FoldName(g.Name)
	if !ok || g.DeletingAt != "" || (g.NameLower == fold && g.GSI1SK == groupGSI1SK(g.Name)) {
		return itemOutcome{}, nil
	}
	held, want := heldGuardPK(tenant, g), nameGuardPK(tenant, g.Name)
	ours := expression.AttributeNotExists(expression.Name(AttrPK)).
		Or(expression.Name(attrGroupID).Equal(expression.Value(g.ID)))
	sameName := liveGroup.And(expression.Name(attrName).Equal(expression.Value(g.Name)))
	var tx txBuilder
	// The version stays: what the API shows of the group does not change.
	tx.add(s.updateIf(key(g.PK, g.SK), expression.
		Set(expression.Name(attrNameLower), expression.Value(fold)).
		Set(expression.Name(AttrGSI1SK), expression.Value(groupGSI1SK(g.Name))), &sameName))
	if held != want {
		tx.add(s.putIf(nameGuardItem{PK: want, SK: skNameGuard, Kind: "name", GroupID: g.ID}, ours))
		tx.add(s.deleteIf(key(held, skNameGuard), ours))
	}
	if tx.err != nil {
		return itemOutcome{}, tx.err
	}
	err := s.transact(ctx, tx.items)
	if failed, ok := failedChecks(err); ok {
		switch {
		case failed[0].Code != nil:
			// Renamed or deleted since the scan read it: the API wrote the
			// new shape, or nothing is left to migrate.
			return itemOutcome{}, nil
		case failed[1].Code != nil:
			var other nameGuardItem
			if err := attributevalue.UnmarshalMap(failed[1].Item, &other); err != nil {
				return itemOutcome{}, err
			}
			return itemOutcome{conflict: s.nameConflict(ctx, tenant, g, other.GroupID, fold)}, nil
		}
	}
	if err != nil {
		return itemOutcome{}, err
	}
	return itemOutcome{rewritten: true}, nil
}

// nameConflict says which two groups fold to one name and how to settle it.
func (s *Store) nameConflict(ctx context.Context, tenant string, g groupItem, otherID, fold string) string {
	otherName := "?"
	if other, err := s.getGroupItem(ctx, tenant, otherID); err == nil {
		otherName = other.Name
	}
	return fmt.Sprintf("tenant %s: group %s %q folds to %q, the name of group %s %q; "+
		"rename or delete one of them (PATCH or DELETE /v1/groups/{id}) and run migrate again",
		tenant, g.ID, g.Name, fold, otherID, otherName)
}

// refoldRegisteredItem rewrites an item's name key and folded copy,
// conditional on the version the scan read (a newer version was written in
// the new shape).
func (s *Store) refoldRegisteredItem(ctx context.Context, it registeredItem, raw map[string]types.AttributeValue) (itemOutcome, error) {
	sk, _ := stringAt(raw, AttrGSI1SK)
	lower, _ := stringAt(raw, attrNameLower)
	fold := groups.FoldName(it.Name)
	want := itemGSI1SK(it.Name, it.ItemID)
	if sk == want && lower == fold {
		return itemOutcome{}, nil
	}
	sameVersion := expression.Name(attrVersion).Equal(expression.Value(it.Version))
	// A transaction of one, for transact's retries and failedChecks.
	var tx txBuilder
	tx.add(s.updateIf(key(it.PK, it.SK), expression.
		Set(expression.Name(attrNameLower), expression.Value(fold)).
		Set(expression.Name(AttrGSI1SK), expression.Value(want)), &sameVersion))
	if tx.err != nil {
		return itemOutcome{}, tx.err
	}
	err := s.transact(ctx, tx.items)
	if _, ok := failedChecks(err); ok {
		return itemOutcome{}, nil
	}
	if err != nil {
		return itemOutcome{}, err
	}
	return itemOutcome{rewritten: true}, nil
}
