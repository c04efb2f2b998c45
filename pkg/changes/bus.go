package changes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/fleetgroups/fleetgroups/pkg/awsjson"
	"github.com/fleetgroups/fleetgroups/pkg/store"
)

// Bus puts the feed's events on an EventBridge custom bus (issue 9 §6), for
// AWS-native consumers: one entry per event, source BusSource, detail-type
// the event's type, detail the event with its tenant. It calls PutEvents
// through awsjson (which says why not through the SDK's client).
type Bus struct {
	Name string // the bus's name or ARN
	// Client calls EventBridge (NewBusClient).
	Client *awsjson.Client
}

// BusSource is the source of every entry.
const BusSource = "fleetgroups"

// NewBusClient is the EventBridge client of a bus in region.
func NewBusClient(region string, creds aws.CredentialsProvider, hc *http.Client) *awsjson.Client {
	return awsjson.NewClient("events", "1.1", region, creds, hc)
}

// putEventsMax is EventBridge's limit of entries per PutEvents.
const putEventsMax = 10

// maxBusAttempts bounds the calls for the entries of one PutEvents that
// EventBridge keeps failing; then the batch fails and Lambda retries it.
const maxBusAttempts = 4

type busEntry struct {
	Source       string `json:"Source"`
	DetailType   string `json:"DetailType"`
	Detail       string `json:"Detail"`
	EventBusName string `json:"EventBusName"`
	Time         int64  `json:"Time"`
}

// busDetail is an entry's detail: the event as the feed shows it, and its
// tenant, by which rules route.
type busDetail struct {
	Tenant string          `json:"tenant"`
	ID     string          `json:"id"`
	Type   string          `json:"type"`
	Time   time.Time       `json:"time"`
	Data   json.RawMessage `json:"data"`
}

// Put puts events on the bus, 10 per call, resending the entries
// EventBridge reports failed.
func (b *Bus) Put(ctx context.Context, events []store.PublishedEvent) error {
	for start := 0; start < len(events); start += putEventsMax {
		chunk := events[start:min(start+putEventsMax, len(events))]
		entries := make([]busEntry, len(chunk))
		for i, pe := range chunk {
			detail, err := json.Marshal(busDetail{Tenant: pe.Tenant, ID: pe.Event.ID, Type: string(pe.Event.Type), Time: pe.Event.Time, Data: pe.Event.Data})
			if err != nil {
				return err
			}
			entries[i] = busEntry{Source: BusSource, DetailType: string(pe.Event.Type), Detail: string(detail), EventBusName: b.Name, Time: pe.Event.Time.Unix()}
		}
		if err := awsjson.Resend(ctx, maxBusAttempts, entries, b.putEvents); err != nil {
			return fmt.Errorf("put events on bus %s: %w", b.Name, err)
		}
	}
	return nil
}

// putEvents makes one PutEvents call and returns the entries it failed
// (all of them when the call itself failed, with its error).
func (b *Bus) putEvents(ctx context.Context, entries []busEntry) ([]busEntry, error) {
	var out struct {
		FailedEntryCount int
		Entries          []struct{ EventId, ErrorCode, ErrorMessage string }
	}
	if err := b.Client.Call(ctx, "AWSEvents.PutEvents", map[string]any{"Entries": entries}, &out); err != nil {
		return entries, err
	}
	if out.FailedEntryCount == 0 {
		return nil, nil
	}
	if len(out.Entries) != len(entries) {
		return entries, errors.New("PutEvents answered another number of entries than it was sent")
	}
	var failed []busEntry
	var last string
	for i, e := range out.Entries {
		if e.ErrorCode != "" {
			failed, last = append(failed, entries[i]), e.ErrorCode+": "+e.ErrorMessage
		}
	}
	return failed, errors.New(last)
}
