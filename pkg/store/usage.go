package store

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
)

// The usage counters of a tenant are attributes of one item, T#<t>/USAGE
// (keys.go), so that counting a call is one UpdateItem:
//
//	calls           the calls of all time
//	day_<yyyymmdd>  the calls of that UTC day (only today's is kept)
//	lastDay         <yyyymmdd> of the last day counted
//
// The total keeps the item and the attribute it had when each day had an
// item of its own, so totals carry over the upgrade and no migration is
// needed. The day items of before (USAGE#<yyyy-mm-dd>) are no longer read
// or written and expire by the TTL they were written with; the day count of
// the day of the upgrade starts again from the upgrade.
//
// TTL cannot remove an attribute, so the writes remove the days before
// today themselves: a process's first count of a tenant on each UTC day
// (a sweep) names in its REMOVE the usageWindowDays days before today
// (REMOVE of an absent attribute does nothing), and its later counts of
// the tenant that day remove nothing, which keeps the common write small
// (3 names instead of 34: less to send, sign and parse on every call). A
// day attribute written after a sweep by a process whose clock lags behind
// midnight stays until the next day's sweep. A tenant silent for longer
// than the window leaves its last day's attribute beyond it; the write
// that ends the silence learns of it from lastDay's old value, and the
// process removes it with its next count for the tenant (stale below).
// Should the process end before that, the attribute stays, since no later
// write can see it: at most one attribute of about 20 bytes per silence
// longer than the window. Only some 40 of them would take the item past
// 1 KB, where a write costs two write units instead of one.
const (
	attrLastDay     = "lastDay"
	dayAttrPrefix   = "day_"
	dayAttrFormat   = "20060102"
	usageWindowDays = 31
)

// dayAttr is the attribute that counts the calls of day (midnight UTC).
func dayAttr(day time.Time) string { return dayAttrPrefix + day.Format(dayAttrFormat) }

// The metering grant. Counting calls is the one write every API function
// makes, read-only ones included, so the deployments (infra/ and
// cmd/gensam) grant it in these terms instead of general write access:
// UpdateItem only where the partition key is a tenant's own partition
// "T#<t>" (MeterLeadingKeys matches it, MeterExcludedLeadingKeys every longer
// key such as a group's "T#<t>#G#<g>"; tenant ids hold no '#'), and only of
// the attributes MeterAttributes names. So a read-only function can at most
// bump, set or remove a counter on an item of a tenant partition; it can
// never write a group, a membership or a name guard. The patterns use IAM's
// StringLike syntax ('*' matches any run of characters).
var (
	MeterLeadingKeys         = tenantPK("*")
	MeterExcludedLeadingKeys = tenantPK("*") + "#*"
)

// MeterAttributes are the attributes CountCall writes, keys included (IAM
// wants them listed), as StringLike patterns: the day counters are one
// pattern.
func MeterAttributes() []string {
	return []string{AttrPK, AttrSK, attrCalls, attrLastDay, dayAttrPrefix + "*"}
}

// MeterReturnValues are the ReturnValues the grant allows: CountCall reads
// back only the old values of the attributes it names, never a whole item.
func MeterReturnValues() []string {
	return []string{string(types.ReturnValueNone), string(types.ReturnValueUpdatedOld)}
}

// utcDay is the midnight UTC that starts t's day in UTC.
func utcDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// CountCall counts one call of the tenant, in total and on today's UTC day
// (by s.Now), and returns both counts including this call.
//
// Both counters are bumped by one UpdateItem ADD, which DynamoDB applies
// atomically, so concurrent calls get distinct counts with no gaps. It
// returns the old values (UPDATED_OLD), the counts before this call, since
// the old lastDay is what tells of a day beyond the window; the new counts
// are one more. Like any ADD, a request that the SDK retries after its
// response was lost may count twice, and that is left so on purpose: the
// counts are statistics for the partner, the quota is enforced by API
// Gateway from its own counts, and a guard (repeat.go) would cost another
// attribute in the metering grant for a count that is one over at most once
// per lost response.
func (s *Store) CountCall(ctx context.Context, tenant string) (groups.Usage, error) {
	day := utcDay(s.Now())
	sweep, stale := s.meter.take(tenant, day)
	upd, err := s.meter.update(day, sweep, stale)
	if err != nil {
		return groups.Usage{}, err
	}
	out, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.table), Key: key(tenantPK(tenant), skUsage),
		UpdateExpression:          upd.expr,
		ExpressionAttributeNames:  upd.names,
		ExpressionAttributeValues: upd.values,
		ReturnValues:              types.ReturnValueUpdatedOld,
	})
	if err != nil {
		s.meter.putBack(tenant, day, sweep, stale) // for the next count to try again
		return groups.Usage{}, translate(err)
	}
	var old usageItem
	var dayCount int64
	err = attributevalue.UnmarshalMap(out.Attributes, &old)
	if err == nil && out.Attributes[upd.dayAttr] != nil {
		err = attributevalue.Unmarshal(out.Attributes[upd.dayAttr], &dayCount)
	}
	if err != nil {
		return groups.Usage{}, translate(err)
	}
	if last, err := time.Parse(dayAttrFormat, old.LastDay); err == nil && last.Before(upd.windowStart) {
		s.meter.putBack(tenant, day, false, []string{dayAttr(last)})
	}
	return groups.Usage{Total: old.Calls + 1, Day: day, DayCount: dayCount + 1}, nil
}

// meterState is what CountCall keeps between calls. Store holds it by
// pointer, so that copies of a Store share it.
type meterState struct {
	// today and todaySweep are the updates of the current UTC day, built
	// once per day: every count of the day sends one of the two
	// expressions, with the same names and values.
	today, todaySweep atomic.Pointer[countUpdate]

	mu sync.Mutex
	// sweptDay is the UTC day of swept: the tenants whose count of that
	// day has removed the days before it (or is doing so).
	sweptDay time.Time
	swept    map[string]bool
	// stale holds, by tenant, day attributes beyond the window that the next
	// count of the tenant removes.
	stale map[string][]string
}

// countUpdate is CountCall's UpdateItem expression for one UTC day. Its
// maps are shared by concurrent requests, which only read them.
type countUpdate struct {
	day, windowStart time.Time
	dayAttr          string
	expr             *string
	names            map[string]string
	values           map[string]types.AttributeValue
}

// take returns what the tenant's count of day removes: the days of the
// window before it when it is the process's first count of the tenant that
// day (sweep), and the stale attributes the process knows of. The sweep
// is marked done as it is handed out, so that counts at once do not all
// sweep; putBack hands it out again if the write fails.
func (m *meterState) take(tenant string, day time.Time) (sweep bool, stale []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.sweptDay.Equal(day) {
		m.sweptDay, m.swept = day, map[string]bool{}
	}
	sweep = !m.swept[tenant]
	m.swept[tenant] = true
	stale = m.stale[tenant]
	delete(m.stale, tenant)
	return sweep, stale
}

// putBack gives the next count of the tenant what a count did not remove.
func (m *meterState) putBack(tenant string, day time.Time, sweep bool, stale []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if sweep && m.sweptDay.Equal(day) {
		delete(m.swept, tenant)
	}
	if len(stale) == 0 {
		return
	}
	if m.stale == nil {
		m.stale = map[string][]string{}
	}
	for _, a := range stale {
		if !slices.Contains(m.stale[tenant], a) {
			m.stale[tenant] = append(m.stale[tenant], a)
		}
	}
}

// update returns the update of day that also removes the window's days
// (sweep) and the stale attributes.
func (m *meterState) update(day time.Time, sweep bool, stale []string) (*countUpdate, error) {
	cached := &m.today
	if sweep {
		cached = &m.todaySweep
	}
	if u := cached.Load(); u != nil && u.day.Equal(day) && len(stale) == 0 {
		return u, nil
	}
	u, err := newCountUpdate(day, sweep, stale)
	if err == nil && len(stale) == 0 {
		cached.Store(u)
	}
	return u, err
}

func newCountUpdate(day time.Time, sweep bool, stale []string) (*countUpdate, error) {
	u := &countUpdate{day: day, windowStart: day.AddDate(0, 0, -usageWindowDays), dayAttr: dayAttr(day)}
	one := expression.Value(1)
	upd := expression.Add(expression.Name(attrCalls), one).
		Add(expression.Name(u.dayAttr), one).
		Set(expression.Name(attrLastDay), expression.Value(day.Format(dayAttrFormat)))
	var removed []string
	for d := day.AddDate(0, 0, -1); sweep && !d.Before(u.windowStart); d = d.AddDate(0, 0, -1) {
		removed = append(removed, dayAttr(d))
	}
	// A stale attribute inside the window (a clock turned back) may be
	// named already, and DynamoDB refuses a name given twice; today's must
	// stay.
	for _, a := range stale {
		if a != u.dayAttr && !slices.Contains(removed, a) {
			removed = append(removed, a)
		}
	}
	for _, a := range removed {
		upd = upd.Remove(expression.Name(a))
	}
	expr, err := expression.NewBuilder().WithUpdate(upd).Build()
	if err != nil {
		return nil, err
	}
	u.expr, u.names, u.values = expr.Update(), expr.Names(), expr.Values()
	return u, nil
}

// Usage reads the tenant's counts, with today's UTC day by s.Now, without
// counting a call. Counters never written read as zero.
func (s *Store) Usage(ctx context.Context, tenant string) (groups.Usage, error) {
	day := utcDay(s.Now())
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.table), Key: key(tenantPK(tenant), skUsage), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return groups.Usage{}, translate(err)
	}
	u := groups.Usage{Day: day}
	var it usageItem
	err = attributevalue.UnmarshalMap(out.Item, &it)
	if err == nil && out.Item[dayAttr(day)] != nil {
		err = attributevalue.Unmarshal(out.Item[dayAttr(day)], &u.DayCount)
	}
	if err != nil {
		return groups.Usage{}, translate(err)
	}
	u.Total = it.Calls
	return u, nil
}
