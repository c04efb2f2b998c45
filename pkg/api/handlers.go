package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/store"
)

// createGroup: POST /v1/groups.
func (a *API) createGroup(w http.ResponseWriter, r *http.Request, tenant string) error {
	if err := onlyParams(r); err != nil {
		return err
	}
	f, err := readFields(r)
	if err != nil {
		return err
	}
	var ng groups.NewGroup
	ng.ParentID, _ = f.parentID()
	if name := f.str("name", true); name != nil {
		ng.Name, err = groups.CleanName("name", *name)
		f.add(err)
	}
	if d := f.str("description", false); d != nil {
		ng.Description, err = groups.CleanDescription("description", *d)
		f.add(err)
	}
	ng.Attributes = f.strMap("attributes")
	f.errs = append(f.errs, groups.ValidateAttributes("attributes", ng.Attributes)...)
	for _, t := range groups.ItemTypes {
		for _, id := range f.strs(string(t)) {
			ng.Members = append(ng.Members, groups.Item{Type: t, ID: id})
		}
	}
	f.rejectUnknown()
	f.errs = append(f.errs, groups.ValidateInitialMembers(ng.Members)...)
	if err := f.err(); err != nil {
		return err
	}
	g, err := a.store.CreateGroup(r.Context(), tenant, ng)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/v1/groups/"+g.ID)
	writeGroup(w, r, http.StatusCreated, g)
	return nil
}

// getGroup: GET /v1/groups/{groupId}.
func (a *API) getGroup(w http.ResponseWriter, r *http.Request, tenant string) error {
	id, err := groupID(r)
	if err != nil {
		return err
	}
	ifNoneMatch, err := entityTags(r, "If-None-Match")
	if err != nil {
		return err
	}
	g, err := a.store.GetGroup(r.Context(), tenant, id)
	if err != nil {
		return err
	}
	if notModified(ifNoneMatch, g) {
		w.Header().Set("ETag", etag(g))
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	writeGroup(w, r, http.StatusOK, g)
	return nil
}

// updateGroup: PATCH /v1/groups/{groupId}. 200 with the group; 202 (with
// the group as it stands) when a move of more than groups.MaxMoveSize
// groups is still going on at the request's deadline.
func (a *API) updateGroup(w http.ResponseWriter, r *http.Request, tenant string) error {
	id, err := groupID(r)
	if err != nil {
		return err
	}
	f, err := readFields(r)
	if err != nil {
		return err
	}
	var p groups.GroupPatch
	if name := f.str("name", false); name != nil {
		clean, err := groups.CleanName("name", *name)
		f.add(err)
		p.Name = &clean
	}
	if d := f.str("description", false); d != nil {
		clean, err := groups.CleanDescription("description", *d)
		f.add(err)
		p.Description = &clean
	}
	attrs, clear, present := f.mergePatchMap("attributes")
	p.Attributes, p.ClearAttributes = attrs, clear
	f.errs = append(f.errs, groups.ValidateAttributePatch("attributes", attrs)...)
	if parent, moves := f.parentID(); moves {
		p.Parent = &parent
	}
	f.rejectUnknown()
	if p.Name == nil && p.Description == nil && !present && p.Parent == nil && len(f.errs) == 0 {
		f.fail("body", "must set name, description, attributes and/or parentId")
	}
	if err := f.err(); err != nil {
		return err
	}
	version, err := ifMatch(r)
	if err != nil {
		return err
	}
	g, err := a.store.UpdateGroup(r.Context(), tenant, id, p, version)
	// ErrMoveAccepted: a move of more groups than one transaction takes,
	// not finished in time, goes on with the next request that reaches the
	// subtree (this PATCH repeated, or a GET of the group).
	return writeGroupOrAccepted(w, r, g, err, store.ErrMoveAccepted)
}

// writeGroupOrAccepted answers a write of g: 200, or 202 with Retry-After
// when err is unfinished, the store's report of work that a repeated
// request carries on; any other error is the answer.
func writeGroupOrAccepted(w http.ResponseWriter, r *http.Request, g groups.Group, err, unfinished error) error {
	status := http.StatusOK
	switch {
	case errors.Is(err, unfinished):
		w.Header().Set("Retry-After", "1")
		status = http.StatusAccepted
	case err != nil:
		return err
	}
	writeGroup(w, r, status, g)
	return nil
}

// deleteGroup: DELETE /v1/groups/{groupId}, with ?cascade=true its whole
// subtree. 200 with the deleted group; 202 when the group is gone but its
// memberships are still being purged, or (cascade) part of its subtree is
// still there: repeat the DELETE to finish.
func (a *API) deleteGroup(w http.ResponseWriter, r *http.Request, tenant string) error {
	id, err := groupID(r, paramCascade)
	if err != nil {
		return err
	}
	cascade, err := boolParam(r, paramCascade)
	if err != nil {
		return err
	}
	version, err := ifMatch(r)
	if err != nil {
		return err
	}
	remove := a.store.DeleteGroup
	if cascade {
		remove = a.store.DeleteTree
	}
	g, err := remove(r.Context(), tenant, id, version)
	return writeGroupOrAccepted(w, r, g, err, store.ErrDeleteInProgress)
}

// listGroups: GET /v1/groups with the list parameters (listQuery); prefix
// is the deprecated name of search.
func (a *API) listGroups(w http.ResponseWriter, r *http.Request, tenant string) error {
	q, list, err := a.listQuery(r, tenant, "groups", listSpec{
		fields: store.GroupFields, aliases: map[string]string{"prefix": paramSearch}, byParent: true})
	if err != nil {
		return err
	}
	page, err := a.store.ListGroups(r.Context(), tenant, q)
	if err != nil {
		return err
	}
	return writePage(a, w, r, tenant, list, q, page, seenGroupView(r))
}

// listChildren: GET /v1/groups/{groupId}/children, the group's direct
// children in tree order, with the list parameters (listQuery) but sort.
func (a *API) listChildren(w http.ResponseWriter, r *http.Request, tenant string) error {
	return a.listSubtree(w, r, tenant, "children", a.store.ListChildren)
}

// listDescendants: GET /v1/groups/{groupId}/descendants, the group's whole
// subtree depth-first, with the list parameters (listQuery) but sort.
func (a *API) listDescendants(w http.ResponseWriter, r *http.Request, tenant string) error {
	return a.listSubtree(w, r, tenant, "descendants", a.store.ListDescendants)
}

func (a *API) listSubtree(w http.ResponseWriter, r *http.Request, tenant, kind string,
	list func(ctx context.Context, tenant, id string, q store.ListQuery) (store.Page[groups.Group], error)) error {
	id := r.PathValue("groupId")
	if err := groups.ValidateID("groupId", id); err != nil {
		return err
	}
	q, listID, err := a.listQuery(r, tenant, kind+":"+id, listSpec{fields: store.GroupFields, treeOrder: true})
	if err != nil {
		return err
	}
	page, err := list(r.Context(), tenant, id, q)
	if err != nil {
		return err
	}
	return writePage(a, w, r, tenant, listID, q, page, seenGroupView(r))
}

// getAncestors: GET /v1/groups/{groupId}/ancestors, the chain from the
// top-level group down to the group's parent.
func (a *API) getAncestors(w http.ResponseWriter, r *http.Request, tenant string) error {
	id, err := groupID(r)
	if err != nil {
		return err
	}
	chain, err := a.store.Ancestors(r.Context(), tenant, id)
	if err != nil {
		return err
	}
	out := listView[groupNameView]{Items: make([]groupNameView, len(chain))}
	for i, g := range chain {
		out.Items[i] = groupNameView{ID: g.ID, Name: g.Name}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// addMember: PUT /v1/groups/{groupId}/{itemType}/{itemId}. 201 when added,
// 200 when the item was already a member.
func (a *API) addMember(w http.ResponseWriter, r *http.Request, tenant string) error {
	id, it, err := memberPath(r)
	if err != nil {
		return err
	}
	m, created, err := a.store.AddMember(r.Context(), tenant, id, it)
	if err != nil {
		return err
	}
	writeUpserted(w, r, created, viewMember(m))
	return nil
}

// removeMember: DELETE /v1/groups/{groupId}/{itemType}/{itemId}.
func (a *API) removeMember(w http.ResponseWriter, r *http.Request, tenant string) error {
	id, it, err := memberPath(r)
	if err != nil {
		return err
	}
	if err := a.store.RemoveMember(r.Context(), tenant, id, it); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// listMembers: GET /v1/groups/{groupId}/members (every type) and
// GET /v1/groups/{groupId}/{itemType}, with the list parameters (listQuery).
// With include=item each member carries its registered name and enterprise
// (one BatchGetItem per page).
func (a *API) listMembers(w http.ResponseWriter, r *http.Request, tenant string) error {
	id := r.PathValue("groupId")
	if err := groups.ValidateID("groupId", id); err != nil {
		return err
	}
	var t groups.ItemType // "" lists every type
	if name := r.PathValue("itemType"); name != "" {
		var err error
		if t, err = groups.ParseItemType("itemType", name); err != nil {
			return err
		}
	}
	include, err := includeItem(r)
	if err != nil {
		return err
	}
	scope, err := oneOf(r, paramScope, `must be "group" or "subtree"`, "group", "subtree")
	if err != nil {
		return err
	}
	list := "members:" + id + ":" + string(t)
	if scope == "subtree" {
		list += ":subtree" // scope changes the entries: cursors are bound to it
	}
	q, list, err := a.listQuery(r, tenant, list, listSpec{fields: store.MemberFields, extra: []string{paramInclude, paramScope}})
	if err != nil {
		return err
	}
	if scope == "subtree" {
		return a.listSubtreeMembers(w, r, tenant, id, t, q, list, include)
	}
	page, err := a.store.ListMembers(r.Context(), tenant, id, t, q)
	if err != nil {
		return err
	}
	sums, err := itemSummaries(a, r, tenant, include, page.Items, func(m groups.Membership) groups.Item { return m.Item })
	if err != nil {
		return err
	}
	return writePage(a, w, r, tenant, list, q, page, func(m groups.Membership) memberView {
		v := viewMember(m)
		v.Item = sums[m.Item]
		return v
	})
}

// listSubtreeMembers answers list-members ?scope=subtree: each distinct
// item of the group's subtree once, with the groups holding it (via). It
// pages by cursor only, in member order, and has no total.
func (a *API) listSubtreeMembers(w http.ResponseWriter, r *http.Request, tenant, id string, t groups.ItemType, q store.ListQuery, list string, include bool) error {
	var errs []groups.FieldError
	if q.PageNumber > 0 {
		errs = append(errs, groups.FieldError{Field: paramPage, Message: "is not supported with scope=subtree: paginate by cursor (limit, cursor)"})
	}
	if q.Sort.Field == store.SortCreated {
		errs = append(errs, groups.FieldError{Field: paramSort, Message: "is not supported with scope=subtree: members come in member order (type, then id)"})
	}
	if q.Count {
		errs = append(errs, groups.FieldError{Field: paramCount, Message: "is not supported with scope=subtree"})
	}
	if err := groups.ValidationError(errs); err != nil {
		return err
	}
	page, err := a.store.ListSubtreeMembers(r.Context(), tenant, id, t, q)
	if err != nil {
		return err
	}
	sums, err := itemSummaries(a, r, tenant, include, page.Items, func(m groups.SubtreeMember) groups.Item { return m.Item })
	if err != nil {
		return err
	}
	return writePage(a, w, r, tenant, list, q, page, func(m groups.SubtreeMember) subtreeMemberView {
		return subtreeMemberView{ItemType: m.Item.Type, ItemID: m.Item.ID, Via: m.Via, ViaCount: m.ViaCount, Item: sums[m.Item]}
	})
}

const paramInclude = "include"

// includeItem reads include=item, the only include there is.
func includeItem(r *http.Request) (bool, error) {
	v, err := oneOf(r, paramInclude, `must be "item"`, "item")
	return v == "item", err
}

// itemSummaries reads, for include=item, the registrations of the items of
// a page's entries (item names each entry's item): a summary per item that
// is registered. Without include it reads nothing.
func itemSummaries[T any](a *API, r *http.Request, tenant string, include bool, entries []T, item func(T) groups.Item) (map[groups.Item]*itemSummary, error) {
	sums := map[groups.Item]*itemSummary{}
	if !include {
		return sums, nil
	}
	items := make([]groups.Item, len(entries))
	for i, e := range entries {
		items[i] = item(e)
	}
	registered, err := a.store.RegisteredItems(r.Context(), tenant, items)
	for it, ri := range registered {
		sums[it] = &itemSummary{Name: ri.Name, Enterprise: ri.Enterprise}
	}
	return sums, err
}

// paramCascade asks delete-group to delete the group's whole subtree.
const paramCascade = "cascade"

// boolParam is the query parameter name: true or false, false when absent.
func boolParam(r *http.Request, name string) (bool, error) {
	v, err := oneOf(r, name, "must be true or false", "true", "false")
	return v == "true", err
}

// oneOf is the query parameter name, "" when absent; a value not among
// values is a 400 saying must.
func oneOf(r *http.Request, name, must string, values ...string) (string, error) {
	v, ok := r.URL.Query()[name]
	if !ok {
		return "", nil
	}
	if !slices.Contains(values, v[0]) {
		return "", fieldErrorf(name, "%s", must)
	}
	return v[0], nil
}

// listItemGroups: GET /v1/{itemType}/{itemId}/groups.
func (a *API) listItemGroups(w http.ResponseWriter, r *http.Request, tenant string) error {
	it, err := itemPath(r, paramLimit, paramCursor, paramScope)
	if err != nil {
		return err
	}
	scope, err := oneOf(r, paramScope, `must be "direct" or "effective"`, "direct", "effective")
	if err != nil {
		return err
	}
	list := "item-groups:" + string(it.Type) + ":" + it.ID
	if scope == "effective" {
		list += ":effective"
	}
	pr, err := a.pageRequest(r, tenant, list)
	if err != nil {
		return err
	}
	if scope == "effective" {
		page, err := a.store.EffectiveGroups(r.Context(), tenant, it, pr)
		if err != nil {
			return err
		}
		return writePage(a, w, r, tenant, list, store.ListQuery{PageRequest: pr}, page, viewEffectiveGroup)
	}
	page, err := a.store.ListItemGroups(r.Context(), tenant, it, pr)
	if err != nil {
		return err
	}
	return writePage(a, w, r, tenant, list, store.ListQuery{PageRequest: pr}, page, viewGroupRef)
}

// paramScope picks list-item-groups' groups: those holding the item
// (direct, the default) or every group it is an effective member of.
const paramScope = "scope"

// checkMembership: POST /v1/{itemType}/{itemId}/groups:check with
// {"groupIds": [...]} (1–100): one result per id, in order. An id that is
// not a valid group id, or names no group of the tenant, gets an error of
// its own; the call succeeds.
func (a *API) checkMembership(w http.ResponseWriter, r *http.Request, tenant string) error {
	it, err := itemPath(r)
	if err != nil {
		return err
	}
	f, err := readFields(r)
	if err != nil {
		return err
	}
	ids := f.strs("groupIds")
	if _, given := f.obj["groupIds"]; !given {
		f.fail("groupIds", "is required")
	} else if len(f.errs) == 0 && (len(ids) == 0 || len(ids) > groups.MaxCheckGroups) {
		f.fail("groupIds", fmt.Sprintf("must hold 1–%d group ids", groups.MaxCheckGroups))
	}
	f.rejectUnknown()
	if err := f.err(); err != nil {
		return err
	}
	out := make([]checkResultView, len(ids))
	var valid []string
	for i, id := range ids {
		out[i].GroupID = id
		if err := groups.ValidateID("groupIds", id); err != nil {
			out[i].Error = &entryProblem{Code: groups.CodeInvalidArgument, Detail: "not a group id: " + groups.FieldsOf(err)[0].Message}
			continue
		}
		valid = append(valid, id)
	}
	results, err := a.store.CheckMembership(r.Context(), tenant, it, valid)
	if err != nil {
		return err
	}
	for i, j := 0, 0; i < len(out); i++ {
		if out[i].Error == nil {
			out[i] = viewCheckResult(results[j])
			j++
		}
	}
	writeJSON(w, http.StatusOK, checkResultsView{Results: out})
	return nil
}

// groupID is the request's valid {groupId}; params are the query parameters
// the operation accepts (none unless named).
// pathItemType is the item type of a route registered once per type
// (/v1/vehicles/...): the path's first segment after /v1/.
func pathItemType(r *http.Request) (groups.ItemType, error) {
	rest, _ := strings.CutPrefix(r.URL.Path, "/v1/")
	name, _, _ := strings.Cut(rest, "/")
	return groups.ParseItemType("itemType", name)
}

// itemPath is the valid item of a /v1/{itemType}/{itemId}... route; params
// are the query parameters the operation accepts.
func itemPath(r *http.Request, params ...string) (groups.Item, error) {
	it, err := pathItem(r)
	if err != nil {
		return groups.Item{}, err
	}
	return it, onlyParams(r, params...)
}

// pathItem is the request's valid {itemType} and {itemId}.
func pathItem(r *http.Request) (groups.Item, error) {
	t, err := pathItemType(r)
	if err != nil {
		return groups.Item{}, err
	}
	it := groups.Item{Type: t, ID: r.PathValue("itemId")}
	return it, groups.ValidateID("itemId", it.ID)
}

func groupID(r *http.Request, params ...string) (string, error) {
	id := r.PathValue("groupId")
	if err := groups.ValidateID("groupId", id); err != nil {
		return "", err
	}
	return id, onlyParams(r, params...)
}

// memberPath is the request's valid {groupId}, {itemType} and {itemId}.
func memberPath(r *http.Request) (string, groups.Item, error) {
	id, err := groupID(r)
	if err != nil {
		return "", groups.Item{}, err
	}
	t, err := groups.ParseItemType("itemType", r.PathValue("itemType"))
	if err != nil {
		return "", groups.Item{}, err
	}
	it := groups.Item{Type: t, ID: r.PathValue("itemId")}
	return id, it, groups.ValidateID("itemId", it.ID)
}

// onlyParams rejects query parameters the operation does not know, so that a
// misspelt one (limt=5) is an error rather than silently ignored.
func onlyParams(r *http.Request, allowed ...string) error {
	var errs []groups.FieldError
	for k := range r.URL.Query() {
		if !slices.Contains(allowed, k) {
			errs = append(errs, groups.FieldError{Field: k, Message: "is not a known query parameter"})
		}
	}
	return groups.ValidationError(errs)
}

// Every list accepts limit and cursor.
const paramLimit, paramCursor = "limit", "cursor"

// pageRequest reads limit (1–100, default 100) and cursor.
func (a *API) pageRequest(r *http.Request, tenant, list string) (store.PageRequest, error) {
	q := r.URL.Query()
	pr := store.PageRequest{Limit: groups.DefaultPageSize}
	if s, ok := q[paramLimit]; ok {
		n, err := strconv.Atoi(s[0])
		if err != nil || n < 1 || n > groups.MaxPageSize {
			return pr, fieldErrorf("limit", "must be one whole number from 1 to %d", groups.MaxPageSize)
		}
		pr.Limit = n
	}
	if c := q.Get(paramCursor); c != "" {
		after, err := a.cursors.open(r.Context(), c, tenant, list)
		if err != nil {
			return pr, err
		}
		pr.After = after
	} else if _, ok := q[paramCursor]; ok {
		return pr, errInvalidCursor
	}
	return pr, nil
}

// writePage answers a page of a list, sealing its next position as the
// cursor; a page-number page (q.PageNumber) also says where it is.
func writePage[T, V any](a *API, w http.ResponseWriter, r *http.Request, tenant, list string, q store.ListQuery, page store.Page[T], view func(T) V) error {
	out := listView[V]{Items: make([]V, len(page.Items)), TotalCount: page.Total}
	for i, it := range page.Items {
		out.Items[i] = view(it)
	}
	if q.PageNumber > 0 {
		total := 0
		if page.Total != nil {
			total = *page.Total
		}
		out.PageNumbers = &PageNumbers{Page: q.PageNumber, PerPage: q.Limit,
			TotalPages: (total + q.Limit - 1) / q.Limit, ResponseCount: len(out.Items)}
	}
	if page.Next != nil {
		c, err := a.cursors.seal(r.Context(), cursorPayload{Tenant: tenant, List: list, After: page.Next})
		if err != nil {
			return err
		}
		out.NextCursor = c
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
