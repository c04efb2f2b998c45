package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// IdempotencyRecord is what the table holds for one of a tenant's
// idempotency keys: the fingerprint of the request that first used it, and
// either the claim of that request while it runs or, once Done, its response.
type IdempotencyRecord struct {
	Fingerprint string
	// Claim is the token of the request that holds the key; only it may
	// complete or release the key.
	Claim    string
	Done     bool
	Response StoredResponse
}

// StoredResponse is a response kept for replay.
type StoredResponse struct {
	Status int
	Header map[string]string
	Body   []byte
}

// ErrClaimLost is returned when a claim is completed or released after
// another request took the key over, which happens only if the claim's lease
// ran out first.
var ErrClaimLost = errors.New("the idempotency key is no longer held by this request")

// ClaimIdempotencyKey takes the tenant's key for a request with fingerprint,
// for lease: one conditional PutItem that succeeds when the key has no live
// record (none, or one past its expiry that TTL has not removed yet). If the
// key is taken, claimed is false and rec is the live record, returned by the
// same request (ALL_OLD), so that a replay costs one write request.
func (s *Store) ClaimIdempotencyKey(ctx context.Context, tenant, idemKey, fingerprint string, lease time.Duration) (rec IdempotencyRecord, claimed bool, err error) {
	now := s.now()
	it := idempotencyItem{
		PK: idempotencyPK(tenant, idemKey), SK: skIdempotency, Kind: "idempotency",
		Fingerprint: fingerprint, Claim: RandomToken(10), State: stateInProgress,
		CreatedAt: formatTime(now), ExpiresAt: now.Add(lease).Unix(),
	}
	av, err := attributevalue.MarshalMap(it)
	if err != nil {
		return IdempotencyRecord{}, false, translate(err)
	}
	expr, err := expression.NewBuilder().WithCondition(absent.Or(expired(now))).Build()
	if err != nil {
		return IdempotencyRecord{}, false, translate(err)
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.table), Item: av,
		ConditionExpression: expr.Condition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		var held idempotencyItem
		if err := attributevalue.UnmarshalMap(ccf.Item, &held); err != nil {
			return IdempotencyRecord{}, false, translate(err)
		}
		// Our own claim means the SDK repeated a put that DynamoDB had
		// committed (its response lost): the key is ours.
		return held.toRecord(), held.Claim == it.Claim, nil
	}
	if err != nil {
		return IdempotencyRecord{}, false, translate(err)
	}
	return it.toRecord(), true, nil
}

// expired holds for an item whose TTL has passed at now.
func expired(now time.Time) expression.ConditionBuilder {
	return expression.Name(AttrExpires).LessThanEqual(expression.Value(now.Unix()))
}

// CompleteIdempotencyKey stores resp as the outcome of the claimed key, to
// be replayed for ttl.
func (s *Store) CompleteIdempotencyKey(ctx context.Context, tenant, idemKey string, claim IdempotencyRecord, resp StoredResponse, ttl time.Duration) error {
	upd := expression.Set(expression.Name(attrState), expression.Value(stateDone)).
		Set(expression.Name(attrStatus), expression.Value(resp.Status)).
		Set(expression.Name(attrHeader), expression.Value(resp.Header)).
		Set(expression.Name(AttrExpires), expression.Value(s.now().Add(ttl).Unix()))
	if len(resp.Body) > 0 { // an empty binary attribute is not allowed
		upd = upd.Set(expression.Name(attrBody), expression.Value(resp.Body))
	}
	expr, err := expression.NewBuilder().WithUpdate(upd).WithCondition(heldBy(claim)).Build()
	if err != nil {
		return translate(err)
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: key(idempotencyPK(tenant, idemKey), skIdempotency),
		UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	return claimError(err)
}

// ReleaseIdempotencyKey deletes the claim, so that a retry with the key runs
// the request again. A record already gone counts as released: the SDK
// repeated a delete that DynamoDB had committed, or TTL took the record.
// (CompleteIdempotencyKey needs no such care: its repeat sets the same
// values under the same claim.)
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, tenant, idemKey string, claim IdempotencyRecord) error {
	expr, err := expression.NewBuilder().WithCondition(heldBy(claim)).Build()
	if err != nil {
		return translate(err)
	}
	_, err = s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(s.table), Key: key(idempotencyPK(tenant, idemKey), skIdempotency),
		ConditionExpression: expr.Condition(), ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) && ccf.Item == nil {
		return nil
	}
	return claimError(err)
}

func heldBy(claim IdempotencyRecord) expression.ConditionBuilder {
	return expression.Name(attrClaim).Equal(expression.Value(claim.Claim))
}

func claimError(err error) error {
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return ErrClaimLost
	}
	if err != nil {
		return fmt.Errorf("idempotency record: %w", translate(err))
	}
	return nil
}
