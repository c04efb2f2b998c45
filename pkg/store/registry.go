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

// PutRegisteredItem creates or replaces an item's registration in one
// UpdateItem, keeping its creation time (and so its place in the created
// order) on replace. created tells which it was. A write token (repeat.go)
// keeps an SDK retry of a committed attempt from counting the version twice.
func (s *Store) PutRegisteredItem(ctx context.Context, tenant string, ri groups.RegisteredItem) (out groups.RegisteredItem, created bool, err error) {
	if err := tenantWide(ctx); err != nil {
		return out, false, err
	}
	now := formatTime(s.now())
	tok := newWriteToken()
	attrs := ri.Attributes
	if attrs == nil {
		attrs = map[string]string{}
	}
	upd := expression.Set(expression.Name("kind"), expression.Value("item")).
		Set(expression.Name("itemType"), expression.Value(string(ri.Type))).
		Set(expression.Name("itemId"), expression.Value(ri.ID)).
		Set(expression.Name(attrName), expression.Value(ri.Name)).
		Set(expression.Name(attrNameLower), expression.Value(groups.FoldName(ri.Name))).
		Set(expression.Name(attrAttributes), expression.Value(attrs)).
		Set(expression.Name(attrUpdatedAt), expression.Value(now)).
		Set(expression.Name(attrCreatedAt), expression.IfNotExists(expression.Name(attrCreatedAt), expression.Value(now))).
		Set(expression.Name(AttrGSI1PK), expression.Value(itemsPK(tenant, ri.Type))).
		Set(expression.Name(AttrGSI1SK), expression.Value(itemGSI1SK(ri.Name, ri.ID))).
		Set(expression.Name(AttrGSI2PK), expression.Value(itemsPK(tenant, ri.Type))).
		Set(expression.Name(AttrGSI2SK), expression.IfNotExists(expression.Name(AttrGSI2SK), expression.Value(createdSK(now, ri.ID)))).
		Set(expression.Name(attrWriteToken), expression.Value(tok)).
		Add(expression.Name(attrVersion), expression.Value(1))
	if ri.Enterprise != "" {
		upd = upd.Set(expression.Name(attrEnterprise), expression.Value(ri.Enterprise))
	} else {
		upd = upd.Remove(expression.Name(attrEnterprise))
	}
	expr, err := expression.NewBuilder().WithUpdate(upd).WithCondition(notWrittenBy(tok)).Build()
	if err != nil {
		return groups.RegisteredItem{}, false, translate(err)
	}
	res, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: key(itemPK(tenant, ri.Item), skItem),
		UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var written map[string]types.AttributeValue
	var ccf *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &ccf) && writtenBy(ccf.Item, tok):
		written = ccf.Item // a repeat of this write, which was applied
	case err != nil:
		return groups.RegisteredItem{}, false, translate(err)
	default:
		written = res.Attributes
	}
	var it registeredItem
	if err := attributevalue.UnmarshalMap(written, &it); err != nil {
		return groups.RegisteredItem{}, false, translate(err)
	}
	return it.toRegistered(), it.Version == 1, nil
}

// GetRegisteredItem returns the item's registration, or ErrNotFound.
func (s *Store) GetRegisteredItem(ctx context.Context, tenant string, it groups.Item) (groups.RegisteredItem, error) {
	if err := tenantWide(ctx); err != nil {
		return groups.RegisteredItem{}, err
	}
	ri, err := getOne[registeredItem](ctx, s, key(itemPK(tenant, it), skItem))
	return ri.toRegistered(), err
}

// DeleteRegisteredItem removes the item from every group (each removal one
// transaction that also uncounts it, so counts stay exact), removes its
// associations, and then deletes its registration. It returns how many
// groups it left and associations it lost, and ErrNotFound if the item had
// none of the three. Interrupted, it can simply be called again: what is
// left is still consistent.
func (s *Store) DeleteRegisteredItem(ctx context.Context, tenant string, it groups.Item) (groupsLeft, associations int, err error) {
	if err := tenantWide(ctx); err != nil {
		return 0, 0, err
	}
	kc := expression.Key(AttrGSI1PK).Equal(expression.Value(itemGSI1PK(tenant, it))).
		And(expression.Key(AttrGSI1SK).BeginsWith(gsiGroupRoot))
	err = s.forEach(ctx, IndexGSI1, kc, func(raw map[string]types.AttributeValue) error {
		var m memberItem
		if err := attributevalue.UnmarshalMap(raw, &m); err != nil {
			return err
		}
		// A membership already gone, or a group being deleted (whose purge
		// takes the membership), is not an error here.
		switch err := s.RemoveMember(ctx, tenant, m.GroupID, it); groups.CodeOf(err) {
		case "":
			groupsLeft++
		case groups.CodeNotFound:
		default:
			return err
		}
		return nil
	})
	if err != nil {
		return groupsLeft, 0, err
	}
	if associations, err = s.deleteEdges(ctx, tenant, it); err != nil {
		return groupsLeft, associations, err
	}
	out, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(s.table), Key: key(itemPK(tenant, it), skItem), ReturnValues: types.ReturnValueAllOld,
	})
	if err != nil {
		return groupsLeft, associations, translate(err)
	}
	if out.Attributes == nil && groupsLeft == 0 && associations == 0 {
		return 0, 0, groups.ErrNotFound
	}
	return groupsLeft, associations, nil
}

// ItemFields are the fields list-items filters on.
var ItemFields = ListSchema{
	"name":         {Attr: attrName, LowerAttr: attrNameLower},
	"enterprise":   {Attr: attrEnterprise},
	"attributes.*": {Attr: attrAttributes},
}

// ListRegisteredItems lists the tenant's registered items of one type as q
// asks (see query.go): by name in GSI1, by creation in GSI2. There is no
// counter: a total is a COUNT Query, only when asked for.
func (s *Store) ListRegisteredItems(ctx context.Context, tenant string, t groups.ItemType, q ListQuery) (Page[groups.RegisteredItem], error) {
	if err := tenantWide(ctx); err != nil {
		return Page[groups.RegisteredItem]{}, err
	}
	pk := itemsPK(tenant, t)
	r, err := listLayout{
		schema: ItemFields,
		byName: func(search string) listOrder {
			return listOrder{index: IndexGSI1, keyAttrs: indexKeyAttrs, sortAttr: AttrGSI1SK,
				ranges: []expression.KeyConditionBuilder{expression.Key(AttrGSI1PK).Equal(expression.Value(pk)).
					And(expression.Key(AttrGSI1SK).BeginsWith(gsiNamePrefix + nameKey(search)))}}
		},
		byCreated: listOrder{index: IndexGSI2, keyAttrs: gsi2KeyAttrs, sortAttr: AttrGSI2SK,
			ranges: []expression.KeyConditionBuilder{expression.Key(AttrGSI2PK).Equal(expression.Value(pk)).
				And(expression.Key(AttrGSI2SK).BeginsWith(gsiCreated))}},
		search: func(search string) expression.ConditionBuilder {
			return expression.Name(attrNameLower).BeginsWith(groups.FoldName(search))
		},
	}.read(q)
	if err != nil {
		return Page[groups.RegisteredItem]{}, err
	}
	return runList(ctx, s, r, nil, q, registeredItem.toRegistered)
}

// RegisteredItems returns the registrations of items (at most 100) keyed by
// item, with one BatchGetItem (more only if DynamoDB leaves keys
// unprocessed); unregistered items are absent from the map.
func (s *Store) RegisteredItems(ctx context.Context, tenant string, items []groups.Item) (map[groups.Item]groups.RegisteredItem, error) {
	out := make(map[groups.Item]groups.RegisteredItem, len(items))
	if len(items) == 0 {
		return out, nil
	}
	if len(items) > 100 {
		return nil, translate(errors.New("RegisteredItems takes at most 100 items"))
	}
	seen := make(map[groups.Item]bool, len(items))
	keys := make([]map[string]types.AttributeValue, 0, len(items))
	for _, it := range items {
		if !seen[it] {
			seen[it] = true
			keys = append(keys, key(itemPK(tenant, it), skItem))
		}
	}
	err := s.batchGet(ctx, keys, nil, func(raw map[string]types.AttributeValue) error {
		var ri registeredItem
		if err := attributevalue.UnmarshalMap(raw, &ri); err != nil {
			return err
		}
		r := ri.toRegistered()
		out[r.Item] = r
		return nil
	})
	return out, err
}
