package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/routes"
	"github.com/fleetgroups/fleetgroups/pkg/store"
)

// pageSize is the page every list asks for.
const pageSize = 50

// An operation of the mix: how often it is drawn (weights sum to 100), and
// one call of it over HTTP and straight through the store, which makes the
// same DynamoDB requests without HTTP, the gateway, the authorizer,
// metering and the handler.
type operation struct {
	name   routes.Operation
	weight int
	http   func(w *worker) error
	direct func(w *worker) error
}

// mix is 70 % reads and 30 % writes.
var mix = []operation{
	{routes.GetGroup, 20, (*worker).httpGetGroup, (*worker).directGetGroup},
	{routes.ListMembers, 15, (*worker).httpListMembers, (*worker).directListMembers},
	{routes.ListItemGroups, 10, (*worker).httpListItemGroups, (*worker).directListItemGroups},
	{routes.ListGroups, 10, (*worker).httpListGroups, (*worker).directListGroups},
	{routes.GetItem, 15, (*worker).httpGetItem, (*worker).directGetItem},
	{routes.AddMember, 9, (*worker).httpAddMember, (*worker).directAddMember},
	{routes.RemoveMember, 6, (*worker).httpRemoveMember, (*worker).directRemoveMember},
	{routes.UpdateGroup, 5, (*worker).httpUpdateGroup, (*worker).directUpdateGroup},
	{routes.PutItem, 6, (*worker).httpPutItem, (*worker).directPutItem},
	{routes.BatchMembers, 4, (*worker).httpBatchMembers, (*worker).directBatchMembers},
}

// worker is one client of the load. It writes memberships only to its own
// group, adding fresh items and removing those it added, so that every
// write succeeds; other workers' reads see that group too. update-group
// leaves the workers' groups alone: a plain UpdateItem racing a
// transaction on the same item may be refused (TransactionConflict).
type worker struct {
	root    context.Context
	ctx     context.Context // root, naming the operation running (see opContext)
	id      int
	rng     *rand.Rand
	tenant  *tenantData
	group   string   // the group it writes members to
	others  []string // the groups update-group changes
	added   []groups.Item
	next    int // fresh items made so far
	client  *http.Client
	base    string
	st      *store.Store
	phase   string // "h" or "d", in the ids of its fresh items
	samples map[routes.Operation][]time.Duration
	errs    []callError
	op      routes.Operation // the operation running
}

// callError is a call that failed.
type callError struct {
	op  routes.Operation
	msg string
}

// draw picks the next operation by weight.
func (w *worker) draw() operation {
	n := w.rng.IntN(100)
	for _, op := range mix {
		if n -= op.weight; n < 0 {
			return op
		}
	}
	panic("mix weights do not sum to 100")
}

// time runs one request of the running operation and keeps its latency;
// a failure is kept as an error instead.
func (w *worker) time(call func() error) error {
	w.ctx = opContext(w.root, w.op)
	start := time.Now()
	err := call()
	if err != nil {
		w.errs = append(w.errs, callError{w.op, fmt.Sprintf("%s: %v", w.op, err)})
		return err
	}
	w.samples[w.op] = append(w.samples[w.op], time.Since(start))
	return nil
}

func (w *worker) randomGroup() string { return w.tenant.groups[w.rng.IntN(len(w.tenant.groups))] }
func (w *worker) pooledItem() groups.Item {
	return item(w.rng.IntN(w.tenant.pool))
}
func (w *worker) registeredItem() groups.Item { return item(w.rng.IntN(w.tenant.registered)) }

// fresh is an item no one else adds: the phase and worker are in its id.
func (w *worker) fresh() groups.Item {
	w.next++
	return groups.Item{Type: groups.Devices, ID: fmt.Sprintf("lb-%s-%03d-%07d", w.phase, w.id, w.next)}
}

// toRemove is an item the worker added, which it forgets; ok is false when
// it has none.
func (w *worker) toRemove() (groups.Item, bool) {
	if len(w.added) == 0 {
		return groups.Item{}, false
	}
	it := w.added[len(w.added)-1]
	w.added = w.added[:len(w.added)-1]
	return it, true
}

// send makes one HTTP request as the tenant and decodes a JSON answer into
// out (when not nil); any status but 2xx is an error.
func (w *worker) send(method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(w.ctx, method, w.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+w.tenant.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := w.client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %d %s", method, path, res.StatusCode, raw)
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

func (w *worker) httpGetGroup() error {
	return w.time(func() error { return w.send("GET", "/v1/groups/"+w.randomGroup(), nil, nil) })
}

func (w *worker) directGetGroup() error {
	return w.time(func() error {
		_, err := w.st.GetGroup(w.ctx, w.tenant.id, w.randomGroup())
		return err
	})
}

// membersType is the list list-members reads: every type or vehicles, in
// turn.
func (w *worker) membersType() groups.ItemType {
	if w.rng.IntN(2) == 0 {
		return ""
	}
	return groups.Vehicles
}

// followPage says whether a list goes on to its next page: half the time,
// so that a third of the list-members calls read a second page.
func (w *worker) followPage() bool { return w.rng.IntN(2) == 0 }

type pageView struct {
	Next string `json:"next_cursor"`
}

func (w *worker) httpListMembers() error {
	t := w.membersType()
	path := "/v1/groups/" + w.randomGroup() + "/" + string(t)
	if t == "" {
		path += "members"
	}
	var page pageView
	if err := w.time(func() error { return w.send("GET", fmt.Sprintf("%s?limit=%d", path, pageSize), nil, &page) }); err != nil {
		return err
	}
	if page.Next == "" || !w.followPage() {
		return nil
	}
	return w.time(func() error {
		return w.send("GET", fmt.Sprintf("%s?limit=%d&cursor=%s", path, pageSize, url.QueryEscape(page.Next)), nil, nil)
	})
}

func (w *worker) directListMembers() error {
	t, g := w.membersType(), w.randomGroup()
	q := store.ListQuery{Sort: store.Sort{Field: store.SortName}, PageRequest: store.PageRequest{Limit: pageSize}}
	var page store.Page[groups.Membership]
	if err := w.time(func() (err error) { page, err = w.st.ListMembers(w.ctx, w.tenant.id, g, t, q); return err }); err != nil {
		return err
	}
	if page.Next == nil || !w.followPage() {
		return nil
	}
	q.After = page.Next
	return w.time(func() error { _, err := w.st.ListMembers(w.ctx, w.tenant.id, g, t, q); return err })
}

func (w *worker) httpListItemGroups() error {
	it := w.pooledItem()
	return w.time(func() error {
		return w.send("GET", fmt.Sprintf("/v1/%s/%s/groups?limit=%d", it.Type, it.ID, pageSize), nil, nil)
	})
}

func (w *worker) directListItemGroups() error {
	it := w.pooledItem()
	return w.time(func() error {
		_, err := w.st.ListItemGroups(w.ctx, w.tenant.id, it, store.PageRequest{Limit: pageSize})
		return err
	})
}

func (w *worker) httpListGroups() error {
	return w.time(func() error { return w.send("GET", fmt.Sprintf("/v1/groups?limit=%d", pageSize), nil, nil) })
}

func (w *worker) directListGroups() error {
	return w.time(func() error {
		_, err := w.st.ListGroups(w.ctx, w.tenant.id, store.ListQuery{Sort: store.Sort{Field: store.SortName}, PageRequest: store.PageRequest{Limit: pageSize}})
		return err
	})
}

func (w *worker) httpGetItem() error {
	it := w.registeredItem()
	return w.time(func() error { return w.send("GET", fmt.Sprintf("/v1/%s/%s", it.Type, it.ID), nil, nil) })
}

func (w *worker) directGetItem() error {
	it := w.registeredItem()
	return w.time(func() error { _, err := w.st.GetRegisteredItem(w.ctx, w.tenant.id, it); return err })
}

func (w *worker) httpAddMember() error {
	it := w.fresh()
	err := w.time(func() error {
		return w.send("PUT", fmt.Sprintf("/v1/groups/%s/%s/%s", w.group, it.Type, it.ID), nil, nil)
	})
	if err == nil {
		w.added = append(w.added, it)
	}
	return err
}

func (w *worker) directAddMember() error {
	it := w.fresh()
	err := w.time(func() error { _, _, err := w.st.AddMember(w.ctx, w.tenant.id, w.group, it); return err })
	if err == nil {
		w.added = append(w.added, it)
	}
	return err
}

// httpRemoveMember removes an item the worker added; with none to remove
// (at the start), it adds one instead, counted as an add.
func (w *worker) httpRemoveMember() error {
	it, ok := w.toRemove()
	if !ok {
		w.op = routes.AddMember
		return w.httpAddMember()
	}
	return w.time(func() error {
		return w.send("DELETE", fmt.Sprintf("/v1/groups/%s/%s/%s", w.group, it.Type, it.ID), nil, nil)
	})
}

func (w *worker) directRemoveMember() error {
	it, ok := w.toRemove()
	if !ok {
		w.op = routes.AddMember
		return w.directAddMember()
	}
	return w.time(func() error { return w.st.RemoveMember(w.ctx, w.tenant.id, w.group, it) })
}

func (w *worker) description() string {
	return fmt.Sprintf("Changed by load worker %d at %s", w.id, time.Now().Format(time.RFC3339Nano))
}

func (w *worker) httpUpdateGroup() error {
	g := w.others[w.rng.IntN(len(w.others))]
	return w.time(func() error {
		return w.send("PATCH", "/v1/groups/"+g, map[string]string{"description": w.description()}, nil)
	})
}

func (w *worker) directUpdateGroup() error {
	g, d := w.others[w.rng.IntN(len(w.others))], w.description()
	return w.time(func() error {
		_, err := w.st.UpdateGroup(w.ctx, w.tenant.id, g, groups.GroupPatch{Description: &d}, store.AnyVersion)
		return err
	})
}

// registration is what put-item writes: the seeded registration with a
// new odometer reading.
func (w *worker) registration() groups.RegisteredItem {
	it := w.registeredItem()
	return groups.RegisteredItem{Item: it, Name: "Unit " + it.ID, Enterprise: "Load Logistics",
		Attributes: map[string]string{"odometer": fmt.Sprint(w.rng.IntN(1_000_000))}}
}

func (w *worker) httpPutItem() error {
	ri := w.registration()
	body := map[string]any{"name": ri.Name, "enterprise": ri.Enterprise, "attributes": ri.Attributes}
	return w.time(func() error { return w.send("PUT", fmt.Sprintf("/v1/%s/%s", ri.Type, ri.ID), body, nil) })
}

func (w *worker) directPutItem() error {
	ri := w.registration()
	return w.time(func() error { _, _, err := w.st.PutRegisteredItem(w.ctx, w.tenant.id, ri); return err })
}

// batchSize is the entries of one batch-members call: fresh items to add,
// and as many of the worker's to remove.
const batchSize = 5

// batch is one batch-members call's changes; the added items are the
// worker's to remove later, once the call succeeded.
func (w *worker) batch() (changes []groups.MemberChange, add []groups.Item) {
	for range batchSize {
		it := w.fresh()
		add = append(add, it)
		changes = append(changes, groups.MemberChange{Item: it})
		if old, ok := w.toRemove(); ok {
			changes = append(changes, groups.MemberChange{Remove: true, Item: old})
		}
	}
	return changes, add
}

func (w *worker) httpBatchMembers() error {
	changes, add := w.batch()
	type entry struct {
		Type groups.ItemType `json:"type"`
		ID   string          `json:"id"`
	}
	body := map[string][]entry{}
	for _, c := range changes {
		op := map[bool]string{false: "add", true: "remove"}[c.Remove]
		body[op] = append(body[op], entry{c.Item.Type, c.Item.ID})
	}
	err := w.time(func() error { return w.send("POST", "/v1/groups/"+w.group+"/members:batch", body, nil) })
	if err == nil {
		w.added = append(w.added, add...)
	}
	return err
}

func (w *worker) directBatchMembers() error {
	changes, add := w.batch()
	err := w.time(func() error { _, err := w.st.ApplyMemberChanges(w.ctx, w.tenant.id, w.group, changes); return err })
	if err == nil {
		w.added = append(w.added, add...)
	}
	return err
}
