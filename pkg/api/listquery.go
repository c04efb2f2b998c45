package api

import (
	"cmp"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/store"
)

// The query parameters of searchable lists (docs/lists.md), besides limit
// and cursor. Every such list reads them with listQuery.
const (
	paramSearch  = "search"
	paramSort    = "sort"
	paramCount   = "count"
	paramPage    = "page"
	paramPerPage = "per_page"
	// paramParentID filters list-groups by parent: a group id, or null for
	// top-level groups.
	paramParentID = "parentId"
)

var sorts = map[string]store.Sort{
	"name":     {Field: store.SortName},
	"-name":    {Field: store.SortName, Desc: true},
	"created":  {Field: store.SortCreated},
	"-created": {Field: store.SortCreated, Desc: true},
}

// filterParam is a filter parameter: filter[<field>][<op>].
var filterParam = regexp.MustCompile(`^filter\[([^\[\]]*)\]\[([^\[\]]*)\]$`)

// listSpec is what one list accepts besides the common list parameters.
type listSpec struct {
	// fields are the fields filter[<field>][<op>] may name.
	fields store.ListSchema
	// aliases maps deprecated parameter names to current ones (prefix →
	// search); a deprecated name follows the rules of the current one.
	aliases map[string]string
	// extra are parameters the handler reads itself; they must not change
	// which entries the list holds or their order (cursors ignore them).
	extra []string
	// byParent accepts parentId (list-groups).
	byParent bool
	// treeOrder: the list has one order, depth-first (a subtree), and
	// refuses sort.
	treeOrder bool
}

// listQuery reads a list's query parameters: search, filter[<field>][<op>]
// on the list's fields, sort, count, and either cursor pagination (limit,
// cursor) or page numbers (page, per_page). Anything else, and any invalid
// value, is one 400 naming every bad parameter.
//
// It returns the query, with the cursor's position, and the list id next
// cursors are bound to: list plus every parameter that changes which entries
// the list holds or their order, so that a cursor cannot be replayed with
// other parameters.
func (a *API) listQuery(r *http.Request, tenant, list string, spec listSpec) (store.ListQuery, string, error) {
	params := r.URL.Query()
	var errs []groups.FieldError
	fail := func(field, format string, args ...any) {
		errs = append(errs, groups.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	given := map[string]string{} // parameter → the name the client used for it
	for alias, name := range spec.aliases {
		if v, ok := params[alias]; ok {
			if _, both := params[name]; both {
				fail(alias, "is the deprecated name of %s: give only %s", name, name)
				delete(params, alias)
				continue
			}
			params[name], given[name] = v, alias
			delete(params, alias)
		}
	}
	q := store.ListQuery{Sort: sorts["name"], PageRequest: store.PageRequest{Limit: groups.DefaultPageSize}}
	bind := url.Values{}
	for _, name := range slices.Sorted(maps.Keys(params)) {
		field := cmp.Or(given[name], name)
		v := params[name][0] // the only one: Handler refuses repeated parameters
		switch name {
		case paramSearch:
			if utf8.RuneCountInString(v) > groups.MaxSearchLength {
				fail(field, "must be at most %d characters", groups.MaxSearchLength)
			} else if err := groups.ValidateSearch(field, v); err != nil {
				errs = append(errs, groups.FieldsOf(err)...)
			}
			q.Search = v
		case paramSort:
			s, ok := sorts[v]
			switch {
			case spec.treeOrder:
				fail(field, "is not supported: this list is in tree order (depth-first, siblings by id)")
			case !ok:
				fail(field, "must be one of name, -name, created, -created")
			}
			q.Sort = s
		case paramParentID:
			if !spec.byParent {
				fail(field, "is not a known query parameter")
				continue
			}
			f := store.Filter{Field: "parentId", Op: store.OpEq, Value: v}
			if v == "null" {
				f.Op, f.Value = store.OpAbsent, ""
			} else if err := groups.ValidateID(field, v); err != nil {
				errs = append(errs, groups.FieldsOf(err)...)
			}
			q.Filters = append(q.Filters, f)
			bind.Set(name, v)
		case paramCount:
			if v != "true" && v != "false" {
				fail(field, "must be true or false")
			}
			q.Count = v == "true"
		case paramLimit, paramCursor, paramPage, paramPerPage:
			// Read below, once the kind of pagination is known.
		default:
			if slices.Contains(spec.extra, name) {
				continue
			}
			m := filterParam.FindStringSubmatch(name)
			if m == nil {
				fail(field, "is not a known query parameter")
				continue
			}
			f := store.Filter{Field: m[1], Op: store.FilterOp(m[2]), Value: v}
			if msg := filterProblem(spec.fields, f); msg != "" {
				fail(field, "%s", msg)
				continue
			}
			q.Filters = append(q.Filters, f)
			bind.Set(name, v)
		}
	}
	if len(q.Filters) > groups.MaxFilters {
		fail("filter", "at most %d filters", groups.MaxFilters)
	}
	pageNumbers(params, &q, fail)
	if err := groups.ValidationError(errs); err != nil {
		return q, "", err
	}
	if q.Search != "" {
		bind.Set(paramSearch, q.Search)
	}
	if q.Sort != sorts["name"] {
		bind.Set(paramSort, params.Get(paramSort))
	}
	if len(bind) > 0 {
		list += "?" + bind.Encode()
	}
	if q.PageNumber == 0 {
		pr, err := a.pageRequest(r, tenant, list)
		if err != nil {
			return q, "", err
		}
		q.PageRequest = pr
	}
	return q, list, nil
}

// filterProblem says what is wrong with a filter, if anything.
func filterProblem(fields store.ListSchema, f store.Filter) string {
	if _, ok := fields.Lookup(f.Field); !ok {
		return "filters on an unknown field: this list filters on " + strings.Join(fields.Names(), ", ")
	}
	if !slices.Contains(store.FilterOps, f.Op) {
		return "has an unknown operator: use eq, neq, sw, ew or ilk"
	}
	if f.Value == "" || utf8.RuneCountInString(f.Value) > groups.MaxFilterValueLength {
		return fmt.Sprintf("must be 1–%d characters", groups.MaxFilterValueLength)
	}
	if err := groups.ValidateQueryText("value", f.Value); err != nil {
		return groups.FieldsOf(err)[0].Message
	}
	return ""
}

// pageNumbers reads page and per_page into q. Either of them asks for page
// numbers, which exclude limit and cursor.
func pageNumbers(params url.Values, q *store.ListQuery, fail func(field, format string, args ...any)) {
	page, hasPage := params[paramPage]
	perPage, hasPerPage := params[paramPerPage]
	if !hasPage && !hasPerPage {
		return
	}
	if _, ok := params[paramCursor]; ok {
		fail(paramPage, "cannot be combined with cursor: paginate by cursor (limit, cursor) or by page number (page, per_page)")
	}
	if _, ok := params[paramLimit]; ok {
		fail(paramLimit, "cannot be combined with page numbers: give per_page with page")
	}
	q.PageNumber = 1
	if hasPage {
		n, err := strconv.Atoi(page[0])
		if err != nil || n < 1 {
			fail(paramPage, "must be a whole number of at least 1")
			return
		}
		q.PageNumber = n
	}
	if hasPerPage {
		n, err := strconv.Atoi(perPage[0])
		if err != nil || n < 1 || n > groups.MaxPageSize {
			fail(paramPerPage, "must be one whole number from 1 to %d", groups.MaxPageSize)
			return
		}
		q.Limit = n
	}
	if q.PageNumber > groups.MaxPageNumberDepth/q.Limit {
		fail(paramPage, "× per_page must be at most %d: read further with cursor pagination (limit, cursor)", groups.MaxPageNumberDepth)
	}
}
