package main

import (
	"bytes"
	"fmt"
	"io"
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
	"github.com/tapir-edge/tapir/lib/fstrm"
	"github.com/tapir-edge/tapir/lib/testkit/tooltest"
)

// exampleAuth is a tiny authoritative server for example.test. on a free
// UDP port of 127.0.0.1: the upstream of the resolvers these tests run, so
// that nothing they ask leaves loopback. www.example.test. has an A
// record; other names in the zone are NXDOMAIN, names outside it REFUSED.
// It records what it was asked. (UDP only: nobody asks it over TCP.)
type exampleAuth struct {
	addr  string
	mu    sync.Mutex
	asked []answered
}

// answered is one question the server was asked and the rcode it gave.
type answered struct {
	name  string
	qtype uint16
	rcode int
}

var exampleZone = map[string][]dns.RR{}

func init() {
	for _, s := range []string{
		"example.test. 3600 IN SOA ns.example.test. hostmaster.example.test. 1 3600 600 86400 60",
		"example.test. 3600 IN NS ns.example.test.",
		"ns.example.test. 3600 IN A 127.0.0.1",
		"www.example.test. 3600 IN A 192.0.2.80",
	} {
		rr, err := dns.NewRR(s)
		if err != nil {
			panic(err)
		}
		exampleZone[rr.Header().Name] = append(exampleZone[rr.Header().Name], rr)
	}
}

func startExampleAuth(t *testing.T) *exampleAuth {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := &exampleAuth{addr: pc.LocalAddr().String()}
	started := make(chan struct{})
	srv := &dns.Server{PacketConn: pc, Handler: a, NotifyStartedFunc: func() { close(started) }}
	go srv.ActivateAndServe()
	<-started
	t.Cleanup(func() { srv.Shutdown() })
	return a
}

func (a *exampleAuth) ServeDNS(w dns.ResponseWriter, q *dns.Msg) {
	r := new(dns.Msg).SetReply(q)
	if len(q.Question) != 1 {
		r.Rcode = dns.RcodeFormatError
		w.WriteMsg(r)
		return
	}
	name, qtype := strings.ToLower(q.Question[0].Name), q.Question[0].Qtype
	rrs, ok := exampleZone[name]
	switch {
	case !dns.IsSubDomain("example.test.", name):
		r.Rcode = dns.RcodeRefused
	case !ok:
		r.Authoritative = true
		r.Rcode = dns.RcodeNameError
	default:
		r.Authoritative = true
		for _, rr := range rrs {
			if rr.Header().Rrtype == qtype {
				r.Answer = append(r.Answer, rr)
			}
		}
	}
	if r.Authoritative && len(r.Answer) == 0 {
		r.Ns = exampleZone["example.test."][:1]
	}
	a.mu.Lock()
	a.asked = append(a.asked, answered{name, qtype, r.Rcode})
	a.mu.Unlock()
	w.WriteMsg(r)
}

func (a *exampleAuth) questions() []answered {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]answered(nil), a.asked...)
}

// framesByResponder reads the frames of a file tapir-listen has closed
// and counts them by message type and responder (response_address and
// port): the upstream server for RESOLVER_*, the resolver itself for
// CLIENT_*.
func framesByResponder(t *testing.T, path string) map[string]int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := fstrm.NewFileReader(f, fstrm.ReaderOptions{ContentTypes: []string{"protobuf:dnstap.Dnstap"}})
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	var fr dnstap.Frame
	for {
		b, err := r.Next()
		if err == io.EOF {
			return n
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if err := fr.Unmarshal(b); err != nil {
			t.Fatal(err)
		}
		n[fmt.Sprint(fr.Type, " ", fr.ResponseAddrPort())]++
	}
}

// PowerDNS Recursor, configured with pdns-recursor-dnstap.lua of
// tapir-listen(1) RESOLVERS as it is (the test's socket filled in),
// resolves two names from an upstream on loopback. Its dnstap (in 4.8,
// and in later versions still) holds only what it sends out and gets
// back: a RESOLVER_QUERY and a RESOLVER_RESPONSE for every question the
// upstream was asked, to that upstream, with the names, types and rcodes,
// and nothing else. The recursor connects to the socket itself; it is
// started after tapir-listen, since it drops what it logs while not
// connected (and tries again every 5 seconds, libfstrm's default).
func TestPowerDNS(t *testing.T) {
	recursor := tooltest.Need(t, "pdns_recursor")
	dir := t.TempDir()
	sock, out := filepath.Join(dir, "dnstap.sock"), filepath.Join(dir, "out.fstrm")
	p := run(t, "-u", sock, "-w", out)
	waitFile(t, sock)
	auth := startExampleAuth(t)

	// The test's settings; nothing leaves loopback: example.test goes to
	// the upstream, there are no root hints to prime from or fall back
	// on, no security polling (by DNS), and queries go out from 127.0.0.1
	// besides.
	addr := freePort(t)
	_, port, _ := net.SplitHostPort(addr)
	conf := strings.Join([]string{
		"local-address=127.0.0.1",
		"local-port=" + port,
		"forward-zones=example.test=" + auth.addr,
		"hint-file=no",
		"security-poll-suffix=",
		"query-local-address=127.0.0.1",
		"dnssec=off",
		"threads=1",
		"socket-dir=" + dir,
		"lua-config-file=" + filepath.Join(dir, "dnstap.lua"),
		"daemon=no",
		"write-pid=no",
		"disable-syslog=yes",
		"",
	}, "\n")
	for name, text := range map[string]string{
		"recursor.conf": conf,
		"dnstap.lua":    resolvers.Fill("pdns-recursor-dnstap.lua", resolvers.Vars{Socket: sock}),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	rec := exec.Command(recursor, "--config-dir="+dir)
	var logs bytes.Buffer // read only after Wait
	rec.Stdout, rec.Stderr = &logs, &logs
	if err := rec.Start(); err != nil {
		t.Fatal(err)
	}
	stopRec := sync.OnceFunc(func() {
		rec.Process.Signal(syscall.SIGTERM)
		rec.Wait()
	})
	t.Cleanup(func() {
		stopRec()
		if t.Failed() {
			t.Logf("pdns_recursor:\n%s", &logs)
		}
	})

	ask := func(name string) (*dns.Msg, error) {
		r, _, err := new(dns.Client).Exchange(new(dns.Msg).SetQuestion(name, dns.TypeA), addr)
		return r, err
	}
	var r *dns.Msg
	var err error
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if r, err = ask("www.example.test."); err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 || !strings.HasSuffix(r.Answer[0].String(), "\t192.0.2.80") {
		t.Fatalf("www.example.test.: %v %v", r, err)
	}
	if r, err = ask("nx.example.test."); err != nil || r.Rcode != dns.RcodeNameError {
		t.Fatalf("nx.example.test.: %v %v", r, err)
	}

	asked := auth.questions()
	host, err := os.Hostname() // the recursor's identity
	if err != nil {
		t.Fatal(err)
	}
	self := netip.MustParseAddr("127.0.0.1")
	var want []msg
	for _, q := range []answered{{"www.example.test.", dns.TypeA, dns.RcodeSuccess}, {"nx.example.test.", dns.TypeA, dns.RcodeNameError}} {
		if !slices.Contains(asked, q) {
			t.Errorf("the upstream was not asked %v: %v", q, asked)
		}
	}
	for _, q := range asked {
		want = append(want,
			msg{host, dnstap.ResolverQuery, self, q.name, q.qtype, -1},
			msg{host, dnstap.ResolverResponse, self, q.name, q.qtype, q.rcode})
	}
	waitFrames(t, out, len(want))
	stopRec() // first: at shutdown tapir-listen reads connected resolvers for up to a second
	p.stop(t)
	sameMessages(t, readFrames(t, out, true), want)
	upstream := netip.MustParseAddrPort(auth.addr)
	wantPeers := map[string]int{
		fmt.Sprint(dnstap.ResolverQuery, " ", upstream):    len(asked),
		fmt.Sprint(dnstap.ResolverResponse, " ", upstream): len(asked),
	}
	if got := framesByResponder(t, out); !maps.Equal(got, wantPeers) {
		t.Errorf("frames by type and responder: %v, want %v", got, wantPeers)
	}
	if log := p.stderr.String(); !strings.Contains(log, `version="pdns-recursor `) {
		t.Errorf("tapir-listen did not log the recursor's version:\n%s", log)
	}
}
