package api

import (
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/store"
)

// The list parameters of a list with map fields, which list-groups and
// list-members lack (their end-to-end tests are in pkg/gateway). No cursor
// is given, so nothing here reads the store.
func TestListQueryMapFields(t *testing.T) {
	t.Parallel()
	fields := store.ListSchema{"name": {Attr: "name", LowerAttr: "nameLower"}, "attributes.*": {Attr: "attributes"}}
	filters := func(n int) string {
		var p []string
		for i := range n {
			p = append(p, fmt.Sprintf("filter[attributes.k%d][eq]=v", i))
		}
		return strings.Join(p, "&")
	}
	cases := []struct {
		name, query string
		code        groups.Code
		field       string
		filters     int
		list        string
	}{
		{"200-unfiltered-list-id-unchanged", "limit=5&count=true&include=item", "", "", 0, "things"},
		{"200-map-field", "filter[attributes.colour][ilk]=Red", "", "", 1, "things?filter%5Battributes.colour%5D%5Bilk%5D=Red"},
		{"200-list-id-canonical", "sort=-created&search=a&filter[name][sw]=b", "", "", 1, "things?filter%5Bname%5D%5Bsw%5D=b&search=a&sort=-created"},
		{"200-list-id-canonical-reordered", "filter[name][sw]=b&search=a&sort=-created", "", "", 1, "things?filter%5Bname%5D%5Bsw%5D=b&search=a&sort=-created"},
		{"200-ten-filters", filters(10), "", "", 10, ""},
		{"400-eleven-filters", filters(11), groups.CodeInvalidArgument, "filter", 0, ""},
		{"400-map-key-with-dot", "filter[attributes.a.b][eq]=v", groups.CodeInvalidArgument, "filter[attributes.a.b][eq]", 0, ""},
		{"400-extra-not-a-filter", "include=item&filter[include][eq]=x", groups.CodeInvalidArgument, "filter[include][eq]", 0, ""},
		{"400-map-wildcard", "filter[attributes.*][eq]=v", groups.CodeInvalidArgument, "filter[attributes.*][eq]", 0, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/v1/things?"+c.query, nil)
			q, list, err := (&API{}).listQuery(r, "tn_a", "things", listSpec{fields: fields, extra: []string{"include"}})
			if c.code != "" {
				var e *groups.Error
				if groups.CodeOf(err) != c.code || !errors.As(err, &e) || len(e.Fields) == 0 || e.Fields[0].Field != c.field {
					t.Fatalf("error = %v, want %s on %s", err, c.code, c.field)
				}
				return
			}
			if err != nil || len(q.Filters) != c.filters || (c.list != "" && list != c.list) {
				t.Fatalf("query = %+v, list %q, %v; want %d filters, list %q", q, list, err, c.filters, c.list)
			}
		})
	}
}
