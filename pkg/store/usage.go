package store

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
)

// usageRetention is how long a day's counter is kept after the day began:
// over a year, so that a day can be compared with the same day a year
// before; then TTL deletes it. The all-time counter never expires.
const usageRetention = 400 * 24 * time.Hour

// The metering grant. Counting calls is the one write every API function
// makes, read-only ones included, so the deployments (infra/ and
// cmd/gensam) grant it in these terms instead of general write access:
// UpdateItem only where the partition key is a tenant's own partition
// "T#<t>" (MeterLeadingKeys matches it, MeterExcludedLeadingKeys every longer
// key such as a group's "T#<t>#G#<g>"; tenant ids hold no '#'), and only of
// the attributes MeterAttributes names. So a read-only function can at most
// add to a counter or set a TTL on an item of a tenant partition; it can
// never write a group, a membership or a name guard. The patterns use IAM's
// StringLike syntax ('*' matches any run of characters).
var (
	MeterLeadingKeys         = tenantPK("*")
	MeterExcludedLeadingKeys = tenantPK("*") + "#*"
)

// MeterAttributes are the attributes CountCall writes, keys included (IAM
// wants them listed).
func MeterAttributes() []string { return []string{AttrPK, AttrSK, attrCalls, AttrExpires} }

// MeterReturnValues are the ReturnValues the grant allows: CountCall reads
// back only the counter it updated, never a whole item.
func MeterReturnValues() []string {
	return []string{string(types.ReturnValueNone), string(types.ReturnValueUpdatedNew)}
}

// utcDay is the midnight UTC that starts t's day in UTC.
func utcDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// CountCall counts one call of the tenant, in total and on today's UTC day
// (by s.Now), and returns both counts including this call.
//
// Each counter is one UpdateItem ADD, which DynamoDB applies atomically, so
// concurrent calls get distinct counts with no gaps; the two run in
// parallel. They are deliberately not one transaction: a transaction costs
// twice the writes on every call and cannot return the new counts, and the
// counters are independent statistics, so a failure between the two leaves
// one of them a call short but no item half-written. Like any ADD, a request
// that the SDK retries after its response was lost may count twice, and
// that is left so on purpose: the counts are statistics for the partner,
// the quota is enforced by API Gateway from its own counts, and a guard
// (repeat.go) would cost a third attribute in the metering grant for a
// count that is one over at most once per lost response.
func (s *Store) CountCall(ctx context.Context, tenant string) (groups.Usage, error) {
	day := utcDay(s.Now())
	u := groups.Usage{Day: day}
	var wg sync.WaitGroup
	var dayErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		u.DayCount, dayErr = s.addCall(ctx, key(tenantPK(tenant), usageDaySK(day)), day.Add(usageRetention))
	}()
	total, err := s.addCall(ctx, key(tenantPK(tenant), skUsage), time.Time{})
	wg.Wait()
	if err := errors.Join(err, dayErr); err != nil {
		return groups.Usage{}, translate(err)
	}
	u.Total = total
	return u, nil
}

// addCall adds one to the counter at k, creating it on first use with the
// given expiry (none if zero), and returns its new value.
func (s *Store) addCall(ctx context.Context, k map[string]types.AttributeValue, expires time.Time) (int64, error) {
	upd := expression.Add(expression.Name(attrCalls), expression.Value(1))
	if !expires.IsZero() {
		upd = upd.Set(expression.Name(AttrExpires), expression.Value(expires.Unix()))
	}
	expr, err := expression.NewBuilder().WithUpdate(upd).Build()
	if err != nil {
		return 0, err
	}
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: k,
		UpdateExpression:          expr.Update(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ReturnValues:              types.ReturnValueUpdatedNew,
	})
	if err != nil {
		return 0, err
	}
	var it usageItem
	if err := attributevalue.UnmarshalMap(out.Attributes, &it); err != nil {
		return 0, err
	}
	return it.Calls, nil
}

// Usage reads the tenant's counts, with today's UTC day by s.Now, without
// counting a call. Counters never written read as zero.
func (s *Store) Usage(ctx context.Context, tenant string) (groups.Usage, error) {
	day := utcDay(s.Now())
	u := groups.Usage{Day: day}
	req := map[string]types.KeysAndAttributes{s.table: {
		Keys:           []map[string]types.AttributeValue{key(tenantPK(tenant), skUsage), key(tenantPK(tenant), usageDaySK(day))},
		ConsistentRead: aws.Bool(true),
	}}
	for len(req) > 0 {
		out, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
		if err != nil {
			return groups.Usage{}, translate(err)
		}
		for _, raw := range out.Responses[s.table] {
			var it usageItem
			if err := attributevalue.UnmarshalMap(raw, &it); err != nil {
				return groups.Usage{}, translate(err)
			}
			if it.SK == skUsage {
				u.Total = it.Calls
			} else {
				u.DayCount = it.Calls
			}
		}
		req = out.UnprocessedKeys
	}
	return u, nil
}
