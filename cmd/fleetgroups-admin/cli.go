package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/fleetgroups/fleetgroups/pkg/store"
)

const progName = "fleetgroups-admin"

// env is everything a command reaches the outside world through, so that
// tests can run commands against DynamoDB Local and a fake API Gateway and
// read what they print.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	// connect opens the table; keys is nil for DynamoDB Local, where there
	// is no API Gateway to register keys with.
	connect func(ctx context.Context, endpoint, table string) (st *store.Store, keys keyRegistry, err error)
}

// usageError is a wrong invocation: reported with exit status 2, before
// anything was changed.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// command is one subcommand. setup declares its flags on fs and returns the
// function that runs it with the arguments left after the flags; declaring
// flags in one place lets the overall usage text list every command's flags.
type command struct {
	name     string
	synopsis string
	summary  string
	setup    func(fs *flag.FlagSet, e *env) func(ctx context.Context, args []string) error
}

var commands = []command{
	{
		name:     "create-table",
		synopsis: "[-table NAME] [-endpoint URL] [-force-aws]",
		summary:  "create the table from store.TableDefinition, turn on TTL and create the cursor key",
		setup:    setupCreateTable,
	},
	{
		name:     "create-tenant",
		synopsis: "-name NAME [-id ID] [-usage-plan PLAN_ID] [-json] [-table NAME] [-endpoint URL]",
		summary:  "create a tenant and print its token, which is shown only once",
		setup:    setupCreateTenant,
	},
	{
		name:     "create-token",
		synopsis: "-tenant ID [-label LABEL] [-json] [-table NAME] [-endpoint URL]",
		summary:  "create another token for an existing tenant and print it, which is shown only once",
		setup:    setupCreateToken,
	},
	{
		name:     "list-tokens",
		synopsis: "-tenant ID [-json] [-table NAME] [-endpoint URL]",
		summary:  "list a tenant's tokens by id, label and creation time (never the tokens themselves)",
		setup:    setupListTokens,
	},
	{
		name:     "revoke-token",
		synopsis: "-tenant ID -token-id ID [-table NAME] [-endpoint URL]",
		summary:  "delete one of a tenant's tokens, named by its id or an unambiguous start of it",
		setup:    setupRevokeToken,
	},
	{
		name:     "migrate",
		synopsis: "[-page-size N] [-table NAME] [-endpoint URL]",
		summary:  "bring the table's stored shapes (key formats, copies) to the version this code writes; resumable",
		setup:    setupMigrate,
	},
	{
		name:     "replay-changes",
		synopsis: "(-shard ID -from NUMBER [-to NUMBER] | -failure FILE) [-table NAME] [-endpoint URL]",
		summary:  "publish a range of the table's stream into the change feed again (a batch the ChangeFailures queue names)",
		setup:    setupReplayChanges,
	},
	{
		name:     "rotate-cursor-key",
		synopsis: "[-table NAME] [-endpoint URL]",
		summary:  "make a new key seal pagination cursors; the old one still opens them for 31 days",
		setup:    setupRotateCursorKey,
	},
	{
		name:     "hash-token",
		synopsis: "TOKEN|-",
		summary:  "print the SHA-256 under which the table stores TOKEN (- reads it from stdin)",
		setup:    setupHashToken,
	},
}

// run runs the command named by args[0] and returns the exit status.
func run(ctx context.Context, args []string, e *env) int {
	if len(args) == 0 {
		printUsage(e.stderr, e)
		return 2
	}
	name, args := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(args) == 1 {
			if c, ok := lookup(args[0]); ok {
				fs := newFlagSet(c, e)
				c.setup(fs, e)
				fs.SetOutput(e.stdout)
				fs.Usage()
				return 0
			}
		}
		printUsage(e.stdout, e)
		return 0
	}
	c, ok := lookup(name)
	if !ok {
		fmt.Fprintf(e.stderr, "%s: unknown command %q\n\n", progName, name)
		printUsage(e.stderr, e)
		return 2
	}
	fs := newFlagSet(c, e)
	runCmd := c.setup(fs, e)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2 // the flag package has printed the error and the usage
	}
	err := runCmd(ctx, fs.Args())
	var ue *usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(e.stderr, "%s %s: %v\nRun '%s help %s' for usage.\n", progName, c.name, err, progName, c.name)
		return 2
	default:
		fmt.Fprintf(e.stderr, "%s %s: %v\n", progName, c.name, err)
		return 1
	}
}

func lookup(name string) (command, bool) {
	for _, c := range commands {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

func newFlagSet(c command, e *env) *flag.FlagSet {
	fs := flag.NewFlagSet(progName+" "+c.name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: %s %s %s\n\n%s.\n", progName, c.name, c.synopsis, capitalize(c.summary))
		if hasFlags(fs) {
			fmt.Fprintln(fs.Output(), "\nFlags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

func printUsage(w io.Writer, e *env) {
	fmt.Fprintf(w, `%[1]s provisions fleetgroups tables, tenants and their tokens.

Usage:
  %[1]s <command> [flags]
  %[1]s help [command]

A non-empty -endpoint means DynamoDB Local; an empty one (-endpoint=) means
AWS, with the SDK's default credentials and region (AWS_PROFILE, AWS_REGION).
Exit status: 0 done, 1 failed, 2 usage error (nothing was done).

Commands:
`, progName)
	for _, c := range commands {
		fmt.Fprintf(w, "\n  %s %s\n      %s\n", c.name, c.synopsis, c.summary)
		fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
		c.setup(fs, e)
		var flags strings.Builder
		fs.SetOutput(&flags)
		fs.PrintDefaults()
		for line := range strings.Lines(flags.String()) {
			fmt.Fprint(w, "    "+line)
		}
	}
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// target is the table a command works on.
type target struct{ table, endpoint string }

func (t *target) register(fs *flag.FlagSet, e *env) {
	fs.StringVar(&t.table, "table", e.getenv("TABLE_NAME"),
		"`NAME` of the DynamoDB table; required (default $TABLE_NAME; in AWS the stack's TableName output)")
	fs.StringVar(&t.endpoint, "endpoint", e.getenv("DYNAMODB_ENDPOINT"),
		"DynamoDB Local `URL`; empty (-endpoint=) means AWS (default $DYNAMODB_ENDPOINT)")
}

func (t *target) check() error {
	if t.table == "" {
		return usagef("no table: set -table or TABLE_NAME")
	}
	return nil
}

func (t *target) local() bool { return t.endpoint != "" }

// where names the table for messages, so that nobody mistakes which
// database a command just changed.
func (t *target) where() string {
	if t.local() {
		return fmt.Sprintf("table %s on DynamoDB Local %s", t.table, t.endpoint)
	}
	return fmt.Sprintf("table %s in AWS", t.table)
}

func noArgs(args []string) error {
	if len(args) > 0 {
		return usagef("unexpected arguments %q (quote values that contain spaces)", args)
	}
	return nil
}
