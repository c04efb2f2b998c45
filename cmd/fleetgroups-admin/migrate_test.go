package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/store"
	"github.com/fleetgroups/fleetgroups/pkg/storetest"
)

// legacyTenant is the tenant of testdata/schema-v0.json: every item (but the
// cursor key) that the code before schema 1 wrote for four groups (Berlin
// and ＢＥＲＬＩＮ, which fold to one name; Straße, whose folded form is not
// its lower-cased one; Alpha), four registered items named "a", "a b", "a#"
// and "Ｊｏｈｎ Straße", memberships and an association. It was dumped from
// a table that the store at commit 5e3606f (schema 0) wrote.
const legacyTenant = "tn_legacy"

// legacyTable returns a store on a fresh table holding testdata/schema-v0.json.
func legacyTable(t *testing.T) *store.Store {
	t.Helper()
	raw, err := os.ReadFile("testdata/schema-v0.json")
	if err != nil {
		t.Fatal(err)
	}
	var items []map[string]any
	if err := json.Unmarshal(raw, &items); err != nil {
		t.Fatal(err)
	}
	st, _ := storetest.NewStore(t)
	// A table of schema 0 has no schema item: the one NewStore wrote goes.
	_, err = client(t).DeleteItem(context.Background(), &dynamodb.DeleteItemInput{TableName: aws.String(st.Table()),
		Key: map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "#SYSTEM"}, "SK": &types.AttributeValueMemberS{Value: "SCHEMA"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		av, err := attributevalue.MarshalMap(it)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := client(t).PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(st.Table()), Item: av}); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

// itemAt reads one item of the table (nil if absent).
func itemAt(t *testing.T, table, pk, sk string) map[string]types.AttributeValue {
	t.Helper()
	out, err := client(t).GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(table), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: pk}, "SK": &types.AttributeValueMemberS{Value: sk}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Item
}

func attr(item map[string]types.AttributeValue, name string) string {
	s, _ := item[name].(*types.AttributeValueMemberS)
	if s == nil {
		return ""
	}
	return s.Value
}

func TestMigrateLegacyTable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := legacyTable(t)
	table := st.Table()
	const guard = "T#" + legacyTenant + "#NAME#"

	// Two names fold to "berlin": the group already holding that guard
	// keeps it, the other is reported and left as it was.
	first := admin(t, local(table), connect, "migrate", "-page-size", "4")
	if first.code != 1 || !strings.Contains(first.stdout, "at schema version 0; this code writes version 3") ||
		!strings.Contains(first.stdout, `group grp_berlin_fullwidth "ＢＥＲＬＩＮ" folds to "berlin", the name of group grp_berlin "Berlin"`) ||
		!strings.Contains(first.stdout, "Migration 1 (fold-names) stopped on conflicts") ||
		!strings.Contains(first.stderr, "stays at schema version 0") {
		t.Fatalf("first run: exit %d\n%s%s", first.code, first.stdout, first.stderr)
	}
	if v, err := st.TableSchemaVersion(ctx); err != nil || v != 0 {
		t.Fatalf("schema version after conflicts = %d, %v; want 0", v, err)
	}
	before := []struct {
		name, pk, sk, attr string
		want               string // "" for an absent item
	}{
		{"guard-moved-to-folded-name", guard + "strasse", "NAME", "groupId", "grp_strasse"},
		{"legacy-guard-gone", guard + "straße", "NAME", "groupId", ""},
		{"folded-copy-rewritten", "T#tn_legacy#G#grp_strasse", "#GROUP", "nameLower", "strasse"},
		{"group-name-key-rewritten", "T#tn_legacy#G#grp_strasse", "#GROUP", "GSI1SK", "N#strasse"},
		{"group-version-unchanged", "T#tn_legacy#G#grp_strasse", "#GROUP", "updatedAt", "2026-11-20T09:00:04.000Z"},
		{"item-key-separator", "T#tn_legacy#I#vehicles#veh-1", "ITEM", "GSI1SK", "N#a\x1fveh-1"},
		{"item-key-folded", "T#tn_legacy#I#users#usr-1", "ITEM", "GSI1SK", "N#john strasse\x1fusr-1"},
		{"item-folded-copy", "T#tn_legacy#I#users#usr-1", "ITEM", "nameLower", "john strasse"},
		{"holder-keeps-guard", guard + "berlin", "NAME", "groupId", "grp_berlin"},
		{"holder-unchanged", "T#tn_legacy#G#grp_berlin", "#GROUP", "name", "Berlin"},
		{"conflict-keeps-its-guard", guard + "ｂｅｒｌｉｎ", "NAME", "groupId", "grp_berlin_fullwidth"},
		{"conflict-keeps-its-name", "T#tn_legacy#G#grp_berlin_fullwidth", "#GROUP", "name", "ＢＥＲＬＩＮ"},
		{"conflict-keeps-its-key", "T#tn_legacy#G#grp_berlin_fullwidth", "#GROUP", "GSI1SK", "N#ｂｅｒｌｉｎ"},
		{"conflict-keeps-its-description", "T#tn_legacy#G#grp_berlin_fullwidth", "#GROUP", "description", "full-width lookalike"},
	}
	for _, c := range before {
		if got := attr(itemAt(t, table, c.pk, c.sk), c.attr); got != c.want {
			t.Errorf("%s: %s of %s/%s = %q, want %q", c.name, c.attr, c.pk, c.sk, got, c.want)
		}
	}

	// The new code reads the migrated items as it writes them.
	page, err := st.ListRegisteredItems(ctx, legacyTenant, groups.Vehicles, store.ListQuery{Search: "a#", PageRequest: store.PageRequest{Limit: 10}})
	if err != nil || len(page.Items) != 1 || page.Items[0].Name != "a#" {
		t.Fatalf("search a# after migrate = %+v, %v", page.Items, err)
	}
	users, err := st.ListRegisteredItems(ctx, legacyTenant, groups.Users, store.ListQuery{Search: "JOHN STRASS", PageRequest: store.PageRequest{Limit: 10}})
	if err != nil || len(users.Items) != 1 {
		t.Fatalf("folded search after migrate = %+v, %v", users.Items, err)
	}
	if _, err := st.CreateGroup(ctx, legacyTenant, groups.NewGroup{Name: "STRASSE"}); groups.CodeOf(err) != groups.CodeNameTaken {
		t.Fatalf("create STRASSE beside the migrated Straße: %v, want name_taken", err)
	}

	// The tenant settles the conflict with the API, renaming the group left
	// as it was: the rename releases the guard that group still holds.
	other := "Berlin Ost"
	if _, err := st.UpdateGroup(ctx, legacyTenant, "grp_berlin_fullwidth", groups.GroupPatch{Name: &other}, store.AnyVersion); err != nil {
		t.Fatalf("rename the group left unmigrated: %v", err)
	}
	if itemAt(t, table, guard+"ｂｅｒｌｉｎ", "NAME") != nil || attr(itemAt(t, table, guard+"berlin ost", "NAME"), "groupId") != "grp_berlin_fullwidth" {
		t.Fatal("the rename did not move the old guard of the group left unmigrated")
	}
	second := admin(t, local(table), connect, "migrate")
	if second.code != 0 || !strings.Contains(second.stdout, "Migration 1 (fold-names) done") ||
		!strings.Contains(second.stdout, "Migration 2 (tree-paths) done") ||
		!strings.Contains(second.stdout, "Migration 3 (held-edges) done") ||
		!strings.Contains(second.stdout, "is at schema version 3.") || strings.Contains(second.stdout, "conflict:") {
		t.Fatalf("second run: exit %d\n%s%s", second.code, second.stdout, second.stderr)
	}
	if v, err := st.TableSchemaVersion(ctx); err != nil || v != 3 {
		t.Fatalf("schema version = %d, %v; want 3", v, err)
	}
	// Migration 3 gave the legacy memberships their edges: a check reads them.
	if got := attr(itemAt(t, table, "T#tn_legacy#I#vehicles#veh-2", "G#grp_alpha"), "groupId"); got != "grp_alpha" {
		t.Fatalf("edge of a legacy membership after migrate: groupId %q, want grp_alpha", got)
	}
	// Migration 2 gave the legacy groups the tree path of a top-level group.
	if got := attr(itemAt(t, table, "T#tn_legacy#G#grp_alpha", "#GROUP"), "GSI3SK"); got != "grp_alpha" {
		t.Fatalf("tree path of a legacy group after migrate = %q, want grp_alpha", got)
	}
	storetest.CheckInvariants(t, st)

	third := admin(t, local(table), connect, "migrate")
	if third.code != 0 || !strings.Contains(third.stdout, "Nothing to migrate.") {
		t.Fatalf("third run: exit %d\n%s%s", third.code, third.stdout, third.stderr)
	}
	list, err := st.ListGroups(ctx, legacyTenant, store.ListQuery{PageRequest: store.PageRequest{Limit: 10}})
	var names []string
	for _, g := range list.Items {
		names = append(names, g.Name)
	}
	if err != nil || !slices.Equal(names, []string{"Alpha", "Berlin", "Berlin Ost", "Straße"}) {
		t.Fatalf("groups after migrate = %q, %v", names, err)
	}
}

// An interrupted migration resumes after the last page it finished, rather
// than from the start.
func TestMigrateResumes(t *testing.T) {
	t.Parallel()
	st := legacyTable(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pages := 0
	_, err := st.Migrate(ctx, store.MigrateOptions{PageSize: 5, Progress: func(store.StepReport) {
		if pages++; pages == 2 {
			cancel()
		}
	}})
	if err == nil {
		t.Fatal("a migration cancelled after two pages succeeded")
	}
	total := len(scan(t, st.Table())) // the schema item included
	out := admin(t, local(st.Table()), connect, "migrate", "-page-size", "5")
	if out.code != 1 || !strings.Contains(out.stdout, "resumed where the last run stopped") || !strings.Contains(out.stdout, "conflict:") {
		t.Fatalf("resumed run: exit %d\n%s%s", out.code, out.stdout, out.stderr)
	}
	reports, err := st.Migrate(context.Background(), store.MigrateOptions{})
	if !errors.Is(err, store.ErrMigrationConflicts) || len(reports) != 1 || reports[0].Resumed || reports[0].Scanned < total {
		t.Fatalf("a run after a finished one with conflicts = %+v, %v; want a full rescan", reports, err)
	}
	// The resumed run read only what the interrupted one had not.
	var resumedRead int
	for line := range strings.Lines(out.stdout) {
		if strings.HasPrefix(line, "Migration 1") {
			if _, after, ok := strings.Cut(line, ": "); ok {
				resumedRead = atoiPrefix(after)
			}
		}
	}
	if resumedRead == 0 || resumedRead > total-10 {
		t.Fatalf("the resumed run read %d of %d items; want at most %d", resumedRead, total, total-10)
	}
}

// atoiPrefix is the number s starts with.
func atoiPrefix(s string) int {
	n := 0
	for _, r := range s {
		if r < '0' || r > '9' {
			break
		}
		n = n*10 + int(r-'0')
	}
	return n
}
