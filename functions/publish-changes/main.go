// Command publish-changes is the change feed's publisher Lambda, fed by the
// table's stream (pkg/changes); it serves no route.
package main

import "github.com/fleetgroups/fleetgroups/pkg/app"

func main() { app.StartPublisher() }
