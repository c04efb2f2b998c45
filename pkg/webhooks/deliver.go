package webhooks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"golang.org/x/sync/errgroup"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/jsonlog"
	"github.com/fleetgroups/fleetgroups/pkg/store"
)

// Sender makes delivery attempts and records them.
type Sender struct {
	Store *store.Store
	// HTTP is the policy's Client.
	HTTP *http.Client
}

// UserAgent names the sender to receivers.
const UserAgent = "fleetgroups-webhooks/1"

// attempt POSTs body, signed, to the webhook and says how it went.
func (s *Sender) attempt(ctx context.Context, w groups.Webhook, id string, body []byte) (groups.Attempt, bool) {
	now := s.Store.Now()
	a := groups.Attempt{Time: now}
	sig, err := Sign(w.SigningSecrets(now), id, now, body)
	if err != nil {
		a.Error = err.Error()
		return a, false
	}
	ctx, cancel := context.WithTimeout(ctx, groups.WebhookTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		a.Error = "the url cannot be requested: " + err.Error()
		return a, false
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set(HeaderID, id)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(HeaderSignature, sig)
	start := time.Now()
	res, err := s.HTTP.Do(req)
	a.Latency = time.Since(start)
	if err != nil {
		a.Error = attemptError(err)
		return a, false
	}
	// A little of the body is read so that the connection can be reused;
	// what the receiver says is not kept.
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	_ = res.Body.Close()
	a.StatusCode = res.StatusCode
	if res.StatusCode < 200 || res.StatusCode > 299 {
		a.Error = "the receiver answered " + strconv.Itoa(res.StatusCode)
		return a, false
	}
	return a, true
}

// attemptError is what a delivery's log says of a failed request.
func attemptError(err error) string {
	switch {
	case errors.Is(err, errRefusedAddr):
		return "refused: " + err.Error()
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("no answer within %v", groups.WebhookTimeout)
	}
	var ue interface{ Timeout() bool }
	if errors.As(err, &ue) && ue.Timeout() {
		return fmt.Sprintf("no answer within %v", groups.WebhookTimeout)
	}
	return err.Error()
}

// Deliver sends ev to the webhook now, as the partner asked (a test of a
// new event, first, or a retry), and records the attempt.
func (s *Sender) Deliver(ctx context.Context, tenant string, w groups.Webhook, ev Event, first bool) (groups.Delivery, error) {
	body, err := json.Marshal(ev)
	if err != nil {
		return groups.Delivery{}, err
	}
	a, ok := s.attempt(ctx, w, ev.ID, body)
	a.Manual = true
	d, _, err := s.Store.RecordAttempt(ctx, tenant, w.ID, groups.Event{ID: ev.ID, Type: ev.Type, Time: ev.Time}, body,
		store.DeliveryOutcome{Attempt: a, Delivered: ok, First: first})
	return d, err
}

// TestEvent is the webhook.test event sent to webhook id.
func TestEvent(id string, now time.Time) Event {
	data, _ := json.Marshal(map[string]string{"webhookId": id, "message": "a test delivery, sent on request"})
	return Event{ID: "evt_test_" + store.RandomToken(10), Type: groups.WebhookTest, Time: now.UTC().Truncate(time.Millisecond), Data: data}
}

// Deliverer is the deliver-webhooks handler, fed by the delivery queue.
type Deliverer struct {
	Sender
	Log   jsonlog.Logger
	Queue Queue
	// PerTenant bounds the deliveries of one tenant in flight at once in
	// one batch, so a slow receiver holds up its own tenant.
	PerTenant int
	// RetryDelay is the wait after a message's n-th failed handling
	// (groups.RetryDelay when nil; tests shorten it).
	RetryDelay func(n int) time.Duration
}

func (d *Deliverer) retryDelay(n int) time.Duration {
	if d.RetryDelay != nil {
		return d.RetryDelay(n)
	}
	return groups.RetryDelay(n)
}

// PerTenantDeliveries is the default of PerTenant.
const PerTenantDeliveries = 4

// catchUpPage is how many missed events one catch-up message reads.
const catchUpPage = 100

// Handle processes one batch of queue messages. A delivery that failed is
// reported failed, after its visibility is set to its backoff
// (groups.RetryDelay of its receive count), so SQS (or LocalQueue) hands
// it over again then; everything else is done with. A delivery whose
// event has failed for groups.WebhookGiveUpAfter disables the webhook.
func (d *Deliverer) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var (
		mu       sync.Mutex
		failures []events.SQSBatchItemFailure
		slots    = map[string]chan struct{}{}
	)
	per := d.PerTenant
	if per <= 0 {
		per = PerTenantDeliveries
	}
	hooks := &webhookCache{get: d.Store.GetWebhook, hooks: map[[2]string]*cachedWebhook{}}
	var g errgroup.Group
	for _, r := range ev.Records {
		var m Message
		if err := json.Unmarshal([]byte(r.Body), &m); err != nil || m.Tenant == "" || m.WebhookID == "" {
			d.Log.ErrorContext(ctx, "drop a message that is not a delivery", "message_id", r.MessageId)
			continue
		}
		slot, ok := slots[m.Tenant]
		if !ok {
			slot = make(chan struct{}, per)
			slots[m.Tenant] = slot
		}
		g.Go(func() error {
			slot <- struct{}{}
			defer func() { <-slot }()
			receives, _ := strconv.Atoi(r.Attributes["ApproximateReceiveCount"])
			retryIn, err := d.process(ctx, hooks, m, max(receives, 1))
			if err != nil {
				d.Log.ErrorContext(ctx, "webhook message failed", "tenant", m.Tenant, "webhook_id", m.WebhookID, "error", err.Error())
				retryIn = d.retryDelay(max(receives, 1))
			}
			if retryIn == 0 {
				return nil
			}
			if err := d.Queue.Retry(ctx, r.ReceiptHandle, retryIn); err != nil {
				d.Log.ErrorContext(ctx, "set a retry's delay", "error", err.Error())
			}
			mu.Lock()
			failures = append(failures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
			mu.Unlock()
			return nil
		})
	}
	_ = g.Wait()
	return events.SQSEventResponse{BatchItemFailures: failures}, nil
}

// process handles one message: it returns how long until it is to be
// handled again, 0 when it is done with.
func (d *Deliverer) process(ctx context.Context, hooks *webhookCache, m Message, receives int) (time.Duration, error) {
	w, err := hooks.webhook(ctx, m.Tenant, m.WebhookID)
	if errors.Is(err, groups.ErrNotFound) {
		return 0, nil // deleted
	}
	if err != nil {
		return 0, err
	}
	if !w.Enabled {
		// What it misses now, enabling it again delivers (a catch-up).
		return 0, nil
	}
	switch {
	case m.CatchUp != nil:
		return d.catchUp(ctx, m, w)
	case m.Event != nil:
		return d.deliver(ctx, m.Tenant, w, *m.Event, receives)
	}
	return 0, nil
}

// webhookCache reads each webhook of a batch once: a batch's messages
// mostly go to the same few.
type webhookCache struct {
	get   func(ctx context.Context, tenant, id string) (groups.Webhook, error)
	mu    sync.Mutex
	hooks map[[2]string]*cachedWebhook
}

type cachedWebhook struct {
	once sync.Once
	w    groups.Webhook
	err  error
}

func (c *webhookCache) webhook(ctx context.Context, tenant, id string) (groups.Webhook, error) {
	c.mu.Lock()
	e, ok := c.hooks[[2]string{tenant, id}]
	if !ok {
		e = &cachedWebhook{}
		c.hooks[[2]string{tenant, id}] = e
	}
	c.mu.Unlock()
	e.once.Do(func() { e.w, e.err = c.get(ctx, tenant, id) })
	return e.w, e.err
}

func (d *Deliverer) deliver(ctx context.Context, tenant string, w groups.Webhook, ev Event, receives int) (time.Duration, error) {
	ge := groups.Event{ID: ev.ID, Type: ev.Type, Time: ev.Time}
	if !w.Wants(ev.Type) {
		return 0, nil
	}
	recorded, done, err := d.Store.DeliveryState(ctx, tenant, w.ID, ge)
	if err != nil || done {
		return 0, err
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return 0, err
	}
	a, ok := d.attempt(ctx, w, ev.ID, body)
	delay := d.retryDelay(receives)
	_, gaveUpSince, err := d.Store.RecordAttempt(ctx, tenant, w.ID, ge, body, store.DeliveryOutcome{
		Attempt: a, Delivered: ok, NextAttempt: a.Time.Add(delay), GiveUpAfter: groups.WebhookGiveUpAfter, First: !recorded})
	switch {
	case err != nil:
		return 0, err
	case ok:
		return 0, nil
	case !gaveUpSince.IsZero():
		// Enabling it again delivers from this event on: the feed holds
		// it at a position no earlier than its time.
		disabled, err := d.Store.DisableFailingWebhook(ctx, tenant, w.ID, ev.Time)
		if disabled {
			d.Log.WarnContext(ctx, "webhook disabled: its deliveries failed for a day", "tenant", tenant, "webhook_id", w.ID, "failing_since", gaveUpSince)
		}
		return 0, err
	}
	return delay, nil
}

// catchUp queues the deliveries of one page of the events a webhook
// missed, and the catch-up of the next page if there is one.
func (d *Deliverer) catchUp(ctx context.Context, m Message, w groups.Webhook) (time.Duration, error) {
	if wait := m.CatchUp.Until.Add(groups.ChangeSettleWindow).Sub(d.Store.Now()); wait > 0 {
		// The feed has not settled up to Until yet.
		return max(wait, time.Second), nil
	}
	q := store.ChangeQuery{Limit: catchUpPage, Types: w.Events, After: m.CatchUp.After, Until: m.CatchUp.Until}
	page, err := d.Store.ListChanges(store.WithScope(ctx, w.Scope), m.Tenant, q)
	if errors.Is(err, groups.ErrCursorExpired) {
		// Disabled for longer than the feed keeps events: what it still
		// keeps is what can be delivered.
		q.After = nil
		page, err = d.Store.ListChanges(store.WithScope(ctx, w.Scope), m.Tenant, q)
	}
	if err != nil {
		return 0, err
	}
	var next []Message
	for _, e := range page.Items {
		ev := Event(e)
		next = append(next, Message{Tenant: m.Tenant, WebhookID: w.ID, Event: &ev})
	}
	if page.Next != nil {
		next = append(next, Message{Tenant: m.Tenant, WebhookID: w.ID, CatchUp: &CatchUp{After: page.Next, Until: m.CatchUp.Until}})
	}
	if len(next) == 0 {
		return 0, nil
	}
	return 0, d.Queue.Send(ctx, next)
}
