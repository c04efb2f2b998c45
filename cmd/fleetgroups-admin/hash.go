package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/fleetgroups/fleetgroups/pkg/auth"
)

func setupHashToken(fs *flag.FlagSet, e *env) func(context.Context, []string) error {
	return func(_ context.Context, args []string) error {
		if len(args) != 1 {
			return usagef("want exactly one TOKEN (or - to read it from stdin)")
		}
		token := args[0]
		// "-" keeps the partner's secret out of shell history and ps.
		if token == "-" {
			line, err := bufio.NewReader(e.stdin).ReadString('\n')
			if err != nil && line == "" {
				return fmt.Errorf("read the token from stdin: %w", err)
			}
			token = line
		}
		token = strings.TrimSpace(token)
		if token == "" {
			return usagef("empty token")
		}
		// Not a usage error: support may need the hash of whatever a
		// partner sent, well formed or not. The warning explains a miss.
		if _, ok := auth.TenantOf(token); !ok {
			fmt.Fprintf(e.stderr, "%s: warning: this is not a well-formed fleetgroups token (fg_<tenant>.<secret>)\n", progName)
		}
		_, err := fmt.Fprintln(e.stdout, auth.HashToken(token))
		return err
	}
}
