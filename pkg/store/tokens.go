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

// A tenant's further tokens, beyond the first one PutTenant writes. The API
// has no endpoint for them: they are credentials, managed by the admin
// command only.

// CreateToken stores another token of the tenant (spec.Hash, the SHA-256 of
// the token) with a label for people to tell tokens apart (spec.Label) and,
// if spec.ReadOnly, allowed only to read. Like the first
// token it carries a copy of the tenant's API key, so that the authorizer
// needs one GetItem. One transaction checks that the tenant still has the key
// that was read and writes the token, so no token is ever stored for a
// tenant that does not exist. It returns ErrNotFound for an unknown tenant
// and a conflict if the hash is stored already.
func (s *Store) CreateToken(ctx context.Context, tenantID string, spec groups.Token) (groups.Token, error) {
	tenant, err := s.tenantItem(ctx, tenantID)
	if err != nil {
		return groups.Token{}, err
	}
	tok := tokenItem{
		PK: tenantPK(tenantID), SK: tokenSK(spec.Hash), Kind: "token", TenantID: tenantID,
		APIKey: tenant.APIKey, CreatedAt: formatTime(s.now()), Label: spec.Label, ReadOnly: spec.ReadOnly, Scope: spec.Scope,
	}
	sameKey := expression.AttributeExists(expression.Name(AttrPK)).
		And(expression.Name(attrAPIKey).Equal(expression.Value(tenant.APIKey)))
	var tx txBuilder
	tx.add(s.checkIf(key(tenantPK(tenantID), skTenant), sameKey))
	tx.add(s.putIf(tok, absent))
	if tx.err != nil {
		return groups.Token{}, translate(tx.err)
	}
	err = s.transact(ctx, tx.items)
	if failed, ok := failedChecks(err); ok {
		switch {
		case failed[0].Code != nil:
			return groups.Token{}, groups.ErrNotFound
		case failed[1].Code != nil:
			return groups.Token{}, groups.Errorf(groups.CodeConflict, "tenant %s already has this token", tenantID)
		}
	}
	if err != nil {
		return groups.Token{}, translate(err)
	}
	return tok.toToken(), nil
}

// ListTokens returns the tenant's tokens in hash order, or ErrNotFound for an
// unknown tenant.
func (s *Store) ListTokens(ctx context.Context, tenantID string) ([]groups.Token, error) {
	if _, err := s.tenantItem(ctx, tenantID); err != nil {
		return nil, err
	}
	expr, err := expression.NewBuilder().WithKeyCondition(
		expression.Key(AttrPK).Equal(expression.Value(tenantPK(tenantID))).
			And(expression.Key(AttrSK).BeginsWith(skTokenPrefix))).Build()
	if err != nil {
		return nil, translate(err)
	}
	p := dynamodb.NewQueryPaginator(s.db, &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    expr.KeyCondition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ConsistentRead:            aws.Bool(true),
	})
	tokens := []groups.Token{}
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, translate(err)
		}
		for _, raw := range page.Items {
			var it tokenItem
			if err := attributevalue.UnmarshalMap(raw, &it); err != nil {
				return nil, translate(err)
			}
			tokens = append(tokens, it.toToken())
		}
	}
	return tokens, nil
}

// DeleteToken deletes the tenant's token with this hash, so that the
// authorizer no longer accepts it. It returns ErrNotFound if there is no
// such token.
func (s *Store) DeleteToken(ctx context.Context, tenantID, tokenHash string) error {
	expr, err := expression.NewBuilder().WithCondition(expression.AttributeExists(expression.Name(AttrPK))).Build()
	if err != nil {
		return translate(err)
	}
	_, err = s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(s.table), Key: key(tenantPK(tenantID), tokenSK(tokenHash)),
		ConditionExpression: expr.Condition(), ExpressionAttributeNames: expr.Names(),
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return groups.ErrNotFound
	}
	return translate(err)
}

// tenantItem reads the tenant, or returns ErrNotFound.
func (s *Store) tenantItem(ctx context.Context, tenantID string) (tenantItem, error) {
	return getOne[tenantItem](ctx, s, key(tenantPK(tenantID), skTenant))
}
