package gateway_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
)

func entries(typ string, from, to int) string {
	var es []string
	for i := from; i < to; i++ {
		es = append(es, fmt.Sprintf(`{"type":%q,"id":"%s-%03d"}`, typ, typ[:1], i))
	}
	return strings.Join(es, ",")
}

func TestBatchMembers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	A := e.tokenA
	g := e.call(t, A, "POST", "/v1/groups", `{"name":"Batch","vehicles":["v1"],"devices":["d1"]}`).str("id")
	path := "/v1/groups/" + g + "/members:batch"

	r := e.call(t, A, "POST", path, `{
		"add":[{"type":"vehicles","id":"v1"},{"type":"vehicles","id":"v2"},{"type":"cars","id":"x"},
		       {"type":"vehicles","id":"bad id"},{"type":"vehicles","id":"v2"},5,{"type":"users","id":"u1","extra":1}],
		"remove":[{"type":"users","id":"u9"},{"type":"devices","id":"d1"}]}`)
	expect(t, r, 200, "")
	var got []string
	for _, res := range r.at("results").([]any) {
		m := res.(map[string]any)
		got = append(got, fmt.Sprint(m["op"], ":", m["id"], ":", m["result"]))
		if m["result"] == "invalid" && m["error"] == "" {
			t.Errorf("invalid entry without a reason: %v", m)
		}
	}
	want := "[add:v1:already_member add:v2:added add:x:invalid add:bad id:invalid add:v2:invalid add::invalid add:u1:invalid remove:u9:not_member remove:d1:removed]"
	if fmt.Sprint(got) != want {
		t.Fatalf("results\n got %v\nwant %s", got, want)
	}
	summary := r.at("summary").(map[string]any)
	if summary["added"] != 1.0 || summary["already_member"] != 1.0 || summary["removed"] != 1.0 ||
		summary["not_member"] != 1.0 || summary["invalid"] != 5.0 {
		t.Fatalf("summary %v", summary)
	}
	after := e.call(t, A, "GET", "/v1/groups/"+g, "")
	if after.num("memberCounts", "vehicles") != 2 || after.num("memberCounts", "devices") != 0 || after.num("memberCount") != 2 {
		t.Fatalf("counts after batch: %v", after.body)
	}

	cases := []struct {
		name, path, body string
		status           int
		code             groups.Code
	}{
		{"400-all-invalid", path, `{"add":[{"type":"cars","id":"x"}]}`, 400, groups.CodeInvalidArgument},
		{"400-empty", path, `{"add":[],"remove":[]}`, 400, groups.CodeInvalidArgument},
		{"400-no-lists", path, `{}`, 400, groups.CodeInvalidArgument},
		{"400-not-arrays", path, `{"add":{"type":"vehicles"}}`, 400, groups.CodeInvalidArgument},
		{"400-unknown-field", path, `{"add":[{"type":"vehicles","id":"v5"}],"replace":[]}`, 400, groups.CodeInvalidArgument},
		{"400-101-entries", path, `{"add":[` + entries("vehicles", 0, 60) + `],"remove":[` + entries("users", 0, 41) + `]}`, 400, groups.CodeInvalidArgument},
		{"404-no-group", "/v1/groups/grp_missing/members:batch", `{"add":[{"type":"vehicles","id":"v5"}]}`, 404, groups.CodeNotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { expect(t, e.call(t, A, "POST", c.path, c.body), c.status, c.code) })
	}
	t.Run("404-other-tenant", func(t *testing.T) {
		expect(t, e.call(t, e.tokenB, "POST", path, `{"add":[{"type":"vehicles","id":"v5"}]}`), 404, groups.CodeNotFound)
	})
	if again := e.call(t, A, "GET", "/v1/groups/"+g, ""); again.num("memberCount") != 2 {
		t.Fatalf("rejected batches changed the group: %v", again.body)
	}
}

// TestBatchOfHundredSpansTransactions: 100 changes plus the count update
// exceed one transaction; every change still lands and counts stay exact.
func TestBatchOfHundredSpansTransactions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	g := e.call(t, e.tokenA, "POST", "/v1/groups", `{"name":"Big batch"}`).str("id")
	r := e.call(t, e.tokenA, "POST", "/v1/groups/"+g+"/members:batch", `{"add":[`+entries("devices", 0, 100)+`]}`)
	expect(t, r, 200, "")
	if r.num("summary", "added") != 100 {
		t.Fatalf("summary %v", r.at("summary"))
	}
	list := e.call(t, e.tokenA, "GET", "/v1/groups/"+g+"/devices", "")
	if len(list.items()) != 100 || list.num("total_count") != 100 {
		t.Fatalf("listed %d, total %v", len(list.items()), list.at("total_count"))
	}
}

// TestConcurrentBatchesKeepCountsExact: overlapping batches race; the group
// ends with the union of their items and counts equal to what is listed.
func TestConcurrentBatchesKeepCountsExact(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	g := e.call(t, e.tokenA, "POST", "/v1/groups", `{"name":"Race"}`).str("id")
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := `{"add":[` + entries("vehicles", i*10, i*10+30) + `]}` // overlaps the next batch by 20
			if r := e.call(t, e.tokenA, "POST", "/v1/groups/"+g+"/members:batch", body); r.status != 200 {
				t.Errorf("batch %d: %d %v", i, r.status, r.body)
			}
		}()
	}
	wg.Wait()
	got := e.call(t, e.tokenA, "GET", "/v1/groups/"+g, "")
	list := e.call(t, e.tokenA, "GET", "/v1/groups/"+g+"/vehicles", "")
	if got.num("memberCount") != 60 || len(list.items()) != 60 {
		t.Fatalf("count %v, listed %d, want 60", got.num("memberCount"), len(list.items()))
	}
}
