// Package openapi holds the API's OpenAPI 3.1 document, openapi.json: the
// contract clients build on. The get-openapi operation serves it byte for
// byte at GET /v1/openapi.json.
//
// The document is written by hand and kept honest by tests:
//
//   - TestDocumentMatchesRouteTable (this package) holds it to pkg/routes and
//     pkg/groups: one operation per route of routes.Routes and nothing else,
//     each with a 2xx response; the problem codes, item types, event types
//     and public operations as the Go code has them.
//   - TestWebhookDeliveriesMatchDocument holds its webhooks section (what a
//     partner's endpoint receives, OpenAPI 3.1 webhooks) to pkg/webhooks:
//     the signing headers, the secret and the webhook.test event.
//   - The end-to-end tests of pkg/gateway send every request through a
//     transport that validates it and its response against the document
//     (see pkg/openapi/openapitest).
//
// Operations name the Lambda that serves them in the x-operation extension
// (a routes.Operation). The operationId is that name, qualified with a
// suffix when one Lambda serves several routes ("list-members",
// "list-members-by-type", "list-item-groups-vehicles").
//
// Adding a route: add it to pkg/routes, then run go test ./pkg/openapi:
// TestDocumentMatchesRouteTable names the missing "METHOD path", and once the
// operation is written, each status, x-operation or operationId it still
// gets wrong. Reuse components (parameters, headers, problem responses);
// a new error code goes into ProblemCode and the problem response of its
// status. The end-to-end tests of the new route then fail on any request or
// response that the document does not describe.
//
// An action whose suffix shares a segment with a path variable
// ("/v1/webhooks/{webhookId}:rotate-secret") has the route of a POST to the
// resource itself, because a path variable is a whole segment (in API
// Gateway, ServeMux and the contract transport alike). The document says so:
// the operation is the POST of the resource's path, and its path parameter
// (WebhookIdRotateSecret, DeliveryIdRetry) is the id followed by the suffix.
package openapi

import (
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"slices"
	"sync"
)

// document is the embedded file. Only a program that calls JSON or ETag
// links it (the get-openapi Lambda, tools, tests): nothing in this package
// runs at init, so the other Lambdas, which import the package through
// pkg/api, carry neither the document nor its hashing.
//
//go:embed openapi.json
var document []byte

// etag is the document's strong entity tag: its content hash, so it changes
// exactly when the document does. It is computed on first use, not at init,
// so that a cold start that serves no document does not hash it. (A
// sync.OnceValue would be made at init, and that init code would link the
// document into every program that imports the package.)
var etag struct {
	once  sync.Once
	value string
}

// JSON returns the document.
func JSON() []byte { return slices.Clone(document) }

// ETag returns the document's entity tag, quoted as the ETag header has it.
func ETag() string {
	etag.once.Do(func() {
		sum := sha256.Sum256(document)
		etag.value = `"` + hex.EncodeToString(sum[:16]) + `"`
	})
	return etag.value
}
