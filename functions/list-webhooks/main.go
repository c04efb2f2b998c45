// Command list-webhooks is the list-webhooks Lambda; its routes are in pkg/routes.
package main

import (
	"github.com/fleetgroups/fleetgroups/pkg/api"
	"github.com/fleetgroups/fleetgroups/pkg/app"
)

func main() { app.Start(api.ListWebhooks) }
