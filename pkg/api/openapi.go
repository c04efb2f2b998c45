package api

import (
	"net/http"

	"github.com/fleetgroups/fleetgroups/pkg/openapi"
)

// getOpenAPI: GET /v1/openapi.json, public. The embedded document, byte for
// byte; clients and caches revalidate with If-None-Match.
func (a *API) getOpenAPI(w http.ResponseWriter, r *http.Request, _ string) error {
	if err := onlyParams(r); err != nil {
		return err
	}
	// The header is read as get-group reads it: a tag may hold a comma, so
	// splitting the line at commas would find a "*" inside a tag.
	ifNoneMatch, err := entityTags(r, "If-None-Match")
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("ETag", openapi.ETag())
	h.Set("Cache-Control", "public, max-age=300")
	if listsTag(ifNoneMatch, openapi.ETag()) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	h.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(openapi.JSON())
	return nil
}
