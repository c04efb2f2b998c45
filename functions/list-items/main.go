// Command list-items is the list-items Lambda; its routes are in pkg/routes.
package main

import (
	"github.com/fleetgroups/fleetgroups/pkg/app"
	"github.com/fleetgroups/fleetgroups/pkg/routes"
)

func main() { app.Start(routes.ListItems) }
