package api

import (
	"encoding/json"
	"net/http"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/problem"
)

// WriteProblem writes err as application/problem+json.
func WriteProblem(w http.ResponseWriter, err error, requestID string) int {
	p := problem.For(err, requestID)
	switch {
	case p.Status == http.StatusServiceUnavailable, p.Code == groups.CodeMoveInProgress:
		w.Header().Set("Retry-After", "1")
	case p.Status == http.StatusUnauthorized:
		// RFC 9110 requires a 401 to name the scheme, as API Gateway's does.
		w.Header().Set("WWW-Authenticate", "Bearer")
	}
	writeBody(w, p.Status, problem.MediaType, p)
	return p.Status
}

// writeUpserted answers a create-or-keep (or create-or-replace) write: 201
// with a Location when it created the resource at the request's path, 200
// otherwise.
func writeUpserted(w http.ResponseWriter, r *http.Request, created bool, v any) {
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		w.Header().Set("Location", r.URL.Path)
	}
	writeJSON(w, status, v)
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
