package store

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
)

// SeedMembers gives a group n vehicle members quickly (batches instead of
// one transaction each), keeping its counts exact, so that tests can build
// the large groups that delete must handle.
func SeedMembers(ctx context.Context, s *Store, tenant, groupID string, n int) error {
	now := s.now()
	reqs := make([]types.WriteRequest, 0, n)
	for i := range n {
		item := toMemberItem(tenant, groups.Membership{
			GroupID: groupID, Item: groups.Item{Type: groups.Vehicles, ID: fmt.Sprintf("veh-%06d", i)}, AddedAt: now,
		})
		av, err := attributevalue.MarshalMap(item)
		if err != nil {
			return err
		}
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: av}})
	}
	for start := 0; start < len(reqs); start += batchWriteMax {
		if err := s.batchWrite(ctx, reqs[start:min(start+batchWriteMax, len(reqs))]); err != nil {
			return err
		}
	}
	expr, err := expression.NewBuilder().WithUpdate(countsUpdate(map[groups.ItemType]int{groups.Vehicles: n}, formatTime(now))).Build()
	if err != nil {
		return err
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: key(groupPK(tenant, groupID), skGroup),
		UpdateExpression: expr.Update(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	return err
}

// ItemsOf returns every item of the tenant's group partition and every
// index entry naming the group: what must all be gone after a delete.
func ItemsOf(ctx context.Context, s *Store, tenant, groupID string) (int, error) {
	n := 0
	p := dynamodb.NewScanPaginator(s.db, &dynamodb.ScanInput{TableName: aws.String(s.table)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return 0, err
		}
		for _, it := range out.Items {
			if sortKeyOf(it, AttrPK) == groupPK(tenant, groupID) || sortKeyOf(it, AttrGSI1SK) == memberGSI1SK(groupID) {
				n++
			}
		}
	}
	return n, nil
}

// UsageItems returns the tenant's all-time counter and its counter of day as
// stored (absent ones left out).
func UsageItems(ctx context.Context, s *Store, tenant string, day time.Time) ([]map[string]types.AttributeValue, error) {
	var items []map[string]types.AttributeValue
	for _, sk := range []string{skUsage, usageDaySK(day)} {
		out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
			TableName: aws.String(s.table), Key: key(tenantPK(tenant), sk), ConsistentRead: aws.Bool(true),
		})
		if err != nil {
			return nil, err
		}
		if out.Item != nil {
			items = append(items, out.Item)
		}
	}
	return items, nil
}

// PartitionKeys gives an example of every partition key format of the
// table, by kind.
func PartitionKeys(tenant string) map[string]string {
	return map[string]string{
		"tenant":     tenantPK(tenant),
		"group":      groupPK(tenant, "grp_1"),
		"name guard": nameGuardPK(tenant, "Berlin"),
		"system":     pkSystem,
	}
}
