package main

import (
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/tapir-edge/tapir/lib/resolvers"
	"github.com/tapir-edge/tapir/lib/tool/tooltest"
)

// BIND, as a second resolver: its dnstap reaches tapir-listen, and it
// takes the zone from tapir-rpz serve as a response-policy zone and
// enforces it, configured with the files the man pages show.
func TestBIND(t *testing.T) {
	named := tooltest.Need(t, "named")
	dir := t.TempDir()
	dnsPort, rpzPort := freePort(t), freePort(t)
	sock := filepath.Join(dir, "dnstap.sock")
	write(t, dir, "example.test.zone", zone)
	// The files of tapir-rpz(1) and tapir-listen(1) RESOLVERS, as they are,
	// with the test's socket and port.
	v := resolvers.Vars{Socket: sock, PrimaryPort: fmt.Sprint(rpzPort)}
	write(t, dir, "dnstap.conf", resolvers.Fill("bind-dnstap.conf", v))
	write(t, dir, "rpz-options.conf", resolvers.Fill("bind-rpz-options.conf", v))
	write(t, dir, "rpz-zone.conf", resolvers.Fill("bind-rpz-zone.conf", v))
	conf := write(t, dir, "named.conf", fmt.Sprintf(`options {
	directory "%[1]s";
	pid-file "%[1]s/named.pid";
	listen-on port %[2]d { 127.0.0.1; };
	listen-on-v6 { none; };
	recursion yes;
	allow-query { 127.0.0.0/8; };
	dnssec-validation no;
	query-source address 127.0.0.1;
	notify no;
	include "%[1]s/dnstap.conf";
	include "%[1]s/rpz-options.conf";
};
zone "example.test." { type primary; file "%[1]s/example.test.zone"; };
include "%[1]s/rpz-zone.conf";
`, dir, dnsPort))
	deny := write(t, dir, "deny.txt", "bad.example.test\n")

	listenBin := filepath.Join(dir, "tapir-listen")
	if out, err := exec.Command("go", "build", "-o", listenBin, "../tapir-listen").CombinedOutput(); err != nil {
		t.Fatalf("build tapir-listen: %v\n%s", err, out)
	}
	captured := filepath.Join(dir, "dnstap.fstrm")
	listen := exec.Command(listenBin, "-u", sock, "-w", captured)
	serve := tooltest.Command("serve", "--listen", fmt.Sprintf("127.0.0.1:%d", rpzPort), "--no-input", "--deny", deny,
		"--notify", fmt.Sprintf("127.0.0.1:%d", dnsPort))
	bind := exec.Command(named, "-g", "-c", conf, "-u", "root")
	var logs [3]syncBuffer
	listen.Stderr, serve.Stderr, bind.Stderr = &logs[0], &logs[1], &logs[2]
	for _, c := range []*exec.Cmd{listen, serve, bind} {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		for _, c := range []*exec.Cmd{bind, serve, listen} {
			c.Process.Signal(syscall.SIGTERM)
			c.Wait()
		}
		if t.Failed() {
			t.Logf("named:\n%s\ntapir-rpz:\n%s\ntapir-listen:\n%s", logs[2].String(), logs[1].String(), logs[0].String())
		}
	}()
	ask := func(name string) *dns.Msg {
		m := new(dns.Msg).SetQuestion(name, dns.TypeA)
		r, _, err := new(dns.Client).Exchange(m, fmt.Sprintf("127.0.0.1:%d", dnsPort))
		if err != nil {
			return nil
		}
		return r
	}
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
