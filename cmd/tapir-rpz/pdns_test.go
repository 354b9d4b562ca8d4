package main

import (
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/tapir-edge/tapir/lib/resolvers"
	"github.com/tapir-edge/tapir/lib/tool/tooltest"
)

// PowerDNS Recursor takes the zone from tapir-rpz serve (rpzPrimary, the
// file of tapir-rpz(1) RESOLVERS, as it is) and enforces it.
// (Its dnstap, in 4.8, logs only the queries it sends out, not clients.)
func TestPowerDNS(t *testing.T) {
	recursor := tooltest.Need(t, "pdns_recursor")
	dir := t.TempDir()
	dnsPort, rpzPort := freePort(t), freePort(t)
	recursorConf(t, dir, dnsPort) // as in monitor_test.go: nothing leaves loopback
	write(t, dir, "rec.lua", resolvers.Fill("pdns-recursor-rpz.lua", resolvers.Vars{PrimaryPort: fmt.Sprint(rpzPort)}))
	deny := write(t, dir, "deny.txt", "bad.example.test\n")

	serve := tooltest.Command("serve", "--listen", fmt.Sprintf("127.0.0.1:%d", rpzPort), "--no-input", "--deny", deny)
	rec := exec.Command(recursor, "--config-dir="+dir)
	var logs [2]syncBuffer
	serve.Stderr, rec.Stderr, rec.Stdout = &logs[0], &logs[1], &logs[1]
	for _, c := range []*exec.Cmd{serve, rec} {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		for _, c := range []*exec.Cmd{rec, serve} {
			c.Process.Signal(syscall.SIGTERM)
			c.Wait()
		}
		if t.Failed() {
			t.Logf("pdns_recursor:\n%s\ntapir-rpz:\n%s", logs[1].String(), logs[0].String())
		}
	}()
	ask := func(name string) *dns.Msg {
		m := new(dns.Msg).SetQuestion(name, dns.TypeA)
		m.RecursionDesired = true
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
}
