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

// CursorKey is one of the keys that seal pagination cursors. ID 0 is the
// table's first key; cursors sealed with it carry no key id, as every
// cursor did before keys could be rotated.
type CursorKey struct {
	ID     int
	Secret []byte
	// RetiredAt is when a newer key replaced it (zero for the current key).
	RetiredAt time.Time
}

// CursorKeys are the current key, which seals, and the retired ones that
// still open cursors (for CursorKeyRetention after they were replaced).
type CursorKeys struct {
	Current CursorKey
	Retired []CursorKey
}

// CursorKeyRetention is how long a replaced key still opens cursors: as
// long as the change feed's cursors live, and a day more.
const CursorKeyRetention = groups.ChangeRetention + 24*time.Hour

// cursorKeyItem is the cursor keys' item (#SYSTEM / CURSOR_KEY).
type cursorKeyItem struct {
	PK      string           `dynamodbav:"PK"`
	SK      string           `dynamodbav:"SK"`
	Secret  []byte           `dynamodbav:"secret"`
	KeyID   int              `dynamodbav:"keyId"`
	Retired []retiredKeyItem `dynamodbav:"retired,omitempty"`
	Version int64            `dynamodbav:"version"`
}

type retiredKeyItem struct {
	ID        int    `dynamodbav:"id"`
	Secret    []byte `dynamodbav:"secret"`
	RetiredAt string `dynamodbav:"retiredAt"`
}

func (it cursorKeyItem) keys() CursorKeys {
	ks := CursorKeys{Current: CursorKey{ID: it.KeyID, Secret: it.Secret}}
	for _, r := range it.Retired {
		ks.Retired = append(ks.Retired, CursorKey{ID: r.ID, Secret: r.Secret, RetiredAt: parseTime(r.RetiredAt)})
	}
	return ks
}

// CursorKeys returns the keys that seal and open pagination cursors. The
// first is created by EnsureCursorKey when a tenant is provisioned, and
// RotateCursorKey replaces it; the API's functions only read them, so
// read-only functions stay read-only.
func (s *Store) CursorKeys(ctx context.Context) (CursorKeys, error) {
	it, err := s.cursorKeyItem(ctx)
	return it.keys(), err
}

// cursorKeyItem reads the cursor keys' item, which must hold a key.
func (s *Store) cursorKeyItem(ctx context.Context) (cursorKeyItem, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.table), Key: key(pkSystem, skCursorKey), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return cursorKeyItem{}, translate(err)
	}
	var it cursorKeyItem
	if err := attributevalue.UnmarshalMap(out.Item, &it); err != nil {
		return cursorKeyItem{}, translate(err)
	}
	if len(it.Secret) != cursorKeySize {
		return cursorKeyItem{}, translate(errors.New("no cursor key in the table: provision a tenant with fleetgroups-admin first"))
	}
	return it, nil
}

// RotateCursorKey makes a new key current. The one it replaces still opens
// cursors for CursorKeyRetention; keys retired longer ago are dropped, and
// the cursors they sealed are invalid_cursor from then on.
func (s *Store) RotateCursorKey(ctx context.Context) (CursorKeys, error) {
	for attempt := 1; ; attempt++ {
		it, err := s.cursorKeyItem(ctx)
		if err != nil {
			return CursorKeys{}, err
		}
		now := s.Now()
		retired := []retiredKeyItem{{ID: it.KeyID, Secret: it.Secret, RetiredAt: formatTime(now)}}
		for _, r := range it.Retired {
			if now.Sub(parseTime(r.RetiredAt)) < CursorKeyRetention {
				retired = append(retired, r)
			}
		}
		next := cursorKeyItem{PK: pkSystem, SK: skCursorKey, Secret: make([]byte, cursorKeySize), KeyID: it.KeyID + 1,
			Retired: retired, Version: it.Version + 1}
		if _, err := rand.Read(next.Secret); err != nil {
			return CursorKeys{}, err
		}
		var tx txBuilder
		tx.add(s.putIf(next, expression.Name(attrVersion).AttributeNotExists().Or(expression.Name(attrVersion).Equal(expression.Value(it.Version)))))
		if tx.err != nil {
			return CursorKeys{}, tx.err
		}
		err = s.transact(ctx, tx.items)
		if failed, ok := failedChecks(err); ok && len(failed) > 0 && attempt < maxTxAttempts {
			continue // rotated meanwhile
		}
		if err != nil {
			return CursorKeys{}, translate(err)
		}
		return next.keys(), nil
	}
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

// DeleteTable drops the table; the tests and benchmarks clean up with it.
//
// A table already gone is not an error: that is what the call is for, and
// a DeleteTable that the SDK makes again after its first answer was lost
// (make bench-coldstart's drop between rounds met one on a busy machine)
// finds it so.
func (s *Store) DeleteTable(ctx context.Context) error {
	_, err := s.db.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(s.table)})
	if gone := (*types.ResourceNotFoundException)(nil); errors.As(err, &gone) {
		return nil
	}
	return err
}
