package webhooks_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/fleetgroups/fleetgroups/pkg/webhooks"
)

// fakeResolver resolves names from a map; any other name does not resolve.
type fakeResolver map[string][]string

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	addrs, ok := f[host]
	if !ok {
		return nil, errors.New("no such host")
	}
	out := make([]netip.Addr, len(addrs))
	for i, a := range addrs {
		out[i] = netip.MustParseAddr(a)
	}
	return out, nil
}

// TestCheckURL: registration refuses what is not https and every host
// that is or resolves to an address off the public internet; locally,
// http://127.0.0.1 passes and nothing else more.
func TestCheckURL(t *testing.T) {
	res := fakeResolver{
		"partner.example.com":  {"93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"},
		"internal.example.com": {"93.184.215.14", "10.1.2.3"},
		"meta.example.com":     {"169.254.169.254"},
		"v6.example.com":       {"fd00:ec2::254"},
		"cgnat.example.com":    {"100.64.1.1"},
	}
	for _, c := range []struct {
		url       string
		local     bool
		wantError string // "" for allowed
	}{
		{"https://partner.example.com/hooks", false, ""},
		{"https://partner.example.com:8443/hooks?x=1", false, ""},
		{"https://not-resolvable.example.com/hooks", false, ""},
		{"https://93.184.215.14/hooks", false, ""},
		{"http://partner.example.com/hooks", false, "must be https"},
		{"ftp://partner.example.com/hooks", false, "must be https"},
		{"partner.example.com/hooks", false, "absolute https URL"},
		{"https://user:pw@partner.example.com/", false, "user name or password"},
		{"https://partner.example.com/#frag", false, "fragment"},
		{"https://internal.example.com/", false, "private address"},
		{"https://meta.example.com/", true, "link-local"},
		{"https://v6.example.com/", false, "private address"},
		{"https://cgnat.example.com/", false, "special-purpose"},
		{"https://127.0.0.1/", false, "loopback"},
		{"https://localhost/", false, "localhost"},
		{"https://[::1]/", false, "loopback"},
		{"https://[::ffff:127.0.0.1]/", false, "loopback"},
		{"https://169.254.169.254/latest/meta-data/", true, "link-local"},
		{"https://[fe80::1]/", true, "link-local"},
		{"https://10.0.0.1/", true, "private"},
		{"https://192.168.1.1/", false, "private"},
		{"https://0.0.0.0/", false, "unicast"},
		{"https://224.0.0.1/", false, "link-local"},
		{"https://239.1.1.1/", false, "unicast"},
		{"https://[64:ff9b::a00:1]/", false, "special-purpose"},
		{"https://partner.example.com:0/", false, "invalid port"},
		{"https://partner.example.com/" + strings.Repeat("a", 2048), false, "at most 2048"},
		{"http://127.0.0.1:8080/hooks", true, ""},
		{"http://localhost:8080/hooks", true, ""},
		{"https://127.0.0.1:8443/hooks", true, ""},
		{"http://127.0.0.1:8080/hooks", false, "must be https"},
		{"http://10.0.0.1/hooks", true, "must be https"},
	} {
		t.Run(c.url, func(t *testing.T) {
			err := webhooks.Policy{AllowLoopback: c.local, Resolver: res}.CheckURL(context.Background(), c.url)
			switch {
			case c.wantError == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.wantError != "" && (err == nil || !strings.Contains(err.Error(), c.wantError)):
				t.Fatalf("error %v, want one saying %q", err, c.wantError)
			}
		})
	}
}

// TestDeliveryChecksTheAddressItDials: a url that passed registration but
// whose name now resolves to a refused address (DNS rebinding) is not
// reached: the client checks the address it connects to.
func TestDeliveryChecksTheAddressItDials(t *testing.T) {
	reached := false
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true }))
	defer srv.Close()
	// srv listens on 127.0.0.1, which the deployed policy refuses.
	res, err := webhooks.Policy{}.Client().Post(strings.Replace(srv.URL, "127.0.0.1", "localhost", 1), "application/json", nil)
	if err == nil {
		res.Body.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "loopback") || reached {
		t.Fatalf("delivery to a loopback address: err %v, reached %v", err, reached)
	}
	res, err = webhooks.Policy{AllowLoopback: true}.Client().Post(srv.URL, "application/json", nil)
	if err != nil || !reached {
		t.Fatalf("local delivery: %v", err)
	}
	res.Body.Close()
}
