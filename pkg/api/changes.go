package api

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/store"
)

// Issue 9: the change feed.

// The feed's own query parameters, besides limit and cursor: types=
// (comma-separated event types) and start=now.
const (
	paramTypes = "types"
	paramStart = "start"
)

// changesList is the list id the feed's cursors are bound to. A position
// is a place in the tenant's whole feed, whatever the types asked for, so
// a client may change its types and go on from its cursor.
const changesList = "changes"

// listChanges: GET /v1/changes. The page holds the events after the cursor
// up to the feed's settling window; next_cursor is always there, and a
// page shorter than limit means the client is up to date and polls again
// later from next_cursor. start=now answers an empty page whose cursor
// starts at the present, for a client that has just taken a snapshot.
func (a *API) listChanges(w http.ResponseWriter, r *http.Request, tenant string) error {
	if err := onlyParams(r, paramLimit, paramCursor, paramTypes, paramStart); err != nil {
		return err
	}
	pr, err := a.pageRequest(r, tenant, changesList)
	if err != nil {
		return err
	}
	params := r.URL.Query()
	if start, ok := params[paramStart]; ok {
		switch {
		case start[0] != "now":
			return fieldErrorf(paramStart, `must be "now"`)
		case pr.After != nil:
			return fieldErrorf(paramStart, "cannot be given with cursor: a cursor already says where to start")
		}
		page := store.Page[groups.Event]{Items: []groups.Event{}, Next: a.store.ChangesNow()}
		return writePage(a, w, r, tenant, changesList, store.ListQuery{PageRequest: pr}, page, viewEvent)
	}
	types, err := eventTypes(params)
	if err != nil {
		return err
	}
	page, err := a.store.ListChanges(r.Context(), tenant, store.ChangeQuery{Limit: pr.Limit, Types: types, After: pr.After})
	if err != nil {
		return err
	}
	return writePage(a, w, r, tenant, changesList, store.ListQuery{PageRequest: pr}, page, viewEvent)
}

// eventTypes reads types=: event types separated by commas (or types=
// given more than once), each known.
func eventTypes(params map[string][]string) ([]groups.EventType, error) {
	v, ok := params[paramTypes]
	if !ok {
		return nil, nil
	}
	var types []groups.EventType
	for t := range strings.SplitSeq(strings.Join(v, ","), ",") {
		et := groups.EventType(strings.TrimSpace(t))
		if !slices.Contains(groups.EventTypes, et) {
			return nil, fieldErrorf(paramTypes, "%q is not an event type: give one or more of %s, separated by commas", string(et), eventTypeNames())
		}
		if !slices.Contains(types, et) {
			types = append(types, et)
		}
	}
	return types, nil
}

// eventTypeNames lists the event types for an error's detail.
func eventTypeNames() string {
	names := make([]string, len(groups.EventTypes))
	for i, t := range groups.EventTypes {
		names[i] = string(t)
	}
	return strings.Join(names, ", ")
}

// eventView is an event as the feed and webhooks show it.
type eventView struct {
	ID   string           `json:"id"`
	Type groups.EventType `json:"type"`
	Time time.Time        `json:"time"`
	Data json.RawMessage  `json:"data"`
}

func viewEvent(e groups.Event) eventView {
	return eventView{ID: e.ID, Type: e.Type, Time: e.Time, Data: e.Data}
}
