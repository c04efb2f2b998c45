// Package problem defines the API's error documents (RFC 9457 problem
// details with a stable code) and the one map from code to HTTP status. The
// Lambdas, the local gateway, and the error responses API Gateway answers by
// itself (declared in the CDK stack and the SAM template from
// GatewayResponses) all render through it, so a client parses one error
// format whichever layer refused it.
package problem

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
)

// MediaType is the Content-Type of every error response.
const MediaType = "application/problem+json"

// TypeBase is where each code is documented (docs/errors.md); a problem's
// type is TypeBase + code.
const TypeBase = "https://github.com/fleetgroups/fleetgroups/blob/main/docs/errors.md#"

var statusOf = map[groups.Code]int{
	groups.CodeInvalidArgument:      http.StatusBadRequest,
	groups.CodeMalformedJSON:        http.StatusBadRequest,
	groups.CodeInvalidCursor:        http.StatusBadRequest,
	groups.CodeBadRequest:           http.StatusBadRequest,
	groups.CodePayloadTooLarge:      http.StatusRequestEntityTooLarge,
	groups.CodeUnsupportedMedia:     http.StatusUnsupportedMediaType,
	groups.CodeNotFound:             http.StatusNotFound,
	groups.CodeAssociationNotFound:  http.StatusNotFound,
	groups.CodeDifferentEnterprises: http.StatusBadRequest,
	groups.CodeRouteNotFound:        http.StatusNotFound,
	groups.CodeMethodNotAllowed:     http.StatusMethodNotAllowed,
	groups.CodeNameTaken:            http.StatusConflict,
	groups.CodeConflict:             http.StatusConflict,
	groups.CodeUnauthenticated:      http.StatusUnauthorized,
	groups.CodeForbidden:            http.StatusForbidden,
	groups.CodeThrottled:            http.StatusTooManyRequests,
	groups.CodeQuotaExceeded:        http.StatusTooManyRequests,
	groups.CodeUnavailable:          http.StatusServiceUnavailable,
	groups.CodeInternal:             http.StatusInternalServerError,

	groups.CodePreconditionFailed:   http.StatusPreconditionFailed,
	groups.CodeIdempotencyKeyReused: http.StatusUnprocessableEntity,
	groups.CodeIdempotencyKeyInUse:  http.StatusConflict,

	groups.CodeCycle:          http.StatusConflict,
	groups.CodeTooDeep:        http.StatusConflict,
	groups.CodeHasChildren:    http.StatusConflict,
	groups.CodeMoveInProgress: http.StatusConflict,

	groups.CodeReadOnlyToken: http.StatusForbidden,
	groups.CodeOutOfScope:    http.StatusForbidden,

	groups.CodeCursorExpired: http.StatusGone,
	// Webhooks.
	groups.CodeTooManyWebhooks: http.StatusConflict,
}

// Status is the HTTP status of code.
func Status(code groups.Code) int {
	if s, ok := statusOf[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Problem is an RFC 9457 problem details document, extended with a stable
// code, the request id and, for invalid input, the field errors.
type Problem struct {
	Type      string              `json:"type"`
	Title     string              `json:"title"`
	Status    int                 `json:"status"`
	Detail    string              `json:"detail"`
	Code      groups.Code         `json:"code"`
	RequestID string              `json:"request_id,omitempty"`
	Errors    []groups.FieldError `json:"errors,omitempty"`
}

// New is the problem for code with detail.
func New(code groups.Code, detail, requestID string) Problem {
	status := Status(code)
	return Problem{
		Type: TypeBase + string(code), Title: http.StatusText(status), Status: status,
		Detail: detail, Code: code, RequestID: requestID,
	}
}

// For renders err for a client. Internal failures never reveal their cause:
// the detail names the request id under which the cause was logged.
func For(err error, requestID string) Problem {
	var e *groups.Error
	if !errors.As(err, &e) {
		e = &groups.Error{Code: groups.CodeInternal}
	}
	p := New(e.Code, e.Detail, requestID)
	p.Errors = e.Fields
	switch {
	case e.Code == groups.CodeUnavailable:
		p.Detail = "the service is busy; retry the request (request id " + requestID + ")"
	case p.Status >= 500:
		p.Detail = "the request failed on our side; quote request id " + requestID + " when reporting it"
	}
	return p
}

// JSON encodes p without HTML escaping, so that API Gateway mapping
// variables such as $context.requestId survive in templates.
func (p Problem) JSON() string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(p) // a Problem always encodes
	return strings.TrimSuffix(b.String(), "\n")
}

// CommonHeaders are the headers every response carries, whichever layer
// answers: no browser or shared cache keeps an answer (they carry a tenant's
// data, or speak of a tenant's request), and no browser sniffs a body into a
// type it would render or run. An answer that is the same for everyone (the
// public OpenAPI document) may replace Cache-Control.
func CommonHeaders() map[string]string {
	return map[string]string{"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
}

// GatewayRequestID is API Gateway's mapping variable for the request id.
const GatewayRequestID = "$context.requestId"

// GatewayResponse is an error API Gateway answers itself, before or instead
// of a Lambda, rendered as a problem.
type GatewayResponse struct {
	Type   string // API Gateway's response type
	Code   groups.Code
	Detail string
	// Headers are the response's own headers besides Content-Type and the
	// CommonHeaders (literal values).
	Headers map[string]string
}

// Status is the response's HTTP status.
func (g GatewayResponse) Status() int { return Status(g.Code) }

// Err is the response as an error, for the local gateway to answer with.
func (g GatewayResponse) Err() error { return &groups.Error{Code: g.Code, Detail: g.Detail} }

// Gateway returns the response of the given type; it panics on a type not in
// GatewayResponses, which is a programming error.
func Gateway(typ string) GatewayResponse {
	for _, g := range GatewayResponses {
		if g.Type == typ {
			return g
		}
	}
	panic("problem: no gateway response " + typ)
}

// AllHeaders are every header of the response: its Content-Type, the
// CommonHeaders and its own.
func (g GatewayResponse) AllHeaders() map[string]string {
	h := CommonHeaders()
	h["Content-Type"] = MediaType
	for k, v := range g.Headers {
		h[k] = v
	}
	return h
}

// Body is the response's mapping template.
func (g GatewayResponse) Body() string { return New(g.Code, g.Detail, GatewayRequestID).JSON() }

// GatewayResponses are the gateway's own errors, in the API's vocabulary.
var GatewayResponses = []GatewayResponse{
	// API Gateway answers unknown paths with "Missing Authentication Token";
	// for a client that is a route that does not exist.
	{"MISSING_AUTHENTICATION_TOKEN", groups.CodeRouteNotFound, "no route matches the request path", nil},
	{"UNAUTHORIZED", groups.CodeUnauthenticated, "send a valid token as Authorization: Bearer <token>",
		map[string]string{"WWW-Authenticate": "Bearer"}},
	{"ACCESS_DENIED", groups.CodeForbidden, "the credentials do not allow this request", nil},
	// With the API key source AUTHORIZER this means the authorizer named a
	// key that is not on the usage plan: the tenant was not fully provisioned.
	{"INVALID_API_KEY", groups.CodeForbidden, "the tenant has no API key on the usage plan", nil},
	// A retryable answer says when to retry, as the Lambdas' 503s do.
	{"THROTTLED", groups.CodeThrottled, "the request rate limit was exceeded; retry later",
		map[string]string{"Retry-After": "1"}},
	{"QUOTA_EXCEEDED", groups.CodeQuotaExceeded, "the request quota for the period is used up", nil},
	{"REQUEST_TOO_LARGE", groups.CodePayloadTooLarge, "the request is too large", nil},
	// A template cannot read the original status, and the body must state
	// one, so every other gateway 4xx is a 400 ...
	{"DEFAULT_4XX", groups.CodeBadRequest, "the request could not be processed", nil},
	// ... and every gateway 5xx (timeouts, authorizer or integration
	// failures) a retryable 503.
	{"DEFAULT_5XX", groups.CodeUnavailable, "the service is temporarily unavailable; retry later",
		map[string]string{"Retry-After": "1"}},
}

// MethodNotAllowedBody is the 405 body the deployed API's catch-all ANY
// methods answer with.
func MethodNotAllowedBody() string {
	return New(groups.CodeMethodNotAllowed, "this resource does not support the method", GatewayRequestID).JSON()
}
