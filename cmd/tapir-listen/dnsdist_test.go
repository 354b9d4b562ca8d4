package main

import (
	"bytes"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/tapir-edge/tapir/deploy/resolvers"
	"github.com/tapir-edge/tapir/lib/dnstap"
	"github.com/tapir-edge/tapir/lib/testkit/tooltest"
)

// dnsdist, configured with dnsdist-dnstap.lua of tapir-listen(1)
// RESOLVERS as it is (the test's socket filled in), passes queries from
// two clients to a server on loopback, or answers them from its cache.
// Each query and response, cached or not, arrives as CLIENT_QUERY and
// CLIENT_RESPONSE, with dnsdist's identity, the client's address, the
// name, type and rcode, and dnsdist's own address as the responder.
func TestDnsdist(t *testing.T) {
	dnsdist := tooltest.Need(t, "dnsdist")
	dir := t.TempDir()
	sock, out := filepath.Join(dir, "dnstap.sock"), filepath.Join(dir, "out.fstrm")
	p := run(t, "-u", sock, "-w", out)
	waitFile(t, sock)
	backend := startExampleAuth(t)

	// The test's settings, then the file as it is. Nothing leaves
	// loopback: one backend, always up so that no health checks are sent,
	// no security polling, and no console, web server or carbon (none is
	// on unless configured). A packet cache answers the second query for
	// each name, through the file's cache-hit action.
	addr := freePort(t)
	conf := fmt.Sprintf(`setLocal(%q)
newServer({address=%q}):setUp()
getPool(""):setCache(newPacketCache(100))
setSecurityPollSuffix("")
`, addr, backend.addr) + resolvers.Fill("dnsdist-dnstap.lua", resolvers.Vars{Socket: sock})
	confPath := filepath.Join(dir, "dnsdist.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	dd := exec.Command(dnsdist, "--supervised", "--disable-syslog", "-C", confPath)
	var logs bytes.Buffer // read only after Wait
	dd.Stdout, dd.Stderr = &logs, &logs
	if err := dd.Start(); err != nil {
		t.Fatal(err)
	}
	stopDnsdist := sync.OnceFunc(func() {
		dd.Process.Signal(syscall.SIGTERM)
		dd.Wait()
	})
	t.Cleanup(func() {
		stopDnsdist()
		if t.Failed() {
			t.Logf("dnsdist:\n%s", &logs)
		}
	})

	ask := func(client, name string) (*dns.Msg, error) {
		c := &dns.Client{Dialer: &net.Dialer{LocalAddr: &net.UDPAddr{IP: net.ParseIP(client)}}}
		r, _, err := c.Exchange(new(dns.Msg).SetQuestion(name, dns.TypeA), addr)
		return r, err
	}
	qs := []query{
		{"127.77.6.1", "www.example.test.", dns.TypeA, dns.RcodeSuccess},
		{"127.77.6.2", "nx.example.test.", dns.TypeA, dns.RcodeNameError},
		{"127.77.6.1", "nx.example.test.", dns.TypeA, dns.RcodeNameError},
		{"127.77.6.2", "www.example.test.", dns.TypeA, dns.RcodeSuccess},
	}
	var want []msg
	for i, q := range qs {
		r, err := ask(q.client, q.name)
		// The first waits for dnsdist to listen.
		for deadline := time.Now().Add(10 * time.Second); i == 0 && err != nil && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
			r, err = ask(q.client, q.name)
		}
		if err != nil || r.Rcode != q.rcode {
			t.Fatalf("%s from %s: %v %v, want rcode %d", q.name, q.client, r, err, q.rcode)
		}
		c := netip.MustParseAddr(q.client)
		want = append(want,
			msg{"dnsdist", dnstap.ClientQuery, c, q.name, q.qtype, -1},
			msg{"dnsdist", dnstap.ClientResponse, c, q.name, q.qtype, q.rcode})
	}
	asked := backend.questions()
	if wantAsked := []answered{{"www.example.test.", dns.TypeA, dns.RcodeSuccess}, {"nx.example.test.", dns.TypeA, dns.RcodeNameError}}; !slices.Equal(asked, wantAsked) {
		t.Errorf("the backend was asked %v, want %v (and the cache to answer the rest)", asked, wantAsked)
	}
	waitFrames(t, out, len(want))
	stopDnsdist() // first: at shutdown tapir-listen reads connected resolvers for up to a second
	p.stop(t)
	sameMessages(t, readFrames(t, out, true), want)
	self := netip.MustParseAddrPort(addr)
	wantPeers := map[string]int{
		fmt.Sprint(dnstap.ClientQuery, " ", self):    len(qs),
		fmt.Sprint(dnstap.ClientResponse, " ", self): len(qs),
	}
	if got := framesByResponder(t, out); !maps.Equal(got, wantPeers) {
		t.Errorf("frames by type and responder: %v, want %v", got, wantPeers)
	}
	if log := p.stderr.String(); !strings.Contains(log, `identity=dnsdist version="dnsdist `) {
		t.Errorf("tapir-listen did not log dnsdist's identity and version:\n%s", log)
	}
}
