package main

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestRenovateFollowsThePins: the dependency-update configuration's
// pattern for the CDK CLI finds the version pinned in the Makefile, and
// the same one everywhere it looks, so that an update changes them all
// (Renovate's gomod manager finds go.mod and tools/go.mod by itself).
func TestRenovateFollowsThePins(t *testing.T) {
	raw, err := os.ReadFile("../renovate.json")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		EnabledManagers []string `json:"enabledManagers"`
		CustomManagers  []struct {
			ManagerFilePatterns []string `json:"managerFilePatterns"`
			MatchStrings        []string `json:"matchStrings"`
			DepNameTemplate     string   `json:"depNameTemplate"`
		} `json:"customManagers"`
	}
	if err := json.Unmarshal(raw, &cfg); err != nil {
		t.Fatal(err)
	}
	makefile, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	pin := regexp.MustCompile(`aws-cdk@(\d+\.\d+\.\d+)`).FindSubmatch(makefile)
	if pin == nil {
		t.Fatal("the Makefile pins no aws-cdk@X.Y.Z")
	}
	found := false
	for _, m := range cfg.CustomManagers {
		if m.DepNameTemplate != "aws-cdk" {
			continue
		}
		found = true
		for _, p := range m.ManagerFilePatterns {
			file := strings.NewReplacer(`/^`, "", `$/`, "", `\.`, ".").Replace(p)
			text, err := os.ReadFile("../" + file)
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			for _, s := range m.MatchStrings {
				matches := regexp.MustCompile(s).FindAllSubmatch(text, -1)
				if len(matches) == 0 {
					t.Errorf("%s: %s matches nothing", file, s)
				}
				for _, v := range matches {
					if string(v[1]) != string(pin[1]) {
						t.Errorf("%s pins aws-cdk@%s, the Makefile %s", file, v[1], pin[1])
					}
				}
			}
		}
	}
	if !found || !strings.Contains(strings.Join(cfg.EnabledManagers, " "), "gomod") {
		t.Fatalf("renovate.json updates neither the CDK CLI nor the Go modules: %s", raw)
	}
}
