package webhooks_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fleetgroups/fleetgroups/pkg/standardwebhooks"
	"github.com/fleetgroups/fleetgroups/pkg/webhooks"
)

// TestSignMatchesTheSpecificationsExample: the example of the Standard
// Webhooks specification (secret, id, timestamp, payload and signature as
// it publishes them).
func TestSignMatchesTheSpecificationsExample(t *testing.T) {
	got, err := webhooks.Sign([]string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}, "msg_p5jXN8AQM9LWM0D4loKWxJek",
		time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; err != nil || got != want {
		t.Fatalf("Sign = %q, %v; want %q", got, err, want)
	}
}

// TestSignaturesVerify: what Sign makes passes the independent check under
// each of its secrets (a rotation signs with two), and fails it for
// another secret, another body, another id or a stale timestamp.
func TestSignaturesVerify(t *testing.T) {
	oldSecret, newSecret, other := webhooks.NewSecret(), webhooks.NewSecret(), webhooks.NewSecret()
	if !strings.HasPrefix(newSecret, "whsec_") || newSecret == oldSecret {
		t.Fatalf("secrets %q, %q", oldSecret, newSecret)
	}
	now := time.Now()
	body := []byte(`{"id":"evt_1","type":"group.created"}`)
	sig, err := webhooks.Sign([]string{newSecret, oldSecret}, "evt_1", now, body)
	if err != nil {
		t.Fatal(err)
	}
	header := func(id string, ts time.Time) http.Header {
		h := http.Header{}
		h.Set("webhook-id", id)
		h.Set("webhook-timestamp", strconv.FormatInt(ts.Unix(), 10))
		h.Set("webhook-signature", sig)
		return h
	}
	for _, c := range []struct {
		name   string
		secret string
		h      http.Header
		body   []byte
		want   bool
	}{
		{"new secret", newSecret, header("evt_1", now), body, true},
		{"old secret", oldSecret, header("evt_1", now), body, true},
		{"another secret", other, header("evt_1", now), body, false},
		{"another body", newSecret, header("evt_1", now), []byte(`{"id":"evt_1","type":"group.deleted"}`), false},
		{"another id", newSecret, header("evt_2", now), body, false},
		{"stale", newSecret, header("evt_1", now), body, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			at := now
			if c.name == "stale" {
				at = now.Add(time.Hour)
			}
			if got := standardwebhooks.Verify(c.secret, c.h, c.body, at) == nil; got != c.want {
				t.Fatalf("verify = %v, want %v", got, c.want)
			}
		})
	}
}
