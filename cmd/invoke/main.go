// Command invoke runs one operation's Lambda handler on a sample event
// against DynamoDB Local, as `sam local invoke -e` does:
//
//	go run ./cmd/invoke -op get-group -event events/get-group.json   (or: make invoke OP=get-group)
//
// It starts DynamoDB Local itself (unless DYNAMODB_ENDPOINT names a running
// one), creates the table, seeds the demo tenant and group the sample events
// refer to, and prints the handler's response as JSON.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"

	"github.com/fleetgroups/fleetgroups/pkg/app"
	"github.com/fleetgroups/fleetgroups/pkg/localdev"
	"github.com/fleetgroups/fleetgroups/pkg/routes"
)

func main() {
	op := flag.String("op", "", "operation (a folder under functions/)")
	eventFile := flag.String("event", "", "event JSON file (default events/<op>.json)")
	table := flag.String("table", "fleetgroups-local", "table name on DynamoDB Local")
	flag.Parse()
	if *op == "" {
		flag.Usage()
		os.Exit(2)
	}
	if *eventFile == "" {
		*eventFile = "events/" + *op + ".json"
	}
	if err := run(routes.Operation(*op), *eventFile, *table); err != nil {
		fmt.Fprintln(os.Stderr, "invoke:", err)
		os.Exit(1)
	}
}

func run(op routes.Operation, eventFile, table string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	event, err := os.ReadFile(eventFile)
	if err != nil {
		return err
	}
	st, _, stopDB, err := localdev.Start(ctx, table)
	if err != nil {
		return err
	}
	defer stopDB()
	log := app.NewLogger(slog.LevelInfo)
	out, err := localdev.Invoke(ctx, app.NewHandlers(st, log), op, event)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
