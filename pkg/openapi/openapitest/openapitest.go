// Package openapitest holds the API to its OpenAPI document (pkg/openapi) in
// tests: Load reads and validates the document, and Transport checks every
// request and response that passes through it against the document. Only
// tests import this package, so no Lambda carries an OpenAPI library.
//
// The library is github.com/getkin/kin-openapi, which reads and validates
// OpenAPI 3.1 documents, and checks requests and responses with a JSON Schema
// 2020-12 validator, since v0.136 (it knew only OpenAPI 3.0 before).
package openapitest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/fleetgroups/fleetgroups/pkg/openapi"
)

// Load returns the embedded document, validated.
func Load() (*openapi3.T, error) { return Parse(openapi.JSON()) }

// Parse reads a document and validates it against the OpenAPI specification
// of its version; tests use it on documents they broke on purpose.
func Parse(data []byte) (*openapi3.T, error) {
	doc, err := openapi3.NewLoader().LoadFromData(data)
	if err != nil {
		return nil, fmt.Errorf("load the OpenAPI document: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("the OpenAPI document is not valid: %w", err)
	}
	return doc, nil
}

// CheckSchema checks the JSON v against the document's schema
// components/schemas/<name> with the validator Transport uses (JSON Schema
// 2020-12): for documents that reach partners other than as a response
// body, such as change events.
func CheckSchema(doc *openapi3.T, name string, v []byte) error {
	ref, ok := doc.Components.Schemas[name]
	if !ok {
		return fmt.Errorf("the document has no schema %s", name)
	}
	var value any
	if err := json.Unmarshal(v, &value); err != nil {
		return err
	}
	return ref.Value.VisitJSON(value, openapi3.EnableJSONSchema2020())
}

// Transport is an http.RoundTripper that sends each request on with Base and
// checks the exchange against the document, failing the round trip (so the
// client call, so the test) on any mismatch:
//
//   - The request is matched to an operation by the document's paths, with
//     the route table's ServeMux semantics. A request the document has no
//     operation for must be answered 404, or 405 when its path has other
//     methods, as components/responses NotFound and MethodNotAllowed say.
//   - A request the document rejects (parameters, body, security) must be
//     answered 4xx: the document must not forbid what the API accepts. (The
//     converse does not hold: the API checks things a schema cannot say,
//     such as names unique per tenant.)
//   - The response's status must be one the operation documents, and its
//     headers, Content-Type and body must match that response; a response
//     documented without content must have no body.
type Transport struct {
	doc  *openapi3.T
	mux  *http.ServeMux
	Base http.RoundTripper // http.DefaultTransport when nil
}

// NewTransport returns a Transport checking against doc.
func NewTransport(doc *openapi3.T) (tr *Transport, err error) {
	tr = &Transport{doc: doc, mux: http.NewServeMux()}
	defer func() {
		// ServeMux panics on paths that conflict; a document can have them.
		if p := recover(); p != nil {
			tr, err = nil, fmt.Errorf("the document's paths do not form one route table: %v", p)
		}
	}()
	for _, path := range doc.Paths.InMatchingOrder() {
		item := doc.Paths.Value(path)
		for method, op := range item.Operations() {
			route := &routers.Route{Spec: doc, Path: path, PathItem: item, Method: method, Operation: op}
			tr.mux.HandleFunc(method+" "+path, func(_ http.ResponseWriter, r *http.Request) {
				m := r.Context().Value(matchKey{}).(*match)
				m.route, m.params = route, map[string]string{}
				for _, seg := range strings.Split(path, "/") {
					if name, ok := strings.CutPrefix(seg, "{"); ok {
						name = strings.TrimSuffix(name, "}")
						m.params[name] = r.PathValue(name)
					}
				}
			})
		}
	}
	return tr, nil
}

type matchKey struct{}

type match struct {
	route  *routers.Route
	params map[string]string
}

// RoundTrip implements http.RoundTripper.
func (tr *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil {
		var err error
		if reqBody, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		_ = req.Body.Close()
	}
	base := tr.Base
	if base == nil {
		base = http.DefaultTransport
	}
	res, err := base.RoundTrip(withBody(req, reqBody))
	if err != nil {
		return nil, err
	}
	resBody, err := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if err != nil {
		return nil, err
	}
	res.Body = io.NopCloser(bytes.NewReader(resBody))
	if err := tr.check(withBody(req, reqBody), res, resBody); err != nil {
		return nil, fmt.Errorf("OpenAPI contract: %s %s answered %d: %w\nbody: %s", req.Method, req.URL.RequestURI(), res.StatusCode, err, excerpt(resBody))
	}
	return res, nil
}

// excerpt is the start of a body, enough to recognise it in a test failure.
func excerpt(body []byte) string {
	const limit = 1000
	if len(body) > limit {
		return string(body[:limit]) + "…"
	}
	return string(body)
}

// withBody is a copy of req that reads body.
func withBody(req *http.Request, body []byte) *http.Request {
	out := req.Clone(req.Context())
	out.Body = io.NopCloser(bytes.NewReader(body))
	out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	out.ContentLength = int64(len(body))
	return out
}

func (tr *Transport) check(req *http.Request, res *http.Response, resBody []byte) error {
	ctx := req.Context()
	opts := &openapi3filter.Options{
		IncludeResponseStatus: true,
		SkipSettingDefaults:   true,
		AuthenticationFunc:    bearer,
	}
	m := &match{}
	probe := httptest.NewRecorder()
	tr.mux.ServeHTTP(probe, req.WithContext(context.WithValue(ctx, matchKey{}, m)))
	if m.route == nil {
		return tr.checkUnrouted(ctx, req, probe.Code, res, resBody, opts)
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: m.params, Route: m.route, Options: opts}
	if err := openapi3filter.ValidateRequest(ctx, in); err != nil && (res.StatusCode < 400 || res.StatusCode > 499) {
		return fmt.Errorf("the document rejects the request, but the API did not answer 4xx: %w", err)
	}
	return checkResponse(ctx, in, res, resBody)
}

// checkUnrouted checks the answer to a request the document has no operation
// for: ServeMux's own status (404 or 405) says which it must be.
func (tr *Transport) checkUnrouted(ctx context.Context, req *http.Request, muxStatus int, res *http.Response, resBody []byte, opts *openapi3filter.Options) error {
	name, status := "NotFound", http.StatusNotFound
	if muxStatus == http.StatusMethodNotAllowed {
		name, status = "MethodNotAllowed", http.StatusMethodNotAllowed
	}
	if res.StatusCode != status {
		return fmt.Errorf("the document has no operation for the request, so want %d (components/responses/%s)", status, name)
	}
	resp := tr.doc.Components.Responses[name]
	if resp == nil {
		return fmt.Errorf("the document has no components/responses/%s", name)
	}
	route := &routers.Route{Spec: tr.doc, PathItem: &openapi3.PathItem{}, Method: req.Method,
		Operation: &openapi3.Operation{Responses: openapi3.NewResponses(openapi3.WithStatus(status, resp))}}
	in := &openapi3filter.RequestValidationInput{Request: req, Route: route, Options: opts}
	return checkResponse(ctx, in, res, resBody)
}

func checkResponse(ctx context.Context, in *openapi3filter.RequestValidationInput, res *http.Response, body []byte) error {
	documented := in.Route.Operation.Responses.Status(res.StatusCode)
	if documented == nil {
		// ValidateResponse lets some statuses (304) through unchecked.
		return fmt.Errorf("status %d is not documented for %s %s", res.StatusCode, in.Route.Method, in.Route.Path)
	}
	if len(documented.Value.Content) == 0 && len(body) > 0 {
		return errors.New("the response is documented without content, but has a body")
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: res.StatusCode, Header: res.Header, Options: in.Options,
	}
	out.SetBodyBytes(body)
	return openapi3filter.ValidateResponse(ctx, out)
}

// bearer accepts a request that sends a token in the document's one
// security scheme, Authorization: Bearer; whether the token is valid is the
// API's business.
func bearer(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	if s := in.SecurityScheme; s.Type != "http" || !strings.EqualFold(s.Scheme, "bearer") {
		return in.NewError(fmt.Errorf("unknown security scheme %s %s", s.Type, s.Scheme))
	}
	scheme, token, _ := strings.Cut(in.RequestValidationInput.Request.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		return in.NewError(errors.New("no Authorization: Bearer <token>"))
	}
	return nil
}
