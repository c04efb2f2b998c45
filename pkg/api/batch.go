package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
)

// batchEntry is one entry of add or remove in a bulk membership request.
type batchEntry struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

type batchResult struct {
	Op     string         `json:"op"`
	Type   string         `json:"type"`
	ID     string         `json:"id"`
	Result groups.Outcome `json:"result"`
	Error  string         `json:"error,omitempty"`
}

type batchView struct {
	Results []batchResult          `json:"results"`
	Summary map[groups.Outcome]int `json:"summary"`
}

// batchMembers: POST /v1/groups/{groupId}/members:batch with
// {"add":[{"type":…,"id":…}],"remove":[…]}, at most 100 entries in all. Each
// entry reports its own outcome (added, already_member, removed, not_member,
// invalid): 200 whenever any entry was valid, 400 when none was.
func (a *API) batchMembers(w http.ResponseWriter, r *http.Request, tenant string) error {
	id, err := groupID(r)
	if err != nil {
		return err
	}
	f, err := readFields(r)
	if err != nil {
		return err
	}
	adds, removes := f.rawList("add"), f.rawList("remove")
	f.rejectUnknown()
	switch n := len(adds) + len(removes); {
	case len(f.errs) > 0:
	case n == 0:
		f.fail("body", "add and/or remove must list at least one entry")
	case n > groups.MaxBatchEntries:
		f.fail("body", fmt.Sprintf("at most %d entries in add and remove together", groups.MaxBatchEntries))
	}
	if err := f.err(); err != nil {
		return err
	}

	results := make([]batchResult, 0, len(adds)+len(removes))
	var changes []groups.MemberChange
	var at []int // index in results of each change
	var invalid []groups.FieldError
	seen := map[groups.Item]bool{}
	for _, list := range []struct {
		op      string
		entries []json.RawMessage
	}{{"add", adds}, {"remove", removes}} {
		for i, raw := range list.entries {
			field := fmt.Sprintf("%s[%d]", list.op, i)
			e, it, msg := parseBatchEntry(raw)
			if msg == "" && seen[it] {
				msg = "the item appears more than once in the request"
			}
			res := batchResult{Op: list.op, Type: e.Type, ID: e.ID, Result: groups.Invalid, Error: msg}
			if msg != "" {
				invalid = append(invalid, groups.FieldError{Field: field, Message: msg})
			} else {
				seen[it] = true
				changes = append(changes, groups.MemberChange{Remove: list.op == "remove", Item: it})
				at = append(at, len(results))
			}
			results = append(results, res)
		}
	}
	if len(changes) == 0 {
		return groups.ValidationError(invalid)
	}
	outcomes, err := a.store.ApplyMemberChanges(r.Context(), tenant, id, changes)
	if err != nil {
		return err
	}
	view := batchView{Results: results, Summary: map[groups.Outcome]int{}}
	for _, o := range []groups.Outcome{groups.Added, groups.AlreadyMember, groups.Removed, groups.NotMember} {
		view.Summary[o] = 0
	}
	view.Summary[groups.Invalid] = len(invalid)
	for j, o := range outcomes {
		view.Results[at[j]].Result = o
		view.Summary[o]++
	}
	writeJSON(w, http.StatusOK, view)
	return nil
}

// parseBatchEntry decodes one entry strictly; msg says what is wrong with it.
func parseBatchEntry(raw json.RawMessage) (e batchEntry, it groups.Item, msg string) {
	e, err := decodeEntry[batchEntry](raw)
	if err != nil {
		return e, it, `must be an object {"type": "<item type>", "id": "<item id>"}`
	}
	t, err := groups.ParseItemType("type", e.Type)
	if err == nil {
		err = groups.ValidateID("id", e.ID)
	}
	if err != nil {
		var ge *groups.Error
		errors.As(err, &ge)
		return e, it, ge.Detail
	}
	return e, groups.Item{Type: t, ID: e.ID}, ""
}
