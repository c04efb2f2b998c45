package store

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
)

// CreateGroup writes the group, its name guard, the tenant's group count and
// every initial membership in one transaction. It returns ErrNameTaken if the
// tenant has a group of that name (case-insensitively).
func (s *Store) CreateGroup(ctx context.Context, tenant string, ng groups.NewGroup) (groups.Group, error) {
	now := s.now()
	g := groups.Group{
		ID: s.NewID(), Name: ng.Name, Description: ng.Description,
		Counts: make(map[groups.ItemType]int), CreatedAt: now, UpdatedAt: now, Version: 1,
	}
	for _, m := range ng.Members {
		g.Counts[m.Type]++
	}
	var tx txBuilder
	tx.add(s.putIf(toGroupItem(tenant, g), absent))
	tx.add(s.putIf(toNameGuardItem(tenant, g.Name, g.ID), absent))
	tx.add(s.updateIf(key(tenantPK(tenant), skDirectory), directoryUpdate(tenant, 1), nil))
	for _, it := range ng.Members {
		tx.add(s.putIf(toMemberItem(tenant, groups.Membership{GroupID: g.ID, Item: it, AddedAt: now}), absent))
	}
	if tx.err != nil {
		return groups.Group{}, translate(tx.err)
	}
	err := s.transact(ctx, tx.items)
	if failed, ok := failedChecks(err); ok && failed[1].Code != nil {
		return groups.Group{}, groups.ErrNameTaken
	}
	if err != nil {
		return groups.Group{}, translate(err)
	}
	return g, nil
}

// GetGroup returns the group, or ErrNotFound if it does not exist, is being
// deleted, or belongs to another tenant.
func (s *Store) GetGroup(ctx context.Context, tenant, id string) (groups.Group, error) {
	it, err := s.getGroupItem(ctx, tenant, id)
	if err != nil {
		return groups.Group{}, err
	}
	if it.DeletingAt != "" {
		return groups.Group{}, groups.ErrNotFound
	}
	return it.toGroup(), nil
}

// getGroupItem reads the group item strongly consistently, tombstones
// included; it returns ErrNotFound only when there is no item.
func (s *Store) getGroupItem(ctx context.Context, tenant, id string) (groupItem, error) {
	return getOne[groupItem](ctx, s, key(groupPK(tenant, id), skGroup))
}

// AnyVersion makes a write unconditional on the group's version.
const AnyVersion = 0

// UpdateGroup renames the group and/or changes its description, if it is at
// ifVersion (unless that is AnyVersion). A change of description or of the
// name's case is one conditional UpdateItem; a rename reads the group and
// moves its name guard in one transaction guarded by the version it read,
// retrying if the group changed meanwhile (and then, with ifVersion, failing,
// since the version read no longer matches). It returns ErrNotFound,
// ErrPreconditionFailed or ErrNameTaken.
func (s *Store) UpdateGroup(ctx context.Context, tenant, id string, p groups.GroupPatch, ifVersion int) (groups.Group, error) {
	if p.Name == nil {
		return s.updateInPlace(ctx, tenant, id, p, ifVersion)
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
		if groups.NormalizeName(cur.Name) == groups.NormalizeName(*p.Name) {
			return s.updateInPlace(ctx, tenant, id, p, ifVersion)
		}
		g, err := s.rename(ctx, tenant, cur, p)
		if errors.Is(err, errVersionMoved) && attempt < maxTxAttempts {
			continue
		}
		return g, err
	}
}

var errVersionMoved = errors.New("group changed since it was read")

// checkVersion compares the group as read with the version a write asked
// for: a tombstone is gone (ErrNotFound) and a live group at another version
// is ErrPreconditionFailed. The write itself must still be conditional on
// the version, as the group may change between the read and the write.
func checkVersion(cur groupItem, ifVersion int) error {
	switch {
	case ifVersion == AnyVersion:
		return nil
	case cur.DeletingAt != "":
		// A tombstone is gone for every reader, whatever tag it kept: a
		// conditional write on it fails, so of racing DELETEs with one
		// If-Match exactly one succeeds (a plain DELETE resumes a purge).
		return groups.ErrNotFound
	case cur.Version == ifVersion:
		return nil
	default:
		return groups.ErrPreconditionFailed
	}
}

func (s *Store) rename(ctx context.Context, tenant string, cur groupItem, p groups.GroupPatch) (groups.Group, error) {
	now := s.now()
	g := cur.toGroup()
	g.Name, g.UpdatedAt, g.Version = *p.Name, now, cur.Version+1
	if p.Description != nil {
		g.Description = *p.Description
	}
	sameVersion := liveGroup.And(expression.Name(attrVersion).Equal(expression.Value(cur.Version)))
	ownGuard := expression.Name(attrGroupID).Equal(expression.Value(cur.ID))
	var tx txBuilder
	tx.add(s.updateIf(key(cur.PK, cur.SK), expression.
		Set(expression.Name(attrName), expression.Value(g.Name)).
		Set(expression.Name(attrNameLower), expression.Value(groups.NormalizeName(g.Name))).
		Set(expression.Name(attrDescription), expression.Value(g.Description)).
		Set(expression.Name(AttrGSI1SK), expression.Value(groupGSI1SK(g.Name))).
		Set(expression.Name(attrUpdatedAt), expression.Value(formatTime(now))).
		Add(expression.Name(attrVersion), expression.Value(1)), &sameVersion))
	tx.add(s.deleteIf(key(nameGuardPK(tenant, cur.Name), skNameGuard), ownGuard))
	tx.add(s.putIf(toNameGuardItem(tenant, g.Name, g.ID), absent))
	if tx.err != nil {
		return groups.Group{}, translate(tx.err)
	}
	err := s.transact(ctx, tx.items)
	if failed, ok := failedChecks(err); ok {
		switch {
		case failed[0].Code != nil:
			return groups.Group{}, errVersionMoved
		case failed[2].Code != nil:
			return groups.Group{}, groups.ErrNameTaken
		}
	}
	if err != nil {
		return groups.Group{}, translate(err)
	}
	return g, nil
}

// updateInPlace applies a patch that keeps the normalised name, so no guard
// moves. The version check is in the update's condition; when it fails, the
// item as it was (ALL_OLD) tells a stale version from a missing group, and
// from this very write already applied (a repeat, see repeat.go).
func (s *Store) updateInPlace(ctx context.Context, tenant, id string, p groups.GroupPatch, ifVersion int) (groups.Group, error) {
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
	cond := liveGroup.And(notWrittenBy(tok))
	if ifVersion != AnyVersion {
		cond = cond.And(expression.Name(attrVersion).Equal(expression.Value(ifVersion)))
	}
	expr, err := expression.NewBuilder().WithUpdate(upd).WithCondition(cond).Build()
	if err != nil {
		return groups.Group{}, translate(err)
	}
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: key(groupPK(tenant, id), skGroup),
		UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		if ccf.Item == nil {
			return groups.Group{}, groups.ErrNotFound
		}
		var old groupItem
		if err := attributevalue.UnmarshalMap(ccf.Item, &old); err != nil {
			return groups.Group{}, translate(err)
		}
		if writtenBy(ccf.Item, tok) {
			return old.toGroup(), nil
		}
		if err := checkVersion(old, ifVersion); err != nil {
			return groups.Group{}, err
		}
		return groups.Group{}, groups.ErrNotFound // liveGroup failed: a tombstone
	}
	if err != nil {
		return groups.Group{}, translate(err)
	}
	var it groupItem
	if err := attributevalue.UnmarshalMap(out.Attributes, &it); err != nil {
		return groups.Group{}, translate(err)
	}
	return it.toGroup(), nil
}
