// Package store keeps groups, memberships, tenants and tokens in one DynamoDB
// table with adjacency-list keys (see keys.go). Every write that must be
// atomic is one TransactWriteItems with conditions, so the table never holds
// an orphaned membership, a stale name guard or a drifting count.
package store

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	mrand "math/rand/v2"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
)

// Store is the DynamoDB-backed store. It is safe for concurrent use.
type Store struct {
	db    *dynamodb.Client
	table string
	// Now is the clock; every write of one operation shares one reading of it.
	Now func() time.Time
	// NewID returns a fresh group id.
	NewID func() string
	// NewAssociationID returns a fresh association id.
	NewAssociationID func() string
	// NewWebhookID returns a fresh webhook id.
	NewWebhookID func() string
	// PurgeReserve is how long before its caller's deadline a group delete
	// stops purging memberships and answers ErrDeleteInProgress.
	PurgeReserve time.Duration
	// AtomicMoveSize is the most groups a move writes in one transaction;
	// a larger subtree moves step by step (move.go). It is
	// groups.MaxMoveSize, which tests lower to move large trees cheaply.
	AtomicMoveSize int
	// MaxDepth is the deepest a group may sit, the deployment's setting
	// (routes.EnvTreeMaxDepth): 0 to groups.MaxDepth, which it defaults to.
	MaxDepth int

	meter *meterState // CountCall's (usage.go)
	// edges is whether the table's memberships all have their edges
	// (effective.go), once known.
	edges *atomic.Bool
}

// New returns a store on table.
func New(db *dynamodb.Client, table string) *Store {
	return &Store{
		db: db, table: table, Now: time.Now, NewID: NewGroupID, NewAssociationID: NewAssociationID, NewWebhookID: NewWebhookID,
		PurgeReserve: purgeReserve, AtomicMoveSize: groups.MaxMoveSize, MaxDepth: groups.MaxDepth, meter: &meterState{}, edges: &atomic.Bool{},
	}
}

// Table is the table's name.
func (s *Store) Table() string { return s.table }

// NewGroupID returns a random group id: "grp_" and 26 base32 characters
// (130 bits), so ids can be made without coordination.
func NewGroupID() string { return "grp_" + RandomToken(16) }

// RandomToken returns n random bytes as lower-case unpadded base32.
func RandomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

// now reads the clock at the precision timestamps are stored with, so that
// what a write returns equals what a later read returns.
func (s *Store) now() time.Time { return s.Now().UTC().Truncate(time.Millisecond) }

// timeFormat is RFC 3339 in UTC with milliseconds; it sorts as a string.
const timeFormat = "2006-01-02T15:04:05.000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

func parseTime(s string) time.Time {
	t, _ := time.Parse(timeFormat, s)
	return t
}

// maxTxAttempts bounds the retries of a transaction that DynamoDB cancelled
// because another transaction touched the same item at the same moment.
const maxTxAttempts = 8

// transact runs one TransactWriteItems, retrying with jittered backoff while
// DynamoDB reports only transaction conflicts. A cancellation for any other
// reason is returned as *types.TransactionCanceledException for the caller
// to read by index.
//
// Every attempt of the one logical write carries the same
// ClientRequestToken, the SDK's retries and these alike: if DynamoDB
// committed an attempt whose response was lost, it answers the repeat (for
// 10 minutes) with success and writes nothing again, so no transaction of
// the store applies twice. A token that was cancelled commits nothing, and
// its repeat runs as new.
func (s *Store) transact(ctx context.Context, items []types.TransactWriteItem) error {
	in := &dynamodb.TransactWriteItemsInput{TransactItems: items, ClientRequestToken: aws.String(RandomToken(16))}
	for attempt := 1; ; attempt++ {
		_, err := s.db.TransactWriteItems(ctx, in)
		if err == nil || attempt == maxTxAttempts || !onlyConflicts(err) {
			return err
		}
		backoff := time.Duration(5<<attempt)*time.Millisecond + time.Duration(mrand.IntN(10))*time.Millisecond
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
	}
}

// pause waits before resubmitting what a batch call left unprocessed,
// longer on each attempt (DynamoDB asks for backoff there).
func pause(ctx context.Context, attempt int) error {
	select {
	case <-ctx.Done():
		return translate(ctx.Err())
	case <-time.After(time.Duration(min(attempt, 8)*25) * time.Millisecond):
		return nil
	}
}

func onlyConflicts(err error) bool {
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		return false
	}
	conflict := false
	for _, r := range tce.CancellationReasons {
		switch aws.ToString(r.Code) {
		case "TransactionConflict":
			conflict = true
		case "", "None":
		default:
			return false
		}
	}
	return conflict
}

// failedChecks reports, by transaction index, which conditions failed; ok is
// false when err is not a cancellation.
func failedChecks(err error) (failed map[int]types.CancellationReason, ok bool) {
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		return nil, false
	}
	failed = map[int]types.CancellationReason{}
	for i, r := range tce.CancellationReasons {
		if aws.ToString(r.Code) == "ConditionalCheckFailed" {
			failed[i] = r
		}
	}
	return failed, true
}

// translate turns an SDK error into a domain error: throttling and conflicts
// that outlived the retries are "unavailable" (retry later), anything else is
// internal. The cause is kept for the log, never shown to clients.
func translate(err error) error {
	if err == nil {
		return nil
	}
	var de *groups.Error
	if errors.As(err, &de) {
		return err
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return &groups.Error{Code: groups.CodeUnavailable, Detail: "the request timed out; retry it", Err: err}
	}
	// A transaction cancelled by a condition its caller did not decode means
	// the stored state contradicts the request: retrying will not help.
	if failed, ok := failedChecks(err); ok && len(failed) > 0 {
		return &groups.Error{Code: groups.CodeConflict, Detail: "the request conflicts with the current state of the resource", Err: err}
	}
	// The SDK retries what is worth retrying (pkg/app): an error left after
	// its last attempt, or refused by its retry quota, is the store being
	// unreachable for now, as is a timed-out attempt.
	var (
		maxAttempts *retry.MaxAttemptsError
		quota       ratelimit.QuotaExceededError
		timeout     interface{ Timeout() bool }
	)
	if errors.As(err, &maxAttempts) || errors.As(err, &quota) || errors.As(err, &timeout) && timeout.Timeout() {
		return &groups.Error{Code: groups.CodeUnavailable, Detail: "the store is busy; retry the request", Err: err}
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
			"TransactionCanceledException", "TransactionConflictException", "InternalServerError", "ServiceUnavailable":
			return &groups.Error{Code: groups.CodeUnavailable, Detail: "the store is busy; retry the request", Err: err}
		}
	}
	return &groups.Error{Code: groups.CodeInternal, Detail: "internal error", Err: err}
}

func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{AttrPK: str(pk), AttrSK: str(sk)}
}

// keyStrings and keyValues convert a page's last key to and from plain
// strings (every key attribute of the table is a string), so that the layer
// above can seal it into a cursor without knowing DynamoDB types.
func keyStrings(item map[string]types.AttributeValue, attrs ...string) map[string]string {
	out := make(map[string]string, len(attrs))
	for _, a := range attrs {
		if v, ok := item[a].(*types.AttributeValueMemberS); ok {
			out[a] = v.Value
		}
	}
	return out
}

func keyValues(k map[string]string) map[string]types.AttributeValue {
	if len(k) == 0 {
		return nil
	}
	out := make(map[string]types.AttributeValue, len(k))
	for a, v := range k {
		out[a] = str(v)
	}
	return out
}

// Page is one page of a list. Next is the position after the last item (nil
// on the last page); Total is set where it is exact and cheap.
type Page[T any] struct {
	Items []T
	Next  map[string]string
	Total *int
}

// PageRequest says where a page starts and how long it is.
type PageRequest struct {
	Limit int
	After map[string]string
}
