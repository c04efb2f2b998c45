package api

import (
	"net/url"
	"slices"
	"testing"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
)

func TestEventTypes(t *testing.T) {
	for _, c := range []struct {
		query string
		want  []groups.EventType
		bad   bool
	}{
		{query: "", want: nil},
		{query: "types=member.added", want: []groups.EventType{groups.MemberAdded}},
		{query: "types=member.added,group.created", want: []groups.EventType{groups.MemberAdded, groups.GroupCreated}},
		{query: "types=member.added&types=item.put", want: []groups.EventType{groups.MemberAdded, groups.ItemPut}},
		{query: "types=member.added,+member.added+", want: []groups.EventType{groups.MemberAdded}},
		{query: "types=", bad: true},
		{query: "types=member.added,", bad: true},
		{query: "types=member.*", bad: true},
		{query: "types=Member.Added", bad: true},
	} {
		t.Run(c.query, func(t *testing.T) {
			params, err := url.ParseQuery(c.query)
			if err != nil {
				t.Fatal(err)
			}
			got, err := eventTypes(params)
			switch {
			case c.bad && groups.CodeOf(err) != groups.CodeInvalidArgument:
				t.Errorf("eventTypes = %v, %v; want invalid_argument", got, err)
			case !c.bad && (err != nil || !slices.Equal(got, c.want)):
				t.Errorf("eventTypes = %v, %v; want %v", got, err, c.want)
			}
		})
	}
}
