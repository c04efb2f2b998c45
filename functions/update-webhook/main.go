// Command update-webhook is the update-webhook Lambda; its routes are in pkg/routes.
package main

import (
	"github.com/fleetgroups/fleetgroups/pkg/api"
	"github.com/fleetgroups/fleetgroups/pkg/app"
)

func main() { app.Start(api.UpdateWebhook) }
