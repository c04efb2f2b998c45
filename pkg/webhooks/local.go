package webhooks

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/fleetgroups/fleetgroups/pkg/jsonlog"
	"github.com/fleetgroups/fleetgroups/pkg/store"
)

// LocalQueue is the delivery queue under make run and in tests: what the
// deployed SQS queue and its event source mapping do, in memory. It hands
// the handler batches of one tenant's messages, at most PerTenant batches
// of a tenant at once (so one tenant's slow receiver holds up none of
// another's), with each message's receive count; a message the handler
// reports failed comes back after the delay its handler set with Retry
// (VisibilityTimeout if none), and after MaxReceives it is dropped as SQS
// moves it to the dead-letter queue.
type LocalQueue struct {
	Handle            func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)
	Log               jsonlog.Logger
	BatchSize         int
	PerTenant         int
	VisibilityTimeout time.Duration
	MaxReceives       int

	ctx      context.Context
	mu       sync.Mutex
	ready    map[string][]*localMessage // by tenant, in order
	inFlight map[string]int
	receipts map[string]*localMessage
	wg       sync.WaitGroup
	dead     int
	// pending counts the messages sent and not yet done with: ready, in
	// flight or waiting out a retry's delay.
	pending int
}

type localMessage struct {
	id, body, tenant string
	receives         int
	retryIn          time.Duration
}

// Run delivers until ctx ends, then waits for the batches in flight.
func (q *LocalQueue) Run(ctx context.Context) {
	q.mu.Lock()
	q.ctx = ctx
	q.mu.Unlock()
	q.dispatch()
	<-ctx.Done()
	q.wg.Wait()
}

// NewLocalQueue is a LocalQueue with the deployed mapping's settings.
func NewLocalQueue(handle func(context.Context, events.SQSEvent) (events.SQSEventResponse, error), log jsonlog.Logger, batchSize, maxReceives int) *LocalQueue {
	return &LocalQueue{Handle: handle, Log: log, BatchSize: batchSize, PerTenant: 2, VisibilityTimeout: 30 * time.Second,
		MaxReceives: maxReceives, ready: map[string][]*localMessage{}, inFlight: map[string]int{}, receipts: map[string]*localMessage{}}
}

// Send queues msgs.
func (q *LocalQueue) Send(_ context.Context, msgs []Message) error {
	q.mu.Lock()
	for _, m := range msgs {
		body, err := json.Marshal(m)
		if err != nil {
			q.mu.Unlock()
			return err
		}
		q.ready[m.Tenant] = append(q.ready[m.Tenant], &localMessage{id: store.RandomToken(10), body: string(body), tenant: m.Tenant})
		q.pending++
	}
	q.mu.Unlock()
	q.dispatch()
	return nil
}

// Retry sets when a message the handler will report failed comes back.
func (q *LocalQueue) Retry(_ context.Context, receipt string, d time.Duration) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if m, ok := q.receipts[receipt]; ok {
		m.retryIn = d
	}
	return nil
}

// DeadLetters is how many messages were dropped after MaxReceives.
func (q *LocalQueue) DeadLetters() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.dead
}

// Pending is how many messages are not done with yet: 0 when the queue is
// idle.
func (q *LocalQueue) Pending() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.pending
}

// dispatch starts a batch for every tenant with messages ready and a slot
// free.
func (q *LocalQueue) dispatch() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.ctx == nil || q.ctx.Err() != nil {
		return
	}
	for tenant, msgs := range q.ready {
		for len(msgs) > 0 && q.inFlight[tenant] < q.PerTenant {
			n := min(len(msgs), q.BatchSize)
			batch := msgs[:n:n]
			msgs = msgs[n:]
			q.inFlight[tenant]++
			q.wg.Add(1)
			go q.run(tenant, batch)
		}
		if len(msgs) == 0 {
			delete(q.ready, tenant)
		} else {
			q.ready[tenant] = msgs
		}
	}
}

func (q *LocalQueue) run(tenant string, batch []*localMessage) {
	defer q.wg.Done()
	ev := events.SQSEvent{Records: make([]events.SQSMessage, len(batch))}
	q.mu.Lock()
	for i, m := range batch {
		m.receives++
		m.retryIn = q.VisibilityTimeout
		receipt := store.RandomToken(12)
		q.receipts[receipt] = m
		ev.Records[i] = events.SQSMessage{MessageId: m.id, ReceiptHandle: receipt, Body: m.body, EventSource: "aws:sqs",
			Attributes: map[string]string{"ApproximateReceiveCount": strconv.Itoa(m.receives), "MessageGroupId": tenant}}
	}
	ctx := q.ctx
	q.mu.Unlock()
	res, err := q.Handle(ctx, ev)
	failed := map[string]bool{}
	for _, f := range res.BatchItemFailures {
		failed[f.ItemIdentifier] = true
	}
	q.mu.Lock()
	for i, m := range batch {
		delete(q.receipts, ev.Records[i].ReceiptHandle)
		if err == nil && !failed[m.id] {
			q.pending--
			continue
		}
		if m.receives >= q.MaxReceives {
			q.pending--
			q.dead++
			q.Log.ErrorContext(ctx, "a webhook message went to the dead-letter queue", "tenant", tenant, "receives", m.receives)
			continue
		}
		time.AfterFunc(m.retryIn, func() {
			q.mu.Lock()
			q.ready[m.tenant] = append(q.ready[m.tenant], m)
			q.mu.Unlock()
			q.dispatch()
		})
	}
	q.inFlight[tenant]--
	q.mu.Unlock()
	q.dispatch()
}
