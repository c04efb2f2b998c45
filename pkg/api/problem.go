package api

import (
	"encoding/json"
	"net/http"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
)

// ProblemTypeBase is where each problem code is documented (docs/errors.md).
const ProblemTypeBase = "https://github.com/fleetgroups/fleetgroups/blob/main/docs/errors.md#"

// statusOf maps every error code to its HTTP status: the one place that does.
var statusOf = map[groups.Code]int{
	groups.CodeInvalidArgument:  http.StatusBadRequest,
	groups.CodeMalformedJSON:    http.StatusBadRequest,
	groups.CodeInvalidCursor:    http.StatusBadRequest,
	groups.CodePayloadTooLarge:  http.StatusRequestEntityTooLarge,
	groups.CodeUnsupportedMedia: http.StatusUnsupportedMediaType,
	groups.CodeNotFound:         http.StatusNotFound,
	groups.CodeRouteNotFound:    http.StatusNotFound,
	groups.CodeMethodNotAllowed: http.StatusMethodNotAllowed,
	groups.CodeNameTaken:        http.StatusConflict,
	groups.CodeConflict:         http.StatusConflict,
	groups.CodeUnauthenticated:  http.StatusUnauthorized,
	groups.CodeForbidden:        http.StatusForbidden,
	groups.CodeUnavailable:      http.StatusServiceUnavailable,
	groups.CodeInternal:         http.StatusInternalServerError,
}

// Problem is an RFC 9457 problem details body, extended with a stable code,
// the request id and, for invalid input, the list of field errors.
type Problem struct {
	Type      string              `json:"type"`
	Title     string              `json:"title"`
	Status    int                 `json:"status"`
	Detail    string              `json:"detail"`
	Code      groups.Code         `json:"code"`
	RequestID string              `json:"request_id,omitempty"`
	Errors    []groups.FieldError `json:"errors,omitempty"`
}

// ProblemFor renders err for a client. Internal failures never reveal their
// cause: the detail names the request id under which the cause was logged.
func ProblemFor(err error, requestID string) Problem {
	e, ok := err.(*groups.Error)
	if !ok {
		e = &groups.Error{Code: groups.CodeInternal}
	}
	status, ok := statusOf[e.Code]
	if !ok {
		status = http.StatusInternalServerError
	}
	p := Problem{
		Type: ProblemTypeBase + string(e.Code), Title: http.StatusText(status), Status: status,
		Detail: e.Detail, Code: e.Code, RequestID: requestID, Errors: e.Fields,
	}
	if status >= 500 {
		p.Detail = "the request failed on our side; quote request id " + requestID + " when reporting it"
		if e.Code == groups.CodeUnavailable {
			p.Detail = "the service is busy; retry the request (request id " + requestID + ")"
		}
	}
	return p
}

// WriteProblem writes err as application/problem+json.
func WriteProblem(w http.ResponseWriter, err error, requestID string) int {
	p := ProblemFor(err, requestID)
	if p.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeBody(w, p.Status, "application/problem+json", p)
	return p.Status
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	writeBody(w, status, "application/json", v)
}

func writeBody(w http.ResponseWriter, status int, contentType string, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		// Only our own response types reach here; they always marshal.
		status, body = http.StatusInternalServerError, []byte(`{"status":500,"code":"internal"}`)
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
