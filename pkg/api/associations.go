package api

import (
	"fmt"
	"net/http"

	"golang.org/x/sync/errgroup"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/store"
)

// Association resources use the field names fleet platforms expose them
// with: snake_case, "user_permission". A listed association has every field;
// an entry result leaves out what its entry does not know (a rejected entry
// has no id or created_at), rather than sending "".

type associationView struct {
	ID        string       `json:"id,omitempty"`
	Type      string       `json:"type,omitempty"`
	VehicleID string       `json:"vehicle_id,omitempty"`
	UserID    string       `json:"user_id,omitempty"`
	CreatedAt string       `json:"created_at,omitempty"`
	Vehicle   *itemSummary `json:"vehicle,omitempty"`
	User      *itemSummary `json:"user,omitempty"`
}

func viewAssociation(a groups.Association) associationView {
	return associationView{ID: a.ID, Type: groups.AssociationType, VehicleID: a.VehicleID, UserID: a.UserID, CreatedAt: rfc3339(a.CreatedAt)}
}

// entryResult is the outcome of one entry of an association request.
type entryResult struct {
	associationView
	Status string        `json:"status"` // created, already_exists, deleted or rejected
	Error  *entryProblem `json:"error,omitempty"`
}

type entryProblem struct {
	Code   groups.Code `json:"code"`
	Detail string      `json:"detail"`
}

type entriesView struct {
	Data []entryResult `json:"data"`
}

// maxParallelWrites bounds the transactions one request runs at once.
const maxParallelWrites = 8

// writers runs a request's independent writes, maxParallelWrites at a time;
// Wait returns the first error.
func writers() *errgroup.Group {
	g := new(errgroup.Group)
	g.SetLimit(maxParallelWrites)
	return g
}

// readEntries reads {"data":[…]} with 1–100 entries, decoding each strictly
// into a fresh E; a malformed entry is reported through bad, by index.
func readEntries[E any](r *http.Request) (entries []E, bad map[int]string, err error) {
	f, err := readFields(r)
	if err != nil {
		return nil, nil, err
	}
	data := f.rawList("data")
	if _, ok := f.obj["data"]; !ok {
		f.fail("data", "is required")
	}
	f.rejectUnknown()
	if len(f.errs) == 0 && (len(data) == 0 || len(data) > groups.MaxAssociationEntries) {
		f.fail("data", fmt.Sprintf("must hold 1–%d entries", groups.MaxAssociationEntries))
	}
	if err := f.err(); err != nil {
		return nil, nil, err
	}
	entries, bad = make([]E, len(data)), map[int]string{}
	for i, raw := range data {
		if entries[i], err = decodeEntry[E](raw); err != nil {
			bad[i] = "must be an object with the documented fields only"
		}
	}
	return entries, bad, nil
}

// answerEntries picks the status of a per-entry response: every entry
// rejected is a problem (400, or allRejected's status), some rejected is
// 207 Multi-Status, none rejected is ok.
func answerEntries(w http.ResponseWriter, results []entryResult, ok int, allRejected groups.Code) error {
	var fields []groups.FieldError
	sameCode := true
	for i, res := range results {
		if res.Status == "rejected" {
			fields = append(fields, groups.FieldError{Field: fmt.Sprintf("data[%d]", i), Message: res.Error.Detail})
			sameCode = sameCode && res.Error.Code == allRejected
		}
	}
	switch {
	case len(fields) == len(results):
		code := allRejected
		if !sameCode {
			code = groups.CodeInvalidArgument
		}
		return &groups.Error{Code: code, Detail: "every entry was rejected", Fields: fields}
	case len(fields) > 0:
		ok = http.StatusMultiStatus
	}
	writeJSON(w, ok, entriesView{Data: results})
	return nil
}

func reject(res *entryResult, code groups.Code, detail string) {
	res.Status, res.Error = "rejected", &entryProblem{Code: code, Detail: detail}
}

// createAssociations: POST /v1/vehicles/associations/users with
// {"data":[{"vehicle_id":…,"user_id":…}]}. Entries whose vehicle and user are
// registered with different enterprises are rejected (different_enterprises);
// each entry reports created, already_exists or rejected. 201 when all were
// created, 200 when none was new, 207 when some were rejected, 400 when all.
func (a *API) createAssociations(w http.ResponseWriter, r *http.Request, tenant string) error {
	if err := onlyParams(r); err != nil {
		return err
	}
	type entry struct {
		VehicleID string `json:"vehicle_id"`
		UserID    string `json:"user_id"`
	}
	entries, bad, err := readEntries[entry](r)
	if err != nil {
		return err
	}
	results := make([]entryResult, len(entries))
	var items []groups.Item
	seen := map[entry]bool{}
	for i, e := range entries {
		res := &results[i]
		res.Type, res.VehicleID, res.UserID = groups.AssociationType, e.VehicleID, e.UserID
		switch {
		case bad[i] != "":
			reject(res, groups.CodeInvalidArgument, bad[i])
		case groups.ValidateID("vehicle_id", e.VehicleID) != nil || groups.ValidateID("user_id", e.UserID) != nil:
			reject(res, groups.CodeInvalidArgument, "vehicle_id and user_id must be 1–128 letters, digits or -_.:@")
		case seen[e]:
			reject(res, groups.CodeInvalidArgument, "the pair appears more than once in the request")
		default:
			seen[e] = true
			items = append(items, groups.Item{Type: groups.Vehicles, ID: e.VehicleID}, groups.Item{Type: groups.Users, ID: e.UserID})
		}
	}
	registered, err := a.registeredItems(r, tenant, items)
	if err != nil {
		return err
	}
	writes := writers()
	for i := range results {
		res := &results[i]
		if res.Status != "" {
			continue
		}
		v := registered[groups.Item{Type: groups.Vehicles, ID: res.VehicleID}]
		u := registered[groups.Item{Type: groups.Users, ID: res.UserID}]
		if v.Enterprise != "" && u.Enterprise != "" && v.Enterprise != u.Enterprise {
			reject(res, groups.CodeDifferentEnterprises, fmt.Sprintf("vehicle %s belongs to %q, user %s to %q", v.ID, v.Enterprise, u.ID, u.Enterprise))
			continue
		}
		writes.Go(func() error { // each write fills in its own entry's result
			asc, isNew, err := a.store.CreateAssociation(r.Context(), tenant, res.VehicleID, res.UserID)
			if err != nil {
				return err
			}
			res.associationView, res.Status = viewAssociation(asc), "already_exists"
			if isNew {
				res.Status = "created"
			}
			return nil
		})
	}
	if err := writes.Wait(); err != nil {
		return err
	}
	created := 0
	for _, res := range results {
		if res.Status == "created" {
			created++
		}
	}
	status := http.StatusOK
	if created > 0 {
		status = http.StatusCreated
	}
	return answerEntries(w, results, status, groups.CodeDifferentEnterprises)
}

// registeredItems reads the registrations of any number of items, 100 per
// BatchGetItem.
func (a *API) registeredItems(r *http.Request, tenant string, items []groups.Item) (map[groups.Item]groups.RegisteredItem, error) {
	all := map[groups.Item]groups.RegisteredItem{}
	for start := 0; start < len(items); start += 100 {
		got, err := a.store.RegisteredItems(r.Context(), tenant, items[start:min(start+100, len(items))])
		if err != nil {
			return nil, err
		}
		for k, v := range got {
			all[k] = v
		}
	}
	return all, nil
}

// deleteAssociations: DELETE /v1/vehicles/associations/users with
// {"data":[{"type":"user_permission","id":…}]}. Unknown ids are rejected with
// association_not_found (404 when every id is unknown, 207 when some are).
func (a *API) deleteAssociations(w http.ResponseWriter, r *http.Request, tenant string) error {
	if err := onlyParams(r); err != nil {
		return err
	}
	type entry struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	}
	entries, bad, err := readEntries[entry](r)
	if err != nil {
		return err
	}
	results := make([]entryResult, len(entries))
	var ids []string
	for i, e := range entries {
		res := &results[i]
		res.Type, res.ID = e.Type, e.ID
		switch {
		case bad[i] != "":
			reject(res, groups.CodeInvalidArgument, bad[i])
		case e.Type != groups.AssociationType:
			reject(res, groups.CodeInvalidArgument, `type must be "`+groups.AssociationType+`"`)
		case groups.ValidateID("id", e.ID) != nil:
			reject(res, groups.CodeAssociationNotFound, "no association with this id")
		default:
			ids = append(ids, e.ID)
		}
	}
	found, err := a.store.Associations(r.Context(), tenant, ids)
	if err != nil {
		return err
	}
	writes := writers()
	deleted := map[string]bool{}
	for i := range results {
		res := &results[i]
		asc, ok := found[res.ID]
		switch {
		case res.Status != "":
			continue
		case !ok || deleted[res.ID]:
			reject(res, groups.CodeAssociationNotFound, "no association with this id")
			continue
		}
		deleted[res.ID] = true
		writes.Go(func() error { // each write fills in its own entry's result
			switch err := a.store.DeleteAssociation(r.Context(), tenant, asc); groups.CodeOf(err) {
			case "":
				res.associationView, res.Status = viewAssociation(asc), "deleted"
			case groups.CodeAssociationNotFound:
				reject(res, groups.CodeAssociationNotFound, "no association with this id")
			default:
				return err
			}
			return nil
		})
	}
	if err := writes.Wait(); err != nil {
		return err
	}
	return answerEntries(w, results, http.StatusOK, groups.CodeAssociationNotFound)
}

// listAssociations: GET /v1/vehicles/{itemId}/associations/users and
// GET /v1/users/{itemId}/associations/vehicles, one Query each; include=item
// adds the other side's registered name and enterprise (one BatchGetItem).
func (a *API) listAssociations(w http.ResponseWriter, r *http.Request, tenant string) error {
	from, err := pathItem(r)
	if err != nil {
		return err
	}
	to := groups.Users
	if from.Type == groups.Users {
		to = groups.Vehicles
	}
	include, err := includeItem(r)
	if err != nil {
		return err
	}
	q, list, err := a.listQuery(r, tenant, "associations:"+string(from.Type)+":"+from.ID,
		listSpec{fields: store.AssociationFields, extra: []string{paramInclude}})
	if err != nil {
		return err
	}
	page, err := a.store.ListAssociations(r.Context(), tenant, from, to, q)
	if err != nil {
		return err
	}
	other := func(asc groups.Association) groups.Item {
		if to == groups.Users {
			return groups.Item{Type: groups.Users, ID: asc.UserID}
		}
		return groups.Item{Type: groups.Vehicles, ID: asc.VehicleID}
	}
	sums, err := itemSummaries(a, r, tenant, include, page.Items, other)
	if err != nil {
		return err
	}
	return writePage(a, w, r, tenant, list, q, page, func(asc groups.Association) associationView {
		v := viewAssociation(asc)
		if sum := sums[other(asc)]; sum != nil {
			if to == groups.Users {
				v.User = sum
			} else {
				v.Vehicle = sum
			}
		}
		return v
	})
}
