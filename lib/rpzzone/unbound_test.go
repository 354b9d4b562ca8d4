package rpzzone

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/tapir-edge/tapir/deploy/resolvers"
	"github.com/tapir-edge/tapir/lib/testkit/tooltest"
	"github.com/tapir-edge/tapir/lib/testkit/unboundtest"
)

const e2eZone = `$ORIGIN example.test.
$TTL 300
@	SOA	ns.example.test. hostmaster.example.test. 1 3600 600 86400 300
@	NS	ns.example.test.
ns	A	192.0.2.53
bad	A	192.0.2.66
good	A	192.0.2.80
later	A	192.0.2.81
*.wild	A	192.0.2.99
`

// TestUnboundEndToEnd has a real Unbound pull the zone from a Server
// (rpz: primary, NOTIFY) and enforce it, and follow changes without a
// restart.
func TestUnboundEndToEnd(t *testing.T) {
	z, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := z.Apply([]Change{
		add(rule("bad.example.test.", false, NXDOMAIN, "")),
		add(rule("wild.example.test.", true, NXDOMAIN, "")),
	}); err != nil {
		t.Fatal(err)
	}
	pc, l, addr := listenPair(t)
	_, port, _ := net.SplitHostPort(addr)

	ub := unboundtest.Start(t, unboundtest.Config{
		Zone:     e2eZone,
		ZoneName: "example.test.",
		// The file of tapir-rpz(1) RESOLVERS, as it is, with the port.
		Extra: resolvers.Fill("unbound-rpz.conf", resolvers.Vars{PrimaryPort: port}),
	})

	var logBuf tooltest.Log
	logger := slog.New(slog.NewTextHandler(&logBuf, nil))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- (&Server{Zone: z, Notify: []string{ub.Addr}, Logger: logger}).ServeListeners(ctx, pc, l)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()

	// wait polls until name gets rcode from Unbound.
	wait := func(name string, rcode int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		var last *dns.Msg
		for time.Now().Before(deadline) {
			r, err := ub.Query(name, dns.TypeA)
			if err == nil && r.Rcode == rcode {
				if rcode == dns.RcodeSuccess && len(r.Answer) == 0 {
					t.Fatalf("%s: NOERROR without an answer:\n%v", name, r)
				}
				return
			}
			last = r
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("%s: no %s within 10s; last answer:\n%v\nunbound log:\n%s",
			name, dns.RcodeToString[rcode], last, ub.Log())
	}

	start := time.Now()
	wait("bad.example.test.", dns.RcodeNameError)
	t.Logf("initial transfer enforced after %v", time.Since(start))
	wait("good.example.test.", dns.RcodeSuccess)
	wait("later.example.test.", dns.RcodeSuccess)
	wait("x.wild.example.test.", dns.RcodeNameError)

	// Add a rule: NOTIFY, IXFR, enforced without a restart.
	later := rule("later.example.test.", false, NXDOMAIN, "")
	if _, err := z.Apply([]Change{add(later)}); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	wait("later.example.test.", dns.RcodeNameError)
	t.Logf("added rule enforced after %v", time.Since(start))
	wait("good.example.test.", dns.RcodeSuccess)

	// Remove it: resolves again.
	if _, err := z.Apply([]Change{del(later)}); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	wait("later.example.test.", dns.RcodeSuccess)
	t.Logf("removed rule lifted after %v", time.Since(start))
	wait("bad.example.test.", dns.RcodeNameError)

	// The changes went by NOTIFY and IXFR, and Unbound logged its RPZ
	// actions.
	logs := logBuf.String()
	if n := strings.Count(logs, "kind=IXFR "); n < 2 {
		t.Errorf("%d incremental transfers, want 2 or more; server log:\n%s", n, logs)
	}
	if !strings.Contains(ub.Log(), "rpz: applied bad.example.test. ") {
		t.Errorf("no rpz-log line in Unbound's log:\n%s", ub.Log())
	}
}
