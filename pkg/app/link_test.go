package app

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/fleetgroups/fleetgroups/pkg/openapi"
)

// TestEachLambdaLinksOnlyItsOwnOperation builds two functions as make build
// does (with the Makefile's LAMBDA_TAGS) and reads their binaries: function
// names stay in a stripped Go binary (tracebacks print them), so what was
// linked can be read there. get-group must carry its own endpoint, and
// neither another operation's nor the OpenAPI document, nor ServeMux (a
// Lambda routes its few routes itself), nor slog's Logger (a Lambda logs
// with jsonlog), nor net/http's HTTP/2; get-openapi carries the document.
func TestEachLambdaLinksOnlyItsOwnOperation(t *testing.T) {
	t.Parallel()
	mk, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	tags := regexp.MustCompile(`(?m)^LAMBDA_TAGS +:= (.*)$`).FindSubmatch(mk)
	if tags == nil {
		t.Fatal("no LAMBDA_TAGS in the Makefile")
	}
	doc := openapi.JSON()[:256]
	cases := []struct {
		op           string
		want, reject [][]byte
	}{
		{"get-group", [][]byte{[]byte("pkg/api.(*API).getGroup")},
			[][]byte{[]byte("pkg/api.(*API).createGroup"), []byte("pkg/api.(*API).idempotent"), doc, []byte("aws-sdk-go-v2/config."), []byte("aws-sdk-go-v2/service/sts"),
				[]byte("net/http.(*ServeMux)"), []byte("log/slog.(*Logger)"), []byte("net/http/internal/http2.")}},
		{"get-openapi", [][]byte{[]byte("pkg/api.(*API).getOpenAPI"), doc}, [][]byte{[]byte("pkg/api.(*API).getGroup")}},
	}
	for _, c := range cases {
		t.Run(c.op, func(t *testing.T) {
			t.Parallel()
			out := filepath.Join(t.TempDir(), "bootstrap")
			cmd := exec.Command("go", "build", "-tags", string(tags[1]), "-trimpath", "-ldflags", "-s -w", "-o", out,
				"github.com/fleetgroups/fleetgroups/functions/"+c.op)
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64")
			if msg, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%v: %s", err, msg)
			}
			bin, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range c.want {
				if !bytes.Contains(bin, w) {
					t.Errorf("%s lacks %.40q", c.op, w)
				}
			}
			for _, r := range c.reject {
				if bytes.Contains(bin, r) {
					t.Errorf("%s links %.40q", c.op, r)
				}
			}
		})
	}
}
