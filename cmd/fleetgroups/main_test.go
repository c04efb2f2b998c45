package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/fleetgroups/fleetgroups/pkg/app"
	"github.com/fleetgroups/fleetgroups/pkg/auth"
	"github.com/fleetgroups/fleetgroups/pkg/ddblocal"
	"github.com/fleetgroups/fleetgroups/pkg/gateway"
	"github.com/fleetgroups/fleetgroups/pkg/storetest"
)

func TestMain(m *testing.M) { os.Exit(ddblocal.RunTests(m)) }

// session runs the CLI against the local API as one tenant.
type session struct {
	t     *testing.T
	api   string
	token string
}

func newSession(t *testing.T) *session {
	st, _ := storetest.NewStore(t)
	quiet := slog.New(slog.DiscardHandler)
	srv := httptest.NewServer(gateway.New(app.NewHandlers(st, quiet), quiet))
	t.Cleanup(srv.Close)
	tenant, token := auth.NewCredentials("", "cli")
	if err := st.PutTenant(context.Background(), tenant, auth.HashToken(token)); err != nil {
		t.Fatal(err)
	}
	return &session{t: t, api: srv.URL, token: token}
}

// run runs the CLI with args (after --api and --token) and stdin, and
// returns its exit code and outputs.
func (s *session) run(stdin string, args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := run(context.Background(), append([]string{"--api", s.api, "--token", s.token}, args...), strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestSession: a partner's session: create a tree, add members one by one
// and in bulk from stdin (more than one batch), list them as a table and
// as JSON, rename, read usage, and the exit codes of what goes wrong.
func TestSession(t *testing.T) {
	s := newSession(t)
	code, out, _ := s.run("", "--output", "json", "groups", "create", "Region North")
	var region struct{ ID string }
	if err := json.Unmarshal([]byte(out), &region); code != exitOK || err != nil || region.ID == "" {
		t.Fatalf("create: %d %q", code, out)
	}
	code, out, errOut := s.run("", "groups", "create", "Depot 1", "--parent", region.ID, "--description", "the first")
	if code != exitOK || !strings.Contains(out, "Depot 1") || !strings.Contains(out, region.ID) {
		t.Fatalf("create under a parent: %d %q %q", code, out, errOut)
	}
	depot := strings.Fields(strings.Split(out, "\n")[1])[0]
	if code, _, _ := s.run("", "members", "add", depot, "vehicles", "veh-1"); code != exitOK {
		t.Fatalf("add: %d", code)
	}
	var bulk strings.Builder
	bulk.WriteString("# vans\n")
	for i := range 150 {
		fmt.Fprintf(&bulk, "vehicles veh-%d\n\n", i+2)
	}
	bulk.WriteString("users/usr-1\n")
	code, out, errOut = s.run(bulk.String(), "members", "add", depot, "--file", "-")
	if code != exitOK || !strings.Contains(out, "151") {
		t.Fatalf("bulk add: %d %q %q", code, out, errOut)
	}
	code, out, _ = s.run("", "members", "list", depot)
	if lines := strings.Split(strings.TrimSpace(out), "\n"); code != exitOK || len(lines) != 153 || !strings.HasPrefix(lines[0], "TYPE") {
		t.Fatalf("members list: %d, %d lines", code, len(lines))
	}
	code, out, _ = s.run("", "--output", "json", "members", "list", depot)
	var members []map[string]any
	if err := json.Unmarshal([]byte(out), &members); code != exitOK || err != nil || len(members) != 152 {
		t.Fatalf("members list as JSON: %d, %d members (%v)", code, len(members), err)
	}
	if code, out, _ = s.run("", "groups", "rename", depot, "Depot One"); code != exitOK || !strings.Contains(out, "Depot One") {
		t.Fatalf("rename: %d %q", code, out)
	}
	if code, out, _ = s.run("", "groups", "list", "--parent", region.ID); code != exitOK || !strings.Contains(out, "Depot One") || strings.Contains(out, "Region North") {
		t.Fatalf("list children: %d %q", code, out)
	}
	if code, out, errOut = s.run("", "items", "put", "vehicles", "veh-1", "--name", "Van 1", "--enterprise", "Acme"); code != exitOK || !strings.Contains(out, "Van 1") {
		t.Fatalf("items put: %d %q %q", code, out, errOut)
	}
	if code, out, _ = s.run("", "items", "list", "vehicles"); code != exitOK || !strings.Contains(out, "veh-1") || !strings.Contains(out, "Acme") {
		t.Fatalf("items list: %d %q", code, out)
	}
	if code, out, _ = s.run("", "--output", "json", "items", "get", "vehicles", "veh-1"); code != exitOK || !strings.Contains(out, `"name": "Van 1"`) {
		t.Fatalf("items get: %d %q", code, out)
	}
	if code, _, _ = s.run("", "items", "delete", "vehicles", "veh-1"); code != exitOK {
		t.Fatalf("items delete: %d", code)
	}
	if code, _, _ = s.run("", "items", "get", "vehicles", "veh-1"); code != exitNotFound {
		t.Fatalf("items get after the delete: %d", code)
	}
	if code, out, _ = s.run("", "usage"); code != exitOK || !strings.Contains(out, "CALLS TODAY") {
		t.Fatalf("usage: %d %q", code, out)
	}
	for _, c := range []struct {
		name  string
		stdin string
		args  []string
		code  int
		says  string
	}{
		{"unknown group", "", []string{"groups", "get", "grp_missing"}, exitNotFound, "not_found"},
		{"a taken name", "", []string{"groups", "create", "region north"}, exitConflict, "name_taken"},
		{"children first", "", []string{"groups", "delete", region.ID}, exitConflict, "has_children"},
		{"an invalid entry", "vehicles ok-1\nboats b-1\n", []string{"members", "add", depot, "--file", "-"}, exitAPI, "boats"},
		{"a malformed line", "vehicles\n", []string{"members", "add", depot, "--file", "-"}, exitUsage, "want TYPE ID"},
		{"an unknown command", "", []string{"groups", "explode"}, exitUsage, "unknown command"},
		{"an unknown item type", "", []string{"items", "list", "boats"}, exitUsage, "TYPE is"},
		{"a wrong output", "", []string{"--output", "yaml", "usage"}, exitUsage, "table or json"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := s.run(c.stdin, c.args...)
			if code != c.code || !strings.Contains(out+errOut, c.says) {
				t.Fatalf("exit %d, want %d; output %q %q", code, c.code, out, errOut)
			}
		})
	}
	if code, out, _ := s.run("", "groups", "delete", region.ID, "--cascade"); code != exitOK || !strings.Contains(out, "Region North") {
		t.Fatalf("cascade delete: %d %q", code, out)
	}
	if code, out, _ := s.run("", "--output", "json", "groups", "list"); code != exitOK || strings.TrimSpace(out) != "[]" {
		t.Fatalf("after the delete: %d %q", code, out)
	}
}

// TestNoTokenAndWrongTenant: without a token the CLI says so (exit 2); a
// token the API does not know is exit 5; an API that is not there, exit 7.
func TestNoTokenAndWrongTenant(t *testing.T) {
	s := newSession(t)
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"--api", s.api, "--token", "", "usage"}, strings.NewReader(""), &out, &errOut); code != exitUsage ||
		!strings.Contains(errOut.String(), "FLEETGROUPS_TOKEN") {
		t.Fatalf("no token: %d %q", code, errOut.String())
	}
	if code, _, errOut := (&session{t: t, api: s.api, token: "fg_nobody.x"}).run("", "usage"); code != exitAuth {
		t.Fatalf("unknown token: %d %q", code, errOut)
	}
	if code, _, _ := (&session{t: t, api: "http://127.0.0.1:1", token: s.token}).run("", "usage"); code != exitNetwork {
		t.Fatalf("no API: %d", code)
	}
	out.Reset()
	if code := run(context.Background(), []string{"--version"}, nil, &out, &errOut); code != exitOK || !strings.HasPrefix(out.String(), "fleetgroups ") {
		t.Fatalf("--version: %d %q", code, out.String())
	}
}

// TestProgress: the bulk add's progress bar redraws one line on the error
// output, filled in proportion.
func TestProgress(t *testing.T) {
	var out bytes.Buffer
	r := &cli{errOut: &out}
	r.progress(50, 200)
	r.progress(200, 200)
	want := "\r[#######" + strings.Repeat(" ", 23) + "] 50/200\r[" + strings.Repeat("#", 30) + "] 200/200"
	if out.String() != want {
		t.Fatalf("progress drew %q, want %q", out.String(), want)
	}
}

// TestParseFlagsAmongArguments: flags parse before, between and after the
// positional arguments, a boolean flag takes no value, and "--" ends them.
func TestParseFlagsAmongArguments(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		parent  string
		cascade bool
		rest    []string
		fails   bool
	}{
		{"flag-after", []string{"Depot", "--parent", "grp_1"}, "grp_1", false, []string{"Depot"}, false},
		{"flag-before", []string{"--parent", "grp_1", "Depot"}, "grp_1", false, []string{"Depot"}, false},
		{"flag-with-equals", []string{"-parent=grp_1", "Depot"}, "grp_1", false, []string{"Depot"}, false},
		{"boolean-before-takes-no-value", []string{"--cascade", "grp_1"}, "", true, []string{"grp_1"}, false},
		{"boolean-after", []string{"grp_1", "--cascade"}, "", true, []string{"grp_1"}, false},
		{"both", []string{"--cascade", "x", "--parent", "grp_2", "y"}, "grp_2", true, []string{"x", "y"}, false},
		{"dash-dash-ends-flags", []string{"--parent", "grp_1", "--", "-Depot", "--cascade"}, "grp_1", false, []string{"-Depot", "--cascade"}, false},
		{"stdin-dash-is-an-argument", []string{"-", "--parent", "grp_1"}, "grp_1", false, []string{"-"}, false},
		{"unknown-flag", []string{"--colour", "red", "Depot"}, "", false, nil, true},
		{"value-missing", []string{"Depot", "--parent"}, "", false, nil, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			parent := fs.String("parent", "", "")
			cascade := fs.Bool("cascade", false, "")
			err := parse(fs, c.args)
			if c.fails {
				if err == nil {
					t.Fatalf("parse(%q) = nil, want an error", c.args)
				}
				return
			}
			if err != nil || *parent != c.parent || *cascade != c.cascade || !slices.Equal(fs.Args(), c.rest) {
				t.Errorf("parse(%q): parent %q, cascade %v, args %q, %v; want %q, %v, %q", c.args, *parent, *cascade, fs.Args(), err, c.parent, c.cascade, c.rest)
			}
		})
	}
}
