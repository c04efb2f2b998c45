package main

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestEveryFeatureFlagIsSetAsRecommended: the app sets every feature flag
// of the aws-cdk-lib it synthesises with (the recommended-feature-flags.json
// inside the jsii assembly of the Go module) to its recommended value, so
// that no flag is left to a legacy default and an upgrade that brings new
// flags says so here.
func TestEveryFeatureFlagIsSetAsRecommended(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}} {{.Version}}", "github.com/aws/aws-cdk-go/awscdk/v2").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dir, version, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
	f, err := os.Open(filepath.Join(dir, "jsii", "aws-cdk-lib-"+strings.TrimPrefix(version, "v")+".tgz"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	var recommended map[string]any
	for recommended == nil {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			t.Fatal("the assembly has no package/recommended-feature-flags.json")
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name == "package/recommended-feature-flags.json" {
			if err := json.NewDecoder(tr).Decode(&recommended); err != nil {
				t.Fatal(err)
			}
		}
	}
	for flag, want := range recommended {
		got, ok := featureFlags[flag]
		// Compare as JSON: a list is []any in the map, []interface{} here.
		gotJSON, _ := json.Marshal(got)
		wantJSON, _ := json.Marshal(want)
		if !ok || !reflect.DeepEqual(gotJSON, wantJSON) {
			t.Errorf("feature flag %s is %v (set: %v), want %s", flag, got, ok, wantJSON)
		}
	}
	for flag := range featureFlags {
		if _, ok := recommended[flag]; !ok {
			t.Errorf("feature flag %s is not one of aws-cdk-lib %s", flag, version)
		}
	}
}
