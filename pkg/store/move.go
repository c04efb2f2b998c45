package store

import (
	"context"
	"errors"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
)

// Moves of more groups than one transaction takes (s.AtomicMoveSize, which
// is groups.MaxMoveSize) go step by step, one at a time per tenant, and
// every request that reaches them carries them on:
//
//  1. start: one transaction writes the tenant's move item (keys.go; one
//     move at a time per tenant) and marks the moved group and its new
//     parent (attribute moving, "<tenant>#<move id>");
//  2. marking: each descendant is marked, conditional on it being where it
//     was read with the children it had (sameTree), until the subtree, read
//     strongly consistently, is whole and marked. A structural change
//     (create, move, delete) conditions on its groups being unmarked
//     (standsAt), so none lands in a marked subtree;
//  3. commit: one transaction moves the group (its parent, path and
//     version, as an atomic move does), counts the children of both
//     parents, and records the new path in the move item. The depth limit
//     is checked again first on the subtree as it now stands; a subtree
//     that has grown too deep meanwhile is unmarked and the move dropped
//     (a repeated PATCH then answers too_deep);
//  4. rewrite: each descendant takes its new path and loses its mark in
//     one conditional UpdateItem;
//  5. end: once the subtree under the new path is whole and unmarked, one
//     transaction unmarks the group and the parent and deletes the move.
//
// Every read of a group item (getRaw, readPage, batchGet) that meets a
// mark finishes the move before it answers (settle), so no answer shows a
// subtree half-moved; a request that cannot finish it before its deadline
// answers ErrMoveInProgress (409 move_in_progress, Retry-After), and the
// PATCH that started it ErrMoveAccepted (202). A client that stops
// repeating leaves the move to the next request that reaches the subtree.

// The move grant. Every read of groups may carry a move on, read-only
// functions included (routes.ReadTree), so the deployments (infra/ and
// cmd/gensam) grant them what a move writes, in these terms, instead of
// general write access: UpdateItem of a group's tree attributes and of the
// move item (MoveAttributes) in group and move partitions
// (MoveLeadingKeys), and DeleteItem of the move item alone
// (MoveEndLeadingKeys); never in a name guard's or an idempotency record's
// partition (MoveExcludedLeadingKeys), whose keys may hold any '#'. So such
// a function can at most move groups, never write a name, a membership or a
// count of members. The patterns use IAM's StringLike syntax.
var (
	MoveLeadingKeys         = []string{groupPK("*", "*"), movePK("*")}
	MoveEndLeadingKeys      = []string{movePK("*")}
	MoveExcludedLeadingKeys = []string{tenantPK("*") + "#NAME#*", idempotencyPK("*", "*")}
)

// MoveAttributes are the attributes a move writes or conditions on, keys
// included (IAM wants them listed).
func MoveAttributes() []string {
	return []string{AttrPK, AttrSK, AttrGSI3PK, AttrGSI3SK, attrMoving, attrParentID, attrChildCount,
		attrVersion, attrUpdatedAt, attrDeletingAt, "mark", "state", "to"}
}

// ErrMoveAccepted is UpdateGroup's report that a large move started but
// did not finish before the request's deadline: it goes on with the next
// request that reaches the subtree (a repeated PATCH, a GET of the group).
var ErrMoveAccepted = errors.New("group move in progress")

// Move states, in moveItem.State.
const (
	moveMarking    = "marking"
	moveCommitted  = "committed"
	moveCancelling = "cancelling"
)

// moveItem is the tenant's move in progress.
type moveItem struct {
	PK    string `dynamodbav:"PK"`
	SK    string `dynamodbav:"SK"`
	Kind  string `dynamodbav:"kind"`
	Mark  string `dynamodbav:"mark"` // the value of every mark it set
	Root  string `dynamodbav:"root"` // the moved group
	State string `dynamodbav:"state"`
	// Parent is the new parent ("" for top level); From the moved group's
	// path before the move, To its path after (set at commit).
	Parent    string `dynamodbav:"parent,omitempty"`
	From      string `dynamodbav:"from"`
	To        string `dynamodbav:"to,omitempty"`
	StartedAt string `dynamodbav:"startedAt"`
}

type finishingKey struct{}

// settle finishes the move that marked any of raws, unless ctx is the
// finisher's own, and reports whether it did: the caller reads again.
func (s *Store) settle(ctx context.Context, raws ...map[string]types.AttributeValue) (bool, error) {
	if ctx.Value(finishingKey{}) != nil {
		return false, nil
	}
	for _, raw := range raws {
		if mark, ok := stringAt(raw, attrMoving); ok {
			tenant, _, _ := strings.Cut(mark, "#")
			return true, s.finishMove(ctx, tenant)
		}
	}
	return false, nil
}

// settled runs read and, while what it read (items) holds a group that a
// move holds, finishes the move and reads again.
func settled[T any](ctx context.Context, s *Store, read func() (T, error), items func(T) []map[string]types.AttributeValue) (T, error) {
	for n := 1; ; n++ {
		v, err := read()
		if err != nil {
			return v, err
		}
		again, err := s.settle(ctx, items(v)...)
		switch {
		case err != nil || !again:
			return v, err
		case n == settleReads:
			return v, errVersionMoved
		}
	}
}

// settleReads bounds how often a read finishes a move and reads again
// before it gives up (a mark that outlived its move would otherwise hold
// the read forever; CheckInvariants reports one).
const settleReads = 4

// startMove starts moving cur (read at its current version) under parent
// (nil: top level) step by step, then carries the move on until ctx's
// deadline: the group as moved, or as it stands with ErrMoveAccepted.
func (s *Store) startMove(ctx context.Context, tenant string, cur groupItem, parent *groupItem) (groups.Group, error) {
	mark := tenant + "#" + RandomToken(8)
	rec := moveItem{PK: movePK(tenant), SK: skMove, Kind: "move", Mark: mark, Root: cur.ID,
		State: moveMarking, From: cur.path(), StartedAt: formatTime(s.now())}
	if parent != nil {
		rec.Parent = parent.ID
	}
	holds := expression.Set(expression.Name(attrMoving), expression.Value(mark))
	var tx txBuilder
	tx.add(s.putIf(rec, absent))
	same := sameVersion(cur).And(sameTree(cur))
	tx.add(s.updateIf(key(cur.PK, cur.SK), holds, &same))
	if parent != nil {
		stays := standsAt(*parent)
		tx.add(s.updateIf(key(parent.PK, parent.SK), holds, &stays))
	}
	if tx.err != nil {
		return groups.Group{}, translate(tx.err)
	}
	err := s.transact(ctx, tx.items)
	if failed, ok := failedChecks(err); ok && len(failed) > 0 {
		if _, busy := failed[0]; busy {
			// Another move of the tenant's first; then this one from a
			// fresh read.
			if err := s.finishMove(ctx, tenant); err != nil {
				return groups.Group{}, err
			}
		}
		return groups.Group{}, errVersionMoved
	}
	if err != nil {
		return groups.Group{}, translate(err)
	}
	err = s.finishMove(ctx, tenant)
	if errors.Is(err, groups.ErrMoveInProgress) {
		err = ErrMoveAccepted
	} else if err != nil {
		return groups.Group{}, err
	}
	now, rerr := s.getGroupItem(finishing(ctx), tenant, cur.ID)
	if rerr != nil {
		return groups.Group{}, rerr
	}
	return now.toGroup(), err
}

// finishing marks ctx as the finisher's: its reads meet marks without
// settling them, and it sees the whole tenant whoever the caller is.
func finishing(ctx context.Context) context.Context {
	return context.WithValue(context.WithValue(ctx, scopeKey{}, ""), finishingKey{}, true)
}

// finishMove carries the tenant's move in progress, if any, to its end,
// until PurgeReserve before ctx's deadline, past which it answers
// ErrMoveInProgress (the move goes on with the next request). Without a
// deadline it gives up so after subtreeReads rounds without progress.
func (s *Store) finishMove(ctx context.Context, tenant string) error {
	work := finishing(ctx)
	deadline, bounded := ctx.Deadline()
	if bounded {
		var cancel context.CancelFunc
		work, cancel = context.WithDeadline(work, deadline.Add(-s.PurgeReserve))
		defer cancel()
	}
	for attempt := 1; ; attempt++ {
		done, progressed, err := s.moveStep(work, tenant)
		switch {
		case done && err == nil:
			return nil
		case work.Err() != nil && ctx.Err() == nil, !bounded && attempt > subtreeReads:
			return groups.ErrMoveInProgress
		case err != nil && !errors.Is(err, errVersionMoved):
			return err
		case progressed:
			attempt = 0
		}
		if err := pause(work, attempt); err != nil && ctx.Err() == nil {
			return groups.ErrMoveInProgress
		}
	}
}

// moveStep takes the tenant's move one state further: done when there is
// no move (left), progressed when it got further, neither when it waits
// for the index (GSI3) to catch up or lost a race, and should pause.
func (s *Store) moveStep(ctx context.Context, tenant string) (done, progressed bool, err error) {
	rec, err := getOne[moveItem](ctx, s, key(movePK(tenant), skMove))
	if groups.CodeOf(err) == groups.CodeNotFound {
		return true, false, nil
	}
	if err != nil {
		return false, false, err
	}
	root, err := s.getGroupItem(ctx, tenant, rec.Root)
	if err != nil {
		return false, false, err
	}
	if rec.State == moveMarking {
		marked, err := s.holdSubtree(ctx, tenant, rec, root)
		if err != nil || marked == nil {
			return false, false, err
		}
		return false, true, s.commitMove(ctx, tenant, rec, root, marked)
	}
	// Committed: each descendant takes its new path; cancelling: each
	// keeps its path. Either way each loses its mark.
	newPrefix := subtreePrefix(rec.From)
	if rec.State == moveCommitted {
		newPrefix = subtreePrefix(rec.To)
	}
	left, err := s.releaseBelow(ctx, tenant, rec, newPrefix)
	if err != nil || left {
		return false, left, err
	}
	// Nothing left marked under the old path as GSI3 lists it: the subtree
	// under the group's path now, read strongly consistently, must be
	// whole and unmarked (else the index has yet to catch up).
	nodes, err := s.subtreeNodes(ctx, tenant, root, 0)
	if err != nil || !wholeSubtree(root, subtreePrefix(root.path()), nodes) || anyMarked(nodes, rec.Mark) {
		return false, false, err
	}
	var tx txBuilder
	held := expression.Name(attrMoving).Equal(expression.Value(rec.Mark))
	unhold := expression.Remove(expression.Name(attrMoving))
	tx.add(s.deleteIf(key(rec.PK, rec.SK), expression.Name("mark").Equal(expression.Value(rec.Mark))))
	tx.add(s.updateIf(key(root.PK, root.SK), unhold, &held))
	if rec.Parent != "" {
		tx.add(s.updateIf(key(groupPK(tenant, rec.Parent), skGroup), unhold, &held))
	}
	if tx.err != nil {
		return false, false, translate(tx.err)
	}
	err = s.transact(ctx, tx.items)
	if _, failed := failedChecks(err); failed {
		return false, false, errVersionMoved
	}
	return err == nil, false, translate(err)
}

// holdSubtree marks every descendant of root (at its path before the
// move) that is not marked yet, and returns the subtree once a strongly
// consistent read finds it whole and all marked (nil until then).
func (s *Store) holdSubtree(ctx context.Context, tenant string, rec moveItem, root groupItem) ([]groupItem, error) {
	nodes, err := s.subtreeNodes(ctx, tenant, root, 0)
	if err != nil {
		return nil, err
	}
	whole := wholeSubtree(root, subtreePrefix(root.path()), nodes)
	holds := expression.Set(expression.Name(attrMoving), expression.Value(rec.Mark))
	var g errgroup.Group
	g.SetLimit(purgeWorkers)
	for _, n := range nodes {
		if n.Moving == rec.Mark {
			continue
		}
		whole = false
		g.Go(func() error {
			still := sameTree(n)
			return s.updateOne(ctx, key(n.PK, n.SK), holds, still)
		})
	}
	if err := g.Wait(); err != nil || !whole {
		return nil, err
	}
	return nodes, nil
}

// commitMove is the move's atomic step (3 above) on the held subtree.
func (s *Store) commitMove(ctx context.Context, tenant string, rec moveItem, root groupItem, subtree []groupItem) error {
	var parent *groupItem
	depth := 0
	path := root.ID
	if rec.Parent != "" {
		p, err := s.getGroupItem(ctx, tenant, rec.Parent)
		if err != nil {
			return err
		}
		parent, depth, path = &p, len(p.ancestors())+1, treePath(append(p.ancestors(), p.ID), root.ID)
	}
	height := 0
	for _, d := range subtree {
		height = max(height, len(d.ancestors())-len(root.ancestors()))
	}
	if depth+height > s.MaxDepth {
		return s.setMoveState(ctx, rec, moveCancelling, nil, "")
	}
	held := expression.Name(attrMoving).Equal(expression.Value(rec.Mark))
	upd := setPath(expression.Set(expression.Name(attrUpdatedAt), expression.Value(formatTime(s.now()))).
		Add(expression.Name(attrVersion), expression.Value(1)), tenant, path)
	if parent == nil {
		upd = upd.Remove(expression.Name(attrParentID))
	} else {
		upd = upd.Set(expression.Name(attrParentID), expression.Value(parent.ID))
	}
	var tx txBuilder
	if err := s.setMoveState(ctx, rec, moveCommitted, &tx, path); err != nil {
		return err
	}
	rootHeld := held.And(atPath(root))
	tx.add(s.updateIf(key(root.PK, root.SK), upd, &rootHeld))
	if root.ParentID != "" {
		tx.add(s.updateIf(key(groupPK(tenant, root.ParentID), skGroup),
			expression.Add(expression.Name(attrChildCount), expression.Value(-1)), &liveGroup))
	}
	if parent != nil {
		stays := held.And(atPath(*parent))
		tx.add(s.updateIf(key(parent.PK, parent.SK), adoptUpdate(tenant, *parent, 1), &stays))
	}
	if tx.err != nil {
		return translate(tx.err)
	}
	err := s.transact(ctx, tx.items)
	if _, failed := failedChecks(err); failed {
		return errVersionMoved
	}
	return translate(err)
}

// setMoveState writes the move's next state: alone (tx nil), or as the
// first write of tx, with the new path (to, "" for none) at commit.
func (s *Store) setMoveState(ctx context.Context, rec moveItem, state string, tx *txBuilder, to string) error {
	upd := expression.Set(expression.Name("state"), expression.Value(state))
	if to != "" {
		upd = upd.Set(expression.Name("to"), expression.Value(to))
	}
	cond := expression.Name("mark").Equal(expression.Value(rec.Mark)).
		And(expression.Name("state").Equal(expression.Value(rec.State)))
	if tx != nil {
		tx.add(s.updateIf(key(rec.PK, rec.SK), upd, &cond))
		return nil
	}
	return s.updateOne(ctx, key(rec.PK, rec.SK), upd, cond)
}

// releaseBelow gives each group that GSI3 lists under the moved group's
// old path, and that the move still holds, its path under newPrefix, and
// removes its mark; left reports whether it found any (a later pass checks
// the rest).
func (s *Store) releaseBelow(ctx context.Context, tenant string, rec moveItem, newPrefix string) (left bool, err error) {
	nodes, err := s.subtreeNodes(ctx, tenant, groupItem{ID: rec.Root, GSI3SK: rec.From}, 0)
	if err != nil {
		return false, err
	}
	oldPrefix := subtreePrefix(rec.From)
	var g errgroup.Group
	g.SetLimit(purgeWorkers)
	for _, n := range nodes {
		rest, under := strings.CutPrefix(n.GSI3SK, oldPrefix)
		if n.Moving != rec.Mark || !under {
			continue
		}
		left = true
		g.Go(func() error {
			cond := expression.Name(attrMoving).Equal(expression.Value(rec.Mark)).
				And(expression.Name(AttrGSI3SK).Equal(expression.Value(n.GSI3SK)))
			upd := expression.Set(expression.Name(AttrGSI3SK), expression.Value(newPrefix+rest)).
				Remove(expression.Name(attrMoving))
			return s.updateOne(ctx, key(n.PK, n.SK), upd, cond)
		})
	}
	return left, g.Wait()
}

func anyMarked(nodes []groupItem, mark string) bool {
	for _, n := range nodes {
		if n.Moving == mark {
			return true
		}
	}
	return false
}

// updateOne is one conditional UpdateItem; a failed condition is not an
// error (the caller's next read sees why).
func (s *Store) updateOne(ctx context.Context, k map[string]types.AttributeValue, upd expression.UpdateBuilder, cond expression.ConditionBuilder) error {
	expr, err := expression.NewBuilder().WithUpdate(upd).WithCondition(cond).Build()
	if err != nil {
		return translate(err)
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: k,
		UpdateExpression: expr.Update(), ConditionExpression: expr.Condition(),
		ExpressionAttributeNames: expr.Names(), ExpressionAttributeValues: expr.Values(),
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return nil
	}
	return translate(err)
}
