package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/fleetgroups/fleetgroups/pkg/routes"
)

// lambdaBuildFlags are make build's LAMBDA_FLAGS (a test keeps the two
// alike): the bootstraps measured are the ones deployed, but for the
// machine's architecture.
var lambdaBuildFlags = []string{"-tags", "lambda.norpc,nethttpomithttp2", "-trimpath", "-ldflags", "-s -w"}

// baselineBuildFlags build the baseline as a careful plain build does: AWS's
// lambda.norpc for provided.al2023, stripped, without the project's own
// choice to leave out HTTP/2.
var baselineBuildFlags = []string{"-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w"}

// buildAll builds the functions' bootstraps and the baseline for
// linux/goarch into dir, in two go builds (their flags differ), and
// returns each binary's path by name (the operation, or "baseline").
func buildAll(ctx context.Context, root, dir, goarch string, ops []routes.Operation) (map[string]string, error) {
	var pkgs []string
	for _, op := range ops {
		pkgs = append(pkgs, "./functions/"+string(op))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	for _, b := range []struct {
		flags, pkgs []string
	}{{baselineBuildFlags, []string{"./cmd/baseline"}}, {lambdaBuildFlags, pkgs}} {
		if len(b.pkgs) == 0 {
			continue
		}
		// With -o naming a directory, go build writes each main package
		// there under its folder's name.
		args := append(append([]string{"build"}, b.flags...), append([]string{"-o", abs + "/"}, b.pkgs...)...)
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
		if out, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build for linux/%s: %w\n%s", goarch, err, out)
		}
	}
	pkgs = append(pkgs, "./cmd/baseline")
	bins := map[string]string{}
	for _, p := range pkgs {
		bins[filepath.Base(p)] = filepath.Join(abs, filepath.Base(p))
	}
	return bins, nil
}

// arm64Sizes builds for Lambda's linux/arm64 and returns each binary's size
// in bytes, by name.
func arm64Sizes(ctx context.Context, root, dir string, ops []routes.Operation) (map[string]int64, error) {
	bins, err := buildAll(ctx, root, dir, "arm64", ops)
	if err != nil {
		return nil, err
	}
	sizes := map[string]int64{}
	for name, path := range bins {
		fi, err := os.Stat(path)
		if err != nil {
			return nil, err
		}
		sizes[name] = fi.Size()
	}
	return sizes, nil
}
