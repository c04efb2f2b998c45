package webhooks

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fleetgroups/fleetgroups/pkg/groups"
)

// Policy decides which endpoints a webhook may have (issue 9 §5). A URL
// must be https and its host must resolve to public addresses only: no
// loopback, private, shared (CGNAT), link-local (the instance metadata
// service at 169.254.169.254 among them), multicast or otherwise special
// address. Delivery checks the address it connects to again, so a name
// that resolves elsewhere later (DNS rebinding) gains nothing.
type Policy struct {
	// AllowLoopback lets http://127.0.0.1 (and localhost, [::1]) through,
	// for make run and tests only; link-local and private addresses stay
	// refused.
	AllowLoopback bool
	// Resolver resolves hosts at registration (net.DefaultResolver when
	// nil); tests bring their own.
	Resolver interface {
		LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
	}
}

// resolveTimeout bounds a registration's lookup of its host.
const resolveTimeout = 2 * time.Second

// blocked are the ranges no delivery may reach besides loopback, private,
// link-local, multicast and unspecified addresses (netip tells those).
var blocked = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // shared address space (CGNAT)
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments (some clouds' metadata)
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, broadcast
	netip.MustParsePrefix("64:ff9b::/96"),    // NAT64: would reach any IPv4 address
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
}

// CheckAddr says why a delivery may not reach addr, or nil if it may.
func (p Policy) CheckAddr(addr netip.Addr) error {
	addr = addr.Unmap()
	switch {
	case addr.IsLoopback():
		if p.AllowLoopback {
			return nil
		}
		return fmt.Errorf("%s is a loopback address", addr)
	case addr.IsLinkLocalUnicast(), addr.IsLinkLocalMulticast():
		return fmt.Errorf("%s is a link-local address (the instance metadata service is one)", addr)
	case addr.IsPrivate():
		return fmt.Errorf("%s is a private address", addr)
	case addr.IsUnspecified(), addr.IsMulticast(), addr.IsInterfaceLocalMulticast():
		return fmt.Errorf("%s is not a unicast address", addr)
	}
	for _, b := range blocked {
		if b.Contains(addr) {
			return fmt.Errorf("%s is in the special-purpose range %s", addr, b)
		}
	}
	return nil
}

// CheckURL says why a webhook may not have raw as its url, or nil if it
// may. A host that does not resolve now is accepted (delivery checks again
// and fails until it does); one that resolves to any address CheckAddr
// refuses is not.
func (p Policy) CheckURL(ctx context.Context, raw string) error {
	if len(raw) > groups.MaxWebhookURLLength {
		return fmt.Errorf("must be at most %d characters", groups.MaxWebhookURLLength)
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "":
		return errors.New("must be an absolute https URL, such as https://example.com/webhooks")
	case u.User != nil:
		return errors.New("must not hold a user name or password: authenticate deliveries by their signature")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return errors.New("must not have a fragment")
	}
	host := u.Hostname()
	loopbackHTTP := p.AllowLoopback && u.Scheme == "http" && isLoopbackName(host)
	if u.Scheme != "https" && !loopbackHTTP {
		if p.AllowLoopback {
			return errors.New("must be https (http only to 127.0.0.1, when running locally)")
		}
		return errors.New("must be https")
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return errors.New("has an invalid port")
		}
	}
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return p.CheckAddr(a)
	}
	if strings.HasSuffix(strings.ToLower(strings.TrimSuffix(host, ".")), "localhost") && !p.AllowLoopback {
		return errors.New("names this machine (localhost)")
	}
	res := p.Resolver
	if res == nil {
		res = net.DefaultResolver
	}
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	addrs, err := res.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil // not resolvable now: delivery checks again
	}
	for _, a := range addrs {
		if err := p.CheckAddr(a); err != nil {
			return fmt.Errorf("resolves to %w", err)
		}
	}
	return nil
}

func isLoopbackName(host string) bool {
	if a, err := netip.ParseAddr(host); err == nil {
		return a.IsLoopback()
	}
	return strings.EqualFold(host, "localhost")
}

// errRefusedAddr marks a connection the policy refused.
var errRefusedAddr = errors.New("refused address")

// Client is the HTTP client of deliveries: it connects only to addresses
// the policy allows (checked on the address actually dialled, after
// resolution), uses no proxy, follows no redirect (a 3xx is a failed
// attempt) and gives up after groups.WebhookTimeout.
func (p Policy) Client() *http.Client {
	dialer := &net.Dialer{
		Timeout: groups.WebhookTimeout,
		Control: func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("%w: %s", errRefusedAddr, address)
			}
			if err := p.CheckAddr(ap.Addr()); err != nil {
				return fmt.Errorf("%w: %w", errRefusedAddr, err)
			}
			return nil
		},
	}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   groups.WebhookTimeout,
		ResponseHeaderTimeout: groups.WebhookTimeout,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     false,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   groups.WebhookTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
