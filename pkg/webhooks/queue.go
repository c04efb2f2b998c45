package webhooks

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/fleetgroups/fleetgroups/pkg/awsjson"
	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/store"
)

// Message is one message of the delivery queue: an event to deliver to one
// webhook, or a catch-up that reads what a webhook enabled again missed.
type Message struct {
	Tenant    string   `json:"tenant"`
	WebhookID string   `json:"webhookId"`
	Event     *Event   `json:"event,omitempty"`
	CatchUp   *CatchUp `json:"catchUp,omitempty"`
}

// Event is an event as a delivery's body shows it, the feed's form.
type Event struct {
	ID   string           `json:"id"`
	Type groups.EventType `json:"type"`
	Time time.Time        `json:"time"`
	Data json.RawMessage  `json:"data"`
}

// CatchUp reads the feed after After up to Until, one page per message.
type CatchUp struct {
	After map[string]string `json:"after"`
	Until time.Time         `json:"until"`
}

// Queue is the delivery queue: SQS in AWS, LocalQueue under make run.
// Its messages of one tenant share a message group, so that one tenant's
// backlog does not starve another's (SQS fair queues).
type Queue interface {
	Send(ctx context.Context, msgs []Message) error
	// Retry makes a message received with receiptHandle visible again
	// after d, when its handler reports it failed.
	Retry(ctx context.Context, receiptHandle string, d time.Duration) error
}

// Enqueue queues the deliveries of published events to the webhooks that
// want them, and the catch-ups of webhooks that recs enabled again: the
// publisher's last step.
func Enqueue(ctx context.Context, st *store.Store, q Queue, published []store.PublishedEvent, recs []store.StreamRecord) error {
	var msgs []Message
	hooks := map[string][]groups.Webhook{}
	for _, pe := range published {
		ws, ok := hooks[pe.Tenant]
		if !ok {
			var err error
			if ws, err = st.TenantWebhooks(ctx, pe.Tenant); err != nil {
				return err
			}
			hooks[pe.Tenant] = ws
		}
		for _, w := range ws {
			if w.Enabled && w.Wants(pe.Event.Type) && (w.Scope == "" || slices.Contains(pe.Scope, w.Scope)) {
				e := Event(pe.Event)
				msgs = append(msgs, Message{Tenant: pe.Tenant, WebhookID: w.ID, Event: &e})
			}
		}
	}
	for _, rec := range recs {
		if tenant, id, since, until, ok := store.WebhookReenabled(rec); ok {
			msgs = append(msgs, Message{Tenant: tenant, WebhookID: id,
				CatchUp: &CatchUp{After: store.ChangesSince(since), Until: until}})
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	return q.Send(ctx, msgs)
}

// SQS is the delivery queue in AWS, called through awsjson (the SDK's
// client would add its weight to two functions for two calls).
type SQS struct {
	URL    string
	Client *awsjson.Client
}

// NewSQSClient is the SQS client of region.
func NewSQSClient(region string, creds aws.CredentialsProvider, hc *http.Client) *awsjson.Client {
	return awsjson.NewClient("sqs", "1.0", region, creds, hc)
}

// sendBatchMax is SQS's limit of messages per SendMessageBatch.
const sendBatchMax = 10

// maxSendAttempts bounds the calls for the messages SQS keeps failing.
const maxSendAttempts = 4

type sqsEntry struct {
	ID             string `json:"Id"`
	MessageBody    string `json:"MessageBody"`
	MessageGroupID string `json:"MessageGroupId"`
}

// Send sends msgs, 10 per call, resending those SQS failed.
func (q *SQS) Send(ctx context.Context, msgs []Message) error {
	for start := 0; start < len(msgs); start += sendBatchMax {
		chunk := msgs[start:min(start+sendBatchMax, len(msgs))]
		entries := make([]sqsEntry, len(chunk))
		for i, m := range chunk {
			body, err := json.Marshal(m)
			if err != nil {
				return err
			}
			entries[i] = sqsEntry{ID: strconv.Itoa(i), MessageBody: string(body), MessageGroupID: m.Tenant}
		}
		if err := awsjson.Resend(ctx, maxSendAttempts, entries, q.sendBatch); err != nil {
			return fmt.Errorf("send to the webhook queue: %w", err)
		}
	}
	return nil
}

// sendBatch makes one SendMessageBatch call and returns the entries it
// failed (all of them when the call itself failed, with its error).
func (q *SQS) sendBatch(ctx context.Context, entries []sqsEntry) ([]sqsEntry, error) {
	var out struct {
		Failed []struct{ Id, Code, Message string }
	}
	if err := q.Client.Call(ctx, "AmazonSQS.SendMessageBatch", map[string]any{"QueueUrl": q.URL, "Entries": entries}, &out); err != nil {
		return entries, err
	}
	var failed []sqsEntry
	var err error
	for _, f := range out.Failed {
		if i := slices.IndexFunc(entries, func(e sqsEntry) bool { return e.ID == f.Id }); i >= 0 {
			failed = append(failed, entries[i])
		}
		err = fmt.Errorf("SendMessageBatch: %s: %s", f.Code, f.Message)
	}
	return failed, err
}

// Retry changes the message's visibility timeout to d.
func (q *SQS) Retry(ctx context.Context, receiptHandle string, d time.Duration) error {
	return q.Client.Call(ctx, "AmazonSQS.ChangeMessageVisibility", map[string]any{
		"QueueUrl": q.URL, "ReceiptHandle": receiptHandle, "VisibilityTimeout": int(d / time.Second)}, nil)
}
