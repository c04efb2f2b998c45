package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/store"
	"github.com/fleetgroups/fleetgroups/pkg/webhooks"
)

// Issue 9 §4: webhooks.

// WithWebhookPolicy sets which webhook urls are allowed and how test and
// retry deliver (the default: https to public addresses only).
func WithWebhookPolicy(p webhooks.Policy) Option {
	return func(a *API) { a.webhookPolicy = p }
}

// The suffixes of the two actions that are POSTs to a resource
// (routes.RotateWebhookSecret, routes.RetryDelivery).
const (
	rotateSecretAction = ":rotate-secret"
	retryAction        = ":retry"
)

// The lists' ids for their cursors.
const (
	webhooksList   = "webhooks"
	deliveriesList = "deliveries"
)

// webhookView is a webhook as the API shows it; the secret only in the
// answers that make one (create and rotate-secret).
type webhookView struct {
	ID             string             `json:"id"`
	URL            string             `json:"url"`
	Events         []groups.EventType `json:"events"`
	Description    string             `json:"description"`
	Enabled        bool               `json:"enabled"`
	DisabledReason string             `json:"disabledReason,omitempty"`
	ScopeGroupID   string             `json:"scopeGroupId,omitempty"`
	Version        int64              `json:"version"`
	CreatedAt      string             `json:"createdAt"`
	UpdatedAt      string             `json:"updatedAt"`
	Secret         string             `json:"secret,omitempty"`
	// PreviousSecretExpiresAt is when the secret that rotate-secret
	// replaced stops signing.
	PreviousSecretExpiresAt string `json:"previousSecretExpiresAt,omitempty"`
}

func viewWebhook(w groups.Webhook) webhookView {
	events := w.Events
	if len(events) == 0 {
		events = []groups.EventType{}
	}
	return webhookView{ID: w.ID, URL: w.URL, Events: events, Description: w.Description, Enabled: w.Enabled,
		DisabledReason: w.DisabledReason, ScopeGroupID: w.Scope, Version: w.Version, CreatedAt: rfc3339(w.CreatedAt), UpdatedAt: rfc3339(w.UpdatedAt)}
}

// createWebhook: POST /v1/webhooks.
func (a *API) createWebhook(w http.ResponseWriter, r *http.Request, tenant string) error {
	if err := onlyParams(r); err != nil {
		return err
	}
	f, err := readFields(r)
	if err != nil {
		return err
	}
	var nw groups.NewWebhook
	if u := a.webhookURL(r, f); u != nil {
		nw.URL = *u
	}
	if evs, ok := webhookEvents(f); ok {
		nw.Events = evs
	}
	if d := f.str("description", false); d != nil {
		nw.Description, err = groups.CleanDescription("description", *d)
		f.add(err)
	}
	f.rejectUnknown()
	if err := f.err(); err != nil {
		return err
	}
	secret := webhooks.NewSecret()
	wh, err := a.store.CreateWebhook(r.Context(), tenant, nw, secret)
	if err != nil {
		return err
	}
	v := viewWebhook(wh)
	v.Secret = secret
	w.Header().Set("Location", "/v1/webhooks/"+wh.ID)
	writeJSON(w, http.StatusCreated, v)
	return nil
}

// webhookURL reads and checks the url field (required unless a PATCH).
func (a *API) webhookURL(r *http.Request, f *fields) *string {
	u := f.str("url", r.Method == http.MethodPost)
	if u == nil {
		return nil
	}
	if err := a.webhookPolicy.CheckURL(r.Context(), *u); err != nil {
		f.fail("url", err.Error())
		return nil
	}
	return u
}

// webhookEvents reads the events field: event types, or [] for all.
func webhookEvents(f *fields) ([]groups.EventType, bool) {
	names := f.strs("events") // nil when absent or not an array of strings
	if names == nil {
		return nil, false
	}
	evs := []groups.EventType{}
	for _, n := range names {
		t := groups.EventType(n)
		if !slices.Contains(groups.EventTypes, t) {
			f.fail("events", n+" is not an event type: give some of "+eventTypeNames()+", or [] for all")
			return nil, false
		}
		if !slices.Contains(evs, t) {
			evs = append(evs, t)
		}
	}
	return evs, true
}

// webhookID is the request's {webhookId}, without the action suffix its
// route requires, if any.
func webhookID(r *http.Request, action string) (string, error) {
	id := r.PathValue("webhookId")
	if action != "" {
		var ok bool
		if id, ok = strings.CutSuffix(id, action); !ok {
			return "", groups.Errorf(groups.CodeRouteNotFound, "no route: POST to a webhook is %s (/v1/webhooks/{webhookId}%s)", action, action)
		}
	}
	return id, groups.ValidateID("webhookId", id)
}

// getWebhook: GET /v1/webhooks/{webhookId}.
func (a *API) getWebhook(w http.ResponseWriter, r *http.Request, tenant string) error {
	id, err := webhookID(r, "")
	if err == nil {
		err = onlyParams(r)
	}
	if err != nil {
		return err
	}
	wh, err := a.store.GetWebhook(r.Context(), tenant, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewWebhook(wh))
	return nil
}

// listWebhooks: GET /v1/webhooks.
func (a *API) listWebhooks(w http.ResponseWriter, r *http.Request, tenant string) error {
	if err := onlyParams(r, paramLimit, paramCursor); err != nil {
		return err
	}
	pr, err := a.pageRequest(r, tenant, webhooksList)
	if err != nil {
		return err
	}
	page, err := a.store.ListWebhooks(r.Context(), tenant, pr)
	if err != nil {
		return err
	}
	return writePage(a, w, r, tenant, webhooksList, store.ListQuery{PageRequest: pr}, page, viewWebhook)
}

// updateWebhook: PATCH /v1/webhooks/{webhookId} with any of url, events,
// description and enabled. Enabling a webhook again delivers what it
// missed while disabled (within the feed's 30 days).
func (a *API) updateWebhook(w http.ResponseWriter, r *http.Request, tenant string) error {
	id, err := webhookID(r, "")
	if err == nil {
		err = onlyParams(r)
	}
	if err != nil {
		return err
	}
	f, err := readFields(r)
	if err != nil {
		return err
	}
	var upd groups.WebhookUpdate
	upd.URL = a.webhookURL(r, f)
	if evs, ok := webhookEvents(f); ok {
		upd.Events = &evs
	}
	if d := f.str("description", false); d != nil {
		clean, err := groups.CleanDescription("description", *d)
		f.add(err)
		upd.Description = &clean
	}
	if raw, ok := f.obj["enabled"]; ok {
		f.used["enabled"] = true
		var b bool
		if json.Unmarshal(raw, &b) != nil || string(bytes.TrimSpace(raw)) == "null" {
			f.fail("enabled", "must be true or false")
		} else {
			upd.Enabled = &b
		}
	}
	f.rejectUnknown()
	if err := f.err(); err != nil {
		return err
	}
	if upd == (groups.WebhookUpdate{}) {
		return fieldErrorf("body", "give at least one of url, events, description and enabled")
	}
	wh, err := a.store.UpdateWebhook(r.Context(), tenant, id, upd)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewWebhook(wh))
	return nil
}

// deleteWebhook: DELETE /v1/webhooks/{webhookId}.
func (a *API) deleteWebhook(w http.ResponseWriter, r *http.Request, tenant string) error {
	id, err := webhookID(r, "")
	if err == nil {
		err = onlyParams(r)
	}
	if err != nil {
		return err
	}
	if err := a.store.DeleteWebhook(r.Context(), tenant, id); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// rotateWebhookSecret: POST /v1/webhooks/{webhookId}:rotate-secret. The
// answer holds the new secret; deliveries are signed with both for
// groups.WebhookSecretOverlap, so receivers can switch meanwhile.
func (a *API) rotateWebhookSecret(w http.ResponseWriter, r *http.Request, tenant string) error {
	id, err := webhookID(r, rotateSecretAction)
	if err == nil {
		err = onlyParams(r)
	}
	if err != nil {
		return err
	}
	if err := emptyBody(r); err != nil {
		return err
	}
	secret := webhooks.NewSecret()
	wh, err := a.store.RotateWebhookSecret(r.Context(), tenant, id, secret)
	if err != nil {
		return err
	}
	v := viewWebhook(wh)
	v.Secret = secret
	for _, s := range wh.Secrets {
		if !s.ExpiresAt.IsZero() {
			v.PreviousSecretExpiresAt = rfc3339(s.ExpiresAt)
		}
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// emptyBody refuses a body on an action that takes none (an empty JSON
// object is accepted, as clients send one).
func emptyBody(r *http.Request) error {
	if r.ContentLength == 0 {
		return nil
	}
	f, err := readFields(r)
	if err != nil {
		return err
	}
	f.rejectUnknown()
	return f.err()
}

// deliveryView is a delivery record as the API shows it.
type deliveryView struct {
	ID          string           `json:"id"`
	EventID     string           `json:"eventId"`
	EventType   groups.EventType `json:"eventType"`
	Status      string           `json:"status"`
	NextAttempt string           `json:"nextAttemptAt,omitempty"`
	Attempts    []attemptView    `json:"attempts"`
}

type attemptView struct {
	Time       string `json:"time"`
	StatusCode *int   `json:"statusCode"`
	LatencyMs  int64  `json:"latencyMs"`
	Error      string `json:"error,omitempty"`
	Manual     bool   `json:"manual"`
}

func viewDelivery(d groups.Delivery) deliveryView {
	v := deliveryView{ID: d.ID, EventID: d.EventID, EventType: d.EventType, Status: d.Status, Attempts: make([]attemptView, len(d.Attempts))}
	if !d.NextAttempt.IsZero() {
		v.NextAttempt = rfc3339(d.NextAttempt)
	}
	// Newest first, as the list of deliveries.
	for i, at := range d.Attempts {
		av := attemptView{Time: rfc3339(at.Time), LatencyMs: at.Latency.Milliseconds(), Error: at.Error, Manual: at.Manual}
		if at.StatusCode != 0 {
			av.StatusCode = &at.StatusCode
		}
		v.Attempts[len(d.Attempts)-1-i] = av
	}
	return v
}

// listDeliveries: GET /v1/webhooks/{webhookId}/deliveries, newest event
// first.
func (a *API) listDeliveries(w http.ResponseWriter, r *http.Request, tenant string) error {
	id, err := webhookID(r, "")
	if err == nil {
		err = onlyParams(r, paramLimit, paramCursor)
	}
	if err != nil {
		return err
	}
	list := deliveriesList + "/" + id
	pr, err := a.pageRequest(r, tenant, list)
	if err != nil {
		return err
	}
	page, err := a.store.ListDeliveries(r.Context(), tenant, id, pr)
	if err != nil {
		return err
	}
	return writePage(a, w, r, tenant, list, store.ListQuery{PageRequest: pr}, page, viewDelivery)
}

// sender delivers what the partner asks for now (test, retry).
func (a *API) sender() *webhooks.Sender {
	return &webhooks.Sender{Store: a.store, HTTP: a.webhookPolicy.Client()}
}

// testWebhook: POST /v1/webhooks/{webhookId}/test sends a webhook.test
// event now, whether or not the webhook is enabled, and answers with the
// delivery and its attempt.
func (a *API) testWebhook(w http.ResponseWriter, r *http.Request, tenant string) error {
	id, err := webhookID(r, "")
	if err == nil {
		err = onlyParams(r)
	}
	if err == nil {
		err = emptyBody(r)
	}
	if err != nil {
		return err
	}
	wh, err := a.store.GetWebhook(r.Context(), tenant, id)
	if err != nil {
		return err
	}
	d, err := a.sender().Deliver(r.Context(), tenant, wh, webhooks.TestEvent(wh.ID, a.store.Now()), true)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewDelivery(d))
	return nil
}

// retryDelivery: POST /v1/webhooks/{webhookId}/deliveries/{deliveryId}:retry
// delivers the event again now and answers with the delivery.
func (a *API) retryDelivery(w http.ResponseWriter, r *http.Request, tenant string) error {
	id, err := webhookID(r, "")
	if err == nil {
		err = onlyParams(r)
	}
	if err != nil {
		return err
	}
	did, ok := strings.CutSuffix(r.PathValue("deliveryId"), retryAction)
	if !ok {
		return groups.Errorf(groups.CodeRouteNotFound, "no route: POST to a delivery is %s (/v1/webhooks/{webhookId}/deliveries/{deliveryId}%s)", retryAction, retryAction)
	}
	if err := groups.ValidateID("deliveryId", did); err != nil {
		return err
	}
	if err := emptyBody(r); err != nil {
		return err
	}
	wh, d, err := a.store.GetDelivery(r.Context(), tenant, id, did)
	if err != nil {
		return err
	}
	var ev webhooks.Event
	if err := json.Unmarshal(d.Event, &ev); err != nil {
		return err
	}
	d, err = a.sender().Deliver(r.Context(), tenant, wh, ev, false)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewDelivery(d))
	return nil
}
