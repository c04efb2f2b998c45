package groups

import (
	"encoding/json"
	"time"
)

// Issue 9: the change feed.

// EventType names what a change event says happened.
type EventType string

// The event types, defined once: the publisher writes them, the feed's
// types= filter and the OpenAPI document accept exactly these.
const (
	GroupCreated           EventType = "group.created"
	GroupUpdated           EventType = "group.updated"
	GroupMoved             EventType = "group.moved"
	GroupDeleted           EventType = "group.deleted"
	MemberAdded            EventType = "member.added"
	MemberRemoved          EventType = "member.removed"
	EffectiveMemberAdded   EventType = "effective_member.added"
	EffectiveMemberRemoved EventType = "effective_member.removed"
	ItemPut                EventType = "item.put"
	ItemDeleted            EventType = "item.deleted"
	AssociationCreated     EventType = "association.created"
	AssociationDeleted     EventType = "association.deleted"
)

// EventTypes lists every event type in the order the API documents them.
var EventTypes = []EventType{
	GroupCreated, GroupUpdated, GroupMoved, GroupDeleted,
	MemberAdded, MemberRemoved, EffectiveMemberAdded, EffectiveMemberRemoved,
	ItemPut, ItemDeleted, AssociationCreated, AssociationDeleted, WebhookDisabled,
}

// Event is one committed change as the feed shows it. Its ID is derived
// from the change's stream record, so that a record published twice (the
// feed is at-least-once) gives the same id both times, and a receiver drops
// the repeat by id. Data is the type's own document (docs/changes.md).
type Event struct {
	ID   string
	Type EventType
	Time time.Time
	Data json.RawMessage
}

// Change retention and settling, which the feed's cursors obey.
const (
	// ChangeRetention is how long the feed keeps an event; a cursor older
	// than that is expired (410 cursor_expired).
	ChangeRetention = 30 * 24 * time.Hour
	// ChangeSettleWindow is how far behind the present the feed stops: an
	// event is published at the position of its publishing time, and the
	// publisher rewrites at a fresh position whatever it could not write
	// within ChangePublishBudget, so that nothing lands behind a cursor.
	ChangeSettleWindow = 500 * time.Millisecond
	// ChangePublishBudget is how long a batch of events may take to write
	// at its position; the rest of the window is the allowance for the
	// clocks of the publisher and the reader to differ.
	ChangePublishBudget = 350 * time.Millisecond
)

// ErrCursorExpired answers a feed cursor older than ChangeRetention.
var ErrCursorExpired = &Error{Code: CodeCursorExpired,
	Detail: "the cursor is older than the feed keeps events (30 days): resync by reading the lists, then follow the feed from GET /v1/changes?start=now"}
