package store

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
)

// PutTenant creates the tenant and its first token (stored as tokenHash, the
// SHA-256 of the token) in one transaction. It fails with a conflict if the
// tenant exists.
func (s *Store) PutTenant(ctx context.Context, t groups.Tenant, tokenHash string) error {
	now := formatTime(s.now())
	var tx txBuilder
	tx.add(s.putIf(tenantItem{
		PK: tenantPK(t.ID), SK: skTenant, Kind: "tenant", ID: t.ID, Name: t.Name, APIKey: t.APIKey, CreatedAt: now,
	}, absent))
	tx.add(s.putIf(tokenItem{
		PK: tenantPK(t.ID), SK: tokenSK(tokenHash), Kind: "token", TenantID: t.ID, APIKey: t.APIKey, CreatedAt: now,
	}, absent))
	if tx.err != nil {
		return translate(tx.err)
	}
	err := s.transact(ctx, tx.items)
	if failed, ok := failedChecks(err); ok && len(failed) > 0 {
		return groups.Errorf(groups.CodeConflict, "tenant %s already exists", t.ID)
	}
	return translate(err)
}

// TenantByToken returns the tenant that owns the token with this hash, and
// the token, or ErrNotFound. The tenant id comes from the token itself, so
// the lookup is one GetItem inside that tenant's partition.
func (s *Store) TenantByToken(ctx context.Context, tenantID, tokenHash string) (groups.Tenant, groups.Token, error) {
	tok, err := getOne[tokenItem](ctx, s, key(tenantPK(tenantID), tokenSK(tokenHash)))
	if err != nil {
		return groups.Tenant{}, groups.Token{}, err
	}
	return groups.Tenant{ID: tok.TenantID, APIKey: tok.APIKey}, tok.toToken(), nil
}

// cursorKeySize is the AES-256 key size used to seal cursors.
const cursorKeySize = 32

// CursorKey returns the secret that seals pagination cursors. It is created
// by EnsureCursorKey when a tenant is provisioned; the API's functions only
// read it, so read-only functions stay read-only.
func (s *Store) CursorKey(ctx context.Context) ([]byte, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.table), Key: key(pkSystem, skCursorKey), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, translate(err)
	}
	var it struct {
		Secret []byte `dynamodbav:"secret"`
	}
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return nil, translate(err)
	}
	if len(it.Secret) != cursorKeySize {
		return nil, translate(errors.New("no cursor key in the table: provision a tenant with fleetgroups-admin first"))
	}
	return it.Secret, nil
}

// EnsureCursorKey creates the cursor secret if the table has none; racing
// callers agree on whichever was written first.
func (s *Store) EnsureCursorKey(ctx context.Context) error {
	secret := make([]byte, cursorKeySize)
	if _, err := rand.Read(secret); err != nil {
		return err
	}
	expr, err := expression.NewBuilder().WithCondition(absent).Build()
	if err != nil {
		return err
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.table),
		Item: map[string]types.AttributeValue{
			AttrPK: str(pkSystem), AttrSK: str(skCursorKey), "secret": &types.AttributeValueMemberB{Value: secret},
		},
		ConditionExpression: expr.Condition(), ExpressionAttributeNames: expr.Names(),
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return nil
	}
	return translate(err)
}

// CreateTable creates the table from TableDefinition, waits until it is
// active and turns on TTL. Used by tests, the local server and the admin
// command; deployed tables come from the CDK stack.
func (s *Store) CreateTable(ctx context.Context, opts ...TableOption) error {
	def := TableDefinition(s.table)
	for _, o := range opts {
		o(def)
	}
	if _, err := s.db.CreateTable(ctx, def); err != nil {
		return fmt.Errorf("create table %s: %w", s.table, err)
	}
	w := dynamodb.NewTableExistsWaiter(s.db, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = 50 * time.Millisecond
	})
	if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(s.table)}, time.Minute); err != nil {
		return fmt.Errorf("wait for table %s: %w", s.table, err)
	}
	_, err := s.db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(s.table),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(AttrExpires), Enabled: aws.Bool(true),
		},
	})
	if err != nil {
		return fmt.Errorf("enable TTL on %s: %w", s.table, err)
	}
	return nil
}

// EnsureStream turns on the table's stream (TableDefinition's) if it has
// none: a table made before the change feed, on a long-lived DynamoDB
// Local, gains it when the local server opens it. Deployed tables have it
// from the stack.
func (s *Store) EnsureStream(ctx context.Context) error {
	desc, err := s.db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(s.table)})
	if err != nil {
		return fmt.Errorf("describe table %s: %w", s.table, err)
	}
	if spec := desc.Table.StreamSpecification; spec != nil && aws.ToBool(spec.StreamEnabled) {
		return nil
	}
	_, err = s.db.UpdateTable(ctx, &dynamodb.UpdateTableInput{TableName: aws.String(s.table), StreamSpecification: TableDefinition(s.table).StreamSpecification})
	if err != nil {
		return fmt.Errorf("turn on the stream of %s: %w", s.table, err)
	}
	return nil
}

// DeleteTable drops the table; tests use it to clean up.
func (s *Store) DeleteTable(ctx context.Context) error {
	_, err := s.db.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(s.table)})
	return err
}
