package main

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/tapir-edge/tapir/deploy/resolvers"
	"github.com/tapir-edge/tapir/lib/testkit/tooltest"
	"github.com/tapir-edge/tapir/lib/testkit/unboundtest"
)

// Monitor mode, on the resolver's side (the files of tapir-rpz(1) MONITOR
// MODE, as they are) and on the zone's (tapir-rpz serve --monitor): the
// zone names bad.example.test, the resolver answers it as if there were no
// zone, from the test zone, and logs that the zone would have blocked it.

// badAddr is bad.example.test's address in the test zone.
const badAddr = "192.0.2.66"

// serveDeny starts tapir-rpz serve on 127.0.0.1:port with a denylist naming
// bad.example.test, and more arguments; it stops it when the test ends.
func serveDeny(t *testing.T, dir string, port int, args ...string) *tooltest.Log {
	t.Helper()
	deny := write(t, dir, "deny.txt", "bad.example.test\n")
	serve := tooltest.Command(append([]string{"serve", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--no-input", "--deny", deny}, args...)...)
	log := tooltest.Start(t, "tapir-rpz", serve)
	// Serving before the resolver starts: a resolver whose first
	// transfer is refused waits for its retry, longer than a test does
	// (seen with BIND, with a tapir-rpz slowed by -race).
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(log.String(), "serving the zone"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("tapir-rpz did not start serving:\n%s", log)
		}
	}
	return log
}

// notBlocked checks that r is the test zone's own answer for
// bad.example.test.
func notBlocked(r *dns.Msg) error {
	if r == nil {
		return fmt.Errorf("no answer")
	}
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 || !strings.Contains(r.Answer[0].String(), badAddr) {
		return fmt.Errorf("blocked or wrong, want A %s:\n%v", badAddr, r)
	}
	return nil
}

// monitored asks for bad.example.test until log holds every one of want (the
// resolver has the zone and logged its hit), checking each time that the
// answer is the real one.
func monitored(t *testing.T, ask func(string) *dns.Msg, log func() string, want ...string) {
	t.Helper()
	has := func() bool {
		l := log()
		for _, w := range want {
			if !strings.Contains(l, w) {
				return false
			}
		}
		return true
	}
	for deadline := time.Now().Add(20 * time.Second); !has(); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the resolver did not log %q:\n%s", want, log())
		}
		// SERVFAIL: a resolver may answer so until its policy zone
		// is loaded (BIND does, on a loaded machine).
		if r := ask("bad.example.test."); r != nil && r.Rcode != dns.RcodeServerFailure {
			if err := notBlocked(r); err != nil {
				t.Fatalf("bad.example.test.: %v", err)
			}
		}
	}
	// Once more, now that the hit is logged: still the real answer.
	if err := notBlocked(ask("bad.example.test.")); err != nil {
		t.Fatalf("bad.example.test.: %v", err)
	}
}

func unboundAsk(ub *unboundtest.Server) func(string) *dns.Msg {
	return func(name string) *dns.Msg {
		r, err := ub.Query(name, dns.TypeA)
		if err != nil {
			return nil
		}
		return r
	}
}

// Unbound with unbound-monitor.conf: rpz-action-override passthru, and
// rpz-log with the name tapir-monitor.
func TestUnboundMonitor(t *testing.T) {
	dir := t.TempDir()
	port := tooltest.FreePort(t)
	ub := unboundtest.Start(t, unboundtest.Config{Zone: zone, ZoneName: "example.test.",
		Extra: resolvers.Fill("unbound-monitor.conf", resolvers.Vars{PrimaryPort: fmt.Sprint(port)})})
	serveDeny(t, dir, port, "--notify", ub.Addr)
	monitored(t, unboundAsk(ub), ub.Log, "rpz: applied [tapir-monitor] bad.example.test. rpz-passthru ")
}

// Unbound with the ordinary unbound-rpz.conf, and the zone served with
// --monitor: every rule PASSTHRU, which Unbound's rpz-log reports.
func TestUnboundZoneMonitor(t *testing.T) {
	dir := t.TempDir()
	port := tooltest.FreePort(t)
	ub := unboundtest.Start(t, unboundtest.Config{Zone: zone, ZoneName: "example.test.",
		Extra: resolvers.Fill("unbound-rpz.conf", resolvers.Vars{PrimaryPort: fmt.Sprint(port)})})
	serveDeny(t, dir, port, "--notify", ub.Addr, "--monitor")
	monitored(t, unboundAsk(ub), ub.Log, "rpz: applied bad.example.test. rpz-passthru ")
}

// askAt returns a function that sends a recursive query to a resolver on
// 127.0.0.1:port, or returns nil.
func askAt(port int) func(string) *dns.Msg {
	return func(name string) *dns.Msg {
		m := new(dns.Msg).SetQuestion(name, dns.TypeA)
		m.RecursionDesired = true
		r, _, err := new(dns.Client).Exchange(m, fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			return nil
		}
		return r
	}
}

// BIND with bind-monitor.conf inside options and bind-rpz-zone.conf
// beside: the zone's policy overridden to PASSTHRU, and logged in the rpz
// category (on standard error with -g).
func TestBINDMonitor(t *testing.T) {
	named := tooltest.Need(t, "named")
	dir := t.TempDir()
	dnsPort, rpzPort := tooltest.FreePort(t), tooltest.FreePort(t)
	write(t, dir, "example.test.zone", zone)
	v := resolvers.Vars{PrimaryPort: fmt.Sprint(rpzPort)}
	write(t, dir, "monitor.conf", resolvers.Fill("bind-monitor.conf", v))
	write(t, dir, "rpz-zone.conf", resolvers.Fill("bind-rpz-zone.conf", v))
	conf := namedConf(t, dir, dnsPort, "monitor.conf")
	// Registered before named's, so stopped after it.
	serveDeny(t, dir, rpzPort, "--notify", fmt.Sprintf("127.0.0.1:%d", dnsPort))
	logs := tooltest.Start(t, "named", exec.Command(named, "-g", "-c", conf, "-u", "root"))
	monitored(t, askAt(dnsPort), logs.String, "rpz QNAME PASSTHRU rewrite bad.example.test/A/IN via bad.example.test.rpz.tapir")
}

// recursorConf writes into dir the configuration of a PowerDNS Recursor
// that answers on 127.0.0.1:dnsPort, serves the test zone, and reads
// dir/rec.lua as its lua-config-file.
func recursorConf(t *testing.T, dir string, dnsPort int) {
	t.Helper()
	write(t, dir, "example.test.zone", zone)
	// Nothing may leave loopback: root hints that name only 127.0.0.1,
	// which the recursor does not query (dont-query), so that priming
	// stays local; queries sent from 127.0.0.1, which the kernel refuses
	// to send anywhere else; and no security poll (secpoll.powerdns.com).
	write(t, dir, "root.hints", ". 3600000 NS root.invalid.\nroot.invalid. 3600000 A 127.0.0.1\n")
	write(t, dir, "recursor.conf", fmt.Sprintf(`local-address=127.0.0.1
local-port=%[1]d
socket-dir=%[2]s
lua-config-file=%[2]s/rec.lua
auth-zones=example.test=%[2]s/example.test.zone
daemon=no
write-pid=no
hint-file=%[2]s/root.hints
query-local-address=127.0.0.1
security-poll-suffix=
dnssec=off
`, dnsPort, dir))
}

// PowerDNS Recursor with pdns-recursor-monitor.lua: every rule of the zone
// Policy.NoAction. Recursor 4.8 logs nothing for such a hit (its query
// log, quiet=no, does not show it, and rpzPrimary has no option to log
// hits); what it does show is the hit counted, in rec_control's
// policy-result-noaction.
func TestPowerDNSMonitor(t *testing.T) {
	recursor := tooltest.Need(t, "pdns_recursor")
	control := tooltest.Need(t, "rec_control")
	dir := t.TempDir()
	dnsPort, rpzPort := tooltest.FreePort(t), tooltest.FreePort(t)
	recursorConf(t, dir, dnsPort)
	write(t, dir, "rec.lua", resolvers.Fill("pdns-recursor-monitor.lua", resolvers.Vars{PrimaryPort: fmt.Sprint(rpzPort)}))
	serveDeny(t, dir, rpzPort)
	logs := tooltest.Start(t, "pdns_recursor", exec.Command(recursor, "--config-dir="+dir))
	stat := func(name string) string {
		out, err := exec.Command(control, "--socket-dir="+dir, "get", name).CombinedOutput()
		if err != nil {
			t.Fatalf("rec_control get %s: %v\n%s", name, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(logs.String(), `msg="RPZ load completed"`); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the recursor did not load the zone")
		}
	}
	ask := askAt(dnsPort)
	if r := ask("good.example.test."); r == nil || r.Rcode != dns.RcodeSuccess {
		t.Fatalf("good.example.test.: %v", r)
	}
	if n := stat("policy-result-noaction"); n != "0" {
		t.Fatalf("policy-result-noaction is %s after a name the zone does not list, want 0", n)
	}
	if err := notBlocked(ask("bad.example.test.")); err != nil {
		t.Fatalf("bad.example.test.: %v", err)
	}
	if n := stat("policy-result-noaction"); n != "1" {
		t.Fatalf("policy-result-noaction is %s after bad.example.test., want 1", n)
	}
	if n := stat("all-outqueries"); n != "0" {
		t.Errorf("the recursor sent %s queries out", n)
	}
}
