// Command fleetgroups is the partner CLI (issue 10 §2), built on
// pkg/client: groups, members (one or in bulk from a file), registered
// items and usage, against the API at FLEETGROUPS_API (or --api) with the
// token in FLEETGROUPS_TOKEN (or --token).
//
//	fleetgroups groups create "Depot North"
//	fleetgroups members add grp_… --file members.txt   # "type id" per line; - reads stdin
//	fleetgroups --output json groups list
//
// Exit codes, for scripts: 0 done; 1 the API refused for another reason;
// 2 a usage error; 3 not found; 4 a conflict (409, 412, 422); 5 not
// authenticated or not allowed (401, 403); 6 throttled, out of quota or
// unavailable after the client's retries (429, 503); 7 the API could not
// be reached.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fleetgroups/fleetgroups/pkg/client"
)

// The exit codes.
const (
	exitOK = iota
	exitAPI
	exitUsage
	exitNotFound
	exitConflict
	exitAuth
	exitUnavailable
	exitNetwork
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// cli is one run: the client, where it writes, and how.
type cli struct {
	api    *client.API
	in     io.Reader
	out    io.Writer
	errOut io.Writer
	json   bool
}

// usageError is a mistake in the command line.
type usageError string

func (e usageError) Error() string { return string(e) }

const usage = `usage: fleetgroups [--api URL] [--token TOKEN] [--output table|json] COMMAND

  groups list [--parent ID] [--search PREFIX]
  groups get ID
  groups create NAME [--parent ID] [--description TEXT]
  groups rename ID NAME
  groups delete ID [--cascade]
  members list GROUP
  members add GROUP TYPE ID | members add GROUP --file FILE   (one "TYPE ID" per line; - is stdin)
  members remove GROUP TYPE ID
  items list TYPE
  items get TYPE ID
  items put TYPE ID --name NAME [--enterprise NAME]
  items delete TYPE ID
  usage

TYPE is vehicles, users, services, products or devices. FLEETGROUPS_API and
FLEETGROUPS_TOKEN stand for --api and --token.`

func run(ctx context.Context, args []string, in io.Reader, out, errOut io.Writer) int {
	fs := flag.NewFlagSet("fleetgroups", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	api := fs.String("api", envOr("FLEETGROUPS_API", "http://127.0.0.1:3000"), "the API's base URL")
	token := fs.String("token", os.Getenv("FLEETGROUPS_TOKEN"), "the tenant's token")
	output := fs.String("output", "table", "table or json")
	version := fs.Bool("version", false, "print the version")
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(errOut, "fleetgroups: %v\n%s\n", err, usage)
		return exitUsage
	}
	if *version {
		fmt.Fprintln(out, "fleetgroups", buildVersion())
		return exitOK
	}
	if *output != "table" && *output != "json" {
		fmt.Fprintf(errOut, "fleetgroups: --output must be table or json, not %q\n", *output)
		return exitUsage
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(errOut, usage)
		return exitUsage
	}
	if *token == "" {
		fmt.Fprintln(errOut, "fleetgroups: no token: set FLEETGROUPS_TOKEN or pass --token")
		return exitUsage
	}
	c, err := client.New(*api, *token, client.Options{})
	if err != nil {
		fmt.Fprintln(errOut, "fleetgroups:", err)
		return exitUsage
	}
	r := &cli{api: c, in: in, out: out, errOut: errOut, json: *output == "json"}
	err = r.command(ctx, fs.Args())
	var ue usageError
	var ce *client.Error
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(errOut, "fleetgroups: %v\n%s\n", err, usage)
		return exitUsage
	case errors.As(err, &ce):
		fmt.Fprintln(errOut, "fleetgroups:", ce.Error())
		for _, f := range ce.Fields {
			fmt.Fprintf(errOut, "  %s: %s\n", f.Field, f.Message)
		}
		return exitOf(ce.Status)
	}
	fmt.Fprintln(errOut, "fleetgroups:", err)
	return exitNetwork
}

func exitOf(status int) int {
	switch status {
	case 404:
		return exitNotFound
	case 409, 412, 422:
		return exitConflict
	case 401, 403:
		return exitAuth
	case 429, 503:
		return exitUnavailable
	}
	return exitAPI
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// buildVersion is the module's version and commit, as the build recorded.
func buildVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	v := info.Main.Version
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
	}
	return v
}

// command runs one command.
func (r *cli) command(ctx context.Context, args []string) error {
	switch strings.Join(args[:min(2, len(args))], " ") {
	case "groups list":
		return r.groupsList(ctx, args[2:])
	case "groups get":
		id, err := oneArg(args[2:], "groups get ID")
		if err != nil {
			return err
		}
		res, err := r.api.GetGroupWithResponse(ctx, id, &client.GetGroupParams{})
		if err != nil {
			return err
		}
		return r.group(res.StatusCode(), res.Body, res.JSON200)
	case "groups create":
		return r.groupsCreate(ctx, args[2:])
	case "groups rename":
		if len(args) != 4 {
			return usageError("groups rename ID NAME")
		}
		name := args[3]
		res, err := client.UntilDone(ctx, func(ctx context.Context) (*client.UpdateGroupResponse, error) {
			return r.api.UpdateGroupWithResponse(ctx, args[2], &client.UpdateGroupParams{}, client.UpdateGroupJSONRequestBody{Name: &name})
		})
		if err != nil {
			return err
		}
		return r.group(res.StatusCode(), res.Body, res.JSON200)
	case "groups delete":
		return r.groupsDelete(ctx, args[2:])
	case "members list":
		return r.membersList(ctx, args[2:])
	case "members add":
		return r.membersAdd(ctx, args[2:])
	case "members remove":
		if len(args) != 5 {
			return usageError("members remove GROUP TYPE ID")
		}
		res, err := r.api.RemoveMemberWithResponse(ctx, args[2], client.ItemType(args[3]), args[4], &client.RemoveMemberParams{})
		if err != nil {
			return err
		}
		return client.Check(res.StatusCode(), res.Body)
	case "items list":
		return r.itemsList(ctx, args[2:])
	case "items get":
		return r.itemsGet(ctx, args[2:])
	case "items put":
		return r.itemsPut(ctx, args[2:])
	case "items delete":
		if len(args) != 4 {
			return usageError("items delete TYPE ID")
		}
		status, body, err := r.itemDelete(ctx, args[2], args[3])
		if err != nil {
			return err
		}
		return client.Check(status, body)
	}
	if len(args) == 1 && args[0] == "usage" {
		res, err := r.api.GetUsageWithResponse(ctx)
		if err != nil {
			return err
		}
		if err := client.Check(res.StatusCode(), res.Body); err != nil {
			return err
		}
		u := res.JSON200
		return r.print(u, []string{"CALLS TODAY", "TOTAL", "QUOTA A DAY", "RATE LIMIT"},
			[][]string{{fmt.Sprint(u.Today.Count), fmt.Sprint(u.Total), fmt.Sprint(u.Limits.Quota), fmt.Sprint(u.Limits.RateLimit)}})
	}
	return usageError("unknown command " + strings.Join(args, " "))
}

func oneArg(args []string, form string) (string, error) {
	if len(args) != 1 {
		return "", usageError(form)
	}
	return args[0], nil
}

// print writes v as JSON, or as a table of rows under header.
func (r *cli) print(v any, header []string, rows [][]string) error {
	if r.json {
		enc := json.NewEncoder(r.out)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	tw := tabwriter.NewWriter(r.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, row := range rows {
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	return tw.Flush()
}

var groupHeader = []string{"ID", "NAME", "PARENT", "DEPTH", "MEMBERS"}

func groupRow(g client.Group) []string {
	parent := "-"
	if g.ParentId != nil {
		parent = *g.ParentId
	}
	return []string{g.Id, g.Name, parent, fmt.Sprint(g.Depth), fmt.Sprint(g.MemberCount)}
}

// group prints the group a get, create, rename or delete answered.
func (r *cli) group(status int, body []byte, g *client.Group) error {
	if err := client.Check(status, body); err != nil {
		return err
	}
	return r.print(g, groupHeader, [][]string{groupRow(*g)})
}

func (r *cli) groupsList(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("groups list", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	parent := fs.String("parent", "", "only this group's children")
	search := fs.String("search", "", "only names that start with this")
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
		return usageError("groups list [--parent ID] [--search PREFIX]")
	}
	params := client.ListGroupsParams{}
	if *parent != "" {
		params.ParentId = parent
	}
	if *search != "" {
		params.Search = search
	}
	var all []client.Group
	var rows [][]string
	for g, err := range r.api.Groups(ctx, params) {
		if err != nil {
			return err
		}
		all = append(all, g)
		rows = append(rows, groupRow(g))
	}
	return r.print(orEmpty(all), groupHeader, rows)
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func (r *cli) groupsCreate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("groups create", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	parent := fs.String("parent", "", "the parent group")
	desc := fs.String("description", "", "a description")
	if err := parse(fs, args); err != nil || fs.NArg() != 1 {
		return usageError("groups create NAME [--parent ID] [--description TEXT]")
	}
	body := client.CreateGroupJSONRequestBody{Name: fs.Arg(0)}
	if *parent != "" {
		body.ParentId = parent
	}
	if *desc != "" {
		body.Description = desc
	}
	res, err := r.api.CreateGroupWithResponse(ctx, &client.CreateGroupParams{}, body)
	if err != nil {
		return err
	}
	return r.group(res.StatusCode(), res.Body, res.JSON201)
}

func (r *cli) groupsDelete(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("groups delete", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cascade := fs.Bool("cascade", false, "delete the whole subtree")
	if err := parse(fs, args); err != nil || fs.NArg() != 1 {
		return usageError("groups delete ID [--cascade]")
	}
	params := &client.DeleteGroupParams{}
	if *cascade {
		c := client.DeleteGroupParamsCascade("true")
		params.Cascade = &c
	}
	res, err := client.UntilDone(ctx, func(ctx context.Context) (*client.DeleteGroupResponse, error) {
		return r.api.DeleteGroupWithResponse(ctx, fs.Arg(0), params)
	})
	if err != nil {
		return err
	}
	return r.group(res.StatusCode(), res.Body, res.JSON200)
}

// parse parses args with fs wherever its flags stand among the positional
// arguments, so that both "create NAME --parent X" and "create --parent X
// NAME" parse. A flag takes the next argument as its value unless it is a
// boolean one or holds "="; after "--" everything is positional (a name
// that starts with "-").
func parse(fs *flag.FlagSet, args []string) error {
	var flags, rest []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			rest = append(rest, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if f := fs.Lookup(name); f != nil && !isBoolFlag(f) {
			if i+1 == len(args) {
				return fmt.Errorf("flag needs an argument: %s", a)
			}
			flags = append(flags, args[i+1])
			i++
		}
	}
	return fs.Parse(append(append(flags, "--"), rest...))
}

func isBoolFlag(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

func (r *cli) membersList(ctx context.Context, args []string) error {
	group, err := oneArg(args, "members list GROUP")
	if err != nil {
		return err
	}
	var all []client.Membership
	var rows [][]string
	pages := client.Pages(ctx, func(ctx context.Context, cursor *string) ([]client.Membership, *string, error) {
		res, err := r.api.ListMembersWithResponse(ctx, group, &client.ListMembersParams{Cursor: cursor})
		if err != nil {
			return nil, nil, err
		}
		if err := client.Check(res.StatusCode(), res.Body); err != nil {
			return nil, nil, err
		}
		page, err := res.JSON200.AsMembershipList()
		return page.Items, page.NextCursor, err
	})
	for m, err := range pages {
		if err != nil {
			return err
		}
		all = append(all, m)
		rows = append(rows, []string{string(m.ItemType), m.ItemId, m.AddedAt.UTC().Format(time.RFC3339)})
	}
	return r.print(orEmpty(all), []string{"TYPE", "ID", "ADDED"}, rows)
}

// batchSize is the most entries of one members:batch.
const batchSize = 100

func (r *cli) membersAdd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("members add", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	file := fs.String("file", "", `one "TYPE ID" per line; - reads stdin`)
	if err := parse(fs, args); err != nil {
		return usageError("members add GROUP TYPE ID | members add GROUP --file FILE")
	}
	switch {
	case *file == "" && fs.NArg() == 3:
		res, err := r.api.AddMemberWithResponse(ctx, fs.Arg(0), client.ItemType(fs.Arg(1)), fs.Arg(2), &client.AddMemberParams{})
		if err != nil {
			return err
		}
		return client.Check(res.StatusCode(), res.Body)
	case *file == "" || fs.NArg() != 1:
		return usageError("members add GROUP TYPE ID | members add GROUP --file FILE")
	}
	entries, err := r.readEntries(*file)
	if err != nil {
		return err
	}
	group := fs.Arg(0)
	start := time.Now()
	var summary client.BatchSummary
	var failed []client.BatchResult
	for from := 0; from < len(entries); from += batchSize {
		chunk := entries[from:min(from+batchSize, len(entries))]
		res, err := r.api.BatchMembersWithResponse(ctx, group, &client.BatchMembersParams{}, client.BatchMembersJSONRequestBody{Add: &chunk})
		if err != nil {
			return err
		}
		if err := client.Check(res.StatusCode(), res.Body); err != nil {
			return err
		}
		s := res.JSON200.Summary
		summary.Added += s.Added
		summary.AlreadyMember += s.AlreadyMember
		summary.Invalid += s.Invalid
		for _, e := range res.JSON200.Results {
			if e.Error != nil {
				failed = append(failed, e)
			}
		}
		if time.Since(start) > time.Second {
			r.progress(from+len(chunk), len(entries))
		}
	}
	if time.Since(start) > time.Second {
		fmt.Fprintln(r.errOut)
	}
	for _, f := range failed {
		fmt.Fprintf(r.errOut, "%s %s: %s\n", f.Type, f.Id, *f.Error)
	}
	rows := [][]string{{fmt.Sprint(summary.Added), fmt.Sprint(summary.AlreadyMember), fmt.Sprint(summary.Invalid)}}
	if err := r.print(summary, []string{"ADDED", "ALREADY MEMBERS", "INVALID"}, rows); err != nil {
		return err
	}
	if summary.Invalid > 0 {
		return &client.Error{Status: 400, Code: "invalid_argument", Detail: fmt.Sprintf("%d of %d entries were refused", summary.Invalid, len(entries))}
	}
	return nil
}

// progress draws a progress bar of bulk work on the error output.
func (r *cli) progress(done, total int) {
	const width = 30
	n := done * width / total
	fmt.Fprintf(r.errOut, "\r[%s%s] %d/%d", strings.Repeat("#", n), strings.Repeat(" ", width-n), done, total)
}

// readEntries reads "TYPE ID" lines (blank lines and # comments skipped).
func (r *cli) readEntries(file string) ([]client.BatchEntry, error) {
	src := r.in
	if file != "-" {
		f, err := os.Open(file)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		src = f
	}
	var entries []client.BatchEntry
	sc := bufio.NewScanner(src)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(strings.Replace(line, "/", " ", 1))
		if len(fields) != 2 {
			return nil, usageError(fmt.Sprintf("%s line %d: want TYPE ID, got %q", file, n, line))
		}
		entries = append(entries, map[string]string{"type": fields[0], "id": fields[1]})
	}
	return entries, sc.Err()
}

func (r *cli) itemsList(ctx context.Context, args []string) error {
	t, err := oneArg(args, "items list TYPE")
	if err != nil {
		return err
	}
	var all []client.Item
	var rows [][]string
	pages := client.Pages(ctx, func(ctx context.Context, cursor *string) ([]client.Item, *string, error) {
		status, body, page, err := r.itemPage(ctx, t, cursor)
		if err != nil {
			return nil, nil, err
		}
		if err := client.Check(status, body); err != nil {
			return nil, nil, err
		}
		return page.Items, page.NextCursor, nil
	})
	for it, err := range pages {
		if err != nil {
			return err
		}
		all = append(all, it)
		rows = append(rows, itemRow(it))
	}
	return r.print(orEmpty(all), itemHeader, rows)
}

// itemPage reads a page of the registered items of type t: the API has a
// route, and so the client a method, per type.
func (r *cli) itemPage(ctx context.Context, t string, cursor *string) (int, []byte, *client.ItemList, error) {
	switch t {
	case "vehicles":
		res, err := r.api.ListItemsVehiclesWithResponse(ctx, &client.ListItemsVehiclesParams{Cursor: cursor})
		if err != nil {
			return 0, nil, nil, err
		}
		return res.StatusCode(), res.Body, res.JSON200, nil
	case "users":
		res, err := r.api.ListItemsUsersWithResponse(ctx, &client.ListItemsUsersParams{Cursor: cursor})
		if err != nil {
			return 0, nil, nil, err
		}
		return res.StatusCode(), res.Body, res.JSON200, nil
	case "services":
		res, err := r.api.ListItemsServicesWithResponse(ctx, &client.ListItemsServicesParams{Cursor: cursor})
		if err != nil {
			return 0, nil, nil, err
		}
		return res.StatusCode(), res.Body, res.JSON200, nil
	case "products":
		res, err := r.api.ListItemsProductsWithResponse(ctx, &client.ListItemsProductsParams{Cursor: cursor})
		if err != nil {
			return 0, nil, nil, err
		}
		return res.StatusCode(), res.Body, res.JSON200, nil
	case "devices":
		res, err := r.api.ListItemsDevicesWithResponse(ctx, &client.ListItemsDevicesParams{Cursor: cursor})
		if err != nil {
			return 0, nil, nil, err
		}
		return res.StatusCode(), res.Body, res.JSON200, nil
	}
	return 0, nil, nil, usageError("TYPE is vehicles, users, services, products or devices, not " + t)
}

var itemHeader = []string{"TYPE", "ID", "NAME", "ENTERPRISE"}

func itemRow(it client.Item) []string {
	ent := "-"
	if it.Enterprise != nil {
		ent = *it.Enterprise
	}
	return []string{string(it.ItemType), it.ItemId, it.Name, ent}
}

func (r *cli) itemsGet(ctx context.Context, args []string) error {
	if len(args) != 2 {
		return usageError("items get TYPE ID")
	}
	var (
		status int
		body   []byte
		item   *client.Item
	)
	switch args[0] {
	case "vehicles":
		res, err := r.api.GetItemVehiclesWithResponse(ctx, args[1])
		if err != nil {
			return err
		}
		status, body, item = res.StatusCode(), res.Body, res.JSON200
	case "users":
		res, err := r.api.GetItemUsersWithResponse(ctx, args[1])
		if err != nil {
			return err
		}
		status, body, item = res.StatusCode(), res.Body, res.JSON200
	case "services":
		res, err := r.api.GetItemServicesWithResponse(ctx, args[1])
		if err != nil {
			return err
		}
		status, body, item = res.StatusCode(), res.Body, res.JSON200
	case "products":
		res, err := r.api.GetItemProductsWithResponse(ctx, args[1])
		if err != nil {
			return err
		}
		status, body, item = res.StatusCode(), res.Body, res.JSON200
	case "devices":
		res, err := r.api.GetItemDevicesWithResponse(ctx, args[1])
		if err != nil {
			return err
		}
		status, body, item = res.StatusCode(), res.Body, res.JSON200
	default:
		return usageError("TYPE is vehicles, users, services, products or devices, not " + args[0])
	}
	if err := client.Check(status, body); err != nil {
		return err
	}
	return r.print(item, itemHeader, [][]string{itemRow(*item)})
}

func (r *cli) itemsPut(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("items put", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	name := fs.String("name", "", "the item's name")
	enterprise := fs.String("enterprise", "", "the partner's customer it belongs to")
	if err := parse(fs, args); err != nil || fs.NArg() != 2 || *name == "" {
		return usageError("items put TYPE ID --name NAME [--enterprise NAME]")
	}
	body := client.PutItem{Name: *name}
	if *enterprise != "" {
		body.Enterprise = enterprise
	}
	status, raw, item, err := r.itemPut(ctx, fs.Arg(0), fs.Arg(1), body)
	if err != nil {
		return err
	}
	if err := client.Check(status, raw); err != nil {
		return err
	}
	return r.print(item, itemHeader, [][]string{itemRow(*item)})
}

// itemPut registers an item of type t (a route, and so a client method,
// per type); the item is the answer's, 201 or 200.
func (r *cli) itemPut(ctx context.Context, t, id string, body client.PutItem) (int, []byte, *client.Item, error) {
	pick := func(status int, raw []byte, created, replaced *client.Item) (int, []byte, *client.Item, error) {
		if created != nil {
			return status, raw, created, nil
		}
		return status, raw, replaced, nil
	}
	switch t {
	case "vehicles":
		res, err := r.api.PutItemVehiclesWithResponse(ctx, id, &client.PutItemVehiclesParams{}, body)
		if err != nil {
			return 0, nil, nil, err
		}
		return pick(res.StatusCode(), res.Body, res.JSON201, res.JSON200)
	case "users":
		res, err := r.api.PutItemUsersWithResponse(ctx, id, &client.PutItemUsersParams{}, body)
		if err != nil {
			return 0, nil, nil, err
		}
		return pick(res.StatusCode(), res.Body, res.JSON201, res.JSON200)
	case "services":
		res, err := r.api.PutItemServicesWithResponse(ctx, id, &client.PutItemServicesParams{}, body)
		if err != nil {
			return 0, nil, nil, err
		}
		return pick(res.StatusCode(), res.Body, res.JSON201, res.JSON200)
	case "products":
		res, err := r.api.PutItemProductsWithResponse(ctx, id, &client.PutItemProductsParams{}, body)
		if err != nil {
			return 0, nil, nil, err
		}
		return pick(res.StatusCode(), res.Body, res.JSON201, res.JSON200)
	case "devices":
		res, err := r.api.PutItemDevicesWithResponse(ctx, id, &client.PutItemDevicesParams{}, body)
		if err != nil {
			return 0, nil, nil, err
		}
		return pick(res.StatusCode(), res.Body, res.JSON201, res.JSON200)
	}
	return 0, nil, nil, usageError("TYPE is vehicles, users, services, products or devices, not " + t)
}

// itemDelete deletes an item of type t from every group and the registry.
func (r *cli) itemDelete(ctx context.Context, t, id string) (int, []byte, error) {
	switch t {
	case "vehicles":
		res, err := r.api.DeleteItemVehiclesWithResponse(ctx, id, &client.DeleteItemVehiclesParams{})
		if err != nil {
			return 0, nil, err
		}
		return res.StatusCode(), res.Body, nil
	case "users":
		res, err := r.api.DeleteItemUsersWithResponse(ctx, id, &client.DeleteItemUsersParams{})
		if err != nil {
			return 0, nil, err
		}
		return res.StatusCode(), res.Body, nil
	case "services":
		res, err := r.api.DeleteItemServicesWithResponse(ctx, id, &client.DeleteItemServicesParams{})
		if err != nil {
			return 0, nil, err
		}
		return res.StatusCode(), res.Body, nil
	case "products":
		res, err := r.api.DeleteItemProductsWithResponse(ctx, id, &client.DeleteItemProductsParams{})
		if err != nil {
			return 0, nil, err
		}
		return res.StatusCode(), res.Body, nil
	case "devices":
		res, err := r.api.DeleteItemDevicesWithResponse(ctx, id, &client.DeleteItemDevicesParams{})
		if err != nil {
			return 0, nil, err
		}
		return res.StatusCode(), res.Body, nil
	}
	return 0, nil, usageError("TYPE is vehicles, users, services, products or devices, not " + t)
}
