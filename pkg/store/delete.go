package store

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/routes"
)

// ErrDeleteInProgress is returned by DeleteGroup when the group is gone for
// every reader (its name is free, GET is 404) but its memberships could not
// all be purged before the caller's deadline. Calling DeleteGroup again
// resumes the purge.
var ErrDeleteInProgress = errors.New("group deletion in progress")

// purgeReserve is how much of the caller's deadline a purge (or a move
// step by step) leaves unused, so that the caller can still answer before
// API Gateway's limit (routes.AnswerReserveSeconds; Store.PurgeReserve,
// which tests may lengthen).
const purgeReserve = routes.AnswerReserveSeconds * time.Second

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
// The purge works in bounded steps, each page of memberships and each batch's
// retries capped, and stops PurgeReserve before ctx's deadline, so that the
// caller can answer in time: ErrDeleteInProgress, and a repeated DELETE goes
// on from there.
//
// It returns the deleted group; ErrNotFound if there is no such group;
// ErrPreconditionFailed if it is at a version ifVersion does not allow;
// ErrDeleteInProgress (with the group) if the purge could not finish in time.
func (s *Store) DeleteGroup(ctx context.Context, tenant, id string, ifVersion IfVersion) (groups.Group, error) {
	return s.deleteGroup(ctx, tenant, id, ifVersion, nil)
}

// deleteGroup is DeleteGroup starting from read, the group as the caller
// has just read it (nil: read it first); a retry reads it again.
func (s *Store) deleteGroup(ctx context.Context, tenant, id string, ifVersion IfVersion, read *groupItem) (groups.Group, error) {
	for attempt := 1; ; attempt++ {
		var cur groupItem
		if read != nil {
			cur, read = *read, nil
		} else {
			var err error
			if cur, err = s.getGroupItem(ctx, tenant, id); err != nil {
				return groups.Group{}, err
			}
		}
		if err := checkVersion(cur, ifVersion); err != nil {
			return groups.Group{}, err
		}
		if cur.ID == scopeOf(ctx) {
			return groups.Group{}, groups.ErrOutOfScope // a scoped token keeps its root
		}
		if cur.DeletingAt == "" {
			if cur.ChildCount > 0 {
				return groups.Group{}, groups.ErrHasChildren
			}
			err := s.retire(ctx, tenant, cur)
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
// members) or becomes a tombstone, the guard goes and the counts drop (the
// tenant's groups, the parent's children), all guarded by the version read
// and the group having no children, so that a member added or a child
// created since is not missed.
func (s *Store) retire(ctx context.Context, tenant string, cur groupItem) error {
	same := sameVersion(cur).And(sameTree(cur))
	var tx txBuilder
	if cur.MemberCount == 0 {
		tx.add(s.deleteIf(key(cur.PK, cur.SK), same))
	} else {
		tombstone := expression.Set(expression.Name(attrDeletingAt), expression.Value(formatTime(s.now()))).
			Remove(expression.Name(AttrGSI1PK)).Remove(expression.Name(AttrGSI1SK)).
			Remove(expression.Name(AttrGSI2PK)).Remove(expression.Name(AttrGSI2SK)).
			Remove(expression.Name(AttrGSI3PK)).Remove(expression.Name(AttrGSI3SK)).
			Set(expression.Name(attrDeletedPath), expression.Value(cur.path()))
		tx.add(s.updateIf(key(cur.PK, cur.SK), tombstone, &same))
	}
	tx.add(s.releaseGuard(tenant, cur))
	tx.add(s.updateIf(key(tenantPK(tenant), skDirectory), directoryUpdate(tenant, -1), nil))
	if cur.ParentID != "" {
		tx.add(s.updateIf(key(groupPK(tenant, cur.ParentID), skGroup),
			expression.Add(expression.Name(attrChildCount), expression.Value(-1)), &liveGroup))
	}
	if tx.err != nil {
		return translate(tx.err)
	}
	err := s.transact(ctx, tx.items)
	if failed, ok := failedChecks(err); ok && failed[0].Code != nil {
		return errVersionMoved
	}
	return translate(err)
}

// Bounds on the purge's work between two looks at its deadline.
const (
	// purgePageSize is the memberships read, then deleted, per page.
	purgePageSize = 200
	// batchWriteMax is DynamoDB's limit of requests per BatchWriteItem.
	batchWriteMax = 25
	// purgeWorkers bounds the BatchWriteItem calls in flight for one delete.
	purgeWorkers = 4
	// maxBatchAttempts bounds the calls for one batch whose items DynamoDB
	// keeps returning unprocessed (throttling).
	maxBatchAttempts = 6
)

// errBatchUnfinished is batchWrite's report that items were still
// unprocessed after maxBatchAttempts.
var errBatchUnfinished = &groups.Error{Code: groups.CodeUnavailable, Detail: "the store is busy; retry the request"}

// purge deletes the tombstone's memberships a page at a time, each page in
// parallel batches of 25, then the tombstone itself. It works until
// PurgeReserve before ctx's deadline; stopped there, or by batches DynamoDB
// would not process, it returns ErrDeleteInProgress, and the tombstone stays
// for a repeated DELETE to resume.
func (s *Store) purge(ctx context.Context, tenant string, tomb groupItem) error {
	work := ctx
	if deadline, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		work, cancel = context.WithDeadline(ctx, deadline.Add(-s.PurgeReserve))
		defer cancel()
	}
	err := s.purgeMembers(work, tomb)
	if err == nil {
		_, err = s.db.DeleteItem(work, &dynamodb.DeleteItemInput{TableName: aws.String(s.table), Key: key(tomb.PK, tomb.SK)})
	}
	// Out of time or throttled, but not because the caller went away.
	if err != nil && ctx.Err() == nil && (work.Err() != nil || errors.Is(err, errBatchUnfinished)) {
		return ErrDeleteInProgress
	}
	return translate(err)
}

// purgeMembers deletes the memberships of tomb's partition, and the items'
// edges to it, a bounded page at a time.
func (s *Store) purgeMembers(ctx context.Context, tomb groupItem) error {
	kc := expression.Key(AttrPK).Equal(expression.Value(tomb.PK)).
		And(expression.Key(AttrSK).BeginsWith(skMemberRoot))
	expr, err := expression.NewBuilder().WithKeyCondition(kc).
		WithProjection(expression.NamesList(expression.Name(AttrPK), expression.Name(AttrSK))).Build()
	if err != nil {
		return err
	}
	in := &dynamodb.QueryInput{
		TableName: aws.String(s.table), ConsistentRead: aws.Bool(true), Limit: aws.Int32(purgePageSize),
		KeyConditionExpression: expr.KeyCondition(), ProjectionExpression: expr.Projection(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return err
		}
		if err := s.deleteKeys(ctx, withHeldKeys(out.Items)); err != nil {
			return err
		}
		if out.LastEvaluatedKey == nil {
			return nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// withHeldKeys adds to membership keys the keys of the items' edges to the
// group, which go with them.
func withHeldKeys(members []map[string]types.AttributeValue) []map[string]types.AttributeValue {
	out := append(make([]map[string]types.AttributeValue, 0, 2*len(members)), members...)
	for _, m := range members {
		if k, ok := heldKey(sortKeyOf(m, AttrPK), sortKeyOf(m, AttrSK)); ok {
			out = append(out, k)
		}
	}
	return out
}

// deleteKeys deletes the items at keys with parallel BatchWriteItem calls.
func (s *Store) deleteKeys(ctx context.Context, keys []map[string]types.AttributeValue) error {
	reqs := make([]types.WriteRequest, len(keys))
	for i, k := range keys {
		reqs[i] = types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: k}}
	}
	return s.batchWriteAll(ctx, reqs)
}

// batchWriteAll runs reqs as BatchWriteItem calls of batchWriteMax,
// purgeWorkers of them at a time.
func (s *Store) batchWriteAll(ctx context.Context, reqs []types.WriteRequest) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(purgeWorkers)
	for start := 0; start < len(reqs); start += batchWriteMax {
		chunk := reqs[start:min(start+batchWriteMax, len(reqs))]
		g.Go(func() error { return s.batchWrite(ctx, chunk) })
	}
	return g.Wait()
}

// batchWrite runs one BatchWriteItem, resubmitting what DynamoDB left
// unprocessed with backoff, at most maxBatchAttempts calls in all; then it
// returns errBatchUnfinished.
func (s *Store) batchWrite(ctx context.Context, reqs []types.WriteRequest) error {
	for attempt := 1; ; attempt++ {
		out, err := s.db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{
			RequestItems: map[string][]types.WriteRequest{s.table: reqs},
		})
		if err != nil {
			return err
		}
		if reqs = out.UnprocessedItems[s.table]; len(reqs) == 0 {
			return nil
		}
		if attempt == maxBatchAttempts {
			return errBatchUnfinished
		}
		if err := pause(ctx, attempt); err != nil {
			return err
		}
	}
}
