package store

import (
	"context"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
)

var (
	tableKeyAttrs = []string{AttrPK, AttrSK}
	indexKeyAttrs = []string{AttrPK, AttrSK, AttrGSI1PK, AttrGSI1SK}
	gsi2KeyAttrs  = []string{AttrPK, AttrSK, AttrGSI2PK, AttrGSI2SK}
	treeKeyAttrs  = []string{AttrPK, AttrSK, AttrGSI3PK, AttrGSI3SK}
)

// query runs one Query of the table (index "") or of an index from after, for at
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

// keyAttrsOf is the key of an item read from index ("" for the table): the
// table's key and, for an index, the index's own, from which a Query
// resumes.
func keyAttrsOf(index string) []string {
	switch index {
	case "":
		return tableKeyAttrs
	case IndexGSI3:
		return treeKeyAttrs
	case IndexGSI2:
		return gsi2KeyAttrs
	}
	return indexKeyAttrs
}

// forEach hands every item of a key range to fn, a page at a time (fn may
// delete what it is handed: DynamoDB resumes after the last key it read).
func (s *Store) forEach(ctx context.Context, index string, kc expression.KeyConditionBuilder, fn func(map[string]types.AttributeValue) error) error {
	const pageSize = 100
	var after map[string]string
	keyAttrs := keyAttrsOf(index)
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

func sortKeyOf(item map[string]types.AttributeValue, attr string) string {
	v, _ := item[attr].(*types.AttributeValueMemberS)
	if v == nil {
		return ""
	}
	return v.Value
}

// GroupFields are the fields list-groups filters on.
var GroupFields = ListSchema{"name": {Attr: attrName, LowerAttr: attrNameLower}, "parentId": {Attr: attrParentID},
	"attributes.*": {Attr: attrAttributes}}

// groupsLayout is where a tenant's groups live: by folded name in GSI1
// (so a search is a begins_with on GSI1SK), by creation in GSI2.
func groupsLayout(tenant string) listLayout {
	pk := groupsGSI1PK(tenant)
	return listLayout{
		schema: GroupFields,
		byName: func(search string) listOrder {
			return listOrder{index: IndexGSI1, keyAttrs: indexKeyAttrs, sortAttr: AttrGSI1SK,
				ranges: []expression.KeyConditionBuilder{expression.Key(AttrGSI1PK).Equal(expression.Value(pk)).
					And(expression.Key(AttrGSI1SK).BeginsWith(groupGSI1SK(search)))}}
		},
		byCreated: listOrder{index: IndexGSI2, keyAttrs: gsi2KeyAttrs, sortAttr: AttrGSI2SK,
			ranges: []expression.KeyConditionBuilder{expression.Key(AttrGSI2PK).Equal(expression.Value(pk)).
				And(expression.Key(AttrGSI2SK).BeginsWith(gsiCreated))}},
		search: func(search string) expression.ConditionBuilder {
			return expression.Name(attrNameLower).BeginsWith(groups.FoldName(search))
		},
	}
}

// ListGroups lists the tenant's groups as q asks (see query.go): search is a
// prefix of the folded name (groups.FoldName); the unfiltered total is the directory's
// group count. The first page of the plain list reads the directory item in
// the same Query, since it sorts just before every name in GSI1.
func (s *Store) ListGroups(ctx context.Context, tenant string, q ListQuery) (Page[groups.Group], error) {
	var root groupItem
	if id := scopeOf(ctx); id != "" {
		var err error
		root, err = s.getGroupItem(ctx, tenant, id)
		switch {
		case groups.CodeOf(err) == groups.CodeNotFound, err == nil && root.DeletingAt != "":
			return Page[groups.Group]{Items: []groups.Group{}}, nil // the scope's root is gone
		case err != nil:
			return Page[groups.Group]{}, err
		}
		q.subtree = true
	}
	r, err := groupsLayout(tenant).read(q)
	if err != nil {
		return Page[groups.Group]{}, err
	}
	if q.subtree {
		// The root and its subtree: the groups whose path starts with the
		// root's (the root's own path, or it and a separator).
		path := expression.Name(AttrGSI3SK)
		within := path.Equal(expression.Value(root.path())).Or(path.BeginsWith(subtreePrefix(root.path())))
		if r.filter.IsSet() {
			within = r.filter.And(within)
		}
		r.filter = within
	}
	if q.plainFirstPage() {
		r.ranges = []expression.KeyConditionBuilder{expression.Key(AttrGSI1PK).Equal(expression.Value(groupsGSI1PK(tenant)))}
		r.head = gsiDirectory
	}
	directory := &listParent{key: key(tenantPK(tenant), skDirectory), total: func(item map[string]types.AttributeValue) (int, error) {
		var dir struct {
			GroupCount int `dynamodbav:"groupCount"`
		}
		return dir.GroupCount, translate(attributevalue.UnmarshalMap(item, &dir))
	}}
	return runList(ctx, s, r, directory, q, groupItem.toGroup)
}

// MemberFields are the fields list-members filters on: a member's name is
// its item id.
var MemberFields = ListSchema{"name": {Attr: attrItemID, LowerAttr: attrNameLower}}

// membersLayout is where a group's members of type t ("" for every type)
// live: by (type, item id) in the group's partition, by addition in GSI2.
// Item ids are case-sensitive, so a search is too: begins_with on
// "M#<type>#<search>". Searching every type reads one range per type, in
// sort-key order. Created order of one type reads every type's entries and
// filters on itemType.
func membersLayout(tenant, groupID string, t groups.ItemType) listLayout {
	pk := expression.Key(AttrPK).Equal(expression.Value(groupPK(tenant, groupID)))
	l := listLayout{
		schema: MemberFields,
		byName: func(search string) listOrder {
			o := listOrder{keyAttrs: tableKeyAttrs, sortAttr: AttrSK}
			switch {
			case t != "":
				o.ranges = []expression.KeyConditionBuilder{pk.And(expression.Key(AttrSK).BeginsWith(memberTypePrefix(t) + search))}
			case search == "":
				o.ranges = []expression.KeyConditionBuilder{pk.And(expression.Key(AttrSK).BeginsWith(skMemberRoot))}
			default:
				for _, typ := range slices.Sorted(slices.Values(groups.ItemTypes)) {
					o.ranges = append(o.ranges, pk.And(expression.Key(AttrSK).BeginsWith(memberTypePrefix(typ)+search)))
				}
			}
			return o
		},
		byCreated: listOrder{index: IndexGSI2, keyAttrs: gsi2KeyAttrs, sortAttr: AttrGSI2SK,
			ranges: []expression.KeyConditionBuilder{expression.Key(AttrGSI2PK).Equal(expression.Value(membersGSI2PK(tenant, groupID))).
				And(expression.Key(AttrGSI2SK).BeginsWith(gsiCreated))}},
		search: func(search string) expression.ConditionBuilder {
			return expression.Name(attrItemID).BeginsWith(search)
		},
	}
	if t != "" {
		l.byCreated.filter = expression.Name(attrItemType).Equal(expression.Value(string(t)))
	}
	return l
}

// ListMembers lists a group's members of one item type, or of every type
// when t is "", as q asks (see query.go). The unfiltered total is the count
// kept on the group item, which every first page reads to answer ErrNotFound
// for a group that does not exist or is being deleted: in the same Query for
// the plain list of every type (the group item sorts just before its
// memberships), else with a GetItem in parallel.
func (s *Store) ListMembers(ctx context.Context, tenant, groupID string, t groups.ItemType, q ListQuery) (Page[groups.Membership], error) {
	r, err := membersLayout(tenant, groupID, t).read(q)
	if err != nil {
		return Page[groups.Membership]{}, err
	}
	if t == "" && q.plainFirstPage() {
		r.ranges = []expression.KeyConditionBuilder{expression.Key(AttrPK).Equal(expression.Value(groupPK(tenant, groupID))).
			And(expression.Key(AttrSK).Between(expression.Value(skGroup), expression.Value(skMemberEnd)))}
		r.head = skGroup
	}
	group := &listParent{key: key(groupPK(tenant, groupID), skGroup), required: true, total: func(item map[string]types.AttributeValue) (int, error) {
		if item == nil {
			return 0, groups.ErrNotFound
		}
		var g groupItem
		if err := attributevalue.UnmarshalMap(item, &g); err != nil {
			return 0, translate(err)
		}
		if g.DeletingAt != "" || !inScope(ctx, g) {
			return 0, groups.ErrNotFound
		}
		if t == "" {
			return g.MemberCount, nil
		}
		return g.Counts[string(t)], nil
	}}
	return runList(ctx, s, r, group, q, memberItem.toMembership)
}

// ListItemGroups lists the groups that hold the item, through the inverted
// index (one Query), joined with the groups' names (liveGroups: one
// BatchGetItem). Groups being deleted, or outside a scoped caller's
// subtree, are left out. No total: it would need a counter per item.
func (s *Store) ListItemGroups(ctx context.Context, tenant string, it groups.Item, pr PageRequest) (Page[groups.GroupRef], error) {
	r := listRead{index: IndexGSI1, keyAttrs: indexKeyAttrs, ranges: []expression.KeyConditionBuilder{
		expression.Key(AttrGSI1PK).Equal(expression.Value(itemGSI1PK(tenant, it))).
			And(expression.Key(AttrGSI1SK).BeginsWith(gsiGroupRoot))}}
	res, err := s.readPage(ctx, r, ListQuery{PageRequest: pr})
	if err != nil {
		return Page[groups.GroupRef]{}, err
	}
	members, err := decodeItems(res.items, memberItem.toMembership)
	if err != nil || len(members) == 0 {
		return Page[groups.GroupRef]{Items: []groups.GroupRef{}, Next: res.next}, err
	}
	ids := make([]string, len(members))
	for i, m := range members {
		ids[i] = m.GroupID
	}
	live, err := s.liveGroups(ctx, tenant, ids)
	if err != nil {
		return Page[groups.GroupRef]{}, err
	}
	page := Page[groups.GroupRef]{Items: make([]groups.GroupRef, 0, len(members)), Next: res.next}
	for _, m := range members {
		if g, ok := live[m.GroupID]; ok {
			page.Items = append(page.Items, groups.GroupRef{ID: m.GroupID, Name: g.Name, AddedAt: m.AddedAt})
		}
	}
	return page, nil
}

// batchGet reads the items at keys (at most 100) with one BatchGetItem,
// strongly consistent (a move checks the subtree it read against it, and
// names just changed are shown), repeating only for keys DynamoDB leaves
// unprocessed, and hands each item found to each.
func (s *Store) batchGet(ctx context.Context, keys []map[string]types.AttributeValue, proj *expression.ProjectionBuilder, each func(map[string]types.AttributeValue) error) error {
	if len(keys) == 0 {
		return nil
	}
	ka := types.KeysAndAttributes{Keys: keys, ConsistentRead: aws.Bool(true)}
	if proj != nil {
		expr, err := expression.NewBuilder().WithProjection(*proj).Build()
		if err != nil {
			return translate(err)
		}
		ka.ProjectionExpression, ka.ExpressionAttributeNames = expr.Projection(), expr.Names()
	}
	all, err := settled(ctx, s, func() (all []map[string]types.AttributeValue, err error) {
		req := map[string]types.KeysAndAttributes{s.table: ka}
		for attempt := 1; len(req) > 0; attempt++ {
			if attempt > 1 {
				if err := pause(ctx, attempt); err != nil {
					return nil, err
				}
			}
			out, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
			if err != nil {
				return nil, translate(err)
			}
			all = append(all, out.Responses[s.table]...)
			req = out.UnprocessedKeys
		}
		return all, nil
	}, func(all []map[string]types.AttributeValue) []map[string]types.AttributeValue { return all })
	if err != nil {
		return err
	}
	for _, raw := range all {
		if err := each(raw); err != nil {
			return translate(err)
		}
	}
	return nil
}
