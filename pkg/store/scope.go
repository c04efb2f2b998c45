package store

import (
	"context"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
)

// Scoped callers. A token made with `create-token -group G` sees only G and
// its descendants: the authorizer names G, the API puts it in the request's
// context (WithScope), and the store, not only the handlers, keeps the
// caller inside it:
//
//   - a group outside the subtree, and everything in it, is ErrNotFound,
//     exactly as another tenant's (getGroupItem, lists, checks, lookups);
//   - writes to a group's members read the group first and are conditioned
//     on its path as read, so a move out of the subtree cannot race them;
//   - creates need a parent in the subtree, no group moves out of it, and
//     the root itself is neither moved out nor deleted (ErrOutOfScope);
//   - the item registry and associations are the tenant's, not a
//     subtree's: they answer ErrOutOfScope (include=item still names the
//     items a subtree list shows).

type scopeKey struct{}

// WithScope returns ctx for a caller that sees only the subtree of the
// group root ("" for the whole tenant).
func WithScope(ctx context.Context, root string) context.Context {
	if root == "" {
		return ctx
	}
	return context.WithValue(ctx, scopeKey{}, root)
}

// scopeOf is the root of ctx's caller's subtree, "" for the whole tenant.
func scopeOf(ctx context.Context) string {
	root, _ := ctx.Value(scopeKey{}).(string)
	return root
}

// inScope reports whether the group it is in ctx's caller's subtree: its
// path (its ancestors and itself) holds the root.
func inScope(ctx context.Context, it groupItem) bool {
	root := scopeOf(ctx)
	return root == "" || slices.Contains(strings.Split(it.path(), treeSep), root)
}

// tenantWide refuses a scoped caller what belongs to the whole tenant.
func tenantWide(ctx context.Context) error {
	if scopeOf(ctx) != "" {
		return groups.ErrOutOfScope
	}
	return nil
}

// memberGuard is the condition a write of a group's members puts on the
// group: live, and, for a scoped caller, still where a read found it inside
// the subtree (ErrNotFound if it is not).
func (s *Store) memberGuard(ctx context.Context, tenant, groupID string) (expression.ConditionBuilder, error) {
	if scopeOf(ctx) == "" {
		return liveGroup, nil
	}
	g, err := s.liveGroupItem(ctx, tenant, groupID)
	if err != nil {
		return liveGroup, err
	}
	return atPath(g), nil
}

// AsSeen is g as ctx's caller sees it: a caller scoped to a subtree sees
// its root at top level (parentId null, depth 0) and the groups below it
// at their depth under the root, since the root's ancestors lie outside
// (404 for it). The group's version and ETag are the same for everyone.
func AsSeen(ctx context.Context, g groups.Group) groups.Group {
	root := scopeOf(ctx)
	if root == "" {
		return g
	}
	if i := slices.Index(g.Ancestors, root); i >= 0 {
		g.Ancestors = g.Ancestors[i:]
	} else {
		g.Ancestors = nil // the root itself, whose ancestors lie outside
	}
	return g
}
