package webhooks_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/webhooks"
)

// sqsStandIn is a stand-in for SQS's JSON endpoint: it checks each call's
// form, keeps the messages SendMessageBatch accepts (failing the first
// entry of its first call), and the visibility changes.
type sqsStandIn struct {
	t          *testing.T
	mu         sync.Mutex
	calls      int
	got        []map[string]any
	visibility []map[string]any
}

func (s *sqsStandIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	auth := r.Header.Get("Authorization")
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-amz-json-1.0" ||
		!strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential=AKID/") || !strings.Contains(auth, "/eu-west-1/sqs/aws4_request") {
		s.t.Errorf("not a signed SQS call: %s %v", r.Method, r.Header)
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	var in map[string]any
	_ = json.Unmarshal(body, &in)
	if in["QueueUrl"] != "https://sqs.eu-west-1.amazonaws.com/123/hooks" {
		s.t.Errorf("QueueUrl %v", in["QueueUrl"])
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch r.Header.Get("X-Amz-Target") {
	case "AmazonSQS.SendMessageBatch":
		s.calls++
		type failure struct{ Id, Code, Message string }
		out := struct{ Failed []failure }{Failed: []failure{}}
		entries, _ := in["Entries"].([]any)
		if len(entries) == 0 || len(entries) > 10 {
			s.t.Errorf("%d entries", len(entries))
		}
		for i, e := range entries {
			e := e.(map[string]any)
			if s.calls == 1 && i == 0 {
				out.Failed = append(out.Failed, failure{Id: e["Id"].(string), Code: "InternalError", Message: "injected"})
				continue
			}
			s.got = append(s.got, e)
		}
		_ = json.NewEncoder(w).Encode(out)
	case "AmazonSQS.ChangeMessageVisibility":
		s.visibility = append(s.visibility, in)
		_, _ = w.Write([]byte(`{}`))
	default:
		s.t.Errorf("target %s", r.Header.Get("X-Amz-Target"))
		http.Error(w, "bad target", http.StatusBadRequest)
	}
}

// TestSQSQueue: Send sends every message, 10 per call, with its tenant as
// the message group, again those SQS failed; Retry sets a received
// message's visibility timeout in seconds.
func TestSQSQueue(t *testing.T) {
	standIn := &sqsStandIn{t: t}
	srv := httptest.NewServer(standIn)
	defer srv.Close()
	c := webhooks.NewSQSClient("eu-west-1", credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""), srv.Client())
	c.Endpoint = srv.URL
	q := &webhooks.SQS{URL: "https://sqs.eu-west-1.amazonaws.com/123/hooks", Client: c}
	var msgs []webhooks.Message
	for i := range 23 {
		ev := webhooks.Event{ID: fmt.Sprintf("evt_%d", i), Type: groups.MemberAdded, Time: time.Now(), Data: []byte(`{}`)}
		msgs = append(msgs, webhooks.Message{Tenant: fmt.Sprintf("t%d", i%3), WebhookID: "wh_1", Event: &ev})
	}
	ctx := context.Background()
	if err := q.Send(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	if len(standIn.got) != len(msgs) || standIn.calls != 4 {
		t.Fatalf("SQS got %d of %d messages in %d calls", len(standIn.got), len(msgs), standIn.calls)
	}
	seen := map[string]bool{}
	for _, e := range standIn.got {
		var m webhooks.Message
		if err := json.Unmarshal([]byte(e["MessageBody"].(string)), &m); err != nil || m.Event == nil || e["MessageGroupId"] != m.Tenant {
			t.Fatalf("message %v", e)
		}
		seen[m.Event.ID] = true
	}
	if len(seen) != len(msgs) {
		t.Fatalf("%d different messages of %d", len(seen), len(msgs))
	}
	if err := q.Retry(ctx, "receipt-1", 80*time.Second); err != nil {
		t.Fatal(err)
	}
	if len(standIn.visibility) != 1 || standIn.visibility[0]["ReceiptHandle"] != "receipt-1" || standIn.visibility[0]["VisibilityTimeout"] != 80.0 {
		t.Fatalf("visibility changes %v", standIn.visibility)
	}
}
