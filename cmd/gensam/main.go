// Command gensam prints template.yaml, the AWS SAM template of the API, built
// from the route table (pkg/routes) and the table definition (pkg/store).
//
// The template is generated rather than written by hand because everything in
// it that can drift (one function per operation, one event per route, each
// function's table access, the key schema) already has a single source; the
// tests in this package fail when the checked-in file falls behind.
//
// Usage, from the repository root:
//
//	make template   # go run ./cmd/gensam > template.yaml
package main

import (
	"fmt"
	"os"
)

func main() {
	// Render everything before writing anything: on error make template
	// fails with an empty file, never with a truncated template that parses.
	out, err := generate()
	if err != nil {
		fmt.Fprintln(os.Stderr, "gensam:", err)
		os.Exit(1)
	}
	if _, err := os.Stdout.Write(out); err != nil {
		fmt.Fprintln(os.Stderr, "gensam:", err)
		os.Exit(1)
	}
}
