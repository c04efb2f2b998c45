package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"time"

	"github.com/fleetgroups/fleetgroups/pkg/auth"
	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/routes"
	"github.com/fleetgroups/fleetgroups/pkg/store"
)

// Safe retries: a POST, PUT, PATCH or DELETE sent with an Idempotency-Key
// header runs once per tenant and key; a retry with the same key and the same
// request gets the first response again, with Idempotent-Replayed: true.
const (
	headerIdempotencyKey = "Idempotency-Key"
	headerReplayed       = "Idempotent-Replayed"
	maxIdempotencyKey    = 255
	// idempotencyTTL is how long a response is kept for replay.
	idempotencyTTL = 24 * time.Hour
	// idempotencyLease is how long a request may hold a key without a
	// response: longer than a Lambda can run, so that a claim left by a
	// Lambda that timed out or crashed frees the key rather than blocking it
	// for a day, and never shorter, so that no request runs twice.
	idempotencyLease = 2 * routes.LambdaTimeoutSeconds * time.Second
	// idempotencySaveTimeout bounds storing the outcome, which happens even
	// if the client has gone: the work is done, and a retry must see it.
	idempotencySaveTimeout = 2 * time.Second
)

// replayedHeaders are the response headers stored and replayed; the others
// belong to one response (X-Request-Id) or to outcomes that are not stored
// (Retry-After comes with outcomes that are not stored).
var replayedHeaders = []string{"Content-Type", "Location", "ETag"}

// idempotent wraps next, op's handler, with Idempotency-Key. Requests without
// the header, and safe methods, pass straight through, with no extra
// DynamoDB request. Every answer of its own goes through serve, so it is
// logged and rendered like any other.
func (a *API) idempotent(op routes.Operation, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tenant := tenantOf(r)
		keys, sent := r.Header[headerIdempotencyKey]
		if !sent || !mutating(r.Method) || !auth.ValidTenantID(tenant) {
			next.ServeHTTP(w, r)
			return
		}
		respond := func(ep endpoint) { a.serve(op, ep).ServeHTTP(w, r) }
		key, err := idempotencyKey(keys)
		if err != nil {
			respond(fail(err))
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
		if err != nil {
			respond(fail(groups.Errorf(groups.CodeMalformedJSON, "the body could not be read")))
			return
		}
		// The handler reads the same bytes (and, past the limit, answers 413).
		r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), r.Body))
		fingerprint := requestFingerprint(r, body)

		rec, claimed, err := a.store.ClaimIdempotencyKey(r.Context(), tenant, key, fingerprint, idempotencyLease)
		switch {
		case err != nil:
			respond(fail(err))
		case !claimed && rec.Fingerprint != fingerprint:
			respond(fail(groups.Errorf(groups.CodeIdempotencyKeyReused,
				"the Idempotency-Key was first used for another request (method, path or body); use a new key for a new request")))
		case !claimed && rec.Done:
			respond(replay(rec.Response))
		case !claimed:
			respond(func(w http.ResponseWriter, _ *http.Request, _ string) error {
				w.Header().Set("Retry-After", "1")
				return groups.Errorf(groups.CodeIdempotencyKeyInUse,
					"a request with this Idempotency-Key is still in progress; retry after it completes")
			})
		default:
			a.runClaimed(w, r, next, tenant, key, rec)
		}
	})
}

// runClaimed runs the request that holds the key and stores its outcome, or
// gives the key up when the outcome is not final: a 5xx (the client should
// retry, and the retry must run), or an answer with Retry-After (a 202 or a
// 409 move_in_progress: the work is unfinished, and repeating the request is
// how it finishes).
func (a *API) runClaimed(w http.ResponseWriter, r *http.Request, next http.Handler, tenant, key string, claim store.IdempotencyRecord) {
	rec := &responseCapture{ResponseWriter: w}
	next.ServeHTTP(rec, r)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), idempotencySaveTimeout)
	defer cancel()
	var err error
	if rec.status >= 500 || w.Header().Get("Retry-After") != "" {
		err = a.store.ReleaseIdempotencyKey(ctx, tenant, key, claim)
	} else {
		resp := store.StoredResponse{Status: rec.status, Header: map[string]string{}, Body: rec.body.Bytes()}
		for _, h := range replayedHeaders {
			if v := w.Header().Get(h); v != "" {
				resp.Header[h] = v
			}
		}
		err = a.store.CompleteIdempotencyKey(ctx, tenant, key, claim, resp, idempotencyTTL)
	}
	if err != nil {
		// The response stands: the work is done. A retry finds the claim
		// until its lease ends, then runs again.
		a.log.WarnContext(r.Context(), "idempotency outcome not stored", "tenant", tenant, "status", rec.status, "error", err)
	}
}

// replay is an endpoint that answers a stored response.
func replay(resp store.StoredResponse) endpoint {
	return func(w http.ResponseWriter, _ *http.Request, _ string) error {
		for h, v := range resp.Header {
			w.Header().Set(h, v)
		}
		w.Header().Set(headerReplayed, "true")
		w.WriteHeader(resp.Status)
		if len(resp.Body) > 0 { // an empty Write would make the Lambda adapter guess a Content-Type
			_, _ = w.Write(resp.Body)
		}
		return nil
	}
}

// fail is an endpoint that answers err.
func fail(err error) endpoint {
	return func(http.ResponseWriter, *http.Request, string) error { return err }
}

func mutating(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

// idempotencyKey is the header's one value: 1–255 printable ASCII characters.
func idempotencyKey(values []string) (string, error) {
	invalid := fieldErrorf(headerIdempotencyKey, "must be one value of 1–%d printable ASCII characters", maxIdempotencyKey)
	if len(values) != 1 || values[0] == "" || len(values[0]) > maxIdempotencyKey {
		return "", invalid
	}
	for _, c := range []byte(values[0]) {
		if c < 0x20 || c > 0x7e {
			return "", invalid
		}
	}
	return values[0], nil
}

// requestFingerprint identifies a request for its key: the SHA-256 of the
// method, the path, the query in canonical order (API Gateway hands the query
// over as a map, so its order is not stable), the scope of a token scoped to
// a subtree (its replay must not show another token what lies outside its
// subtree) and the body. Method, path, query and scope contain no newline,
// so the separators are unambiguous.
func requestFingerprint(r *http.Request, body []byte) string {
	scope := fromAuthorizer(r, auth.ContextScope)
	h := sha256.New()
	_, _ = io.WriteString(h, r.Method+"\n"+r.URL.EscapedPath()+"?"+r.URL.Query().Encode()+"\n")
	if scope != "" {
		_, _ = io.WriteString(h, "scope "+scope+"\n")
	}
	_, _ = h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// responseCapture passes a response through while keeping its status and
// body for storage.
type responseCapture struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (c *responseCapture) WriteHeader(status int) {
	c.status = status
	c.ResponseWriter.WriteHeader(status)
}

func (c *responseCapture) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	c.body.Write(b)
	return c.ResponseWriter.Write(b)
}
