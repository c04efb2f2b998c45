// Command retry-webhook-delivery is the retry-webhook-delivery Lambda; its routes are in pkg/routes.
package main

import (
	"github.com/fleetgroups/fleetgroups/pkg/api"
	"github.com/fleetgroups/fleetgroups/pkg/app"
)

func main() { app.Start(api.RetryDelivery) }
