package store

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
)

// ErrDeleteInProgress is returned by DeleteGroup when the group is gone for
// every reader (its name is free, GET is 404) but its memberships could not
// all be purged before the caller's deadline. Calling DeleteGroup again
// resumes the purge.
var ErrDeleteInProgress = errors.New("group deletion in progress")

// purgeReserve is how much of the caller's deadline the purge leaves unused,
// so that the caller can still answer before API Gateway's 29 s limit.
const purgeReserve = 3 * time.Second

// DeleteGroup deletes the group, frees its name, decrements the tenant's
// group count and removes every membership, for any group size.
//
// A group without members goes in one transaction. A larger group cannot
// (a transaction holds 100 items), so the first transaction turns the group
// item into a tombstone (deletingAt set, dropped from the list indexes), frees
// the name and decrements the count; from then on the group is 404 to every
// reader and add-member's condition fails, so no membership can be added
// behind the purge. The memberships are then deleted in batches and the
// tombstone last. If the process dies midway the tombstone stays, hidden, and
// a repeated DELETE resumes the purge, so no orphan is ever left for good.
//
// With ifVersion (not AnyVersion) the group must be at a version it allows:
// the version read is compared, and the first transaction is conditional on it,
// so a change that lands between the read and the write fails the delete. A
// tombstone answers a conditional delete with ErrNotFound (the group is gone);
// only an unconditional DELETE resumes its purge.
//
// It returns the deleted group; ErrNotFound if there is no such group;
// ErrPreconditionFailed if it is at a version ifVersion does not allow;
// ErrDeleteInProgress (with the group) if the deadline came first.
func (s *Store) DeleteGroup(ctx context.Context, tenant, id string, ifVersion IfVersion) (groups.Group, error) {
	for attempt := 1; ; attempt++ {
		cur, err := s.getGroupItem(ctx, tenant, id)
		if err != nil {
			return groups.Group{}, err
		}
		if err := checkVersion(cur, ifVersion); err != nil {
			return groups.Group{}, err
		}
		if cur.DeletingAt == "" {
			err = s.retire(ctx, tenant, cur)
			if errors.Is(err, errVersionMoved) && attempt < maxTxAttempts {
				continue
			}
			if err != nil || cur.MemberCount == 0 {
				return cur.toGroup(), err
			}
		}
		return cur.toGroup(), s.purge(ctx, tenant, cur)
	}
}

// retire is the atomic part of a delete: the group item is deleted (no
// members) or becomes a tombstone, the guard goes and the count drops, all
// guarded by the version read, so that a member added since is not missed.
func (s *Store) retire(ctx context.Context, tenant string, cur groupItem) error {
	same := sameVersion(cur)
	var tx txBuilder
	if cur.MemberCount == 0 {
		tx.add(s.deleteIf(key(cur.PK, cur.SK), same))
	} else {
		tombstone := expression.Set(expression.Name(attrDeletingAt), expression.Value(formatTime(s.now()))).
			Remove(expression.Name(AttrGSI1PK)).Remove(expression.Name(AttrGSI1SK)).
			Remove(expression.Name(AttrGSI2PK)).Remove(expression.Name(AttrGSI2SK))
		tx.add(s.updateIf(key(cur.PK, cur.SK), tombstone, &same))
	}
	tx.add(s.releaseGuard(tenant, cur))
	tx.add(s.updateIf(key(tenantPK(tenant), skDirectory), directoryUpdate(tenant, -1), nil))
	if tx.err != nil {
		return translate(tx.err)
	}
	err := s.transact(ctx, tx.items)
	if failed, ok := failedChecks(err); ok && failed[0].Code != nil {
		return errVersionMoved
	}
	return translate(err)
}

// purge deletes the tombstone's memberships a page at a time, each page in
// parallel batches of 25, then the tombstone itself.
func (s *Store) purge(ctx context.Context, tenant string, tomb groupItem) error {
	kc := expression.Key(AttrPK).Equal(expression.Value(tomb.PK)).
		And(expression.Key(AttrSK).BeginsWith(skMemberRoot))
	expr, err := expression.NewBuilder().WithKeyCondition(kc).
		WithProjection(expression.NamesList(expression.Name(AttrPK), expression.Name(AttrSK))).Build()
	if err != nil {
		return translate(err)
	}
	in := &dynamodb.QueryInput{
		TableName: aws.String(s.table), ConsistentRead: aws.Bool(true),
		KeyConditionExpression: expr.KeyCondition(), ProjectionExpression: expr.Projection(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	}
	for {
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < purgeReserve {
			return ErrDeleteInProgress
		}
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return translate(err)
		}
		if err := s.deleteKeys(ctx, out.Items); err != nil {
			return err
		}
		if out.LastEvaluatedKey == nil {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	_, err = s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.table), Key: key(tomb.PK, tomb.SK)})
	return translate(err)
}

// batchWriteMax is DynamoDB's limit of requests per BatchWriteItem.
const batchWriteMax = 25

// purgeWorkers bounds the BatchWriteItem calls in flight for one delete.
const purgeWorkers = 4

// deleteKeys deletes the items at keys with parallel BatchWriteItem calls,
// resubmitting unprocessed items with backoff.
func (s *Store) deleteKeys(ctx context.Context, keys []map[string]types.AttributeValue) error {
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		sem      = make(chan struct{}, purgeWorkers)
	)
	for start := 0; start < len(keys); start += batchWriteMax {
		chunk := keys[start:min(start+batchWriteMax, len(keys))]
		reqs := make([]types.WriteRequest, len(chunk))
		for i, k := range chunk {
			reqs[i] = types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: k}}
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if err := s.batchWrite(ctx, reqs); err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return firstErr
}

func (s *Store) batchWrite(ctx context.Context, reqs []types.WriteRequest) error {
	for attempt := 1; len(reqs) > 0; attempt++ {
		out, err := s.db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{
			RequestItems: map[string][]types.WriteRequest{s.table: reqs},
		})
		if err != nil {
			return translate(err)
		}
		reqs = out.UnprocessedItems[s.table]
		if len(reqs) > 0 {
			if err := pause(ctx, attempt); err != nil {
				return err
			}
		}
	}
	return nil
}
