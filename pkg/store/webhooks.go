package store

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
)

// Issue 9 §4: webhooks. A tenant's webhooks share one partition with their
// count, which a create and a delete change in the same transaction, so the
// limit holds under concurrent creates. A webhook belongs to the scope of
// the token that created it: a scoped caller sees only its scope's
// webhooks (another's are ErrNotFound), a tenant-wide caller sees all.
// Each webhook's delivery records live in a partition of their own, with a
// TTL of groups.DeliveryRetention.

// NewWebhookID returns a random webhook id.
func NewWebhookID() string { return webhookIDPrefix + RandomToken(16) }

// webhookItem is a webhook as stored.
type webhookItem struct {
	PK          string   `dynamodbav:"PK"`
	SK          string   `dynamodbav:"SK"`
	Kind        string   `dynamodbav:"kind"`
	ID          string   `dynamodbav:"id"`
	URL         string   `dynamodbav:"url"`
	Events      []string `dynamodbav:"events"`
	Description string   `dynamodbav:"description"`
	Enabled     bool     `dynamodbav:"enabled"`
	// DisabledReason is "failing" when deliveries failed for a day.
	DisabledReason string `dynamodbav:"disabledReason,omitempty"`
	// DisabledAt is where a re-enabled webhook's catch-up starts: when it
	// was disabled, or for a failing one the time of the oldest event it
	// failed to deliver (timeFormat).
	DisabledAt string          `dynamodbav:"disabledAt,omitempty"`
	Scope      string          `dynamodbav:"scope,omitempty"`
	CreatedAt  string          `dynamodbav:"createdAt"`
	UpdatedAt  string          `dynamodbav:"updatedAt"`
	Version    int64           `dynamodbav:"version"`
	Secrets    []webhookSecret `dynamodbav:"secrets"`
}

type webhookSecret struct {
	Secret    string `dynamodbav:"secret"`
	ExpiresAt string `dynamodbav:"expiresAt,omitempty"`
}

func (it webhookItem) toWebhook() groups.Webhook {
	w := groups.Webhook{ID: it.ID, URL: it.URL, Description: it.Description, Enabled: it.Enabled,
		DisabledReason: it.DisabledReason, Scope: it.Scope, CreatedAt: parseTime(it.CreatedAt),
		UpdatedAt: parseTime(it.UpdatedAt), Version: it.Version}
	for _, e := range it.Events {
		w.Events = append(w.Events, groups.EventType(e))
	}
	for _, s := range it.Secrets {
		ws := groups.WebhookSecret{Secret: s.Secret}
		if s.ExpiresAt != "" {
			ws.ExpiresAt = parseTime(s.ExpiresAt)
		}
		w.Secrets = append(w.Secrets, ws)
	}
	return w
}

func eventStrings(ts []groups.EventType) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = string(t)
	}
	return out
}

const attrWebhookCount = "webhookCount"

// CreateWebhook registers a webhook signed with secret, in ctx's caller's
// scope. It fails with ErrTooManyWebhooks at groups.MaxWebhooks.
func (s *Store) CreateWebhook(ctx context.Context, tenant string, nw groups.NewWebhook, secret string) (groups.Webhook, error) {
	now := formatTime(s.now())
	it := webhookItem{PK: webhooksPK(tenant), SK: "", Kind: "webhook", ID: s.NewWebhookID(), URL: nw.URL,
		Events: eventStrings(nw.Events), Description: nw.Description, Enabled: true, Scope: scopeOf(ctx),
		CreatedAt: now, UpdatedAt: now, Version: 1, Secrets: []webhookSecret{{Secret: secret}}}
	it.SK = webhookSK(it.ID)
	count := expression.Name(attrWebhookCount)
	underLimit := count.AttributeNotExists().Or(count.LessThan(expression.Value(groups.MaxWebhooks)))
	var tx txBuilder
	tx.add(s.putIf(it, absent))
	tx.add(s.updateIf(key(webhooksPK(tenant), skWebhookCount), expression.Add(count, expression.Value(1)), &underLimit))
	if tx.err != nil {
		return groups.Webhook{}, translate(tx.err)
	}
	err := s.transact(ctx, tx.items)
	if failed, ok := failedChecks(err); ok && failed[1].Code != nil {
		return groups.Webhook{}, groups.ErrTooManyWebhooks
	}
	if err != nil {
		return groups.Webhook{}, translate(err)
	}
	return it.toWebhook(), nil
}

// getWebhookItem reads a webhook ctx's caller may see.
func (s *Store) getWebhookItem(ctx context.Context, tenant, id string) (webhookItem, error) {
	it, err := getOne[webhookItem](ctx, s, key(webhooksPK(tenant), webhookSK(id)))
	if err == nil && !webhookInScope(ctx, it) {
		return webhookItem{}, groups.ErrNotFound
	}
	return it, err
}

func webhookInScope(ctx context.Context, it webhookItem) bool {
	root := scopeOf(ctx)
	return root == "" || it.Scope == root
}

// GetWebhook returns a webhook ctx's caller may see, or ErrNotFound.
func (s *Store) GetWebhook(ctx context.Context, tenant, id string) (groups.Webhook, error) {
	it, err := s.getWebhookItem(ctx, tenant, id)
	return it.toWebhook(), err
}

// ListWebhooks returns the webhooks ctx's caller may see, in id order.
func (s *Store) ListWebhooks(ctx context.Context, tenant string, pr PageRequest) (Page[groups.Webhook], error) {
	r := listRead{keyAttrs: tableKeyAttrs, sortAttr: AttrSK, ranges: []expression.KeyConditionBuilder{
		expression.Key(AttrPK).Equal(expression.Value(webhooksPK(tenant))).And(expression.Key(AttrSK).BeginsWith(skWebhookPrefix)),
	}}
	if root := scopeOf(ctx); root != "" {
		r.filter = expression.Name(attrScope).Equal(expression.Value(root))
	}
	return runList(ctx, s, r, nil, ListQuery{PageRequest: pr}, webhookItem.toWebhook)
}

// TenantWebhooks returns every webhook of the tenant, whatever their scope:
// the publisher's view.
func (s *Store) TenantWebhooks(ctx context.Context, tenant string) ([]groups.Webhook, error) {
	var out []groups.Webhook
	err := s.forEach(ctx, "", expression.Key(AttrPK).Equal(expression.Value(webhooksPK(tenant))).
		And(expression.Key(AttrSK).BeginsWith(skWebhookPrefix)), func(raw map[string]types.AttributeValue) error {
		var it webhookItem
		if err := attributevalue.UnmarshalMap(raw, &it); err != nil {
			return err
		}
		out = append(out, it.toWebhook())
		return nil
	})
	return out, err
}

// changeWebhook rewrites a webhook ctx's caller may see with change, on the
// condition that no other write came between, and returns it. change
// reports false to leave it as it is.
func (s *Store) changeWebhook(ctx context.Context, tenant, id string, change func(*webhookItem) bool) (groups.Webhook, error) {
	for attempt := 1; ; attempt++ {
		it, err := s.getWebhookItem(ctx, tenant, id)
		if err != nil {
			return groups.Webhook{}, err
		}
		old := it.Version
		if !change(&it) {
			return it.toWebhook(), nil
		}
		it.Version, it.UpdatedAt = old+1, formatTime(s.now())
		var tx txBuilder
		tx.add(s.putIf(it, expression.Name(attrVersion).Equal(expression.Value(old))))
		if tx.err != nil {
			return groups.Webhook{}, translate(tx.err)
		}
		err = s.transact(ctx, tx.items)
		if failed, ok := failedChecks(err); ok && len(failed) > 0 && attempt < maxTxAttempts {
			continue // changed (or deleted) meanwhile: read it again
		}
		if err != nil {
			return groups.Webhook{}, translate(err)
		}
		return it.toWebhook(), nil
	}
}

// UpdateWebhook applies a PATCH. Disabling records when, so that enabling
// again delivers what the webhook missed (the publisher reads the change).
func (s *Store) UpdateWebhook(ctx context.Context, tenant, id string, upd groups.WebhookUpdate) (groups.Webhook, error) {
	return s.changeWebhook(ctx, tenant, id, func(it *webhookItem) bool {
		if upd.URL != nil {
			it.URL = *upd.URL
		}
		if upd.Events != nil {
			it.Events = eventStrings(*upd.Events)
		}
		if upd.Description != nil {
			it.Description = *upd.Description
		}
		if upd.Enabled != nil && *upd.Enabled != it.Enabled {
			it.Enabled = *upd.Enabled
			if it.Enabled {
				// DisabledAt stays: the stream record's old image names
				// where the catch-up starts, and the next disable sets it.
				it.DisabledReason = ""
			} else {
				it.DisabledAt = formatTime(s.now())
			}
		}
		return true
	})
}

// RotateWebhookSecret makes secret the webhook's signing secret; the one it
// replaces signs too for groups.WebhookSecretOverlap.
func (s *Store) RotateWebhookSecret(ctx context.Context, tenant, id, secret string) (groups.Webhook, error) {
	return s.changeWebhook(ctx, tenant, id, func(it *webhookItem) bool {
		now := s.now()
		next := []webhookSecret{{Secret: secret}}
		for _, old := range it.Secrets {
			if old.ExpiresAt == "" {
				next = append(next, webhookSecret{Secret: old.Secret, ExpiresAt: formatTime(now.Add(groups.WebhookSecretOverlap))})
			}
		}
		it.Secrets = next
		return true
	})
}

// DisableFailingWebhook disables a webhook whose deliveries of an event
// failed for groups.WebhookGiveUpAfter: since is that event's time, where a
// catch-up starts once it is enabled again. It reports whether this call
// disabled it (false: it already was, or is gone).
func (s *Store) DisableFailingWebhook(ctx context.Context, tenant, id string, since time.Time) (bool, error) {
	disabled := false
	_, err := s.changeWebhook(ctx, tenant, id, func(it *webhookItem) bool {
		if !it.Enabled {
			return false
		}
		it.Enabled, it.DisabledReason, it.DisabledAt, disabled = false, "failing", formatTime(since), true
		return true
	})
	if errors.Is(err, groups.ErrNotFound) {
		return false, nil
	}
	return disabled, err
}

// DeleteWebhook deletes a webhook ctx's caller may see. Its delivery
// records expire with their TTL.
func (s *Store) DeleteWebhook(ctx context.Context, tenant, id string) error {
	if _, err := s.getWebhookItem(ctx, tenant, id); err != nil {
		return err
	}
	var tx txBuilder
	tx.add(s.deleteIf(key(webhooksPK(tenant), webhookSK(id)), expression.AttributeExists(expression.Name(AttrPK))))
	tx.add(s.updateIf(key(webhooksPK(tenant), skWebhookCount), expression.Add(expression.Name(attrWebhookCount), expression.Value(-1)), nil))
	if tx.err != nil {
		return translate(tx.err)
	}
	err := s.transact(ctx, tx.items)
	if failed, ok := failedChecks(err); ok && failed[0].Code != nil {
		return groups.ErrNotFound // deleted meanwhile
	}
	return translate(err)
}

// deliveryItem is the record of an event's deliveries to one webhook.
type deliveryItem struct {
	PK        string `dynamodbav:"PK"`
	SK        string `dynamodbav:"SK"`
	Kind      string `dynamodbav:"kind"`
	ID        string `dynamodbav:"id"`
	EventID   string `dynamodbav:"eventId"`
	EventType string `dynamodbav:"eventType"`
	Event     []byte `dynamodbav:"event"`
	Status    string `dynamodbav:"status"`
	// FirstFailure is when its automatic deliveries began to fail: a
	// webhook is disabled once that is groups.WebhookGiveUpAfter ago.
	FirstFailure string        `dynamodbav:"firstFailure,omitempty"`
	NextAttempt  string        `dynamodbav:"nextAttempt,omitempty"`
	Attempts     []attemptItem `dynamodbav:"attempts"`
	Version      int64         `dynamodbav:"version"`
	ExpiresAt    int64         `dynamodbav:"expiresAt"`
}

type attemptItem struct {
	Time       string `dynamodbav:"time"`
	StatusCode int    `dynamodbav:"statusCode,omitempty"`
	LatencyMs  int64  `dynamodbav:"latencyMs"`
	Error      string `dynamodbav:"error,omitempty"`
	Manual     bool   `dynamodbav:"manual,omitempty"`
}

// MaxAttemptsKept is how many of a delivery's latest attempts its record
// keeps.
const MaxAttemptsKept = 20

func (it deliveryItem) toDelivery() groups.Delivery {
	d := groups.Delivery{ID: it.ID, EventID: it.EventID, EventType: groups.EventType(it.EventType), Status: it.Status, Event: it.Event}
	if it.NextAttempt != "" {
		d.NextAttempt = parseTime(it.NextAttempt)
	}
	for _, a := range it.Attempts {
		d.Attempts = append(d.Attempts, groups.Attempt{Time: parseTime(a.Time), StatusCode: a.StatusCode,
			Latency: time.Duration(a.LatencyMs) * time.Millisecond, Error: a.Error, Manual: a.Manual})
	}
	return d
}

// DeliveryOutcome is what one attempt decided.
type DeliveryOutcome struct {
	Attempt groups.Attempt
	// Delivered: the receiver answered 2xx.
	Delivered bool
	// NextAttempt is when the retry is due; zero for a manual attempt.
	NextAttempt time.Time
	// GiveUpAfter: an automatic attempt fails for good once the event's
	// automatic attempts have failed for this long.
	GiveUpAfter time.Duration
	// First says the event has no delivery record yet (as the caller just
	// read, or for a new test event): the record is written without being
	// read first.
	First bool
}

// RecordAttempt adds an attempt to the delivery record of event ev to the
// webhook (creating it), and returns the record; for an attempt that gave
// up (o.GiveUpAfter), since when the event's attempts had been failing.
func (s *Store) RecordAttempt(ctx context.Context, tenant, webhookID string, ev groups.Event, body []byte, o DeliveryOutcome) (d groups.Delivery, gaveUpSince time.Time, err error) {
	id := deliveryID(ev.Time, ev.ID)
	k := key(deliveriesPK(tenant, webhookID), deliverySK(id))
	for attempt := 1; ; attempt++ {
		// A first delivery's record is written on the condition that there
		// is none; if there is one after all, the next attempt reads it.
		var raw map[string]types.AttributeValue
		if attempt > 1 || !o.First {
			if raw, err = s.getRaw(ctx, k); err != nil {
				return groups.Delivery{}, time.Time{}, err
			}
		}
		it := deliveryItem{PK: deliveriesPK(tenant, webhookID), SK: deliverySK(id), Kind: "delivery", ID: id,
			EventID: ev.ID, EventType: string(ev.Type), Event: body}
		cond := absent
		if raw != nil {
			if err := attributevalue.UnmarshalMap(raw, &it); err != nil {
				return groups.Delivery{}, time.Time{}, translate(err)
			}
			cond = expression.Name(attrVersion).Equal(expression.Value(it.Version))
		}
		a := o.Attempt
		it.Attempts = append(it.Attempts, attemptItem{Time: formatTime(a.Time), StatusCode: a.StatusCode,
			LatencyMs: a.Latency.Milliseconds(), Error: a.Error, Manual: a.Manual})
		if n := len(it.Attempts); n > MaxAttemptsKept {
			it.Attempts = slices.Clone(it.Attempts[n-MaxAttemptsKept:])
		}
		if !o.Delivered && !a.Manual && it.FirstFailure == "" {
			it.FirstFailure = formatTime(a.Time)
		}
		gaveUpSince = time.Time{}
		switch {
		case o.Delivered:
			it.Status, it.FirstFailure, it.NextAttempt = groups.DeliveryDelivered, "", ""
		case a.Manual:
			if it.Status != groups.DeliveryPending {
				it.Status = groups.DeliveryFailed // pending retries stay due
			}
		case a.Time.Sub(parseTime(it.FirstFailure)) >= o.GiveUpAfter:
			it.Status, it.NextAttempt, gaveUpSince = groups.DeliveryFailed, "", parseTime(it.FirstFailure)
		default:
			it.Status, it.NextAttempt = groups.DeliveryPending, formatTime(o.NextAttempt)
		}
		it.Version++
		it.ExpiresAt = s.Now().Add(groups.DeliveryRetention).Unix()
		var tx txBuilder
		tx.add(s.putIf(it, cond))
		if tx.err != nil {
			return groups.Delivery{}, time.Time{}, translate(tx.err)
		}
		err = s.transact(ctx, tx.items)
		if failed, ok := failedChecks(err); ok && len(failed) > 0 && attempt < maxTxAttempts {
			continue // another attempt was recorded meanwhile
		}
		if err != nil {
			return groups.Delivery{}, time.Time{}, translate(err)
		}
		return it.toDelivery(), gaveUpSince, nil
	}
}

// DeliveryState reports whether event ev has a delivery record for the
// webhook and whether it was delivered: an automatic delivery of it again
// (a repeat of the at-least-once feed, or a catch-up) is dropped.
func (s *Store) DeliveryState(ctx context.Context, tenant, webhookID string, ev groups.Event) (recorded, delivered bool, err error) {
	raw, err := s.getRaw(ctx, key(deliveriesPK(tenant, webhookID), deliverySK(deliveryID(ev.Time, ev.ID))))
	if err != nil || raw == nil {
		return false, false, err
	}
	var it deliveryItem
	if err := attributevalue.UnmarshalMap(raw, &it); err != nil {
		return true, false, translate(err)
	}
	return true, it.Status == groups.DeliveryDelivered, nil
}

// ListDeliveries returns a webhook's delivery records, newest event
// first.
func (s *Store) ListDeliveries(ctx context.Context, tenant, webhookID string, pr PageRequest) (Page[groups.Delivery], error) {
	if _, err := s.getWebhookItem(ctx, tenant, webhookID); err != nil {
		return Page[groups.Delivery]{}, err
	}
	r := listRead{keyAttrs: tableKeyAttrs, sortAttr: AttrSK, desc: true, ranges: []expression.KeyConditionBuilder{
		expression.Key(AttrPK).Equal(expression.Value(deliveriesPK(tenant, webhookID))).And(expression.Key(AttrSK).BeginsWith(skDeliveryPrefix)),
	}}
	return runList(ctx, s, r, nil, ListQuery{PageRequest: pr}, deliveryItem.toDelivery)
}

// GetDelivery returns a webhook ctx's caller may see and one of its
// delivery records, or ErrNotFound.
func (s *Store) GetDelivery(ctx context.Context, tenant, webhookID, deliveryID string) (groups.Webhook, groups.Delivery, error) {
	w, err := s.getWebhookItem(ctx, tenant, webhookID)
	if err != nil {
		return groups.Webhook{}, groups.Delivery{}, err
	}
	it, err := getOne[deliveryItem](ctx, s, key(deliveriesPK(tenant, webhookID), deliverySK(deliveryID)))
	return w.toWebhook(), it.toDelivery(), err
}

// WebhookReenabled reads a webhook's stream record: for a webhook enabled
// again, the tenant, its id, and since and until when it missed events.
func WebhookReenabled(rec StreamRecord) (tenant, id string, since, until time.Time, ok bool) {
	old, cur, err := images[webhookItem](rec)
	if err != nil || old == nil || cur == nil || old.Kind != "webhook" || old.Enabled || !cur.Enabled || old.DisabledAt == "" {
		return "", "", time.Time{}, time.Time{}, false
	}
	tenant, _ = tenantOfPK(cur.PK)
	return tenant, cur.ID, parseTime(old.DisabledAt), parseTime(cur.UpdatedAt), true
}

// ChangesSince is the feed position just before the events published at t
// or later: a catch-up reads from there.
func ChangesSince(t time.Time) map[string]string {
	return map[string]string{AttrSK: feedBound(t.UnixMilli())}
}

// webhookEvents: webhook.disabled, when a webhook's failing deliveries
// disabled it.
func webhookEvents(rec StreamRecord) ([]pendingEvent, error) {
	old, cur, err := images[webhookItem](rec)
	if err != nil || old == nil || cur == nil || !old.Enabled || cur.Enabled || cur.DisabledReason != "failing" {
		return nil, err
	}
	var scope []string
	if cur.Scope != "" {
		scope = []string{cur.Scope}
	}
	return []pendingEvent{{typ: groups.WebhookDisabled, scope: scope, key: "disabled", at: cur.UpdatedAt,
		data: map[string]any{"webhookId": cur.ID, "url": cur.URL, "reason": cur.DisabledReason, "failingSince": cur.DisabledAt, "version": cur.Version}}}, nil
}

// WebhookLeadingKeys are the partitions deliver-webhooks reads and writes:
// the tenants' webhooks (it disables a failing one) and delivery records.
// It also reads the feed (FeedLeadingKeys) for catch-ups.
var WebhookLeadingKeys = []string{webhooksPK("*"), deliveriesPK("*", "*")}
