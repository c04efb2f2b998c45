package groups_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
)

func TestValidateID(t *testing.T) {
	cases := []struct {
		id string
		ok bool
	}{
		{"veh-001", true}, {"user@example.com", true}, {"a:b.c_d", true}, {strings.Repeat("x", 128), true},
		{"", false}, {strings.Repeat("x", 129), false}, {"has space", false}, {"hash#tag", false},
		{"slash/no", false}, {"ünïcode", false},
		// Dot segments: a path ending in /.. names the parent resource.
		{".", false}, {"..", false}, {"...", false}, {".a", true}, {"a..", true}, {"a..b", true},
	}
	for _, c := range cases {
		err := groups.ValidateID("id", c.id)
		if (err == nil) != c.ok {
			t.Errorf("ValidateID(%q) = %v, want ok=%v", c.id, err, c.ok)
		}
		if err != nil && (groups.CodeOf(err) != groups.CodeInvalidArgument || groups.FieldsOf(err)[0].Field != "id") {
			t.Errorf("ValidateID(%q) error %v lacks the field", c.id, err)
		}
	}
}

func TestCleanName(t *testing.T) {
	cases := []struct {
		in, want string
		ok       bool
	}{
		{"  Berlin Fleet  ", "Berlin Fleet", true},
		{strings.Repeat("é", 128), strings.Repeat("é", 128), true}, // characters, not bytes
		{strings.Repeat("n", 129), "", false},
		{"   ", "", false},
		{"tab\tinside", "", false},
	}
	for _, c := range cases {
		got, err := groups.CleanName("name", c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("CleanName(%q) = %q, %v; want %q ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
}

func TestValidateInitialMembers(t *testing.T) {
	many := make([]groups.Item, groups.MaxInitialMembers+1)
	for i := range many {
		many[i] = groups.Item{Type: groups.Devices, ID: fmt.Sprintf("d%d", i)}
	}
	cases := []struct {
		name    string
		members []groups.Item
		fields  []string
	}{
		{"ok", []groups.Item{{Type: groups.Users, ID: "u"}, {Type: groups.Vehicles, ID: "u"}}, nil},
		{"max-ok", many[:groups.MaxInitialMembers], nil},
		{"too-many", many, []string{"members"}},
		{"duplicate", []groups.Item{{Type: groups.Users, ID: "u"}, {Type: groups.Users, ID: "u"}}, []string{"users[1]"}},
		{"bad-id", []groups.Item{{Type: groups.Users, ID: "ok"}, {Type: groups.Users, ID: "no way"}}, []string{"users[1]"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			errs := groups.ValidateInitialMembers(c.members)
			var fields []string
			for _, e := range errs {
				fields = append(fields, e.Field)
			}
			if fmt.Sprint(fields) != fmt.Sprint(c.fields) {
				t.Fatalf("fields = %v, want %v", fields, c.fields)
			}
		})
	}
}

func TestParseItemType(t *testing.T) {
	for _, typ := range groups.ItemTypes {
		if got, err := groups.ParseItemType("t", string(typ)); err != nil || got != typ {
			t.Errorf("ParseItemType(%s) = %s, %v", typ, got, err)
		}
	}
	for _, bad := range []string{"", "cars", "Vehicles", "members"} {
		if _, err := groups.ParseItemType("t", bad); err == nil {
			t.Errorf("ParseItemType(%q) accepted", bad)
		}
	}
}
