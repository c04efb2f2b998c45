package store

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
)

// CreateGroup writes the group, its name guard, the tenant's group count and
// every initial membership in one transaction; under a parent, the same
// transaction counts the parent's new child, conditional on the parent
// still being where it was read (one GetItem more than a top-level create),
// and starts again from that read if it moved. It returns ErrNameTaken if
// the tenant has a group of that name (case-insensitively),
// ErrParentNotFound or too_deep.
func (s *Store) CreateGroup(ctx context.Context, tenant string, ng groups.NewGroup) (groups.Group, error) {
	id := s.NewID()
	for attempt := 1; ; attempt++ {
		g, err := s.createGroup(ctx, tenant, id, ng)
		if errors.Is(err, errVersionMoved) && attempt < maxTxAttempts {
			continue
		}
		return g, err
	}
}

func (s *Store) createGroup(ctx context.Context, tenant, id string, ng groups.NewGroup) (groups.Group, error) {
	now := s.now()
	g := groups.Group{
		ID: id, Name: ng.Name, Description: ng.Description, Attributes: ng.Attributes,
		Counts: make(map[groups.ItemType]int), CreatedAt: now, UpdatedAt: now, Version: 1,
	}
	var parent groupItem
	if ng.ParentID == "" && scopeOf(ctx) != "" {
		return groups.Group{}, groups.ErrOutOfScope
	}
	if ng.ParentID != "" {
		var err error
		if parent, err = s.liveParent(ctx, tenant, ng.ParentID); err != nil {
			return groups.Group{}, err
		}
		if err := s.underParent(&g, parent); err != nil {
			return groups.Group{}, err
		}
	}
	for _, m := range ng.Members {
		g.Counts[m.Type]++
	}
	var tx txBuilder
	tx.add(s.putIf(toGroupItem(tenant, g), absent))
	tx.add(s.putIf(toNameGuardItem(tenant, g.Name, g.ID), absent))
	tx.add(s.updateIf(key(tenantPK(tenant), skDirectory), directoryUpdate(tenant, 1), nil))
	const parentAt = 3
	if ng.ParentID != "" {
		stays := standsAt(parent)
		tx.add(s.updateIf(key(parent.PK, parent.SK), adoptUpdate(tenant, parent, 1), &stays))
	}
	for _, it := range ng.Members {
		m := groups.Membership{GroupID: g.ID, Item: it, AddedAt: now}
		tx.add(s.putIf(toMemberItem(tenant, m), absent))
		tx.add(s.put(toHeldItem(tenant, m)))
	}
	if tx.err != nil {
		return groups.Group{}, translate(tx.err)
	}
	err := s.transact(ctx, tx.items)
	if failed, ok := failedChecks(err); ok {
		switch {
		case failed[1].Code != nil:
			return groups.Group{}, groups.ErrNameTaken
		case ng.ParentID != "" && failed[parentAt].Code != nil:
			return groups.Group{}, errVersionMoved
		}
	}
	if err != nil {
		return groups.Group{}, translate(err)
	}
	return g, nil
}

// GetGroup returns the group, or ErrNotFound if it does not exist, is being
// deleted, or belongs to another tenant.
func (s *Store) GetGroup(ctx context.Context, tenant, id string) (groups.Group, error) {
	it, err := s.liveGroupItem(ctx, tenant, id)
	if err != nil {
		return groups.Group{}, err
	}
	return it.toGroup(), nil
}

// liveGroupItem reads the group item strongly consistently; a tombstone is
// ErrNotFound, as for every reader, and so is a group outside a scoped
// caller's subtree (getGroupItem).
func (s *Store) liveGroupItem(ctx context.Context, tenant, id string) (groupItem, error) {
	it, err := s.getGroupItem(ctx, tenant, id)
	if err == nil && it.DeletingAt != "" {
		return groupItem{}, groups.ErrNotFound
	}
	return it, err
}

// getGroupItem reads the group item strongly consistently, tombstones
// included; it returns ErrNotFound when there is no item, or when the group
// is outside a scoped caller's subtree (scope.go).
func (s *Store) getGroupItem(ctx context.Context, tenant, id string) (groupItem, error) {
	g, err := getOne[groupItem](ctx, s, key(groupPK(tenant, id), skGroup))
	if err == nil && !inScope(ctx, g) {
		return groupItem{}, groups.ErrNotFound
	}
	return g, err
}

// IfVersion is what a write requires of the group's version (If-Match).
// The zero value, AnyVersion, requires nothing.
type IfVersion struct {
	versions []int
	set      bool
}

// AnyVersion makes a write unconditional on the group's version.
var AnyVersion IfVersion

// AtVersion makes a write conditional on the group being at one of
// versions. With none, no group meets it: the write fails with
// ErrPreconditionFailed (ErrNotFound if there is no group).
func AtVersion(versions ...int) IfVersion { return IfVersion{versions: versions, set: true} }

func (c IfVersion) allows(v int) bool { return !c.set || slices.Contains(c.versions, v) }

// maxInOperands is DynamoDB's limit of operands of one IN comparison.
const maxInOperands = 100

// condition is c as a condition on the stored version, when one can say it
// (ok is false for AtVersion with no versions, or more than IN takes).
func (c IfVersion) condition() (cond expression.ConditionBuilder, ok bool) {
	if !c.set {
		return liveGroup, true
	}
	if len(c.versions) == 0 || len(c.versions) > maxInOperands {
		return cond, false
	}
	others := make([]expression.OperandBuilder, 0, len(c.versions)-1)
	for _, v := range c.versions[1:] {
		others = append(others, expression.Value(v))
	}
	return liveGroup.And(expression.Name(attrVersion).In(expression.Value(c.versions[0]), others...)), true
}

// UpdateGroup renames the group, moves it (with its subtree) under another
// parent, and/or changes its description and attributes, if it is at a
// version ifVersion allows. A move is one transaction with the group, both
// parents and every descendant's new path (planMove); it changes the
// version of the moved group only. A change of
// description alone is one conditional UpdateItem. A change of name or of
// attributes reads the group first (attributes are merged into what it
// holds, and the result must stay within groups.ValidateAttributes' limits):
// when the name keeps its folded form (or does not change) the group is
// updated in place, else its name guard moves in the same transaction;
// either write is guarded by the version read, and retried from the read if
// the group changed meanwhile (and then, with ifVersion, fails if the version
// no longer matches), so that it never overwrites a concurrent rename or
// attribute change. It returns ErrNotFound, ErrPreconditionFailed,
// ErrNameTaken or a validation error.
func (s *Store) UpdateGroup(ctx context.Context, tenant, id string, p groups.GroupPatch, ifVersion IfVersion) (groups.Group, error) {
	// A scoped caller's write reads the group first, where its scope is
	// checked.
	if cond, ok := ifVersion.condition(); ok && p.Name == nil && !p.ChangesAttributes() && p.Parent == nil && scopeOf(ctx) == "" {
		return s.describe(ctx, tenant, id, p, ifVersion, cond)
	}
	for attempt := 1; ; attempt++ {
		cur, err := s.getGroupItem(ctx, tenant, id)
		if err != nil {
			return groups.Group{}, err
		}
		if cur.DeletingAt != "" {
			return groups.Group{}, groups.ErrNotFound
		}
		if err := checkVersion(cur, ifVersion); err != nil {
			return groups.Group{}, err
		}
		var attrs *map[string]string
		if p.ChangesAttributes() {
			patched := p.PatchedAttributes(cur.Attributes)
			if errs := groups.ValidateAttributes("attributes", patched); len(errs) > 0 {
				return groups.Group{}, groups.ValidationError(errs)
			}
			attrs = &patched
		}
		var g groups.Group
		// The stored folded name (nameLower), not one made from the name:
		// it is the guard's key, written with the guard in every transaction.
		renames := p.Name != nil && groups.FoldName(*p.Name) != cur.NameLower
		if moves := p.Parent != nil && *p.Parent != cur.ParentID; renames || moves {
			g, err = s.rewrite(ctx, tenant, cur, p, attrs, renames, moves)
		} else {
			g, err = s.updateInPlace(ctx, cur, p, attrs)
		}
		if errors.Is(err, errVersionMoved) && attempt < maxTxAttempts {
			continue
		}
		return g, err
	}
}

// errVersionMoved is a write's report that the group changed since it was
// read; the caller reads it again. It is "unavailable" when the retries run
// out, as the group kept changing.
var errVersionMoved = &groups.Error{Code: groups.CodeUnavailable, Detail: "the group kept changing while being written; retry the request"}

// checkVersion compares the group as read with the versions a write allows:
// a tombstone is gone (ErrNotFound) and a live group at another version
// is ErrPreconditionFailed. The write itself must still be conditional on
// the version, as the group may change between the read and the write.
func checkVersion(cur groupItem, ifVersion IfVersion) error {
	switch {
	case !ifVersion.set:
		return nil
	case cur.DeletingAt != "":
		// A tombstone is gone for every reader, whatever tag it kept: a
		// conditional write on it fails, so of racing DELETEs with one
		// If-Match exactly one succeeds (a plain DELETE resumes a purge).
		return groups.ErrNotFound
	case ifVersion.allows(cur.Version):
		return nil
	default:
		return groups.ErrPreconditionFailed
	}
}

// sameVersion holds while the group is live and at the version read.
func sameVersion(cur groupItem) expression.ConditionBuilder {
	return liveGroup.And(expression.Name(attrVersion).Equal(expression.Value(cur.Version)))
}

// releaseGuard deletes the group's name guard, keyed by the stored folded
// name (heldGuardPK), if the guard is the group's or is absent: tables
// damaged by the case-only rename race (issue 6) may lack it, and a rename or
// a delete must still complete. Another group's guard is never deleted.
func (s *Store) releaseGuard(tenant string, cur groupItem) (types.TransactWriteItem, error) {
	own := expression.Name(attrGroupID).Equal(expression.Value(cur.ID))
	return s.deleteIf(key(heldGuardPK(tenant, cur), skNameGuard), absent.Or(own))
}

// rewrite writes a patch that renames (moving the name guard) and/or moves
// the group, in one transaction guarded by the version read; for a move,
// also by the subtree read (planMove), each descendant's path rewritten and
// each parent's child count changed in the same transaction. A condition
// that fails on the group or its subtree is errVersionMoved (read again).
func (s *Store) rewrite(ctx context.Context, tenant string, cur groupItem, p groups.GroupPatch, attrs *map[string]string, renames, moves bool) (groups.Group, error) {
	var plan movePlan
	if moves {
		var err error
		if plan, err = s.planMove(ctx, tenant, cur, *p.Parent); err != nil {
			return groups.Group{}, err
		}
		if plan.large {
			return s.moveLarge(ctx, tenant, cur, p, attrs, renames, plan)
		}
	}
	now := s.now()
	g := cur.toGroup()
	g.UpdatedAt, g.Version = now, cur.Version+1
	upd := expression.Set(expression.Name(attrUpdatedAt), expression.Value(formatTime(now))).
		Add(expression.Name(attrVersion), expression.Value(1))
	if p.Name != nil {
		g.Name = *p.Name
		upd = upd.Set(expression.Name(attrName), expression.Value(g.Name)).
			Set(expression.Name(attrNameLower), expression.Value(groups.FoldName(g.Name))).
			Set(expression.Name(AttrGSI1SK), expression.Value(groupGSI1SK(g.Name)))
	}
	if p.Description != nil {
		g.Description = *p.Description
		upd = upd.Set(expression.Name(attrDescription), expression.Value(g.Description))
	}
	if attrs != nil {
		g.Attributes = *attrs
	}
	upd = setAttributes(upd, attrs)
	same := sameVersion(cur)
	if moves {
		g.Ancestors = parseTreePath(plan.path)
		upd = setPath(upd, tenant, plan.path)
		if plan.parent == nil {
			upd = upd.Remove(expression.Name(attrParentID))
		} else {
			upd = upd.Set(expression.Name(attrParentID), expression.Value(plan.parent.ID))
		}
		same = same.And(sameTree(cur))
	}
	var tx txBuilder
	tx.add(s.updateIf(key(cur.PK, cur.SK), upd, &same))
	guardAt := -1
	if renames {
		tx.add(s.releaseGuard(tenant, cur))
		guardAt = len(tx.items)
		tx.add(s.putIf(toNameGuardItem(tenant, g.Name, g.ID), absent))
	}
	if moves {
		s.addMove(&tx, tenant, cur, plan)
	}
	if tx.err != nil {
		return groups.Group{}, translate(tx.err)
	}
	err := s.transact(ctx, tx.items)
	if failed, ok := failedChecks(err); ok && len(failed) > 0 {
		// The group first: a name taken by a group that was renamed since
		// the read may be free on the next read.
		if failed[0].Code == nil && guardAt >= 0 && failed[guardAt].Code != nil {
			return groups.Group{}, groups.ErrNameTaken
		}
		// The group, a parent or the subtree changed since the reads.
		return groups.Group{}, errVersionMoved
	}
	if err != nil {
		return groups.Group{}, translate(err)
	}
	return g, nil
}

// moveLarge moves cur's subtree, larger than one transaction takes, step
// by step (move.go). The rest of the patch, if any, is written first, as
// its own update: such a PATCH is not atomic, it renames and then moves.
func (s *Store) moveLarge(ctx context.Context, tenant string, cur groupItem, p groups.GroupPatch, attrs *map[string]string, renames bool, plan movePlan) (groups.Group, error) {
	if p.Name != nil || p.Description != nil || attrs != nil {
		rest := p
		rest.Parent = nil
		var err error
		if renames {
			_, err = s.rewrite(ctx, tenant, cur, rest, attrs, true, false)
		} else {
			_, err = s.updateInPlace(ctx, cur, rest, attrs)
		}
		if err != nil {
			return groups.Group{}, err
		}
		if cur, err = s.getGroupItem(ctx, tenant, cur.ID); err != nil {
			return groups.Group{}, err
		}
	}
	return s.startMove(ctx, tenant, cur, plan.parent)
}

// addMove adds to tx the rest of moving cur as plan says: the old parent
// counts a child less, the new one (still where it was read) a child more,
// and each descendant (still as read) takes its new path.
func (s *Store) addMove(tx *txBuilder, tenant string, cur groupItem, plan movePlan) {
	if cur.ParentID != "" {
		tx.add(s.updateIf(key(groupPK(tenant, cur.ParentID), skGroup),
			expression.Add(expression.Name(attrChildCount), expression.Value(-1)), &liveGroup))
	}
	if plan.parent != nil {
		stays := standsAt(*plan.parent)
		tx.add(s.updateIf(key(plan.parent.PK, plan.parent.SK), adoptUpdate(tenant, *plan.parent, 1), &stays))
	}
	oldPrefix, newPrefix := subtreePrefix(cur.path()), subtreePrefix(plan.path)
	for _, d := range plan.descendants {
		rest, _ := strings.CutPrefix(d.GSI3SK, oldPrefix)
		still := sameTree(d)
		tx.add(s.updateIf(key(d.PK, d.SK),
			expression.Set(expression.Name(AttrGSI3SK), expression.Value(newPrefix+rest)), &still))
	}
}

// updateInPlace applies a patch that keeps the stored folded name, so no
// guard moves, to the group as read: it is conditional on the version read,
// so that a rename landing after the read is never overwritten (the name
// would then disagree with its guard); errVersionMoved tells the caller to
// read again.
func (s *Store) updateInPlace(ctx context.Context, cur groupItem, p groups.GroupPatch, attrs *map[string]string) (groups.Group, error) {
	it, old, err := s.updateGroupItem(ctx, key(cur.PK, cur.SK), p, attrs, sameVersion(cur))
	if old != nil {
		return groups.Group{}, errVersionMoved
	}
	return it.toGroup(), err
}

// describe changes the description alone, in one UpdateItem guarded by
// cond (ifVersion's condition); when it fails, the item as it was tells a
// stale version from a missing group.
func (s *Store) describe(ctx context.Context, tenant, id string, p groups.GroupPatch, ifVersion IfVersion, cond expression.ConditionBuilder) (groups.Group, error) {
	it, old, err := s.updateGroupItem(ctx, key(groupPK(tenant, id), skGroup), p, nil, cond)
	switch {
	case old == nil:
		return it.toGroup(), err
	case old.PK == "", old.DeletingAt != "":
		return groups.Group{}, groups.ErrNotFound
	default:
		return groups.Group{}, checkVersion(*old, ifVersion)
	}
}

// updateGroupItem writes the patch's name and description, and attrs (the
// patched attributes, when the patch changes them), to the group item at k
// if cond holds, bumping the version. When cond fails, old is the item as it was
// (zero if there was none) and err is nil. The write carries a token, so
// that a repeat of it after a lost response (the SDK retries) finds its own
// write done instead of a version that moved (see repeat.go).
func (s *Store) updateGroupItem(ctx context.Context, k map[string]types.AttributeValue, p groups.GroupPatch, attrs *map[string]string, cond expression.ConditionBuilder) (it groupItem, old *groupItem, err error) {
	tok := newWriteToken()
	upd := expression.Set(expression.Name(attrUpdatedAt), expression.Value(formatTime(s.now()))).
		Set(expression.Name(attrWriteToken), expression.Value(tok)).
		Add(expression.Name(attrVersion), expression.Value(1))
	if p.Name != nil {
		upd = upd.Set(expression.Name(attrName), expression.Value(*p.Name))
	}
	if p.Description != nil {
		upd = upd.Set(expression.Name(attrDescription), expression.Value(*p.Description))
	}
	upd = setAttributes(upd, attrs)
	cond = cond.And(notWrittenBy(tok))
	expr, err := expression.NewBuilder().WithUpdate(upd).WithCondition(cond).Build()
	if err != nil {
		return it, nil, translate(err)
	}
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: k,
		UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		old = &groupItem{}
		if err := attributevalue.UnmarshalMap(ccf.Item, old); err != nil {
			return it, nil, translate(err)
		}
		if writtenBy(ccf.Item, tok) {
			return *old, nil, nil
		}
		return it, old, nil
	}
	if err != nil {
		return it, nil, translate(err)
	}
	if err := attributevalue.UnmarshalMap(out.Attributes, &it); err != nil {
		return it, nil, translate(err)
	}
	if it.Moving != "" {
		// Written to a group a move holds: the answer shows the group
		// where the finished move puts it (getRaw settles it).
		moved, err := getOne[groupItem](ctx, s, k)
		return moved, nil, err
	}
	return it, nil, nil
}

// setAttributes adds to upd the write of a group's patched attributes: the
// whole map, or its removal when none are left (DynamoDB keeps an empty map,
// but a group without attributes has none). nil attrs leaves them alone.
func setAttributes(upd expression.UpdateBuilder, attrs *map[string]string) expression.UpdateBuilder {
	switch {
	case attrs == nil:
		return upd
	case len(*attrs) == 0:
		return upd.Remove(expression.Name(attrAttributes))
	default:
		return upd.Set(expression.Name(attrAttributes), expression.Value(*attrs))
	}
}
