package api

import (
	"net/http"
	"strings"

	"github.com/fleetgroups/fleetgroups/pkg/openapi"
)

// getOpenAPI: GET /v1/openapi.json, public. The embedded document, byte for
// byte; clients and caches revalidate with If-None-Match.
func (a *API) getOpenAPI(w http.ResponseWriter, r *http.Request, _ string) error {
	if err := onlyParams(r); err != nil {
		return err
	}
	h := w.Header()
	h.Set("ETag", openapi.ETag())
	h.Set("Cache-Control", "public, max-age=300")
	if etagListed(r.Header.Get("If-None-Match"), openapi.ETag()) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	h.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(openapi.JSON())
	return nil
}

// etagListed reports whether an If-None-Match value lists etag, compared
// weakly as RFC 9110 asks for If-None-Match (W/"x" matches "x").
func etagListed(ifNoneMatch, etag string) bool {
	for _, t := range strings.Split(ifNoneMatch, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}
