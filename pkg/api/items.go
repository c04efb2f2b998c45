package api

import (
	"net/http"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/store"
)

// putItem: PUT /v1/{itemType}/{itemId}. 201 when the item was registered,
// 200 when its registration was replaced.
func (a *API) putItem(w http.ResponseWriter, r *http.Request, tenant string) error {
	it, err := itemPath(r)
	if err != nil {
		return err
	}
	f, err := readFields(r)
	if err != nil {
		return err
	}
	ri := groups.RegisteredItem{Item: it}
	if name := f.str("name", true); name != nil {
		ri.Name, err = groups.CleanItemName("name", *name)
		f.add(err)
	}
	if e := f.str("enterprise", false); e != nil {
		ri.Enterprise, err = groups.CleanEnterprise("enterprise", *e)
		f.add(err)
	}
	ri.Attributes = f.strMap("attributes")
	f.errs = append(f.errs, groups.ValidateAttributes("attributes", ri.Attributes)...)
	f.rejectUnknown()
	if err := f.err(); err != nil {
		return err
	}
	out, created, err := a.store.PutRegisteredItem(r.Context(), tenant, ri)
	if err != nil {
		return err
	}
	writeUpserted(w, r, created, viewItem(out))
	return nil
}

// getItem: GET /v1/{itemType}/{itemId}.
func (a *API) getItem(w http.ResponseWriter, r *http.Request, tenant string) error {
	it, err := itemPath(r)
	if err != nil {
		return err
	}
	ri, err := a.store.GetRegisteredItem(r.Context(), tenant, it)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewItem(ri))
	return nil
}

// deleteItem: DELETE /v1/{itemType}/{itemId}. The item leaves every group
// (counts stay exact), loses its associations, and its registration goes;
// 404 if it had none of these.
func (a *API) deleteItem(w http.ResponseWriter, r *http.Request, tenant string) error {
	it, err := itemPath(r)
	if err != nil {
		return err
	}
	left, assocs, err := a.store.DeleteRegisteredItem(r.Context(), tenant, it)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, deletedItemView{ItemType: it.Type, ItemID: it.ID, RemovedFromGroups: left, RemovedAssociations: assocs})
	return nil
}

// listItems: GET /v1/{itemType}: the registered items of a type.
func (a *API) listItems(w http.ResponseWriter, r *http.Request, tenant string) error {
	t, err := pathItemType(r)
	if err != nil {
		return err
	}
	q, list, err := a.listQuery(r, tenant, "items:"+string(t), listSpec{fields: store.ItemFields})
	if err != nil {
		return err
	}
	page, err := a.store.ListRegisteredItems(r.Context(), tenant, t, q)
	if err != nil {
		return err
	}
	return writePage(a, w, r, tenant, list, q, page, viewItem)
}
