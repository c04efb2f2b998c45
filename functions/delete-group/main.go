// Command delete-group is the delete-group Lambda; its routes are in pkg/routes.
package main

import (
	"github.com/fleetgroups/fleetgroups/pkg/app"
	"github.com/fleetgroups/fleetgroups/pkg/routes"
)

func main() { app.Start(routes.DeleteGroup) }
