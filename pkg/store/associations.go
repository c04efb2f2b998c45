package store

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
)

// NewAssociationID returns a random association id.
func NewAssociationID() string { return "asc_" + RandomToken(16) }

// CreateAssociation links a vehicle and a user: the association record and
// an edge in each item's partition, in one transaction. If the two are
// already linked it returns the existing association with created false.
func (s *Store) CreateAssociation(ctx context.Context, tenant, vehicleID, userID string) (a groups.Association, created bool, err error) {
	if err := tenantWide(ctx); err != nil {
		return a, false, err
	}
	a = groups.Association{ID: s.NewAssociationID(), VehicleID: vehicleID, UserID: userID, CreatedAt: s.now()}
	edges := toEdgeItems(tenant, a)
	rec := edges[0].associationItem
	rec.PK, rec.SK, rec.Kind = associationPK(tenant, a.ID), skAssociation, "association"
	var tx txBuilder
	tx.add(s.putIf(edges[0], absent))
	tx.add(s.putIf(edges[1], absent))
	tx.add(s.putIf(rec, absent))
	if tx.err != nil {
		return groups.Association{}, false, translate(tx.err)
	}
	err = s.transact(ctx, tx.items)
	if failed, ok := failedChecks(err); ok && failed[0].Code != nil {
		var old edgeItem
		if err := attributevalue.UnmarshalMap(failed[0].Item, &old); err != nil {
			return groups.Association{}, false, translate(err)
		}
		return old.toAssociation(), false, nil
	}
	if err != nil {
		return groups.Association{}, false, translate(err)
	}
	return a, true, nil
}

// Associations reads the associations with these ids (at most 100) with one
// BatchGetItem; unknown ids are absent from the map.
func (s *Store) Associations(ctx context.Context, tenant string, ids []string) (map[string]groups.Association, error) {
	if err := tenantWide(ctx); err != nil {
		return nil, err
	}
	keys := make([]map[string]types.AttributeValue, 0, len(ids))
	seen := map[string]bool{}
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			keys = append(keys, key(associationPK(tenant, id), skAssociation))
		}
	}
	out := make(map[string]groups.Association, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	err := s.batchGet(ctx, keys, nil, func(raw map[string]types.AttributeValue) error {
		var it associationItem
		if err := attributevalue.UnmarshalMap(raw, &it); err != nil {
			return err
		}
		out[it.ID] = it.toAssociation()
		return nil
	})
	return out, err
}

// DeleteAssociation removes the association record and both edges in one
// transaction. It returns ErrNotFound (code association_not_found) if the
// association is gone.
func (s *Store) DeleteAssociation(ctx context.Context, tenant string, a groups.Association) error {
	if err := tenantWide(ctx); err != nil {
		return err
	}
	edges := toEdgeItems(tenant, a)
	exists := expression.Name(AttrPK).AttributeExists()
	sameID := exists.And(expression.Name("id").Equal(expression.Value(a.ID)))
	var tx txBuilder
	tx.add(s.deleteIf(key(associationPK(tenant, a.ID), skAssociation), exists))
	tx.add(s.deleteIf(key(edges[0].PK, edges[0].SK), sameID))
	tx.add(s.deleteIf(key(edges[1].PK, edges[1].SK), sameID))
	if tx.err != nil {
		return translate(tx.err)
	}
	err := s.transact(ctx, tx.items)
	if failed, ok := failedChecks(err); ok && len(failed) > 0 {
		return ErrAssociationNotFound
	}
	return translate(err)
}

// ErrAssociationNotFound is returned for an association that does not exist
// or belongs to another tenant.
var ErrAssociationNotFound = &groups.Error{Code: groups.CodeAssociationNotFound, Detail: "no association with this id"}

// AssociationFields are the fields the association lists filter on: an
// association's name is the other item's id.
var AssociationFields = ListSchema{"name": {}}

// ListAssociations lists from's associations with items of type to as q
// asks (see query.go): by the other item's id in from's partition (so a
// search is begins_with on "A#<to>#<search>", case-sensitive like ids), by
// creation in GSI2. ilk on the id is tested in memory (edges keep no
// lower-case copy). No counter: a total only when asked for.
func (s *Store) ListAssociations(ctx context.Context, tenant string, from groups.Item, to groups.ItemType, q ListQuery) (Page[groups.Association], error) {
	if err := tenantWide(ctx); err != nil {
		return Page[groups.Association]{}, err
	}
	other := "userId"
	if to == groups.Vehicles {
		other = "vehicleId"
	}
	pk := expression.Key(AttrPK).Equal(expression.Value(itemPK(tenant, from)))
	r, err := listLayout{
		schema: ListSchema{"name": {Attr: other}},
		byName: func(search string) listOrder {
			return listOrder{keyAttrs: tableKeyAttrs, sortAttr: AttrSK,
				ranges: []expression.KeyConditionBuilder{pk.And(expression.Key(AttrSK).BeginsWith(edgeTypePrefix(to) + search))}}
		},
		byCreated: listOrder{index: IndexGSI2, keyAttrs: gsi2KeyAttrs, sortAttr: AttrGSI2SK,
			ranges: []expression.KeyConditionBuilder{expression.Key(AttrGSI2PK).Equal(expression.Value(edgesGSI2PK(tenant, from, to))).
				And(expression.Key(AttrGSI2SK).BeginsWith(gsiCreated))}},
		search: func(search string) expression.ConditionBuilder { return expression.Name(other).BeginsWith(search) },
	}.read(q)
	if err != nil {
		return Page[groups.Association]{}, err
	}
	return runList(ctx, s, r, nil, q, edgeItem.toAssociation)
}

// deleteEdges removes every association of the item (record and both
// edges), so that deleting an item leaves no edge pointing at it. It returns
// how many it removed.
func (s *Store) deleteEdges(ctx context.Context, tenant string, it groups.Item) (int, error) {
	kc := expression.Key(AttrPK).Equal(expression.Value(itemPK(tenant, it))).
		And(expression.Key(AttrSK).BeginsWith(skEdgeRoot))
	n := 0
	err := s.forEach(ctx, "", kc, func(raw map[string]types.AttributeValue) error {
		var e edgeItem
		if err := attributevalue.UnmarshalMap(raw, &e); err != nil {
			return err
		}
		switch err := s.DeleteAssociation(ctx, tenant, e.toAssociation()); {
		case err == nil:
			n++
		case !errors.Is(err, ErrAssociationNotFound):
			return err
		}
		return nil
	})
	return n, err
}
