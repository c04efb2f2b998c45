// Command remove-member is the remove-member Lambda; its routes are in pkg/routes.
package main

import (
	"github.com/fleetgroups/fleetgroups/pkg/app"
	"github.com/fleetgroups/fleetgroups/pkg/routes"
)

func main() { app.Start(routes.RemoveMember) }
