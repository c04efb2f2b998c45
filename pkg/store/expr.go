package store

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
)

// Conditions shared by several operations.
var (
	absent = expression.AttributeNotExists(expression.Name(AttrPK))
	// liveGroup holds for a group that exists and is not being deleted.
	liveGroup = expression.AttributeExists(expression.Name(AttrPK)).
			And(expression.AttributeNotExists(expression.Name(attrDeletingAt)))
)

// put is a transactional Put of item, whatever is there: an item's edge to
// a group holding it, which the membership's own condition guards.
func (s *Store) put(item any) (types.TransactWriteItem, error) {
	av, err := attributevalue.MarshalMap(item)
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	return types.TransactWriteItem{Put: &types.Put{TableName: aws.String(s.table), Item: av}}, nil
}

// del is a transactional Delete of the item at k, if there is one.
func (s *Store) del(k map[string]types.AttributeValue) (types.TransactWriteItem, error) {
	return types.TransactWriteItem{Delete: &types.Delete{TableName: aws.String(s.table), Key: k}}, nil
}

// putIf is a transactional Put of item guarded by cond.
func (s *Store) putIf(item any, cond expression.ConditionBuilder) (types.TransactWriteItem, error) {
	av, err := attributevalue.MarshalMap(item)
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	expr, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	return types.TransactWriteItem{Put: &types.Put{
		TableName: aws.String(s.table), Item: av,
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		// On a failed check the cancellation reason carries the existing item.
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}}, nil
}

// updateIf is a transactional Update of the item at k, guarded by cond (which
// may be nil for an unconditional upsert of a counter).
func (s *Store) updateIf(k map[string]types.AttributeValue, upd expression.UpdateBuilder, cond *expression.ConditionBuilder) (types.TransactWriteItem, error) {
	b := expression.NewBuilder().WithUpdate(upd)
	if cond != nil {
		b = b.WithCondition(*cond)
	}
	expr, err := b.Build()
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	return types.TransactWriteItem{Update: &types.Update{
		TableName: aws.String(s.table), Key: k,
		UpdateExpression:          expr.Update(),
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	}}, nil
}

// deleteIf is a transactional Delete of the item at k guarded by cond.
func (s *Store) deleteIf(k map[string]types.AttributeValue, cond expression.ConditionBuilder) (types.TransactWriteItem, error) {
	expr, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	return types.TransactWriteItem{Delete: &types.Delete{
		TableName: aws.String(s.table), Key: k,
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	}}, nil
}

// checkIf is a transactional ConditionCheck of the item at k: the
// transaction writes nothing unless cond holds for it.
func (s *Store) checkIf(k map[string]types.AttributeValue, cond expression.ConditionBuilder) (types.TransactWriteItem, error) {
	expr, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return types.TransactWriteItem{}, err
	}
	return types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
		TableName: aws.String(s.table), Key: k,
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	}}, nil
}

// txBuilder collects transaction items and the first error building them, so
// that an operation reads as the list of its writes.
type txBuilder struct {
	items []types.TransactWriteItem
	err   error
}

func (b *txBuilder) add(item types.TransactWriteItem, err error) {
	if b.err == nil && err != nil {
		b.err = err
	}
	b.items = append(b.items, item)
}

// directoryUpdate changes the tenant's group count, creating the directory item
// (with its GSI1 keys, so list-groups finds it) on first use.
func directoryUpdate(tenant string, delta int) expression.UpdateBuilder {
	return expression.Add(expression.Name(attrGroupCount), expression.Value(delta)).
		Set(expression.Name(AttrGSI1PK), expression.Value(groupsGSI1PK(tenant))).
		Set(expression.Name(AttrGSI1SK), expression.Value(gsiDirectory))
}

// countsUpdate changes a group's counts by delta per item type and bumps its
// version, since the group's representation (its counts) changed. A counter
// starts from 0 when absent: a group written before its type existed has
// none, and "counts.<type> + :d" on a missing attribute fails the write.
func countsUpdate(delta map[groups.ItemType]int, now string) expression.UpdateBuilder {
	total := 0
	upd := expression.Set(expression.Name(attrUpdatedAt), expression.Value(now)).
		Add(expression.Name(attrVersion), expression.Value(1))
	for _, t := range groups.ItemTypes {
		if d := delta[t]; d != 0 {
			path := expression.Name(attrCounts + "." + string(t))
			upd = upd.Set(path, expression.Plus(path.IfNotExists(expression.Value(0)), expression.Value(d)))
			total += d
		}
	}
	return upd.Add(expression.Name(attrMemberCount), expression.Value(total))
}
