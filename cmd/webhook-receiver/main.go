// Command webhook-receiver is a webhook endpoint for trying webhooks with
// make run: it listens on http://127.0.0.1:4000 (or -addr), checks each
// delivery's Standard Webhooks signature with the secret the API showed
// when the webhook was created (-secret, or WEBHOOK_SECRET), prints one
// line per delivery and its body, and answers 204, or 401 to a delivery
// whose signature does not verify. -fail 0.5 answers 500 to half of the
// deliveries, to watch the API retry them.
//
//	go run ./cmd/webhook-receiver -secret whsec_…
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/fleetgroups/fleetgroups/pkg/standardwebhooks"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:4000", "address to listen on")
	secret := flag.String("secret", os.Getenv("WEBHOOK_SECRET"), "the webhook's signing secret (whsec_…); without it, signatures are not checked")
	fail := flag.Float64("fail", 0, "fraction of deliveries to answer 500, from 0 to 1")
	flag.Parse()
	if err := run(*addr, *secret, *fail); err != nil {
		fmt.Fprintln(os.Stderr, "webhook-receiver:", err)
		os.Exit(1)
	}
}

func run(addr, secret string, fail float64) error {
	if fail < 0 || fail > 1 {
		return fmt.Errorf("-fail must be from 0 to 1, not %v", fail)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "receiving webhooks on http://%s/ (signatures %s); Ctrl-C stops\n", ln.Addr(), map[bool]string{true: "checked", false: "not checked: no -secret"}[secret != ""])
	srv := &http.Server{Handler: handler(secret, fail, os.Stdout, time.Now), ReadHeaderTimeout: 10 * time.Second}
	go func() { <-ctx.Done(); _ = srv.Close() }()
	if err := srv.Serve(ln); err != http.ErrServerClosed {
		return err
	}
	return nil
}

// handler answers deliveries, printing each to out.
func handler(secret string, fail float64, out io.Writer, now func() time.Time) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil || r.Method != http.MethodPost {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		status, check := http.StatusNoContent, "signature not checked"
		if secret != "" {
			if err := standardwebhooks.Verify(secret, r.Header, body, now()); err != nil {
				status, check = http.StatusUnauthorized, "signature REFUSED: "+err.Error()
			} else {
				check = "signature verified"
			}
		}
		if status == http.StatusNoContent && fail > 0 && rand.Float64() < fail {
			status, check = http.StatusInternalServerError, check+", answered 500 (-fail)"
		}
		fmt.Fprintf(out, "%s %s %s %s\n  %s\n", now().UTC().Format(time.TimeOnly), r.URL.Path, r.Header.Get("webhook-id"), check, body)
		w.WriteHeader(status)
	})
}
