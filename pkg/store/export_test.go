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
	return SeedMembersOf(ctx, s, tenant, groupID, groups.Vehicles, "veh-", n)
}

// SeedMembersOf is SeedMembers for members of type t with ids
// <prefix>000000, <prefix>000001…
func SeedMembersOf(ctx context.Context, s *Store, tenant, groupID string, t groups.ItemType, prefix string, n int) error {
	items := make([]groups.Item, n)
	for i := range items {
		items[i] = groups.Item{Type: t, ID: fmt.Sprintf("%s%06d", prefix, i)}
	}
	return s.LoadMembers(ctx, tenant, groupID, items)
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

// UsageItem returns the tenant's usage item as stored (nil if absent).
func UsageItem(ctx context.Context, s *Store, tenant string) (map[string]types.AttributeValue, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.table), Key: key(tenantPK(tenant), skUsage), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, err
	}
	return out.Item, nil
}

// PutOldUsage writes the tenant's counters as the code before the single
// usage item did: the total of calls in T#<t>/USAGE, and a day item
// T#<t>/USAGE#<yyyy-mm-dd> with dayCalls and its TTL.
func PutOldUsage(ctx context.Context, s *Store, tenant string, calls int64, day time.Time, dayCalls int64) error {
	for _, it := range []map[string]types.AttributeValue{
		{AttrPK: &types.AttributeValueMemberS{Value: tenantPK(tenant)}, AttrSK: &types.AttributeValueMemberS{Value: skUsage},
			attrCalls: &types.AttributeValueMemberN{Value: fmt.Sprint(calls)}},
		{AttrPK: &types.AttributeValueMemberS{Value: tenantPK(tenant)}, AttrSK: &types.AttributeValueMemberS{Value: skUsage + "#" + day.Format(time.DateOnly)},
			attrCalls:   &types.AttributeValueMemberN{Value: fmt.Sprint(dayCalls)},
			AttrExpires: &types.AttributeValueMemberN{Value: fmt.Sprint(day.Add(400 * 24 * time.Hour).Unix())}},
	} {
		if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: it}); err != nil {
			return err
		}
	}
	return nil
}

// PartitionKeys gives an example of every partition key format of the
// table, by kind.
func PartitionKeys(tenant string) map[string]string {
	return map[string]string{
		"tenant":     tenantPK(tenant),
		"group":      groupPK(tenant, "grp_1"),
		"name guard": nameGuardPK(tenant, "Berlin"),
		"system":     pkSystem,
		"move":       movePK(tenant),
	}
}

// Thing is a test-only list entry shaped like the item registry's: a name,
// an optional enterprise and a map of attributes. ListThings is the query
// layer applied to it, as a list of the registry would apply it, so that map
// fields and absent fields are tested against DynamoDB before a real list
// has them. Its keys live under "T#<t>#TEST#", which nothing else uses.
type Thing struct {
	ID, Name, Enterprise string
	Attributes           map[string]string
}

type thingItem struct {
	PK         string            `dynamodbav:"PK"`
	SK         string            `dynamodbav:"SK"`
	GSI1PK     string            `dynamodbav:"GSI1PK"`
	GSI1SK     string            `dynamodbav:"GSI1SK"`
	GSI2PK     string            `dynamodbav:"GSI2PK"`
	GSI2SK     string            `dynamodbav:"GSI2SK"`
	ID         string            `dynamodbav:"id"`
	Name       string            `dynamodbav:"name"`
	NameLower  string            `dynamodbav:"nameLower"`
	Enterprise string            `dynamodbav:"enterprise,omitempty"`
	Attributes map[string]string `dynamodbav:"attributes,omitempty"`
}

func (it thingItem) toThing() Thing {
	return Thing{ID: it.ID, Name: it.Name, Enterprise: it.Enterprise, Attributes: it.Attributes}
}

// ThingFields: ilk on name uses the lower-case copy; on enterprise and
// attributes it is tested in memory.
var ThingFields = ListSchema{
	"name":         {Attr: attrName, LowerAttr: attrNameLower},
	"enterprise":   {Attr: "enterprise"},
	"attributes.*": {Attr: "attributes"},
}

func thingsPK(tenant string) string { return tenantPK(tenant) + "#TEST#THINGS" }

// PutThing stores th, created now.
func PutThing(ctx context.Context, s *Store, tenant string, th Thing) error {
	lower := groups.FoldName(th.Name)
	item, err := attributevalue.MarshalMap(thingItem{
		PK: tenantPK(tenant) + "#TEST#THING#" + th.ID, SK: "#THING",
		GSI1PK: thingsPK(tenant), GSI1SK: gsiNamePrefix + lower + "#" + th.ID,
		GSI2PK: thingsPK(tenant), GSI2SK: createdSK(formatTime(s.now()), th.ID),
		ID: th.ID, Name: th.Name, NameLower: lower, Enterprise: th.Enterprise, Attributes: th.Attributes,
	})
	if err != nil {
		return err
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item})
	return err
}

// ListThings lists the tenant's things as q asks. There is no counter, so
// a total comes only when asked for (count=true, page numbers), from a COUNT
// Query.
func ListThings(ctx context.Context, s *Store, tenant string, q ListQuery) (Page[Thing], error) {
	pk := thingsPK(tenant)
	r, err := listLayout{
		schema: ThingFields,
		byName: func(search string) listOrder {
			return listOrder{index: IndexGSI1, keyAttrs: indexKeyAttrs, sortAttr: AttrGSI1SK,
				ranges: []expression.KeyConditionBuilder{expression.Key(AttrGSI1PK).Equal(expression.Value(pk)).
					And(expression.Key(AttrGSI1SK).BeginsWith(gsiNamePrefix + groups.FoldName(search)))}}
		},
		byCreated: listOrder{index: IndexGSI2, keyAttrs: gsi2KeyAttrs, sortAttr: AttrGSI2SK,
			ranges: []expression.KeyConditionBuilder{expression.Key(AttrGSI2PK).Equal(expression.Value(pk)).
				And(expression.Key(AttrGSI2SK).BeginsWith(gsiCreated))}},
		search: func(search string) expression.ConditionBuilder {
			return expression.Name(attrNameLower).BeginsWith(groups.FoldName(search))
		},
	}.read(q)
	if err != nil {
		return Page[Thing]{}, err
	}
	return runList(ctx, s, r, nil, q, thingItem.toThing)
}

// DropCounters removes the group's counters of the item types ts, as a
// group written before those types existed lacks them.
func DropCounters(ctx context.Context, s *Store, tenant, groupID string, ts ...groups.ItemType) error {
	var upd expression.UpdateBuilder
	for _, t := range ts {
		upd = upd.Remove(expression.Name(attrCounts + "." + string(t)))
	}
	return updateGroupItem(ctx, s, tenant, groupID, upd)
}

// DropNameGuard deletes the name guard of name, as tables damaged by the
// case-only rename race (issue 6) may lack it.
func DropNameGuard(ctx context.Context, s *Store, tenant, name string) error {
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.table), Key: key(nameGuardPK(tenant, name), skNameGuard)})
	return err
}

// SetStoredName overwrites the group's name alone, leaving its lower-case
// copy, index key and guard as they were: the state the case-only rename
// race left behind when it overwrote a concurrent rename.
func SetStoredName(ctx context.Context, s *Store, tenant, groupID, name string) error {
	return updateGroupItem(ctx, s, tenant, groupID, expression.Set(expression.Name(attrName), expression.Value(name)))
}

// updateGroupItem applies upd to the group item unconditionally, as only a
// test damaging a table would.
func updateGroupItem(ctx context.Context, s *Store, tenant, groupID string, upd expression.UpdateBuilder) error {
	expr, err := expression.NewBuilder().WithUpdate(upd).Build()
	if err != nil {
		return err
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: key(groupPK(tenant, groupID), skGroup),
		UpdateExpression: expr.Update(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	return err
}

// PurgePageSize and MaxBatchAttempts bound the purge's work between two
// looks at its deadline.
const (
	PurgePageSize    = purgePageSize
	MaxBatchAttempts = maxBatchAttempts
)
