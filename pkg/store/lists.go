package store

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
)

// Every list reads one more item than the page holds: when it arrives there
// is a next page and the cursor points after the last item shown, so the last
// page never comes back empty with a dangling cursor.

var (
	tableKeyAttrs = []string{AttrPK, AttrSK}
	indexKeyAttrs = []string{AttrPK, AttrSK, AttrGSI1PK, AttrGSI1SK}
)

// query runs one Query of the table (index "") or of GSI1 from after, for at
// most limit items.
func (s *Store) query(ctx context.Context, index string, kc expression.KeyConditionBuilder, limit int, after map[string]string) ([]map[string]types.AttributeValue, error) {
	expr, err := expression.NewBuilder().WithKeyCondition(kc).Build()
	if err != nil {
		return nil, translate(err)
	}
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    expr.KeyCondition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		Limit:                     aws.Int32(int32(limit)),
		ExclusiveStartKey:         keyValues(after),
	}
	if index == "" {
		// Base-table reads are strongly consistent: a member just added is
		// listed. GSIs only offer eventual consistency.
		in.ConsistentRead = aws.Bool(true)
	} else {
		in.IndexName = aws.String(index)
	}
	out, err := s.db.Query(ctx, in)
	if err != nil {
		return nil, translate(err)
	}
	return out.Items, nil
}

// forEach hands every item of a key range to fn, a page at a time (fn may
// delete what it is handed: DynamoDB resumes after the last key it read).
func (s *Store) forEach(ctx context.Context, index string, kc expression.KeyConditionBuilder, fn func(map[string]types.AttributeValue) error) error {
	const pageSize = 100
	var after map[string]string
	keyAttrs := tableKeyAttrs
	if index != "" {
		keyAttrs = indexKeyAttrs
	}
	for {
		raw, err := s.query(ctx, index, kc, pageSize, after)
		if err != nil {
			return err
		}
		for _, r := range raw {
			if err := fn(r); err != nil {
				return translate(err)
			}
		}
		if len(raw) < pageSize {
			return nil
		}
		after = keyStrings(raw[len(raw)-1], keyAttrs...)
	}
}

// paginate decodes the first limit raw items into T and sets Next when more
// were read.
func paginate[T any, I any](raw []map[string]types.AttributeValue, limit int, keyAttrs []string, conv func(I) T) (Page[T], error) {
	var page Page[T]
	if len(raw) > limit {
		raw = raw[:limit]
		page.Next = keyStrings(raw[limit-1], keyAttrs...)
	}
	page.Items = make([]T, 0, len(raw))
	for _, r := range raw {
		var it I
		if err := attributevalue.UnmarshalMap(r, &it); err != nil {
			return Page[T]{}, translate(err)
		}
		page.Items = append(page.Items, conv(it))
	}
	return page, nil
}

func sortKeyOf(item map[string]types.AttributeValue, attr string) string {
	v, _ := item[attr].(*types.AttributeValueMemberS)
	if v == nil {
		return ""
	}
	return v.Value
}

// ListGroups lists the tenant's groups in name order, optionally only those
// whose name starts with prefix (case-insensitively). The first page of an
// unfiltered list carries the tenant's group count, read from the directory
// item that the same Query returns.
func (s *Store) ListGroups(ctx context.Context, tenant, prefix string, pr PageRequest) (Page[groups.Group], error) {
	kc := expression.Key(AttrGSI1PK).Equal(expression.Value(groupsGSI1PK(tenant)))
	withCount := pr.After == nil && prefix == ""
	limit := pr.Limit + 1
	if withCount {
		limit++ // the directory item sorts first
	} else {
		kc = kc.And(expression.Key(AttrGSI1SK).BeginsWith(groupGSI1SK(prefix)))
	}
	raw, err := s.query(ctx, IndexGSI1, kc, limit, pr.After)
	if err != nil {
		return Page[groups.Group]{}, err
	}
	total := 0
	if len(raw) > 0 && sortKeyOf(raw[0], AttrGSI1SK) == gsiDirectory {
		var dir struct {
			GroupCount int `dynamodbav:"groupCount"`
		}
		if err := attributevalue.UnmarshalMap(raw[0], &dir); err != nil {
			return Page[groups.Group]{}, translate(err)
		}
		total, raw = dir.GroupCount, raw[1:]
	}
	page, err := paginate(raw, pr.Limit, indexKeyAttrs, groupItem.toGroup)
	if withCount {
		page.Total = &total
	}
	return page, err
}

// ListMembers lists a group's members of one item type, or of all types when
// t is "", in (type, id) order. The first page carries the exact count kept
// on the group item. It returns ErrNotFound if the group does not exist.
//
// All types: the group item sorts just before its memberships, so one Query
// returns both. One type: the group item is not adjacent to that type's
// range, so the first page also reads it (GetItem, in parallel).
func (s *Store) ListMembers(ctx context.Context, tenant, groupID string, t groups.ItemType, pr PageRequest) (Page[groups.Membership], error) {
	pk := expression.Key(AttrPK).Equal(expression.Value(groupPK(tenant, groupID)))
	first := pr.After == nil
	switch {
	case t == "" && first:
		raw, err := s.query(ctx, "", pk.And(expression.Key(AttrSK).Between(
			expression.Value(skGroup), expression.Value(skMemberEnd))), pr.Limit+2, nil)
		if err != nil {
			return Page[groups.Membership]{}, err
		}
		if len(raw) == 0 || sortKeyOf(raw[0], AttrSK) != skGroup {
			return Page[groups.Membership]{}, groups.ErrNotFound
		}
		var g groupItem
		if err := attributevalue.UnmarshalMap(raw[0], &g); err != nil {
			return Page[groups.Membership]{}, translate(err)
		}
		if g.DeletingAt != "" {
			return Page[groups.Membership]{}, groups.ErrNotFound
		}
		page, err := paginate(raw[1:], pr.Limit, tableKeyAttrs, memberItem.toMembership)
		page.Total = &g.MemberCount
		return page, err
	case t == "":
		raw, err := s.query(ctx, "", pk.And(expression.Key(AttrSK).BeginsWith(skMemberRoot)), pr.Limit+1, pr.After)
		if err != nil {
			return Page[groups.Membership]{}, err
		}
		return paginate(raw, pr.Limit, tableKeyAttrs, memberItem.toMembership)
	}
	kc := pk.And(expression.Key(AttrSK).BeginsWith(memberTypePrefix(t)))
	var (
		g    groupItem
		gErr error
		done = make(chan struct{})
	)
	if first {
		go func() { defer close(done); g, gErr = s.getGroupItem(ctx, tenant, groupID) }()
	} else {
		close(done)
	}
	raw, err := s.query(ctx, "", kc, pr.Limit+1, pr.After)
	<-done
	if err != nil {
		return Page[groups.Membership]{}, err
	}
	if gErr != nil {
		return Page[groups.Membership]{}, gErr
	}
	if first && g.DeletingAt != "" {
		return Page[groups.Membership]{}, groups.ErrNotFound
	}
	page, err := paginate(raw, pr.Limit, tableKeyAttrs, memberItem.toMembership)
	if first {
		n := g.Counts[string(t)]
		page.Total = &n
	}
	return page, err
}

// ListItemGroups lists the groups that hold the item, through the inverted
// index (one Query), joined with the groups' names (one BatchGetItem). Groups
// being deleted are left out. No total: it would need a counter per item.
func (s *Store) ListItemGroups(ctx context.Context, tenant string, it groups.Item, pr PageRequest) (Page[groups.GroupRef], error) {
	kc := expression.Key(AttrGSI1PK).Equal(expression.Value(itemGSI1PK(tenant, it))).
		And(expression.Key(AttrGSI1SK).BeginsWith(gsiGroupRoot))
	raw, err := s.query(ctx, IndexGSI1, kc, pr.Limit+1, pr.After)
	if err != nil {
		return Page[groups.GroupRef]{}, err
	}
	members, err := paginate(raw, pr.Limit, indexKeyAttrs, memberItem.toMembership)
	if err != nil || len(members.Items) == 0 {
		return Page[groups.GroupRef]{Items: []groups.GroupRef{}, Next: members.Next}, err
	}
	names, err := s.liveGroupNames(ctx, tenant, members.Items)
	if err != nil {
		return Page[groups.GroupRef]{}, err
	}
	page := Page[groups.GroupRef]{Items: make([]groups.GroupRef, 0, len(members.Items)), Next: members.Next}
	for _, m := range members.Items {
		if name, ok := names[m.GroupID]; ok {
			page.Items = append(page.Items, groups.GroupRef{ID: m.GroupID, Name: name, AddedAt: m.AddedAt})
		}
	}
	return page, nil
}

// liveGroupNames reads the names of the memberships' groups with one
// BatchGetItem, leaving out groups that are gone or being deleted.
func (s *Store) liveGroupNames(ctx context.Context, tenant string, ms []groups.Membership) (map[string]string, error) {
	keys := make([]map[string]types.AttributeValue, len(ms))
	for i, m := range ms {
		keys[i] = key(groupPK(tenant, m.GroupID), skGroup)
	}
	proj := expression.NamesList(expression.Name("id"), expression.Name(attrName), expression.Name(attrDeletingAt))
	names := make(map[string]string, len(ms))
	err := s.batchGet(ctx, keys, &proj, func(raw map[string]types.AttributeValue) error {
		var g groupItem
		if err := attributevalue.UnmarshalMap(raw, &g); err != nil {
			return err
		}
		if g.DeletingAt == "" {
			names[g.ID] = g.Name
		}
		return nil
	})
	return names, err
}

// batchGet reads the items at keys (at most 100) with one BatchGetItem,
// repeating only for keys DynamoDB leaves unprocessed, and hands each item
// found to each.
func (s *Store) batchGet(ctx context.Context, keys []map[string]types.AttributeValue, proj *expression.ProjectionBuilder, each func(map[string]types.AttributeValue) error) error {
	ka := types.KeysAndAttributes{Keys: keys}
	if proj != nil {
		expr, err := expression.NewBuilder().WithProjection(*proj).Build()
		if err != nil {
			return translate(err)
		}
		ka.ProjectionExpression, ka.ExpressionAttributeNames = expr.Projection(), expr.Names()
	}
	req := map[string]types.KeysAndAttributes{s.table: ka}
	for attempt := 1; len(req) > 0; attempt++ {
		if attempt > 1 {
			if err := pause(ctx, attempt); err != nil {
				return err
			}
		}
		out, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
		if err != nil {
			return translate(err)
		}
		for _, raw := range out.Responses[s.table] {
			if err := each(raw); err != nil {
				return translate(err)
			}
		}
		req = out.UnprocessedKeys
	}
	return nil
}
