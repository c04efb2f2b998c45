package store

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"golang.org/x/sync/errgroup"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
)

// Issue 9: the change feed. DynamoDB Streams reports every write of the
// table with its old and new images; the publisher (pkg/changes, the
// publish-changes Lambda, or make run reading DynamoDB Local's stream)
// hands each batch of records to PublishChanges, which turns the records
// of partner-visible items into events and appends them to the tenant's
// feed partition (keys.go), read back by ListChanges.
//
// Only four kinds of item make events (ChangeSortKeys): groups,
// memberships, registered items and associations. Everything else (usage
// counters, idempotency records, name guards, held and association edges,
// moves, tokens, the feed itself) makes none, and the event source mapping
// drops those records before the Lambda runs.
//
// Positions. An event's position is its publishing time (milliseconds),
// then its order in the batch, then its id. The feed reads only up to
// groups.ChangeSettleWindow before the present, so a cursor never passes a
// position still being written: a batch that takes longer than
// groups.ChangePublishBudget to write is written again at a fresh position
// (the early copies are duplicates with the same ids, which at-least-once
// delivery allows). Records of one stored item come in commit order in one
// shard, and a shard's batches are published one after the other, so the
// feed keeps commit order per stored resource; across resources it is
// ordered by publishing time.

// ChangeSortKeys are the sort keys of the items whose records make events:
// Exact are whole keys, Prefixes starts of keys. The event source mapping's
// filter (infra/, cmd/gensam) and the local stream reader drop every other
// record.
var ChangeSortKeys = struct{ Exact, Prefixes []string }{
	Exact:    []string{skGroup, skItem, skAssociation},
	Prefixes: []string{skMemberRoot, skWebhookPrefix},
}

// MakesEvents reports whether a record of the item with sort key sk can
// make events (ChangeSortKeys).
func MakesEvents(sk string) bool {
	if slices.Contains(ChangeSortKeys.Exact, sk) {
		return true
	}
	return slices.ContainsFunc(ChangeSortKeys.Prefixes, func(p string) bool { return strings.HasPrefix(sk, p) })
}

// The feed grant: the publisher writes feed items, in feed partitions
// only, besides reading what effective-member events need.
var FeedLeadingKeys = feedPK("*")

// StreamRecord is one committed write as DynamoDB Streams reports it.
type StreamRecord struct {
	// EventID is the record's id, unique in the stream: event ids derive
	// from it, so a record published twice gives the same events.
	EventID string
	// Time is when the write committed (the record's approximate creation
	// time).
	Time     time.Time
	Keys     map[string]types.AttributeValue
	Old, New map[string]types.AttributeValue
}

// feedItem is one event in a tenant's feed.
type feedItem struct {
	PK   string `dynamodbav:"PK"`
	SK   string `dynamodbav:"SK"`
	Kind string `dynamodbav:"kind"`
	Type string `dynamodbav:"type"`
	// Scope holds the ids of the groups the event concerns and of their
	// ancestors: a token scoped to a subtree reads the events whose scope
	// holds its root. Events of the registry and of associations have none,
	// as those belong to the whole tenant.
	Scope     []string `dynamodbav:"scope,stringset,omitempty"`
	Event     string   `dynamodbav:"event"` // the groups.Event as JSON
	ExpiresAt int64    `dynamodbav:"expiresAt"`
}

const attrType, attrScope = "type", "scope"

// storedEvent is a groups.Event as a feed item holds it (JSON, which the
// feed answers as it is).
type storedEvent struct {
	ID   string           `json:"id"`
	Type groups.EventType `json:"type"`
	Time time.Time        `json:"time"`
	Data json.RawMessage  `json:"data"`
}

// publishWorkers bounds the records whose events are derived at once (each
// membership change reads up to three times).
const publishWorkers = 8

// maxPublishAttempts bounds the writes of one batch at fresh positions
// before PublishChanges gives up and the batch is retried whole.
const maxPublishAttempts = 4

// errPublishTooSlow reports a batch whose every write took longer than
// groups.ChangePublishBudget.
var errPublishTooSlow = errors.New("publish changes: every write of the batch took longer than its budget")

// PublishedEvent is an event PublishChanges wrote, with its tenant.
type PublishedEvent struct {
	Tenant string
	Event  groups.Event
	// Scope is the feed item's: the groups the event concerns and their
	// ancestors (none for the tenant's registry and associations).
	Scope []string
}

// derivedEvent is an event and its feed item (whose SK holds only the
// event's id until PublishChanges gives it its position).
type derivedEvent struct {
	item      feedItem
	published PublishedEvent
}

// PublishChanges appends the events of recs to their tenants' feeds and
// returns them. It is idempotent in effect: publishing a batch again writes
// the same events (same ids) at new positions.
func (s *Store) PublishChanges(ctx context.Context, recs []StreamRecord) ([]PublishedEvent, error) {
	derived := make([][]derivedEvent, len(recs))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(publishWorkers)
	reads := &groupReads{s: s, items: map[string]*groupItem{}}
	for i, rec := range recs {
		g.Go(func() error {
			evs, err := s.eventsOf(gctx, rec, reads)
			derived[i] = evs
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	feed := slices.Concat(derived...)
	if len(feed) == 0 {
		return nil, nil
	}
	published := make([]PublishedEvent, len(feed))
	for i, d := range feed {
		published[i] = d.published
	}
	for range maxPublishAttempts {
		start := s.Now()
		ms := start.UnixMilli()
		reqs := make([]types.WriteRequest, len(feed))
		for i, d := range feed {
			it := d.item
			it.SK = feedSK(ms, i, it.SK)
			item, err := attributevalue.MarshalMap(it)
			if err != nil {
				return nil, err
			}
			reqs[i] = types.WriteRequest{PutRequest: &types.PutRequest{Item: item}}
		}
		if err := s.batchWriteAll(ctx, reqs); err != nil {
			return nil, translate(err)
		}
		if s.Now().Sub(start) <= groups.ChangePublishBudget {
			return published, nil
		}
	}
	return nil, errPublishTooSlow
}

// pendingEvent is an event before its position: what eventsOf derives.
type pendingEvent struct {
	typ   groups.EventType
	scope []string
	data  any
	// key tells apart the events of one record, for their ids.
	key string
	// at is the item's own latest timestamp (timeFormat), if it has one:
	// the event's time is the later of it and the record's, since stream
	// records tell the time to the second only (DynamoDB Local: to the
	// minute), and a removal leaves no timestamp of its own.
	at string
}

// eventsOf turns one record into its events.
func (s *Store) eventsOf(ctx context.Context, rec StreamRecord, reads *groupReads) ([]derivedEvent, error) {
	pk, sk := sortKeyOf(rec.Keys, AttrPK), sortKeyOf(rec.Keys, AttrSK)
	tenant, ok := tenantOfPK(pk)
	if !ok || !MakesEvents(sk) {
		return nil, nil
	}
	var (
		evs []pendingEvent
		err error
	)
	switch {
	case sk == skGroup:
		evs, err = groupEvents(rec)
	case sk == skItem:
		evs, err = registryEvents(rec)
	case sk == skAssociation:
		evs, err = associationEvents(rec)
	case strings.HasPrefix(sk, skWebhookPrefix):
		evs, err = webhookEvents(rec)
	default:
		evs, err = s.memberEvents(ctx, tenant, rec, reads)
	}
	if err != nil {
		return nil, err
	}
	out := make([]derivedEvent, 0, len(evs))
	expires := s.Now().Add(groups.ChangeRetention).Unix()
	for _, ev := range evs {
		data, err := json.Marshal(ev.data)
		if err != nil {
			return nil, err
		}
		at := rec.Time.UTC()
		if t := parseTime(ev.at); t.After(at) {
			at = t
		}
		e := storedEvent{ID: eventID(rec.EventID, ev.key), Type: ev.typ, Time: at, Data: data}
		body, err := json.Marshal(e)
		if err != nil {
			return nil, err
		}
		out = append(out, derivedEvent{
			item: feedItem{PK: feedPK(tenant), SK: e.ID, Kind: "change", Type: string(ev.typ),
				Scope: ev.scope, Event: string(body), ExpiresAt: expires},
			published: PublishedEvent{Tenant: tenant, Event: groups.Event(e), Scope: ev.scope},
		})
	}
	return out, nil
}

// eventID is the id of a record's event named key: the record's id keeps
// only characters that sort after '#', which positions need (afterFeed).
func eventID(recordID, key string) string {
	clean := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '-' {
			return r
		}
		return -1
	}, recordID)
	return "evt_" + clean + "_" + key
}

// tenantOfPK is the tenant of a tenant's key ("T#<t>" or "T#<t>#…").
func tenantOfPK(pk string) (string, bool) {
	rest, ok := strings.CutPrefix(pk, "T#")
	if !ok {
		return "", false
	}
	tenant, _, _ := strings.Cut(rest, "#")
	return tenant, tenant != ""
}

// images decodes a record's old and new images into I; absent ones stay
// nil.
func images[I any](rec StreamRecord) (old, cur *I, err error) {
	decode := func(img map[string]types.AttributeValue) (*I, error) {
		if len(img) == 0 {
			return nil, nil
		}
		var it I
		if err := attributevalue.UnmarshalMap(img, &it); err != nil {
			return nil, err
		}
		return &it, nil
	}
	if old, err = decode(rec.Old); err != nil {
		return nil, nil, err
	}
	cur, err = decode(rec.New)
	return old, cur, err
}

// The documents of the events' data (docs/changes.md).
type (
	groupSnapshot struct {
		ID          string            `json:"id"`
		Name        string            `json:"name"`
		Description string            `json:"description"`
		Attributes  map[string]string `json:"attributes"`
		placement
		CreatedAt string `json:"createdAt"`
		Version   int    `json:"version"`
	}
	placement struct {
		ParentID  *string  `json:"parentId"`
		Ancestors []string `json:"ancestors"`
	}
	groupChanged struct {
		GroupID string                `json:"groupId"`
		Version int                   `json:"version"`
		Changes map[string]fieldValue `json:"changes"`
	}
	fieldValue struct {
		Before any `json:"before"`
		After  any `json:"after"`
	}
	groupMoved struct {
		GroupID string    `json:"groupId"`
		Version int       `json:"version"`
		From    placement `json:"from"`
		To      placement `json:"to"`
	}
	groupDeleted struct {
		GroupID   string   `json:"groupId"`
		Version   int      `json:"version"`
		Ancestors []string `json:"ancestors"`
	}
	memberChanged struct {
		GroupID   string   `json:"groupId"`
		Ancestors []string `json:"ancestors"`
		ItemType  string   `json:"itemType"`
		ItemID    string   `json:"itemId"`
	}
	effectiveChanged struct {
		GroupID  string `json:"groupId"`
		ItemType string `json:"itemType"`
		ItemID   string `json:"itemId"`
		// Via is the group whose direct membership changed.
		Via string `json:"via"`
	}
	itemChanged struct {
		ItemType   string            `json:"itemType"`
		ItemID     string            `json:"itemId"`
		Version    int               `json:"version"`
		Name       string            `json:"name,omitempty"`
		Enterprise string            `json:"enterprise,omitempty"`
		Attributes map[string]string `json:"attributes,omitempty"`
	}
	associationChanged struct {
		AssociationID string `json:"associationId"`
		VehicleID     string `json:"vehicleId"`
		UserID        string `json:"userId"`
	}
)

func placementOf(it groupItem) placement {
	p := placement{Ancestors: orEmpty(it.ancestors())}
	if it.ParentID != "" {
		p.ParentID = &it.ParentID
	}
	return p
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// pathIDs are the ids on a group's path: its ancestors and itself.
func pathIDs(it groupItem) []string { return strings.Split(it.path(), treeSep) }

// groupEvents: a live group's insert is group.created, its tombstoning (or
// its removal without one) group.deleted; a change of name, description or
// attributes is group.updated, of parent group.moved. Counts, child counts,
// versions, marks and descendants' paths (derived fields) make none.
func groupEvents(rec StreamRecord) ([]pendingEvent, error) {
	old, cur, err := images[groupItem](rec)
	if err != nil {
		return nil, err
	}
	live := func(it *groupItem) bool { return it != nil && it.DeletingAt == "" }
	switch {
	case !live(old) && live(cur):
		g := groupSnapshot{ID: cur.ID, Name: cur.Name, Description: cur.Description, Attributes: orMap(cur.Attributes),
			placement: placementOf(*cur), CreatedAt: cur.CreatedAt, Version: cur.Version}
		return []pendingEvent{{typ: groups.GroupCreated, scope: pathIDs(*cur), data: map[string]any{"group": g}, key: "0", at: cur.UpdatedAt}}, nil
	case live(old) && !live(cur):
		version, at := old.Version, old.UpdatedAt
		if cur != nil {
			version, at = cur.Version, cur.DeletingAt
		}
		return []pendingEvent{{typ: groups.GroupDeleted, scope: pathIDs(*old),
			data: groupDeleted{GroupID: old.ID, Version: version, Ancestors: orEmpty(old.ancestors())}, key: "0", at: at}}, nil
	case !live(old):
		return nil, nil
	}
	var evs []pendingEvent
	changes := map[string]fieldValue{}
	if old.Name != cur.Name {
		changes["name"] = fieldValue{old.Name, cur.Name}
	}
	if old.Description != cur.Description {
		changes["description"] = fieldValue{old.Description, cur.Description}
	}
	if !mapsEqual(old.Attributes, cur.Attributes) {
		changes["attributes"] = fieldValue{orMap(old.Attributes), orMap(cur.Attributes)}
	}
	if len(changes) > 0 {
		evs = append(evs, pendingEvent{typ: groups.GroupUpdated, scope: pathIDs(*cur),
			data: groupChanged{GroupID: cur.ID, Version: cur.Version, Changes: changes}, key: "0", at: cur.UpdatedAt})
	}
	if old.ParentID != cur.ParentID {
		scope := pathIDs(*cur)
		for _, id := range pathIDs(*old) {
			if !slices.Contains(scope, id) {
				scope = append(scope, id)
			}
		}
		evs = append(evs, pendingEvent{typ: groups.GroupMoved, scope: scope,
			data: groupMoved{GroupID: cur.ID, Version: cur.Version, From: placementOf(*old), To: placementOf(*cur)}, key: "1", at: cur.UpdatedAt})
	}
	return evs, nil
}

func orMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// registryEvents: a registration written is item.put (unless the write
// changed nothing a partner sees), removed item.deleted.
func registryEvents(rec StreamRecord) ([]pendingEvent, error) {
	old, cur, err := images[registeredItem](rec)
	if err != nil {
		return nil, err
	}
	switch {
	case cur == nil && old != nil:
		return []pendingEvent{{typ: groups.ItemDeleted,
			data: itemChanged{ItemType: old.ItemType, ItemID: old.ItemID, Version: old.Version}, key: "0", at: old.UpdatedAt}}, nil
	case cur == nil:
		return nil, nil
	case old != nil && old.Version == cur.Version && old.Name == cur.Name && old.Enterprise == cur.Enterprise &&
		mapsEqual(old.Attributes, cur.Attributes):
		return nil, nil
	}
	return []pendingEvent{{typ: groups.ItemPut, data: itemChanged{ItemType: cur.ItemType, ItemID: cur.ItemID,
		Version: cur.Version, Name: cur.Name, Enterprise: cur.Enterprise, Attributes: cur.Attributes}, key: "0", at: cur.UpdatedAt}}, nil
}

// associationEvents: an association's insert is association.created, its
// removal association.deleted.
func associationEvents(rec StreamRecord) ([]pendingEvent, error) {
	old, cur, err := images[associationItem](rec)
	if err != nil {
		return nil, err
	}
	switch {
	case old == nil && cur != nil:
		return []pendingEvent{{typ: groups.AssociationCreated,
			data: associationChanged{AssociationID: cur.ID, VehicleID: cur.VehicleID, UserID: cur.UserID}, key: "0", at: cur.CreatedAt}}, nil
	case old != nil && cur == nil:
		return []pendingEvent{{typ: groups.AssociationDeleted,
			data: associationChanged{AssociationID: old.ID, VehicleID: old.VehicleID, UserID: old.UserID}, key: "0", at: old.CreatedAt}}, nil
	}
	return nil, nil
}

// memberEvents: a membership's insert is member.added, its removal
// member.removed (a deleted group's purge included: a mirror of the
// memberships sees each go), and each ancestor of the group whose effective
// members the change adds to or removes from gets effective_member.added or
// .removed: an ancestor none of whose other descendants (nor itself) holds
// the item. Whether they do is read when the record is published, from the
// holdings as they then stand.
func (s *Store) memberEvents(ctx context.Context, tenant string, rec StreamRecord, reads *groupReads) ([]pendingEvent, error) {
	old, cur, err := images[memberItem](rec)
	if err != nil {
		return nil, err
	}
	typ, effective, m, at := groups.MemberAdded, groups.EffectiveMemberAdded, cur, ""
	switch {
	case old == nil && cur != nil:
		at = cur.AddedAt
	case old != nil && cur == nil:
		typ, effective, m, at = groups.MemberRemoved, groups.EffectiveMemberRemoved, old, old.AddedAt
	default:
		return nil, nil
	}
	g, err := reads.group(ctx, tenant, m.GroupID)
	if err != nil {
		return nil, err
	}
	var ancestors []string
	if g != nil {
		ancestors = g.ancestors()
	}
	scope := append(slices.Clone(ancestors), m.GroupID)
	evs := []pendingEvent{{typ: typ, scope: scope, key: "0", at: at,
		data: memberChanged{GroupID: m.GroupID, Ancestors: orEmpty(ancestors), ItemType: m.ItemType, ItemID: m.ItemID}}}
	if len(ancestors) == 0 {
		return evs, nil
	}
	covered, err := s.heldUnder(ctx, tenant, groups.Item{Type: groups.ItemType(m.ItemType), ID: m.ItemID}, m.GroupID)
	if err != nil {
		return nil, err
	}
	for i, a := range ancestors {
		if covered[a] {
			continue
		}
		evs = append(evs, pendingEvent{typ: effective, scope: slices.Clone(ancestors[:i+1]), key: "e_" + a, at: at,
			data: effectiveChanged{GroupID: a, ItemType: m.ItemType, ItemID: m.ItemID, Via: m.GroupID}})
	}
	return evs, nil
}

// heldUnder returns the groups that hold the item through a live group
// other than except: every group on the path of each such holder.
func (s *Store) heldUnder(ctx context.Context, tenant string, it groups.Item, except string) (map[string]bool, error) {
	var keys []map[string]types.AttributeValue
	kc := expression.Key(AttrPK).Equal(expression.Value(itemPK(tenant, it))).
		And(expression.Key(AttrSK).BeginsWith(gsiGroupRoot))
	err := s.forEach(ctx, "", kc, func(raw map[string]types.AttributeValue) error {
		if id := sortKeyOf(raw, attrGroupID); id != except {
			keys = append(keys, key(groupPK(tenant, id), skGroup))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	covered := map[string]bool{}
	for start := 0; start < len(keys); start += batchGetMax {
		err := s.batchGet(ctx, keys[start:min(start+batchGetMax, len(keys))], nil, func(raw map[string]types.AttributeValue) error {
			var g groupItem
			if err := attributevalue.UnmarshalMap(raw, &g); err != nil {
				return err
			}
			if g.DeletingAt == "" {
				for _, id := range pathIDs(g) {
					covered[id] = true
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return covered, nil
}

// groupReads reads each group of a batch once.
type groupReads struct {
	s     *Store
	mu    sync.Mutex
	items map[string]*groupItem
}

// group is the group's item, tombstones included, or nil if it is gone.
func (r *groupReads) group(ctx context.Context, tenant, id string) (*groupItem, error) {
	k := tenant + "#" + id
	r.mu.Lock()
	it, ok := r.items[k]
	r.mu.Unlock()
	if ok {
		return it, nil
	}
	raw, err := r.s.getRaw(ctx, key(groupPK(tenant, id), skGroup))
	if err != nil {
		return nil, err
	}
	if raw != nil {
		it = &groupItem{}
		if err := attributevalue.UnmarshalMap(raw, it); err != nil {
			return nil, err
		}
	}
	r.mu.Lock()
	r.items[k] = it
	r.mu.Unlock()
	return it, nil
}

// ChangeQuery is a validated read of the feed.
type ChangeQuery struct {
	Limit int
	// Types keeps only events of these types (all when empty).
	Types []groups.EventType
	// After is the position to continue from (a cursor's); nil reads from
	// the oldest event kept.
	After map[string]string
	// Until, when set, ends the read with the events published then: a
	// webhook's catch-up reads what it missed and no further. The page
	// that reaches it has no Next.
	Until time.Time
}

// ChangesNow is the position of the present as the feed reads it: the
// settling window before now. A client that starts there misses nothing
// committed after it asked.
func (s *Store) ChangesNow() map[string]string {
	return map[string]string{AttrSK: feedBound(s.Now().Add(-groups.ChangeSettleWindow).UnixMilli())}
}

// ListChanges returns the tenant's events after q.After, oldest first, up
// to the settling window before now; a scoped caller gets only the events
// of its subtree. The page's Next is always set: a feed never ends, and a
// client polls from Next. A position older than groups.ChangeRetention is
// ErrCursorExpired. A filtered page reads at most MaxReadPerPage events.
func (s *Store) ListChanges(ctx context.Context, tenant string, q ChangeQuery) (Page[groups.Event], error) {
	now := s.Now()
	hi := feedBound(now.Add(-groups.ChangeSettleWindow).UnixMilli())
	if !q.Until.IsZero() {
		hi = min(hi, feedBound(q.Until.UnixMilli()+1))
	}
	oldest := now.Add(-groups.ChangeRetention).UnixMilli()
	lo := feedBound(oldest)
	if q.After != nil {
		pos := q.After[AttrSK]
		ms, ok := feedMillis(pos)
		if !ok || len(q.After) != 1 {
			return Page[groups.Event]{}, errBadPosition
		}
		if ms < oldest {
			return Page[groups.Event]{}, groups.ErrCursorExpired
		}
		lo = afterFeed(pos)
	}
	if lo > hi {
		// Nothing settled yet past the cursor (it is at the present), or
		// nothing before Until.
		page := Page[groups.Event]{Items: []groups.Event{}, Next: q.After}
		if !q.Until.IsZero() {
			page.Next = nil
		}
		return page, nil
	}
	r := listRead{index: "", keyAttrs: tableKeyAttrs, sortAttr: AttrSK, ranges: []expression.KeyConditionBuilder{
		expression.Key(AttrPK).Equal(expression.Value(feedPK(tenant))).And(expression.Key(AttrSK).Between(expression.Value(lo), expression.Value(hi))),
	}}
	var conds []expression.ConditionBuilder
	if len(q.Types) > 0 {
		vals := make([]expression.OperandBuilder, len(q.Types))
		for i, t := range q.Types {
			vals[i] = expression.Value(string(t))
		}
		conds = append(conds, expression.Name(attrType).In(vals[0], vals[1:]...))
	}
	if root := scopeOf(ctx); root != "" {
		conds = append(conds, expression.Name(attrScope).Contains(root))
	}
	switch len(conds) {
	case 1:
		r.filter = conds[0]
	case 2:
		r.filter = conds[0].And(conds[1])
	}
	hits, _, resume, err := s.walk(ctx, r, nil, q.Limit, MaxReadPerPage, nil)
	if err != nil {
		return Page[groups.Event]{}, err
	}
	page := Page[groups.Event]{Items: make([]groups.Event, 0, len(hits)), Next: map[string]string{AttrSK: hi}}
	for _, h := range hits {
		var it feedItem
		if err := attributevalue.UnmarshalMap(h.item, &it); err != nil {
			return Page[groups.Event]{}, translate(err)
		}
		var e storedEvent
		if err := json.Unmarshal([]byte(it.Event), &e); err != nil {
			return Page[groups.Event]{}, translate(err)
		}
		page.Items = append(page.Items, groups.Event(e))
	}
	switch {
	case len(hits) == q.Limit:
		page.Next = map[string]string{AttrSK: hits[len(hits)-1].pos[AttrSK]}
	case resume != nil:
		page.Next = map[string]string{AttrSK: resume[AttrSK]}
	case !q.Until.IsZero():
		page.Next = nil // read up to Until: nothing more to read
	}
	return page, nil
}
