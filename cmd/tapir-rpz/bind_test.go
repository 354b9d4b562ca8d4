package main

import (
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/tapir-edge/tapir/deploy/resolvers"
	"github.com/tapir-edge/tapir/lib/testkit/tooltest"
)

// BIND, as a second resolver: its dnstap reaches tapir-listen, and it
// takes the zone from tapir-rpz serve as a response-policy zone and
// enforces it, configured with the files the man pages show.
func TestBIND(t *testing.T) {
	named := tooltest.Need(t, "named")
	dir := t.TempDir()
	dnsPort, rpzPort := tooltest.FreePort(t), tooltest.FreePort(t)
	sock := filepath.Join(dir, "dnstap.sock")
	write(t, dir, "example.test.zone", zone)
	// The files of tapir-rpz(1) and tapir-listen(1) RESOLVERS, as they are,
	// with the test's socket and port.
	v := resolvers.Vars{Socket: sock, PrimaryPort: fmt.Sprint(rpzPort)}
	write(t, dir, "dnstap.conf", resolvers.Fill("bind-dnstap.conf", v))
	write(t, dir, "rpz-options.conf", resolvers.Fill("bind-rpz-options.conf", v))
	write(t, dir, "rpz-zone.conf", resolvers.Fill("bind-rpz-zone.conf", v))
	conf := namedConf(t, dir, dnsPort, "dnstap.conf", "rpz-options.conf")

	listenBin := filepath.Join(dir, "tapir-listen")
	if out, err := exec.Command("go", "build", "-o", listenBin, "../tapir-listen").CombinedOutput(); err != nil {
		t.Fatalf("build tapir-listen: %v\n%s", err, out)
	}
	captured := filepath.Join(dir, "dnstap.fstrm")
	// Started in this order, stopped in the other (t.Cleanup).
	tooltest.Start(t, "tapir-listen", exec.Command(listenBin, "-u", sock, "-w", captured))
	serveDeny(t, dir, rpzPort, "--notify", fmt.Sprintf("127.0.0.1:%d", dnsPort))
	tooltest.Start(t, "named", exec.Command(named, "-g", "-c", conf, "-u", "root"))
	enforces(t, askAt(dnsPort))
	// BIND's dnstap arrived.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		out, _ := exec.Command("go", "run", "../tapir-cat", captured).Output()
		if bytes.Contains(out, []byte(`CR 127.0.0.1 UDP`)) && bytes.Contains(out, []byte(`"good.example.test."`)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no dnstap from BIND in %s:\n%s", captured, out)
		}
	}
}

// enforces checks that the resolver ask asks answers bad.example.test.
// NXDOMAIN from the RPZ (waiting up to 20 s for it to load the zone) and
// good.example.test. from the test zone.
func enforces(t *testing.T, ask func(string) *dns.Msg) {
	t.Helper()
	var r *dns.Msg
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if r = ask("bad.example.test."); r != nil && r.Rcode == dns.RcodeNameError {
			break
		}
	}
	if r == nil || r.Rcode != dns.RcodeNameError {
		t.Fatalf("bad.example.test.: %v, want NXDOMAIN from the RPZ", r)
	}
	if r = ask("good.example.test."); r == nil || len(r.Answer) != 1 || !strings.Contains(r.Answer[0].String(), "192.0.2.80") {
		t.Fatalf("good.example.test.: %v", r)
	}
}

// namedConf writes the test's named.conf in dir: BIND on 127.0.0.1 port
// dnsPort, serving example.test.zone, with the files options (inside
// options { }) and rpz-zone.conf (beside). Nothing may leave loopback:
// queries from 127.0.0.1, which the kernel refuses to send anywhere else,
// and no NOTIFY.
func namedConf(t *testing.T, dir string, dnsPort int, options ...string) string {
	var inc strings.Builder
	for _, o := range options {
		fmt.Fprintf(&inc, "\tinclude %q;\n", filepath.Join(dir, o))
	}
	return write(t, dir, "named.conf", fmt.Sprintf(`options {
	directory "%[1]s";
	pid-file "%[1]s/named.pid";
	listen-on port %[2]d { 127.0.0.1; };
	listen-on-v6 { none; };
	recursion yes;
	allow-query { 127.0.0.0/8; };
	dnssec-validation no;
	query-source address 127.0.0.1;
	notify no;
%[3]s};
zone "example.test." { type primary; file "%[1]s/example.test.zone"; };
include "%[1]s/rpz-zone.conf";
`, dir, dnsPort, inc.String()))
}
