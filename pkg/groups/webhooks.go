package groups

import (
	"time"
)

// Issue 9 §4: webhooks.

// The event types of webhooks: webhook.disabled is written to the feed
// (one of EventTypes) when a webhook's deliveries have failed for
// WebhookGiveUpAfter; webhook.test is sent to one webhook on request, never
// to the feed.
const (
	WebhookDisabled EventType = "webhook.disabled"
	WebhookTest     EventType = "webhook.test"
)

// Webhook limits and timing (docs/webhooks.md).
const (
	// MaxWebhooks is how many webhooks a tenant may have.
	MaxWebhooks = 20
	// MaxWebhookURLLength bounds a webhook's url.
	MaxWebhookURLLength = 2048
	// WebhookTimeout bounds one delivery attempt.
	WebhookTimeout = 10 * time.Second
	// WebhookFirstRetry is the wait before the second attempt; each later
	// wait doubles, up to WebhookMaxRetry.
	WebhookFirstRetry = 5 * time.Second
	WebhookMaxRetry   = time.Hour
	// WebhookGiveUpAfter is how long an event's deliveries may fail before
	// the webhook is disabled.
	WebhookGiveUpAfter = 24 * time.Hour
	// WebhookSecretOverlap is how long a rotated-out secret still signs.
	WebhookSecretOverlap = 24 * time.Hour
	// DeliveryRetention is how long a delivery's record is kept.
	DeliveryRetention = 30 * 24 * time.Hour
)

// RetryDelay is the wait after the attempt-th failed attempt (1-based).
func RetryDelay(attempt int) time.Duration {
	d := WebhookFirstRetry
	for range attempt - 1 {
		if d *= 2; d >= WebhookMaxRetry {
			return WebhookMaxRetry
		}
	}
	return d
}

// Webhook is a tenant's subscription of an https endpoint to its events.
type Webhook struct {
	ID          string
	URL         string
	Events      []EventType // empty: every type in EventTypes
	Description string
	Enabled     bool
	// DisabledReason is "failing" when deliveries failed for
	// WebhookGiveUpAfter, "" otherwise.
	DisabledReason string
	// Scope is the group whose subtree's events the webhook receives, ""
	// for the whole tenant: the scope of the token that created it.
	Scope     string
	CreatedAt time.Time
	UpdatedAt time.Time
	Version   int64
	// Secrets sign deliveries: the newest first, then one rotated out
	// less than WebhookSecretOverlap ago.
	Secrets []WebhookSecret
}

// WebhookSecret is one signing secret ("whsec_" + base64 of the key).
type WebhookSecret struct {
	Secret    string
	ExpiresAt time.Time // zero for the current secret
}

// Wants reports whether the webhook subscribes to events of type t.
func (w Webhook) Wants(t EventType) bool {
	if len(w.Events) == 0 || t == WebhookTest {
		return true
	}
	for _, e := range w.Events {
		if e == t {
			return true
		}
	}
	return false
}

// SigningSecrets are the secrets that sign a delivery at now.
func (w Webhook) SigningSecrets(now time.Time) []string {
	var out []string
	for _, s := range w.Secrets {
		if s.ExpiresAt.IsZero() || now.Before(s.ExpiresAt) {
			out = append(out, s.Secret)
		}
	}
	return out
}

// NewWebhook is a validated registration.
type NewWebhook struct {
	URL         string
	Events      []EventType
	Description string
}

// WebhookUpdate is a validated PATCH; nil fields stay as they are.
type WebhookUpdate struct {
	URL         *string
	Events      *[]EventType
	Description *string
	Enabled     *bool
}

// Delivery is the record of one event's deliveries to one webhook.
type Delivery struct {
	ID        string
	EventID   string
	EventType EventType
	// Status is "pending" (retries are due), "delivered" or "failed"
	// (given up, or a manual attempt that failed).
	Status   string
	Attempts []Attempt
	// NextAttempt is when the next retry is due, zero if none is.
	NextAttempt time.Time
	// Event is the body sent, for a manual retry.
	Event []byte
}

// The delivery statuses.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// Attempt is one delivery attempt.
type Attempt struct {
	Time       time.Time
	StatusCode int // 0 when no answer came
	Latency    time.Duration
	Error      string // why it failed, when it did
	Manual     bool   // a test or a retry asked for by the partner
}

// Webhook errors.
var (
	ErrTooManyWebhooks = &Error{Code: CodeTooManyWebhooks,
		Detail: "the tenant has as many webhooks as it may (20): delete one first"}
)
