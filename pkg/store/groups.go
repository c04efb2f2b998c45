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
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.table), Key: key(groupPK(tenant, id), skGroup), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return groupItem{}, translate(err)
	}
	if out.Item == nil {
		return groupItem{}, groups.ErrNotFound
	}
	var it groupItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return groupItem{}, translate(err)
	}
	return it, nil
}

// UpdateGroup renames the group and/or changes its description. A change of
// description or of the name's case is one conditional UpdateItem; a rename
// reads the group and moves its name guard in one transaction guarded by the
// version it read, retrying if the group changed meanwhile. It returns
// ErrNotFound or ErrNameTaken.
func (s *Store) UpdateGroup(ctx context.Context, tenant, id string, p groups.GroupPatch) (groups.Group, error) {
	if p.Name == nil {
		return s.updateInPlace(ctx, tenant, id, p)
	}
	for attempt := 1; ; attempt++ {
		cur, err := s.getGroupItem(ctx, tenant, id)
		if err != nil {
			return groups.Group{}, err
		}
		if cur.DeletingAt != "" {
			return groups.Group{}, groups.ErrNotFound
		}
		if groups.NormalizeName(cur.Name) == groups.NormalizeName(*p.Name) {
			return s.updateInPlace(ctx, tenant, id, p)
		}
		g, err := s.rename(ctx, tenant, cur, p)
		if errors.Is(err, errVersionMoved) && attempt < maxTxAttempts {
			continue
		}
		return g, err
	}
}

var errVersionMoved = errors.New("group changed since it was read")

func (s *Store) rename(ctx context.Context, tenant string, cur groupItem, p groups.GroupPatch) (groups.Group, error) {
	now := s.now()
	g := cur.toGroup()
	g.Name, g.UpdatedAt, g.Version = *p.Name, now, cur.Version+1
	if p.Description != nil {
		g.Description = *p.Description
	}
	sameVersion := expression.Name(attrVersion).Equal(expression.Value(cur.Version))
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
// moves.
func (s *Store) updateInPlace(ctx context.Context, tenant, id string, p groups.GroupPatch) (groups.Group, error) {
	upd := expression.Set(expression.Name(attrUpdatedAt), expression.Value(formatTime(s.now()))).
		Add(expression.Name(attrVersion), expression.Value(1))
	if p.Name != nil {
		upd = upd.Set(expression.Name(attrName), expression.Value(*p.Name))
	}
	if p.Description != nil {
		upd = upd.Set(expression.Name(attrDescription), expression.Value(*p.Description))
	}
	expr, err := expression.NewBuilder().WithUpdate(upd).WithCondition(liveGroup).Build()
	if err != nil {
		return groups.Group{}, translate(err)
	}
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: key(groupPK(tenant, id), skGroup),
		UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ReturnValues: types.ReturnValueAllNew,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return groups.Group{}, groups.ErrNotFound
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
