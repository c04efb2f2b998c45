package store

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
)

// maxChangesPerTx fits DynamoDB's 100-action transactions: each change is
// two actions (the membership and the item's edge to the group), and the
// group's count update one more.
const maxChangesPerTx = 49

// ApplyMemberChanges adds and removes many items in one go. Each chunk of
// changes is one transaction together with the group's count update, so the
// counts always match the memberships. A change whose condition fails (the
// item is already a member, or is not one) is reported as such and the rest
// of its chunk is applied again without it. changes must hold distinct
// items. It returns one outcome per change, in order, or ErrNotFound if the
// group does not exist (or is being deleted).
func (s *Store) ApplyMemberChanges(ctx context.Context, tenant, groupID string, changes []groups.MemberChange) ([]groups.Outcome, error) {
	guard, err := s.memberGuard(ctx, tenant, groupID)
	if err != nil {
		return nil, err
	}
	outcomes := make([]groups.Outcome, len(changes))
	for start := 0; start < len(changes); start += maxChangesPerTx {
		end := min(start+maxChangesPerTx, len(changes))
		pending := make([]int, 0, end-start) // indexes into changes
		for i := start; i < end; i++ {
			pending = append(pending, i)
		}
		for len(pending) > 0 {
			failed, err := s.applyChunk(ctx, tenant, groupID, guard, changes, pending)
			if err != nil {
				return nil, err
			}
			if len(failed) == 0 {
				for _, i := range pending {
					outcomes[i] = outcome(changes[i], true)
				}
				break
			}
			// The failed ones are settled; the rest go again.
			var rest []int
			for j, i := range pending {
				if failed[j] {
					outcomes[i] = outcome(changes[i], false)
				} else {
					rest = append(rest, i)
				}
			}
			pending = rest
		}
	}
	return outcomes, nil
}

// applyChunk runs one transaction for the pending changes. failed[j] tells
// which of them (by position in pending) had its condition fail; nil means
// the transaction went through.
func (s *Store) applyChunk(ctx context.Context, tenant, groupID string, guard expression.ConditionBuilder, changes []groups.MemberChange, pending []int) (failed map[int]bool, err error) {
	now := s.now()
	delta := map[groups.ItemType]int{}
	var tx txBuilder
	for _, i := range pending {
		c := changes[i]
		m := groups.Membership{GroupID: groupID, Item: c.Item, AddedAt: now}
		if c.Remove {
			delta[c.Item.Type]--
			tx.add(s.deleteIf(key(groupPK(tenant, groupID), memberSK(c.Item)), expression.AttributeExists(expression.Name(AttrPK))))
			tx.add(s.del(key(itemPK(tenant, c.Item), heldSK(groupID))))
		} else {
			delta[c.Item.Type]++
			tx.add(s.putIf(toMemberItem(tenant, m), absent))
			tx.add(s.put(toHeldItem(tenant, m)))
		}
	}
	tx.add(s.updateIf(key(groupPK(tenant, groupID), skGroup), countsUpdate(delta, formatTime(now)), &guard))
	if tx.err != nil {
		return nil, translate(tx.err)
	}
	err = s.transact(ctx, tx.items)
	reasons, ok := failedChecks(err)
	switch {
	case ok && reasons[2*len(pending)].Code != nil:
		return nil, groups.ErrNotFound
	case ok && len(reasons) > 0:
		// Only memberships (at 2j) carry conditions.
		failed = make(map[int]bool, len(reasons))
		for i := range reasons {
			failed[i/2] = true
		}
		return failed, nil
	}
	return nil, translate(err)
}

// outcome names what became of c: applied, or found already so.
func outcome(c groups.MemberChange, applied bool) groups.Outcome {
	switch {
	case c.Remove && applied:
		return groups.Removed
	case c.Remove:
		return groups.NotMember
	case applied:
		return groups.Added
	}
	return groups.AlreadyMember
}
