package main

import (
	"fmt"
	"os/exec"
	"testing"

	"github.com/tapir-edge/tapir/deploy/resolvers"
	"github.com/tapir-edge/tapir/lib/testkit/tooltest"
)

// PowerDNS Recursor takes the zone from tapir-rpz serve (rpzPrimary, the
// file of tapir-rpz(1) RESOLVERS, as it is) and enforces it.
// (Its dnstap, in 4.8, logs only the queries it sends out, not clients.)
func TestPowerDNS(t *testing.T) {
	recursor := tooltest.Need(t, "pdns_recursor")
	dir := t.TempDir()
	dnsPort, rpzPort := tooltest.FreePort(t), tooltest.FreePort(t)
	recursorConf(t, dir, dnsPort) // as in monitor_test.go: nothing leaves loopback
	write(t, dir, "rec.lua", resolvers.Fill("pdns-recursor-rpz.lua", resolvers.Vars{PrimaryPort: fmt.Sprint(rpzPort)}))
	serveDeny(t, dir, rpzPort)
	tooltest.Start(t, "pdns_recursor", exec.Command(recursor, "--config-dir="+dir))
	enforces(t, askAt(dnsPort))
}
