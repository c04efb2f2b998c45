package store

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
)

// AddMember puts the item in the group, its edge to the group in its own
// partition, and counts it, in one transaction that
// fails if the group does not exist or is being deleted. Adding an item that
// is already a member changes nothing and returns the existing membership
// with created false. It returns ErrNotFound if there is no such group.
func (s *Store) AddMember(ctx context.Context, tenant, groupID string, it groups.Item) (m groups.Membership, created bool, err error) {
	guard, err := s.memberGuard(ctx, tenant, groupID)
	if err != nil {
		return groups.Membership{}, false, err
	}
	now := s.now()
	m = groups.Membership{GroupID: groupID, Item: it, AddedAt: now}
	var tx txBuilder
	tx.add(s.putIf(toMemberItem(tenant, m), absent))
	tx.add(s.updateIf(key(groupPK(tenant, groupID), skGroup),
		countsUpdate(map[groups.ItemType]int{it.Type: 1}, formatTime(now)), &guard))
	tx.add(s.put(toHeldItem(tenant, m)))
	if tx.err != nil {
		return groups.Membership{}, false, translate(tx.err)
	}
	err = s.transact(ctx, tx.items)
	if failed, ok := failedChecks(err); ok {
		switch {
		case failed[1].Code != nil:
			return groups.Membership{}, false, groups.ErrNotFound
		case failed[0].Code != nil:
			var old memberItem
			if err := attributevalue.UnmarshalMap(failed[0].Item, &old); err != nil {
				return groups.Membership{}, false, translate(err)
			}
			return old.toMembership(), false, nil
		}
	}
	if err != nil {
		return groups.Membership{}, false, translate(err)
	}
	return m, true, nil
}

// RemoveMember takes the item out of the group, deletes its edge and
// uncounts it in one transaction. It returns ErrNotFound if the group does not exist or the item
// is not a member.
func (s *Store) RemoveMember(ctx context.Context, tenant, groupID string, it groups.Item) error {
	guard, err := s.memberGuard(ctx, tenant, groupID)
	if err != nil {
		return err
	}
	now := formatTime(s.now())
	var tx txBuilder
	tx.add(s.deleteIf(key(groupPK(tenant, groupID), memberSK(it)), expression.AttributeExists(expression.Name(AttrPK))))
	tx.add(s.updateIf(key(groupPK(tenant, groupID), skGroup),
		countsUpdate(map[groups.ItemType]int{it.Type: -1}, now), &guard))
	tx.add(s.del(key(itemPK(tenant, it), heldSK(groupID))))
	if tx.err != nil {
		return translate(tx.err)
	}
	err = s.transact(ctx, tx.items)
	if failed, ok := failedChecks(err); ok {
		switch {
		case failed[1].Code != nil:
			return groups.ErrNotFound
		case failed[0].Code != nil:
			return &groups.Error{Code: groups.CodeNotFound, Detail: "the item is not a member of the group"}
		}
	}
	return translate(err)
}
