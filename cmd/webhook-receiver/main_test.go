package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fleetgroups/fleetgroups/pkg/webhooks"
)

// TestHandler: a delivery signed with the secret is answered 204 and
// printed as verified; one signed otherwise, or with its body changed, is
// answered 401; without a secret nothing is checked; -fail 1 answers 500.
func TestHandler(t *testing.T) {
	secret, other := webhooks.NewSecret(), webhooks.NewSecret()
	now := time.Now()
	body := []byte(`{"id":"evt_1","type":"group.created"}`)
	for _, c := range []struct {
		name, secret, signWith string
		fail                   float64
		sent                   []byte
		status                 int
		printed                string
	}{
		{"verified", secret, secret, 0, body, 204, "signature verified"},
		{"another secret", secret, other, 0, body, 401, "signature REFUSED"},
		{"changed body", secret, secret, 0, []byte(`{"id":"evt_1","type":"group.deleted"}`), 401, "signature REFUSED"},
		{"not checked", "", other, 0, body, 204, "signature not checked"},
		{"failing", secret, secret, 1, body, 500, "answered 500"},
	} {
		t.Run(c.name, func(t *testing.T) {
			sig, err := webhooks.Sign([]string{c.signWith}, "evt_1", now, body)
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest(http.MethodPost, "/hooks", bytes.NewReader(c.sent))
			req.Header.Set("webhook-id", "evt_1")
			req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
			req.Header.Set("webhook-signature", sig)
			var out bytes.Buffer
			rec := httptest.NewRecorder()
			handler(c.secret, c.fail, &out, func() time.Time { return now }).ServeHTTP(rec, req)
			if rec.Code != c.status || !strings.Contains(out.String(), c.printed) || !strings.Contains(out.String(), "evt_1") {
				t.Fatalf("answered %d, printed %q", rec.Code, out.String())
			}
		})
	}
}
