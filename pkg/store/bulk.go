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

// LoadMembers makes items members of the group quickly, for benchmarks and
// tests that need large groups: one UpdateItem adds them to the group's
// counts, then the memberships go in BatchWriteItem calls of 25
// (purgeWorkers at once). It is not an operation of the API: it does not
// check that an item is not a member already (one that is would be counted
// twice), and the memberships and the counts are not written together, so
// nothing else may write the group meanwhile. It returns ErrNotFound,
// having written nothing, if the group does not exist or is being deleted.
func (s *Store) LoadMembers(ctx context.Context, tenant, groupID string, items []groups.Item) error {
	now := s.now()
	delta := map[groups.ItemType]int{}
	reqs := make([]types.WriteRequest, 0, 2*len(items))
	for _, it := range items {
		m := groups.Membership{GroupID: groupID, Item: it, AddedAt: now}
		for _, item := range []any{toMemberItem(tenant, m), toHeldItem(tenant, m)} {
			av, err := attributevalue.MarshalMap(item)
			if err != nil {
				return translate(err)
			}
			reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: av}})
		}
		delta[it.Type]++
	}
	expr, err := expression.NewBuilder().WithUpdate(countsUpdate(delta, formatTime(now))).WithCondition(liveGroup).Build()
	if err != nil {
		return translate(err)
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: key(groupPK(tenant, groupID), skGroup),
		UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	if ccf := (*types.ConditionalCheckFailedException)(nil); errors.As(err, &ccf) {
		return groups.ErrNotFound
	}
	if err != nil {
		return translate(err)
	}
	return translate(s.batchWriteAll(ctx, reqs))
}
