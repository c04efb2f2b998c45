// Command get-webhook is the get-webhook Lambda; its routes are in pkg/routes.
package main

import (
	"github.com/fleetgroups/fleetgroups/pkg/api"
	"github.com/fleetgroups/fleetgroups/pkg/app"
)

func main() { app.Start(api.GetWebhook) }
