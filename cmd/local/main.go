// Command local serves the whole API on http://127.0.0.1:3000, or on -addr
// (make run ADDR=127.0.0.1:8080), as `sam local start-api` would:
//
//   - listens on the address first, so that a port in use fails at once;
//   - starts DynamoDB Local (fetched and cached by pkg/ddblocal), unless
//     DYNAMODB_ENDPOINT names one that is already running;
//   - creates the table from the deploy's definition and the cursor key;
//   - provisions the demo tenant and prints its token;
//   - reads the table's stream into the publish-changes handler, as the
//     deployed event source mapping does (pkg/changes), so that
//     GET /v1/changes shows every change, and delivers webhooks from an
//     in-memory queue through the deliver-webhooks handler, as the
//     deployed SQS queue does (pkg/webhooks); webhooks may be
//     http://127.0.0.1 here;
//   - serves every route of the route table through pkg/gateway, which runs
//     the same authorizer and Lambda handlers that are deployed, and caches
//     the authorizer's answer per token for -authorizer-cache (5m, as the
//     deployed API does; 0 runs the authorizer on every request).
//
// Ctrl-C stops the server and DynamoDB Local.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/fleetgroups/fleetgroups/pkg/app"
	"github.com/fleetgroups/fleetgroups/pkg/changes"
	"github.com/fleetgroups/fleetgroups/pkg/ddblocal"
	"github.com/fleetgroups/fleetgroups/pkg/gateway"
	"github.com/fleetgroups/fleetgroups/pkg/localdev"
	"github.com/fleetgroups/fleetgroups/pkg/routes"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:3000", "address to listen on")
	table := flag.String("table", "fleetgroups-local", "table name on DynamoDB Local")
	authCache := flag.Duration("authorizer-cache", routes.AuthorizerCacheSeconds*time.Second,
		"how long the authorizer's answer for a token is kept, as API Gateway keeps it (0: not at all)")
	flag.Parse()
	if err := run(*addr, *table, *authCache); err != nil {
		fmt.Fprintln(os.Stderr, "local:", err)
		os.Exit(1)
	}
}

func run(addr, table string, authCache time.Duration) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := app.NewLogger(slog.LevelInfo)

	// Listen before anything else: a port in use should fail before
	// DynamoDB Local starts and before the banner claims the server is up.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	addr = dialAddr(ln.Addr().(*net.TCPAddr))

	if os.Getenv(ddblocal.EndpointEnv) == "" {
		fmt.Fprintln(os.Stderr, "starting DynamoDB Local (the first run downloads it)…")
	}
	maxDepth, err := app.TreeMaxDepth()
	if err != nil {
		return err
	}
	st, endpoint, stopDB, err := localdev.Start(ctx, table)
	if err != nil {
		return err
	}
	defer stopDB()
	st.MaxDepth = maxDepth
	cfg, err := app.AWSConfig(endpoint)
	if err != nil {
		return err
	}
	h := app.NewHandlers(st, log)
	feed := changes.NewFollow(cfg, endpoint, table, h.Publisher, log)
	feedDone, queueDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(feedDone)
		if err := feed.Run(ctx); err != nil {
			log.Error("the change feed stopped: GET /v1/changes shows nothing new", "error", err.Error())
		}
	}()
	go func() { defer close(queueDone); h.Queue.Run(ctx) }()
	defer func() { stop(); <-feedDone; <-queueDone }()
	fmt.Fprintf(os.Stderr, `
fleetgroups is serving on http://%s  (DynamoDB Local at %s, table %s)

  demo tenant: %s
  token:       %s

  curl -H "Authorization: Bearer %s" http://%s/v1/groups

  authorizer cache: %v per token (-authorizer-cache=0 turns it off)
  change feed:      GET /v1/changes, published from DynamoDB Local's stream
  webhooks:         POST /v1/webhooks; http://127.0.0.1 receivers allowed here

Ctrl-C stops the server and DynamoDB Local.
`, addr, endpoint, table, localdev.DemoTenantID, localdev.DemoToken, localdev.DemoToken, addr, authCache)
	return gateway.Serve(ctx, ln, gateway.New(h, log, gateway.WithAuthorizerCache(authCache)))
}

// dialAddr is where a client on this machine reaches the listener: the real
// port when -addr asked for port 0, and loopback when it asked for all
// interfaces (-addr :3000).
func dialAddr(a *net.TCPAddr) string {
	ip := a.IP
	if ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1)
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(a.Port))
}
