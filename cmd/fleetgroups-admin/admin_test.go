package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/fleetgroups/fleetgroups/pkg/app"
	"github.com/fleetgroups/fleetgroups/pkg/auth"
	"github.com/fleetgroups/fleetgroups/pkg/ddblocal"
	"github.com/fleetgroups/fleetgroups/pkg/groups"
	"github.com/fleetgroups/fleetgroups/pkg/store"
	"github.com/fleetgroups/fleetgroups/pkg/storetest"
)

func TestMain(m *testing.M) { os.Exit(ddblocal.RunTests(m)) }

type outcome struct {
	code           int
	stdout, stderr string
}

// admin runs the command line in-process with the given environment
// variables and connector.
func admin(t *testing.T, vars map[string]string, conn func(context.Context, string, string) (*store.Store, keyRegistry, error), args ...string) outcome {
	t.Helper()
	var stdout, stderr bytes.Buffer
	e := &env{
		stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr,
		getenv: func(k string) string { return vars[k] }, connect: conn,
	}
	code := run(context.Background(), args, e)
	t.Logf("fleetgroups-admin %q: exit %d\nstdout:\n%s\nstderr:\n%s", args, code, stdout.String(), stderr.String())
	return outcome{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// local is the environment of a developer pointed at table on the tests'
// DynamoDB Local.
func local(table string) map[string]string {
	return map[string]string{"TABLE_NAME": table, "DYNAMODB_ENDPOINT": os.Getenv("DYNAMODB_ENDPOINT")}
}

// inAWS is the environment of an operator pointed at AWS (no endpoint).
func inAWS(table string) map[string]string { return map[string]string{"TABLE_NAME": table} }

// bareTable returns a store on a fresh table that, unlike storetest's, has
// no cursor key yet, so that tests can see create-tenant make it.
func bareTable(t *testing.T) *store.Store {
	t.Helper()
	ctx := context.Background()
	st := store.New(client(t), "t-"+store.RandomToken(8))
	if err := st.CreateTable(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.DeleteTable(context.Background()) })
	if _, err := st.CursorKeys(ctx); err == nil {
		t.Fatal("a fresh table already has a cursor key")
	}
	return st
}

func client(t *testing.T) *dynamodb.Client {
	t.Helper()
	db, err := app.NewDynamoDB(os.Getenv("DYNAMODB_ENDPOINT"))
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// scan returns every item of the table.
func scan(t *testing.T, table string) []map[string]types.AttributeValue {
	t.Helper()
	var items []map[string]types.AttributeValue
	p := dynamodb.NewScanPaginator(client(t), &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, page.Items...)
	}
	return items
}

// stringsIn returns every attribute name and every string (or bytes) value
// in av, however deeply nested.
func stringsIn(av types.AttributeValue) []string {
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		return []string{v.Value}
	case *types.AttributeValueMemberN:
		return []string{v.Value}
	case *types.AttributeValueMemberB:
		return []string{string(v.Value)}
	case *types.AttributeValueMemberSS:
		return v.Value
	case *types.AttributeValueMemberNS:
		return v.Value
	case *types.AttributeValueMemberBS:
		var out []string
		for _, b := range v.Value {
			out = append(out, string(b))
		}
		return out
	case *types.AttributeValueMemberL:
		var out []string
		for _, e := range v.Value {
			out = append(out, stringsIn(e)...)
		}
		return out
	case *types.AttributeValueMemberM:
		var out []string
		for k, e := range v.Value {
			out = append(out, k)
			out = append(out, stringsIn(e)...)
		}
		return out
	}
	return nil
}

// itemsContaining returns the keys of the items that contain s anywhere.
func itemsContaining(items []map[string]types.AttributeValue, s string) []string {
	var found []string
	for _, it := range items {
		for _, str := range stringsIn(&types.AttributeValueMemberM{Value: it}) {
			if strings.Contains(str, s) {
				found = append(found, keyOf(it))
				break
			}
		}
	}
	return found
}

func keyOf(it map[string]types.AttributeValue) string {
	pk, _ := it[store.AttrPK].(*types.AttributeValueMemberS)
	sk, _ := it[store.AttrSK].(*types.AttributeValueMemberS)
	if pk == nil || sk == nil {
		return "?"
	}
	return pk.Value + " / " + sk.Value
}

func keysOf(items []map[string]types.AttributeValue) []string {
	var keys []string
	for _, it := range items {
		keys = append(keys, keyOf(it))
	}
	slices.Sort(keys)
	return keys
}

var textField = regexp.MustCompile(`(?m)^\s*(Tenant ID|Token|API key):\s+(.*)$`)

// printed reads what create-tenant printed, in either format.
func printed(t *testing.T, out string, asJSON bool) tenantResult {
	t.Helper()
	var r tenantResult
	if asJSON {
		dec := json.NewDecoder(strings.NewReader(out))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("-json output does not parse: %v\n%s", err, out)
		}
		if dec.More() {
			t.Fatalf("-json output has more than one value:\n%s", out)
		}
		return r
	}
	for _, m := range textField.FindAllStringSubmatch(out, -1) {
		switch m[1] {
		case "Tenant ID":
			r.TenantID = m[2]
		case "Token":
			r.Token = m[2]
		}
	}
	if r.TenantID == "" || r.Token == "" {
		t.Fatalf("no tenant id or token in the output:\n%s", out)
	}
	return r
}

// checkTenant checks that a printed token works the way the authorizer uses
// it and that only its hash is in the table.
func checkTenant(t *testing.T, st *store.Store, r tenantResult) groups.Tenant {
	t.Helper()
	ctx := context.Background()
	id, ok := auth.TenantOf(r.Token)
	if !ok || id != r.TenantID {
		t.Fatalf("TenantOf(%q) = %q, %v; want the printed id %q", r.Token, id, ok, r.TenantID)
	}
	tenant, _, err := st.TenantByToken(ctx, id, auth.HashToken(r.Token))
	if err != nil {
		t.Fatalf("the printed token does not authenticate: %v", err)
	}
	if tenant.ID != r.TenantID || tenant.APIKey == "" {
		t.Errorf("TenantByToken = %+v; want tenant %s with an API key", tenant, r.TenantID)
	}
	items := scan(t, st.Table())
	if found := itemsContaining(items, r.Token); len(found) > 0 {
		t.Errorf("the plain token is stored in %v", found)
	}
	// Guards the check above against scanning the wrong table.
	if found := itemsContaining(items, auth.HashToken(r.Token)); len(found) != 1 {
		t.Errorf("the token's hash is in %v, want exactly one item", found)
	}
	if _, err := st.CursorKeys(ctx); err != nil {
		t.Errorf("no cursor key after create-tenant: %v", err)
	}
	return tenant
}

func TestCreateTenant(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		args   []string
		json   bool
		wantID string // "" means a random tn_ id
	}{
		{name: "random id, text", args: []string{"-name", "Acme Logistics"}},
		{name: "random id, json", args: []string{"-name", "Acme Logistics", "-json"}, json: true},
		{name: "given id, text", args: []string{"-name", "Acme", "-id", "acme-1"}, wantID: "acme-1"},
		{name: "given id, json", args: []string{"-json", "-id", "acme_2", "-name", "  Acme Two "}, json: true, wantID: "acme_2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := bareTable(t)
			out := admin(t, local(st.Table()), connect, append([]string{"create-tenant"}, tc.args...)...)
			if out.code != 0 {
				t.Fatalf("exit %d: %s", out.code, out.stderr)
			}
			r := printed(t, out.stdout, tc.json)
			if tc.wantID != "" && r.TenantID != tc.wantID {
				t.Errorf("tenant id %q, want %q", r.TenantID, tc.wantID)
			}
			if tc.wantID == "" && !strings.HasPrefix(r.TenantID, "tn_") {
				t.Errorf("random tenant id %q does not start with tn_", r.TenantID)
			}
			checkTenant(t, st, r)
			if n := strings.Count(out.stdout+out.stderr, r.Token); n != 1 {
				t.Errorf("the token is printed %d times, want once", n)
			}
			if tc.json {
				if r.Name != strings.TrimSpace(tc.args[slices.Index(tc.args, "-name")+1]) || r.APIKeyID != "" {
					t.Errorf("-json gave %+v; want the name, and no api_key_id without a usage plan", r)
				}
				var raw map[string]any
				_ = json.Unmarshal([]byte(out.stdout), &raw)
				for _, field := range []string{"tenant_id", "name", "token"} {
					if s, _ := raw[field].(string); s == "" {
						t.Errorf("-json output lacks %q: %s", field, out.stdout)
					}
				}
			} else if !strings.Contains(out.stdout, "cannot be shown again") {
				t.Errorf("the output does not say that the token cannot be shown again:\n%s", out.stdout)
			}
		})
	}
}

func TestCreateTableThenTenant(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	table := "t-" + store.RandomToken(8)
	st := store.New(client(t), table)
	t.Cleanup(func() { _ = st.DeleteTable(context.Background()) })

	out := admin(t, local(table), connect, "create-table")
	if out.code != 0 {
		t.Fatalf("create-table: exit %d: %s", out.code, out.stderr)
	}
	ttl, err := client(t).DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	if d := ttl.TimeToLiveDescription; d == nil || d.TimeToLiveStatus != types.TimeToLiveStatusEnabled || aws.ToString(d.AttributeName) != store.AttrExpires {
		t.Errorf("TTL = %+v, want enabled on %s", d, store.AttrExpires)
	}
	if _, err := st.CursorKeys(ctx); err != nil {
		t.Errorf("no cursor key after create-table: %v", err)
	}

	again := admin(t, local(table), connect, "create-table")
	if again.code != 1 || !strings.Contains(again.stderr, "already exists") {
		t.Errorf("create-table on an existing table: exit %d, %q; want 1 and \"already exists\"", again.code, again.stderr)
	}

	tenant := admin(t, local(table), connect, "create-tenant", "-name", "Acme", "-json")
	if tenant.code != 0 {
		t.Fatalf("create-tenant: exit %d: %s", tenant.code, tenant.stderr)
	}
	checkTenant(t, st, printed(t, tenant.stdout, true))
}

func TestDuplicateID(t *testing.T) {
	t.Parallel()
	st, _ := storetest.NewStore(t)
	first := admin(t, local(st.Table()), connect, "create-tenant", "-name", "Acme", "-id", "acme", "-json")
	if first.code != 0 {
		t.Fatalf("first create-tenant: exit %d: %s", first.code, first.stderr)
	}
	before := keysOf(scan(t, st.Table()))

	second := admin(t, local(st.Table()), connect, "create-tenant", "-name", "Acme again", "-id", "acme", "-json")
	if second.code != 1 {
		t.Errorf("exit %d, want 1", second.code)
	}
	if !strings.Contains(second.stderr, "tenant acme already exists") {
		t.Errorf("stderr %q does not say that tenant acme exists", second.stderr)
	}
	if second.stdout != "" {
		t.Errorf("a failed create-tenant printed %q", second.stdout)
	}
	if after := keysOf(scan(t, st.Table())); !slices.Equal(before, after) {
		t.Errorf("the table changed:\nbefore %v\nafter  %v", before, after)
	}
	// The first tenant's token still works: nothing was overwritten.
	checkTenant(t, st, printed(t, first.stdout, true))
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	mustNotConnect := func(context.Context, string, string) (*store.Store, keyRegistry, error) {
		t.Error("connected although the invocation is wrong")
		return nil, nil, errors.New("must not connect")
	}
	localVars := map[string]string{"TABLE_NAME": "tbl", "DYNAMODB_ENDPOINT": "http://127.0.0.1:1"}
	for _, tc := range []struct {
		name string
		vars map[string]string
		args []string
		want string // in stderr
	}{
		{"no command", localVars, nil, "Commands:"},
		{"unknown command", localVars, []string{"create-group"}, `unknown command "create-group"`},
		{"unknown flag", localVars, []string{"create-tenant", "-name", "A", "-nme", "B"}, "flag provided but not defined: -nme"},
		{"no name", localVars, []string{"create-tenant"}, "-name is required"},
		{"blank name", localVars, []string{"create-tenant", "-name", "  "}, "-name is required"},
		{"id with a dot", localVars, []string{"create-tenant", "-name", "A", "-id", "Bad.Id"}, `invalid -id "Bad.Id"`},
		{"id with upper case", localVars, []string{"create-tenant", "-name", "A", "-id", "Acme"}, `invalid -id "Acme"`},
		{"id too long", localVars, []string{"create-tenant", "-name", "A", "-id", strings.Repeat("a", 65)}, "invalid -id"},
		{"unquoted name", localVars, []string{"create-tenant", "-name", "Acme", "Logistics"}, `unexpected arguments ["Logistics"]`},
		{"no table", map[string]string{}, []string{"create-tenant", "-name", "A"}, "no table"},
		{"usage plan locally", localVars, []string{"create-tenant", "-name", "A", "-usage-plan", "p1"}, "cannot be used with -endpoint"},
		{"create-table in AWS", inAWS("tbl"), []string{"create-table"}, "refusing to create table tbl in AWS"},
		{"create-table, empty -endpoint", localVars, []string{"create-table", "-endpoint="}, "-force-aws"},
		{"create-table, no table", map[string]string{}, []string{"create-table"}, "no table"},
		{"create-token, no tenant", localVars, []string{"create-token"}, "-tenant is required"},
		{"create-token, bad tenant", localVars, []string{"create-token", "-tenant", "Acme"}, `invalid -tenant "Acme"`},
		{"create-token, long label", localVars, []string{"create-token", "-tenant", "acme", "-label", strings.Repeat("l", 101)}, "invalid -label"},
		{"create-token, control character", localVars, []string{"create-token", "-tenant", "acme", "-label", "a\nb"}, "invalid -label"},
		{"create-token, no table", map[string]string{}, []string{"create-token", "-tenant", "acme"}, "no table"},
		{"list-tokens, no tenant", localVars, []string{"list-tokens"}, "-tenant is required"},
		{"list-tokens, argument", localVars, []string{"list-tokens", "-tenant", "acme", "x"}, "unexpected arguments"},
		{"revoke-token, no id", localVars, []string{"revoke-token", "-tenant", "acme"}, "invalid -token-id"},
		{"revoke-token, short id", localVars, []string{"revoke-token", "-tenant", "acme", "-token-id", "abc"}, "at least 8 hex characters"},
		{"revoke-token, not hex", localVars, []string{"revoke-token", "-tenant", "acme", "-token-id", "fg_acme.secret"}, "invalid -token-id"},
		{"revoke-token, no tenant", localVars, []string{"revoke-token", "-token-id", "abcdef012345"}, "-tenant is required"},
		{"hash-token without token", nil, []string{"hash-token"}, "want exactly one TOKEN"},
		{"hash-token with two", nil, []string{"hash-token", "a", "b"}, "want exactly one TOKEN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := admin(t, tc.vars, mustNotConnect, tc.args...)
			if out.code != 2 {
				t.Errorf("exit %d, want 2", out.code)
			}
			if !strings.Contains(out.stderr, tc.want) {
				t.Errorf("stderr %q does not contain %q", out.stderr, tc.want)
			}
			if out.stdout != "" {
				t.Errorf("stdout %q, want nothing", out.stdout)
			}
		})
	}
}

// -force-aws lets create-table through to AWS; here the connection fails,
// which is as far as a test can go without an account.
func TestCreateTableForceAWS(t *testing.T) {
	t.Parallel()
	var endpoint *string
	conn := func(_ context.Context, ep, _ string) (*store.Store, keyRegistry, error) {
		endpoint = &ep
		return nil, nil, errors.New("no AWS here")
	}
	out := admin(t, inAWS("tbl"), conn, "create-table", "-force-aws")
	if endpoint == nil || *endpoint != "" {
		t.Fatalf("connected to %v, want AWS (empty endpoint)", endpoint)
	}
	if out.code != 1 || !strings.Contains(out.stderr, "no AWS here") {
		t.Errorf("exit %d, stderr %q; want 1 and the connection error", out.code, out.stderr)
	}
}

// fakeKeys records API Gateway calls and fails those it is told to.
type fakeKeys struct {
	mu                                 sync.Mutex
	calls                              []string
	values                             map[string]string // live keys: id → value
	n                                  int
	failCreate, failAttach, failDelete error
}

func (f *fakeKeys) CreateKey(_ context.Context, name, value, description string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "create "+name)
	if f.failCreate != nil {
		return "", f.failCreate
	}
	if description == "" {
		return "", errors.New("fake: no description")
	}
	f.n++
	id := fmt.Sprintf("key%d", f.n)
	if f.values == nil {
		f.values = map[string]string{}
	}
	f.values[id] = value
	return id, nil
}

func (f *fakeKeys) AttachKey(_ context.Context, planID, keyID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "attach "+keyID+" to "+planID)
	if _, ok := f.values[keyID]; !ok {
		return fmt.Errorf("fake: no key %s", keyID)
	}
	return f.failAttach
}

func (f *fakeKeys) DeleteKey(_ context.Context, keyID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "delete "+keyID)
	if f.failDelete != nil {
		return f.failDelete
	}
	if _, ok := f.values[keyID]; !ok {
		return fmt.Errorf("fake: no key %s", keyID)
	}
	delete(f.values, keyID)
	return nil
}

func TestCreateTenantWithUsagePlan(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	for _, tc := range []struct {
		name      string
		keys      *fakeKeys
		existing  bool // tenant "acme" exists already
		wantCode  int
		wantCalls []string
		wantErr   string // in stderr
		wantLive  int    // keys left in API Gateway
	}{
		{
			name: "key created and attached", keys: &fakeKeys{},
			wantCalls: []string{"create fleetgroups-acme", "attach key1 to plan-1"}, wantLive: 1,
		},
		{
			name: "create fails", keys: &fakeKeys{failCreate: boom}, wantCode: 1,
			wantCalls: []string{"create fleetgroups-acme"}, wantErr: "create the API key of tenant acme: boom",
		},
		{
			name: "attach fails", keys: &fakeKeys{failAttach: boom}, wantCode: 1,
			wantCalls: []string{"create fleetgroups-acme", "attach key1 to plan-1", "delete key1"},
			wantErr:   "attach API key key1 to usage plan plan-1: boom (API key key1 was deleted again; nothing was provisioned)",
		},
		{
			name: "table write fails", keys: &fakeKeys{}, existing: true, wantCode: 1,
			wantCalls: []string{"create fleetgroups-acme", "attach key1 to plan-1", "delete key1"},
			wantErr:   "tenant acme already exists; choose another -id (API key key1 was deleted again",
		},
		{
			name: "attach and delete fail", keys: &fakeKeys{failAttach: boom, failDelete: errors.New("denied")}, wantCode: 1,
			wantCalls: []string{"create fleetgroups-acme", "attach key1 to plan-1", "delete key1"},
			wantErr:   "API key key1 could not be deleted again; delete it by hand", wantLive: 1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st, _ := storetest.NewStore(t)
			if tc.existing {
				if err := st.PutTenant(context.Background(), groups.Tenant{ID: "acme", Name: "Acme", APIKey: "old-key-value-000000000"}, auth.HashToken("fg_acme.old")); err != nil {
					t.Fatal(err)
				}
			}
			before := keysOf(scan(t, st.Table()))
			var gotEndpoint, gotTable string
			conn := func(_ context.Context, endpoint, table string) (*store.Store, keyRegistry, error) {
				gotEndpoint, gotTable = endpoint, table
				return st, tc.keys, nil
			}
			out := admin(t, inAWS(st.Table()), conn, "create-tenant", "-name", "Acme", "-id", "acme", "-usage-plan", "plan-1", "-json")
			if gotEndpoint != "" || gotTable != st.Table() {
				t.Errorf("connected to %q/%q, want AWS and table %s", gotEndpoint, gotTable, st.Table())
			}
			if out.code != tc.wantCode {
				t.Errorf("exit %d, want %d", out.code, tc.wantCode)
			}
			if !slices.Equal(tc.keys.calls, tc.wantCalls) {
				t.Errorf("API Gateway calls %q, want %q", tc.keys.calls, tc.wantCalls)
			}
			if len(tc.keys.values) != tc.wantLive {
				t.Errorf("%d keys left in API Gateway, want %d", len(tc.keys.values), tc.wantLive)
			}
			if !strings.Contains(out.stderr, tc.wantErr) {
				t.Errorf("stderr %q does not contain %q", out.stderr, tc.wantErr)
			}
			if tc.wantCode != 0 {
				if out.stdout != "" {
					t.Errorf("a failed create-tenant printed %q", out.stdout)
				}
				if after := keysOf(scan(t, st.Table())); !slices.Equal(before, after) {
					t.Errorf("the table changed:\nbefore %v\nafter  %v", before, after)
				}
				return
			}
			r := printed(t, out.stdout, true)
			if r.APIKeyID != "key1" {
				t.Errorf("api_key_id %q, want key1", r.APIKeyID)
			}
			tenant := checkTenant(t, st, r)
			if tc.keys.values["key1"] != tenant.APIKey {
				t.Errorf("API Gateway key value %q, but the authorizer returns %q", tc.keys.values["key1"], tenant.APIKey)
			}
		})
	}
}

// Without -usage-plan in AWS the tenant works but is refused by API Gateway
// until its key is registered; the command says so and how.
func TestCreateTenantInAWSWithoutUsagePlan(t *testing.T) {
	t.Parallel()
	st, _ := storetest.NewStore(t)
	keys := &fakeKeys{}
	conn := func(context.Context, string, string) (*store.Store, keyRegistry, error) { return st, keys, nil }
	out := admin(t, inAWS(st.Table()), conn, "create-tenant", "-name", "Acme")
	if out.code != 0 {
		t.Fatalf("exit %d: %s", out.code, out.stderr)
	}
	if len(keys.calls) != 0 {
		t.Errorf("API Gateway calls %q without -usage-plan", keys.calls)
	}
	tenant := checkTenant(t, st, printed(t, out.stdout, false))
	if !strings.Contains(out.stderr, "no API key in API Gateway") || !strings.Contains(out.stderr, "--value "+tenant.APIKey) {
		t.Errorf("stderr %q does not warn about the missing key and how to add it", out.stderr)
	}
}

func TestHashToken(t *testing.T) {
	t.Parallel()
	const token = "fg_tn_abc.s3cret"
	for _, tc := range []struct {
		name, stdin string
		args        []string
		wantWarning bool
	}{
		{name: "argument", args: []string{"hash-token", token}},
		{name: "stdin", stdin: token + "\n", args: []string{"hash-token", "-"}},
		{name: "stdin without newline", stdin: token, args: []string{"hash-token", "-"}},
		{name: "malformed", args: []string{"hash-token", "not-a-token"}, wantWarning: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tc.args, &env{
				stdin: strings.NewReader(tc.stdin), stdout: &stdout, stderr: &stderr,
				getenv: func(string) string { return "" },
			})
			want := auth.HashToken(tc.args[1])
			if tc.args[1] == "-" {
				want = auth.HashToken(token)
			}
			if code != 0 || stdout.String() != want+"\n" {
				t.Errorf("exit %d, stdout %q; want 0 and %q", code, stdout.String(), want)
			}
			if got := stderr.Len() > 0; got != tc.wantWarning {
				t.Errorf("stderr %q; want a warning: %v", stderr.String(), tc.wantWarning)
			}
			if strings.Contains(stderr.String(), tc.args[1]) && tc.args[1] != "-" {
				t.Errorf("the token is echoed to stderr: %q", stderr.String())
			}
		})
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"help"}, []string{"create-table", "create-tenant", "create-token", "list-tokens", "revoke-token", "hash-token",
			"-usage-plan", "-force-aws", "-endpoint", "-table", "-tenant", "-token-id", "-label"}},
		{[]string{"help", "revoke-token"}, []string{"Usage: fleetgroups-admin revoke-token", "unambiguous start", "-token-id ID"}},
		{[]string{"help", "create-tenant"}, []string{"Usage: fleetgroups-admin create-tenant", "Flags:", "API Gateway usage plan ID", "print a JSON object"}},
	} {
		out := admin(t, nil, nil, tc.args...)
		if out.code != 0 {
			t.Errorf("%q: exit %d", tc.args, out.code)
		}
		for _, w := range tc.want {
			if !strings.Contains(out.stdout, w) {
				t.Errorf("%q: output lacks %q", tc.args, w)
			}
		}
	}
	if out := admin(t, nil, nil, "create-tenant", "-h"); out.code != 0 || !strings.Contains(out.stderr, "API Gateway usage plan ID") {
		t.Errorf("create-tenant -h: exit %d, %q", out.code, out.stderr)
	}
}
