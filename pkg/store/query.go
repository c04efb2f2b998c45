package store

import (
	"context"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
)

// This file is the query layer every searchable list shares: it turns a
// ListQuery (search, filters, sort, count, cursor or page number) into
// Queries of one key range or several, never a Scan.
//
//   - Sort picks the index: name order reads the list's name-ordered key
//     range (the table or GSI1), created order its GSI2 range ("C#<time>#…");
//     a descending sort reads the same range backwards (ScanIndexForward
//     false).
//   - Search narrows the name-ordered range with begins_with on the
//     folded sort key (groups.FoldName), so the index serves it and reads
//     only matches. In created order the index cannot, and search becomes
//     a filter.
//   - Filters eq, neq, sw and ilk are a FilterExpression (ilk is contains on
//     a folded copy attribute, since DynamoDB's contains compares bytes;
//     without a copy it is tested here, on the folded value). DynamoDB has
//     no ends-with: ew is tested here, after each Query.
//   - DynamoDB applies Limit before the filter, so a filtered page takes as
//     many Queries as fill it, each reading more than the last. A request
//     reads at most MaxReadPerPage entries: when that bound stops it, the page
//     comes back short (possibly empty) with a cursor to continue from.
//   - Page N of a list reads the (N−1)·size entries before it keys-only, then
//     the page: the cost grows with the depth, where a cursor costs one page.
//   - Totals are exact: from the list's counter when unfiltered, otherwise a
//     Select COUNT Query over the whole filtered range (paginated), whose cost
//     grows with the range's size, not the page's.

// MaxReadPerPage bounds the entries one cursor-paginated request reads
// (before filters) while filling a filtered page.
const MaxReadPerPage = 1000

// Sort orders of every list.
type SortField string

const (
	SortName    SortField = "name"
	SortCreated SortField = "created"
)

// Sort is a list's order; Desc reverses it. The zero Sort is name order.
type Sort struct {
	Field SortField
	Desc  bool
}

// FilterOp is a filter operator.
type FilterOp string

const (
	OpEq         FilterOp = "eq"  // equals (case-sensitive)
	OpNeq        FilterOp = "neq" // differs, or the field is absent
	OpStartsWith FilterOp = "sw"  // starts with (case-sensitive)
	OpEndsWith   FilterOp = "ew"  // ends with (case-sensitive; tested in memory)
	OpContains   FilterOp = "ilk" // contains, compared folded (groups.FoldName)
	// OpAbsent keeps the entries without the field (parentId=null); it has
	// no filter[…][…] spelling.
	OpAbsent FilterOp = "absent"
)

// FilterOps are the operators in the order the API documents them.
var FilterOps = []FilterOp{OpEq, OpNeq, OpStartsWith, OpEndsWith, OpContains}

// Filter keeps the entries whose Field compares to Value by Op.
type Filter struct {
	Field string
	Op    FilterOp
	Value string
}

// ListQuery is a validated list request: which entries, in which order, and
// which page of them.
type ListQuery struct {
	// Search keeps the entries whose name starts with it.
	Search  string
	Filters []Filter
	Sort    Sort
	// Count asks for the exact total of matching entries.
	Count bool
	// PageRequest is the page size (Limit) and, for cursor pagination, where
	// the page starts (After).
	PageRequest
	// PageNumber, when at least 1, asks for that page of Limit entries
	// (page-number pagination) instead of the page after After.
	PageNumber int
	// subtree: the list keeps only a scoped caller's subtree (scope.go),
	// a filter the caller did not ask for, whose list has no counter.
	subtree bool
}

// Filtered reports whether the query keeps only some of the list's entries.
func (q ListQuery) Filtered() bool { return q.Search != "" || len(q.Filters) > 0 || q.subtree }

// first reports whether the query asks for a list's first page, where the
// parent item (see listParent) is checked.
func (q ListQuery) first() bool { return q.PageNumber > 0 || q.After == nil }

// wantsTotal reports whether the page carries total_count: when asked for,
// with page numbers (which need it), and on the first page of an unfiltered
// list that has a counter (see listParent), at most one GetItem away.
func (q ListQuery) wantsTotal(counted bool) bool {
	return q.Count || q.PageNumber > 0 || (counted && q.After == nil && !q.Filtered())
}

// plainFirstPage reports whether the query reads an unfiltered list from its
// start in ascending name order: the one read where a parent item sorting
// just before the list can come in the same Query (see listRead.head).
func (q ListQuery) plainFirstPage() bool {
	return q.PageNumber == 0 && q.After == nil && !q.Filtered() && q.Sort.Field != SortCreated && !q.Sort.Desc
}

// Field is where a filterable field lives on a list's items.
type Field struct {
	// Attr is the attribute's document path ("name", "attributes.colour").
	Attr string
	// LowerAttr is the path of its folded copy (groups.FoldName), which ilk
	// matches with a FilterExpression; without one, ilk is tested in memory.
	LowerAttr string
}

// ListSchema names the fields a list can be filtered on. A name ending in
// ".*" is a map of strings: "attributes.*" accepts attributes.<key> for any
// key of 1–64 letters, digits and -_:@.
type ListSchema map[string]Field

// Lookup returns the field named name.
func (s ListSchema) Lookup(name string) (Field, bool) {
	if f, ok := s[name]; ok && !strings.HasSuffix(name, ".*") {
		return f, true
	}
	m, k, ok := strings.Cut(name, ".")
	f, isMap := s[m+".*"]
	if !ok || !isMap || !validMapKey(k) {
		return Field{}, false
	}
	out := Field{Attr: f.Attr + "." + k}
	if f.LowerAttr != "" {
		out.LowerAttr = f.LowerAttr + "." + k
	}
	return out, true
}

// Names lists the schema's field names, sorted, for error messages.
func (s ListSchema) Names() []string { return slices.Sorted(maps.Keys(s)) }

// validMapKey keeps a map key one element of a document path: no '.' or '['.
func validMapKey(k string) bool {
	return k != "" && len(k) <= 64 && !strings.Contains(k, ".") && groups.ValidateID("key", k) == nil
}

// listOrder is where a list lives in one sort order.
type listOrder struct {
	index    string   // "" for the table
	keyAttrs []string // the table's key and the index's: a position
	sortAttr string   // the ranges' sort-key attribute
	// ranges are read one after the other, each in sort-key order; together
	// they are the list in this order.
	ranges []expression.KeyConditionBuilder
	// filter is the list's own condition, if the ranges hold more than it.
	filter expression.ConditionBuilder
}

// listLayout is where a list lives: everything its queries need.
type listLayout struct {
	schema ListSchema
	// byName is the list in name order, narrowed to the names starting with
	// search ("" for all); names sort as the ranges' sort keys.
	byName func(search string) listOrder
	// byCreated is the list in created order (GSI2).
	byCreated listOrder
	// tree, when set, is the list's only order (a subtree, depth-first),
	// whatever the query's sort.
	tree *listOrder
	// search is the condition a search applies in an order other than by
	// name.
	search func(search string) expression.ConditionBuilder
}

// read is how q reads the list.
func (l listLayout) read(q ListQuery) (listRead, error) {
	var (
		o     listOrder
		conds []expression.ConditionBuilder
	)
	switch {
	case l.tree != nil, q.Sort.Field == SortCreated:
		o = l.byCreated
		if l.tree != nil {
			o = *l.tree
		}
		if q.Search != "" {
			conds = append(conds, l.search(q.Search))
		}
	default:
		o = l.byName(q.Search)
	}
	if o.filter.IsSet() {
		conds = append(conds, o.filter)
	}
	r := listRead{index: o.index, keyAttrs: o.keyAttrs, sortAttr: o.sortAttr, ranges: slices.Clone(o.ranges), desc: q.Sort.Desc}
	if r.desc {
		slices.Reverse(r.ranges)
	}
	for _, f := range q.Filters {
		fd, ok := l.schema.Lookup(f.Field)
		if !ok || !slices.Contains(FilterOps, f.Op) && f.Op != OpAbsent {
			return listRead{}, groups.Errorf(groups.CodeInvalidArgument, "cannot filter on %s with %s", f.Field, f.Op)
		}
		name := expression.Name(fd.Attr)
		switch f.Op {
		case OpEq:
			conds = append(conds, name.Equal(expression.Value(f.Value)))
		case OpNeq:
			// An entry without the field differs from any value. DynamoDB
			// Local already reads <> so; the OR states it rather than rely
			// on how a comparison with an absent attribute evaluates.
			conds = append(conds, name.NotEqual(expression.Value(f.Value)).Or(expression.AttributeNotExists(name)))
		case OpStartsWith:
			conds = append(conds, name.BeginsWith(f.Value))
		case OpAbsent:
			conds = append(conds, expression.AttributeNotExists(name))
		case OpContains:
			needle := groups.FoldName(f.Value)
			if fd.LowerAttr != "" {
				conds = append(conds, expression.Name(fd.LowerAttr).Contains(needle))
			} else {
				r.keep = append(r.keep, memFilter{fd.Attr, func(v string) bool { return strings.Contains(groups.FoldName(v), needle) }})
			}
		case OpEndsWith:
			suffix := f.Value
			r.keep = append(r.keep, memFilter{fd.Attr, func(v string) bool { return strings.HasSuffix(v, suffix) }})
		}
	}
	switch len(conds) {
	case 0:
	case 1:
		r.filter = conds[0]
	default:
		r.filter = expression.And(conds[0], conds[1], conds[2:]...)
	}
	return r, nil
}

// listRead is one way of reading a list: key ranges of the table or of an
// index, read one after the other.
type listRead struct {
	index    string
	keyAttrs []string
	sortAttr string
	ranges   []expression.KeyConditionBuilder
	desc     bool
	filter   expression.ConditionBuilder // applied by DynamoDB
	keep     []memFilter                 // applied here, after each Query
	// head is the sort key of the list's parent item when ranges[0] starts
	// with it: a read from the start returns it apart from the entries.
	head string
}

// memFilter is a test DynamoDB cannot run, applied to each entry read.
type memFilter struct {
	attr  string
	match func(string) bool
}

func (r listRead) filtered() bool { return r.filter.IsSet() || len(r.keep) > 0 }

func (r listRead) keeps(item map[string]types.AttributeValue) bool {
	for _, f := range r.keep {
		v, ok := stringAt(item, f.attr)
		if !ok || !f.match(v) {
			return false
		}
	}
	return true
}

// stringAt is the string at a document path of item ("attributes.colour").
func stringAt(item map[string]types.AttributeValue, path string) (string, bool) {
	var v types.AttributeValue = &types.AttributeValueMemberM{Value: item}
	for p := range strings.SplitSeq(path, ".") {
		m, ok := v.(*types.AttributeValueMemberM)
		if !ok {
			return "", false
		}
		v = m.Value[p]
	}
	s, ok := v.(*types.AttributeValueMemberS)
	if !ok {
		return "", false
	}
	return s.Value, true
}

// keysOnly is the projection of walks that only skip or count entries: the
// position's key attributes and what the in-memory filters test.
func (r listRead) keysOnly() *expression.ProjectionBuilder {
	p := expression.NamesList(expression.Name(r.keyAttrs[0]))
	for _, a := range r.keyAttrs[1:] {
		p = p.AddNames(expression.Name(a))
	}
	for _, f := range r.keep {
		p = p.AddNames(expression.Name(f.attr))
	}
	return &p
}

// A position is where a list continues: the key of the last entry passed,
// plus the index of its range when the list has several.
const posRange = "#range"

func (r listRead) position(rng int, item map[string]types.AttributeValue) map[string]string {
	pos := keyStrings(item, r.keyAttrs...)
	if rng > 0 {
		pos[posRange] = strconv.Itoa(rng)
	}
	return pos
}

var errBadPosition = &groups.Error{Code: groups.CodeInvalidCursor, Detail: "the cursor does not fit this list",
	Fields: []groups.FieldError{{Field: "cursor", Message: "is not a cursor this list issued"}}}

// start is the range and exclusive start key of a position.
func (r listRead) start(pos map[string]string) (int, map[string]types.AttributeValue, error) {
	if pos == nil {
		return 0, nil, nil
	}
	rng, k := 0, maps.Clone(pos)
	if s, ok := k[posRange]; ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n >= len(r.ranges) {
			return 0, nil, errBadPosition
		}
		rng = n
		delete(k, posRange)
	}
	for _, a := range r.keyAttrs {
		if _, ok := k[a]; !ok {
			return 0, nil, errBadPosition
		}
	}
	return rng, keyValues(k), nil
}

func (r listRead) input(table string, rng int, start map[string]types.AttributeValue, limit int, proj *expression.ProjectionBuilder, count bool) (*dynamodb.QueryInput, error) {
	b := expression.NewBuilder().WithKeyCondition(r.ranges[rng])
	if r.filter.IsSet() {
		b = b.WithFilter(r.filter)
	}
	if proj != nil {
		b = b.WithProjection(*proj)
	}
	expr, err := b.Build()
	if err != nil {
		return nil, err
	}
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(table),
		KeyConditionExpression:    expr.KeyCondition(),
		FilterExpression:          expr.Filter(),
		ProjectionExpression:      expr.Projection(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ExclusiveStartKey:         start,
		ScanIndexForward:          aws.Bool(!r.desc),
	}
	if limit > 0 {
		in.Limit = aws.Int32(int32(limit))
	}
	if count {
		in.Select = types.SelectCount
	}
	if r.index == "" {
		// Base-table reads are strongly consistent: a member just added is
		// listed. GSIs only offer eventual consistency.
		in.ConsistentRead = aws.Bool(true)
	} else {
		in.IndexName = aws.String(r.index)
	}
	return in, nil
}

// firstFilteredBatch is how many entries a filtered read asks DynamoDB to
// evaluate in its first Query; each further Query asks four times more (up
// to MaxReadPerPage), so a selective filter takes few round trips and an
// unselective one does not read far past its page.
const firstFilteredBatch = 50

// hit is an entry that passed the filters, and the position after it.
type hit struct {
	item map[string]types.AttributeValue
	pos  map[string]string
}

// walk reads the entries of r after position from, in order, until n have
// passed the filters (n < 0: all of them) or the ranges end. With maxRead > 0
// it stops once that many entries were read and returns resume, the position
// to continue from. A read from the start returns the parent item (head)
// apart, if r.head names it.
func (s *Store) walk(ctx context.Context, r listRead, from map[string]string, n, maxRead int, proj *expression.ProjectionBuilder) (hits []hit, head map[string]types.AttributeValue, resume map[string]string, err error) {
	rng, start, err := r.start(from)
	if err != nil {
		return nil, nil, nil, err
	}
	headPending := r.head != "" && from == nil
	batch, read := firstFilteredBatch, 0
	for rng < len(r.ranges) {
		limit := 0 // n < 0: no Limit, DynamoDB returns 1 MB per Query
		switch {
		case n >= 0 && r.filtered():
			limit = max(batch, n-len(hits))
			batch = min(4*batch, MaxReadPerPage)
		case n >= 0:
			limit = n - len(hits)
			if headPending {
				limit++
			}
		}
		if maxRead > 0 && (limit == 0 || limit > maxRead-read) {
			limit = maxRead - read
		}
		in, err := r.input(s.table, rng, start, limit, proj, false)
		if err != nil {
			return nil, nil, nil, translate(err)
		}
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, nil, nil, translate(err)
		}
		read += int(out.ScannedCount)
		for _, it := range out.Items {
			if headPending {
				headPending = false
				if sortKeyOf(it, r.sortAttr) == r.head {
					head = it
					continue
				}
			}
			if !r.keeps(it) {
				continue
			}
			hits = append(hits, hit{item: it, pos: r.position(rng, it)})
			if len(hits) == n {
				return hits, head, nil, nil
			}
		}
		headPending = false
		if out.LastEvaluatedKey == nil {
			rng, start = rng+1, nil
			continue
		}
		start = out.LastEvaluatedKey
		// The bound can only be reached by a Query that read its whole
		// Limit, and DynamoDB then always returns LastEvaluatedKey: the
		// resume position is never the bare start of the next range.
		if maxRead > 0 && read >= maxRead {
			return hits, head, r.position(rng, start), nil
		}
	}
	return hits, head, nil, nil
}

// count returns how many entries of r pass its filters: Select COUNT Queries
// over each range, or, when a filter is tested in memory, a keys-only walk.
// Either way it reads the whole range (1 MB per Query).
func (s *Store) count(ctx context.Context, r listRead) (int, error) {
	if len(r.keep) > 0 {
		hits, _, _, err := s.walk(ctx, r, nil, -1, 0, r.keysOnly())
		return len(hits), err
	}
	n := 0
	for rng := range r.ranges {
		in, err := r.input(s.table, rng, nil, 0, nil, true)
		if err != nil {
			return 0, translate(err)
		}
		for {
			out, err := s.db.Query(ctx, in)
			if err != nil {
				return 0, translate(err)
			}
			n += int(out.Count)
			if out.LastEvaluatedKey == nil {
				break
			}
			in.ExclusiveStartKey = out.LastEvaluatedKey
		}
	}
	return n, nil
}

// listResult is a page as read: its raw entries, the position after it when
// more follow, and the parent item when the read returned it.
type listResult struct {
	items []map[string]types.AttributeValue
	next  map[string]string
	head  map[string]types.AttributeValue
}

// readPage reads the page q asks for. A cursor page reads one entry more than
// it shows: when that one arrives there is a next page, and the position
// points after the last entry shown, so the last page never comes back empty
// with a dangling cursor. Page N first walks the (N−1)·Limit entries before
// it keys-only; a page past the end is empty.
func (s *Store) readPage(ctx context.Context, r listRead, q ListQuery) (listResult, error) {
	return settled(ctx, s, func() (listResult, error) { return s.readPageOnce(ctx, r, q) },
		func(res listResult) []map[string]types.AttributeValue { return append(res.items, res.head) })
}

func (s *Store) readPageOnce(ctx context.Context, r listRead, q ListQuery) (listResult, error) {
	if q.PageNumber == 0 {
		hits, head, resume, err := s.walk(ctx, r, q.After, q.Limit+1, MaxReadPerPage, nil)
		res := listResult{head: head, next: resume}
		if len(hits) > q.Limit {
			hits, res.next = hits[:q.Limit], hits[q.Limit-1].pos
		}
		res.items = rawItems(hits)
		return res, err
	}
	var from map[string]string
	if skip := (q.PageNumber - 1) * q.Limit; skip > 0 {
		skipped, _, _, err := s.walk(ctx, r, nil, skip, 0, r.keysOnly())
		if err != nil || len(skipped) < skip {
			return listResult{items: nil}, err
		}
		from = skipped[skip-1].pos
	}
	hits, _, _, err := s.walk(ctx, r, from, q.Limit, 0, nil)
	return listResult{items: rawItems(hits)}, err
}

func rawItems(hits []hit) []map[string]types.AttributeValue {
	out := make([]map[string]types.AttributeValue, len(hits))
	for i, h := range hits {
		out[i] = h.item
	}
	return out
}

// listParent is the item a list hangs off, read strongly consistently: the
// directory of a tenant's groups, the group of its members. It holds the
// list's counter, and may decide that the list does not exist.
type listParent struct {
	key map[string]types.AttributeValue
	// required: the list is checked on every first page (404 without it).
	required bool
	// known: the caller read the parent already, and total needs no item.
	known bool
	// total checks the parent item (nil when there is none) and returns the
	// unfiltered total it counts.
	total func(item map[string]types.AttributeValue) (int, error)
}

// runList reads the page q asks for from r and, when the page carries one,
// its exact total: from the parent's counter when unfiltered, else (or
// without a parent) a COUNT Query. The parent is read in parallel with the
// page, unless r.head brings it in the page's own Query.
func runList[T, I any](ctx context.Context, s *Store, r listRead, parent *listParent, q ListQuery, conv func(I) T) (Page[T], error) {
	wantTotal := q.wantsTotal(parent != nil)
	fromParent := wantTotal && !q.Filtered() && parent != nil
	// A scoped caller's every page checks the parent: a cursor is bound to
	// the tenant and the list, not to the token's subtree.
	needParent := parent != nil && (fromParent || ((q.first() || scopeOf(ctx) != "") && parent.required))
	headInPage := r.head != "" && q.PageNumber == 0 && q.After == nil
	var (
		res       listResult
		parentRaw map[string]types.AttributeValue
		total     int
	)
	var reads errgroup.Group
	reads.Go(func() (err error) { res, err = s.readPage(ctx, r, q); return err })
	if needParent && !parent.known && !headInPage {
		reads.Go(func() (err error) { parentRaw, err = s.getRaw(ctx, parent.key); return err })
	}
	if wantTotal && !fromParent {
		reads.Go(func() (err error) { total, err = s.count(ctx, r); return err })
	}
	if err := reads.Wait(); err != nil {
		return Page[T]{}, err
	}
	if headInPage {
		parentRaw = res.head
	}
	if needParent {
		n, err := parent.total(parentRaw)
		if err != nil {
			return Page[T]{}, err
		}
		if fromParent {
			total = n
		}
	}
	items, err := decodeItems(res.items, conv)
	page := Page[T]{Items: items, Next: res.next}
	if wantTotal {
		page.Total = &total
	}
	return page, err
}

// getRaw reads one item of the table strongly consistently (nil if
// absent); a group that a move holds, once the move is finished (settle).
func (s *Store) getRaw(ctx context.Context, k map[string]types.AttributeValue) (map[string]types.AttributeValue, error) {
	return settled(ctx, s, func() (map[string]types.AttributeValue, error) {
		out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: k, ConsistentRead: aws.Bool(true)})
		if err != nil {
			return nil, translate(err)
		}
		return out.Item, nil
	}, func(item map[string]types.AttributeValue) []map[string]types.AttributeValue {
		return []map[string]types.AttributeValue{item}
	})
}

// getOne reads one item strongly consistently into I, or returns
// ErrNotFound when there is none.
func getOne[I any](ctx context.Context, s *Store, k map[string]types.AttributeValue) (I, error) {
	var it I
	raw, err := s.getRaw(ctx, k)
	if err != nil {
		return it, err
	}
	if raw == nil {
		return it, groups.ErrNotFound
	}
	if err := attributevalue.UnmarshalMap(raw, &it); err != nil {
		return it, translate(err)
	}
	return it, nil
}

// decodeItems unmarshals raw items into I and converts them to T.
func decodeItems[T, I any](raw []map[string]types.AttributeValue, conv func(I) T) ([]T, error) {
	out := make([]T, 0, len(raw))
	for _, r := range raw {
		var it I
		if err := attributevalue.UnmarshalMap(r, &it); err != nil {
			return nil, translate(err)
		}
		out = append(out, conv(it))
	}
	return out, nil
}
