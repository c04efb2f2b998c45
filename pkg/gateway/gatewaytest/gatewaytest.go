// Package gatewaytest builds the requests that tests send to an API served
// by the local gateway (pkg/gateway), so that the end-to-end, model and cost
// tests send them alike.
package gatewaytest

import (
	"context"
	"net/http"
	"strings"
)

// NewRequest is a request of method for base+path with a bearer token (no
// Authorization header if token is empty), a JSON body (no Content-Type if
// body is empty) and further headers given as pairs: name, value, name,
// value, ….
func NewRequest(ctx context.Context, base, token, method, path, body string, header ...string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, base+path, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return req, nil
}
