// Command authorizer is the authorizer Lambda; its routes are in pkg/routes.
package main

import "github.com/fleetgroups/fleetgroups/pkg/app"

func main() { app.StartAuthorizer() }
