// Command deliver-webhooks delivers the webhook queue's events to the
// partners' endpoints (pkg/webhooks); it serves no route.
package main

import "github.com/fleetgroups/fleetgroups/pkg/app"

func main() { app.StartDeliverer() }
