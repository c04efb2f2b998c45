// Command batch-members is the batch-members Lambda; its routes are in pkg/routes.
package main

import (
	"github.com/fleetgroups/fleetgroups/pkg/app"
	"github.com/fleetgroups/fleetgroups/pkg/routes"
)

func main() { app.Start(routes.BatchMembers) }
