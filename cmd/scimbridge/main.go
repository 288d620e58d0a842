// Command scimbridge is the SCIM 2.0 provisioning server and identity
// bridge. `scimbridge serve` runs the server; `scimbridge token create`
// issues tokens offline. All wiring happens in run, in this package.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
