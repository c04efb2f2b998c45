package groups

import (
	"errors"
	"fmt"
)

// Code is a stable, machine-readable error code. Clients switch on it; it never
// changes once published.
type Code string

// The error vocabulary of the API. The HTTP layer maps each code to a status.
const (
	CodeInvalidArgument      Code = "invalid_argument"
	CodeMalformedJSON        Code = "malformed_json"
	CodeInvalidCursor        Code = "invalid_cursor"
	CodeBadRequest           Code = "bad_request"
	CodePayloadTooLarge      Code = "payload_too_large"
	CodeUnsupportedMedia     Code = "unsupported_media_type"
	CodeNotFound             Code = "not_found"
	CodeAssociationNotFound  Code = "association_not_found"
	CodeDifferentEnterprises Code = "different_enterprises"
	CodeRouteNotFound        Code = "route_not_found"
	CodeMethodNotAllowed     Code = "method_not_allowed"
	CodeNameTaken            Code = "name_taken"
	CodeConflict             Code = "conflict"
	CodeUnauthenticated      Code = "unauthenticated"
	CodeForbidden            Code = "forbidden"
	CodeThrottled            Code = "throttled"
	CodeQuotaExceeded        Code = "quota_exceeded"
	CodeUnavailable          Code = "unavailable"
	CodeInternal             Code = "internal"

	// Safe retries and concurrency (If-Match, Idempotency-Key).
	CodePreconditionFailed   Code = "precondition_failed"
	CodeIdempotencyKeyReused Code = "idempotency_key_reused"
	CodeIdempotencyKeyInUse  Code = "idempotency_key_in_use"

	// The group hierarchy.
	CodeCycle          Code = "cycle"
	CodeTooDeep        Code = "too_deep"
	CodeHasChildren    Code = "has_children"
	CodeMoveInProgress Code = "move_in_progress"

	// Token restrictions.
	CodeReadOnlyToken Code = "read_only_token"
	CodeOutOfScope    Code = "out_of_scope"

	// The change feed.
	CodeCursorExpired Code = "cursor_expired"

	// Webhooks.
	CodeTooManyWebhooks Code = "too_many_webhooks"
)

// FieldError names one invalid input field and what is wrong with it.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error is the domain error every layer returns; the HTTP edge renders it as
// RFC 9457 problem details.
type Error struct {
	Code   Code
	Detail string
	Fields []FieldError
	// Err is the underlying cause (logged, never shown to clients).
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Detail, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Detail)
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an *Error with a formatted detail.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Detail: fmt.Sprintf(format, args...)}
}

// ErrNotFound is returned for anything that does not exist or belongs to
// another tenant: the two cases are deliberately indistinguishable.
var ErrNotFound = &Error{Code: CodeNotFound, Detail: "the requested resource does not exist"}

// ErrNameTaken is returned when another group of the tenant already has the
// name, compared case-insensitively.
var ErrNameTaken = &Error{Code: CodeNameTaken, Detail: "a group with this name already exists"}

// ErrPreconditionFailed is returned when a write was made conditional on a
// version of the group (If-Match) and the group, which exists, is at another.
var ErrPreconditionFailed = &Error{Code: CodePreconditionFailed,
	Detail: "the group has changed since the entity tag sent in If-Match; read it again"}

// CodeOf returns the code of err: "" for nil, CodeInternal when err is not
// an *Error.
func CodeOf(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// ErrReadOnlyToken answers a write made with a read-only token.
var ErrReadOnlyToken = &Error{Code: CodeReadOnlyToken, Detail: "this token may only read: writes need a token created without -read-only"}

// ErrOutOfScope answers a token scoped to a subtree that asks for what lies
// outside it: a top-level group, a move out of it, its root's deletion, or
// the tenant-wide item registry and associations.
var ErrOutOfScope = &Error{Code: CodeOutOfScope, Detail: "this token is scoped to a subtree of groups, and the request reaches outside it"}

// Errors of the group hierarchy.
var (
	// ErrParentNotFound answers a parentId that names no live group of the
	// tenant (or one outside a scoped token's subtree).
	ErrParentNotFound = &Error{Code: CodeInvalidArgument, Detail: "the parent group does not exist",
		Fields: []FieldError{{Field: "parentId", Message: "is not a group of this tenant"}}}
	ErrCycle = &Error{Code: CodeCycle,
		Detail: "a group cannot be moved under itself or one of its descendants"}
	ErrHasChildren = &Error{Code: CodeHasChildren,
		Detail: "the group has child groups: delete or move them first, or delete the whole subtree with ?cascade=true"}
	// ErrMoveInProgress answers a request that reached a subtree being moved
	// step by step (a move of more than MaxMoveSize groups) and could not
	// finish the move itself before its deadline: repeat it after
	// Retry-After, and the move goes on with it.
	ErrMoveInProgress = &Error{Code: CodeMoveInProgress,
		Detail: "a move of more groups than one transaction takes is still running in this part of the tree; repeat the request after Retry-After (each request that reaches the subtree carries the move on)"}
)

// TooDeep answers a create or a move that would put a group deeper than
// maxDepth, the deployment's limit (at most MaxDepth).
func TooDeep(maxDepth int) error {
	return Errorf(CodeTooDeep, "the tree would be deeper than %d levels (a group's depth is at most %d)", maxDepth+1, maxDepth)
}
