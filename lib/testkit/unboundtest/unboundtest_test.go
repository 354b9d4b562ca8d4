package unboundtest

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/tapir-edge/tapir/lib/testkit/tooltest"
)

// query queries s and fails the test unless the rcode is rcode. It returns
// the answer section as text, one record a line without TTLs.
func query(t *testing.T, s *Server, src, name string, qtype uint16, rcode int) string {
	t.Helper()
	r, err := s.QueryFrom(src, name, qtype)
	if err != nil {
		t.Fatalf("query %s %s: %v\n%s", name, dns.TypeToString[qtype], err, s.Log())
	}
	if r.Rcode != rcode {
		t.Fatalf("query %s %s: rcode %s, want %s\n%v", name, dns.TypeToString[qtype],
			dns.RcodeToString[r.Rcode], dns.RcodeToString[rcode], r)
	}
	var b strings.Builder
	for _, rr := range r.Answer {
		rr.Header().Ttl = 0
		fmt.Fprintln(&b, strings.ReplaceAll(rr.String(), "\t", " "))
	}
	return b.String()
}

func TestServer(t *testing.T) {
	s := Start(t, Config{Extra: "log-queries: yes"})

	tests := []struct {
		name  string
		qtype uint16
		rcode int
		want  string // answer records, without TTLs
	}{
		{"www.example.test", dns.TypeA, dns.RcodeSuccess, "www.example.test. 0 IN A 192.0.2.80\n"},
		{"www.example.test.", dns.TypeAAAA, dns.RcodeSuccess, "www.example.test. 0 IN AAAA 2001:db8::80\n"},
		{"example.test", dns.TypeMX, dns.RcodeSuccess, "example.test. 0 IN MX 10 mail.example.test.\n"},
		{"txt.example.test", dns.TypeTXT, dns.RcodeSuccess, "txt.example.test. 0 IN TXT \"unboundtest\"\n"},
		{"alias.example.test", dns.TypeA, dns.RcodeSuccess,
			"alias.example.test. 0 IN CNAME www.example.test.\nwww.example.test. 0 IN A 192.0.2.80\n"},
		{"anything.wild.example.test", dns.TypeA, dns.RcodeSuccess, "anything.wild.example.test. 0 IN A 192.0.2.99\n"},
		{"www.example.test", dns.TypeMX, dns.RcodeSuccess, ""}, // NODATA
		{"missing.example.test", dns.TypeA, dns.RcodeNameError, ""},
		{"localhost", dns.TypeA, dns.RcodeSuccess, "localhost. 0 IN A 127.0.0.1\n"},
		{"other.test", dns.TypeA, dns.RcodeNameError, ""}, // Unbound's default local zone test.
		{"www.example.com", dns.TypeA, dns.RcodeRefused, ""},
		{".", dns.TypeNS, dns.RcodeRefused, ""},
	}
	for _, tt := range tests {
		start := time.Now()
		got := query(t, s, "", tt.name, tt.qtype, tt.rcode)
		if got != tt.want {
			t.Errorf("query %s %s: answer\n%s\nwant\n%s", tt.name, dns.TypeToString[tt.qtype], got, tt.want)
		}
		// Nothing waits for the network: every answer is immediate.
		if d := time.Since(start); d > time.Second {
			t.Errorf("query %s %s took %v", tt.name, dns.TypeToString[tt.qtype], d)
		}
	}

	// A distinct client address; log-queries shows which one Unbound saw.
	query(t, s, "127.77.1.2", "mail.example.test", dns.TypeA, dns.RcodeSuccess)
	if !strings.Contains(s.Log(), "127.77.1.2 mail.example.test. A IN") {
		t.Errorf("the log does not show the query from 127.77.1.2:\n%s", s.Log())
	}
	if _, err := s.QueryFrom("not-an-address", "www.example.test", dns.TypeA); err == nil {
		t.Error("QueryFrom with a bad source address succeeded")
	}

	addr := s.Addr
	s.Restart()
	if s.Addr != addr {
		t.Errorf("address after Restart is %s, want %s", s.Addr, addr)
	}
	query(t, s, "127.77.1.3", "www.example.test", dns.TypeA, dns.RcodeSuccess)
	if n := strings.Count(s.Log(), startMarker); n != 2 {
		t.Errorf("the log shows %d starts, want 2:\n%s", n, s.Log())
	}

	s.Stop()
	s.Stop() // idempotent
	if r, err := s.Query("www.example.test", dns.TypeA); err == nil {
		t.Errorf("query after Stop got an answer:\n%v", r)
	}
}

func TestZone(t *testing.T) {
	// Relative names, no $ORIGIN, a zone name without its final dot, and
	// two threads.
	s := Start(t, Config{
		ZoneName: "corp.test",
		Zone: `$TTL 60
@	SOA	ns hostmaster 1 3600 600 86400 60
@	NS	ns
ns	A	192.0.2.53
host	A	198.51.100.7
`,
		Threads: 2,
	})
	if got, want := query(t, s, "", "host.corp.test", dns.TypeA, dns.RcodeSuccess),
		"host.corp.test. 0 IN A 198.51.100.7\n"; got != want {
		t.Errorf("answer %q, want %q", got, want)
	}
	query(t, s, "", "nohost.corp.test", dns.TypeA, dns.RcodeNameError)
	query(t, s, "", "www.example.test", dns.TypeA, dns.RcodeNameError) // default zone test.
	query(t, s, "", "www.example.org", dns.TypeA, dns.RcodeRefused)
}

// expectReady accepts a connection on l and checks that it begins with a
// Frame Streams control frame of type READY, which a dnstap sender sends
// first in the bidirectional handshake.
func expectReady(t *testing.T, s *Server, l net.Listener) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	type deadliner interface{ SetDeadline(time.Time) error }
	l.(deadliner).SetDeadline(deadline)
	conn, err := l.Accept()
	if err != nil {
		t.Fatalf("no dnstap connection from unbound: %v\n%s", err, s.Log())
	}
	defer conn.Close()
	conn.SetDeadline(deadline)
	// Escape (a zero frame length), control frame length, control type.
	var head [12]byte
	if _, err := io.ReadFull(conn, head[:]); err != nil {
		t.Fatalf("reading the dnstap handshake: %v\n%s", err, s.Log())
	}
	escape := binary.BigEndian.Uint32(head[0:])
	length := binary.BigEndian.Uint32(head[4:])
	ctype := binary.BigEndian.Uint32(head[8:])
	if escape != 0 || length < 4 || length > 512 || ctype != 4 {
		t.Fatalf("the dnstap connection begins % x, want a READY control frame", head)
	}
}

func TestDnstapUnix(t *testing.T) {
	// t.TempDir may be too long for a Unix socket path.
	dir, err := os.MkdirTemp("", "ubt")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "dnstap.sock")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	s := Start(t, Config{
		DnstapSocket:      path,
		Identity:          "resolver-1",
		LogClientQuery:    true,
		LogClientResponse: true,
		Extra:             "log-queries: yes",
	})
	query(t, s, "", "www.example.test", dns.TypeA, dns.RcodeSuccess)
	expectReady(t, s, l)
	// With dnstap Start sends no query of its own: the one above is the
	// only one Unbound has seen.
	if n := strings.Count(s.Log(), " IN\n"); n != 1 {
		t.Errorf("the log shows %d queries, want 1:\n%s", n, s.Log())
	}
	for _, want := range []string{`dnstap identity field set to "resolver-1"`, "CLIENT_QUERY enabled", "CLIENT_RESPONSE enabled"} {
		if !strings.Contains(s.Log(), want) {
			t.Errorf("the log lacks %q:\n%s", want, s.Log())
		}
	}

	// After a restart Unbound connects again.
	s.Restart()
	query(t, s, "", "www.example.test", dns.TypeA, dns.RcodeSuccess)
	expectReady(t, s, l)
}

func TestDnstapTCP(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s := Start(t, Config{DnstapTCP: l.Addr().String(), LogClientQuery: true})
	query(t, s, "127.77.1.2", "www.example.test", dns.TypeA, dns.RcodeSuccess)
	expectReady(t, s, l)
}

// A dnstap: clause given as it is replaces the one Start writes.
func TestDnstapClause(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	host, port, _ := net.SplitHostPort(l.Addr().String())
	s := Start(t, Config{Dnstap: fmt.Sprintf(`dnstap:
    dnstap-enable: yes
    dnstap-ip: "%s@%s"
    dnstap-tls: no
    dnstap-send-identity: yes
    dnstap-identity: "given"
    dnstap-log-client-response-messages: yes
`, host, port)})
	query(t, s, "127.77.1.2", "www.example.test", dns.TypeA, dns.RcodeSuccess)
	expectReady(t, s, l)
	for _, want := range []string{`dnstap identity field set to "given"`, "CLIENT_RESPONSE enabled"} {
		if !strings.Contains(s.Log(), want) {
			t.Errorf("the log lacks %q:\n%s", want, s.Log())
		}
	}
	if strings.Contains(s.Log(), "CLIENT_QUERY enabled") || strings.Count(readFrom(s.ConfigFile, 0), "dnstap:") != 1 {
		t.Errorf("Start wrote a dnstap: clause of its own:\n%s", readFrom(s.ConfigFile, 0))
	}
}

func TestConfigCheck(t *testing.T) {
	bad := []Config{
		{DnstapSocket: "/tmp/a", DnstapTCP: "127.0.0.1:6000"},
		{DnstapSocket: "/" + strings.Repeat("x", 200)},
		{DnstapTCP: "127.0.0.1"},
		{DnstapTCP: "localhost:6000"},
		{DnstapTCP: "127.0.0.1:99999"},
		{Zone: "@ SOA . . 1 1 1 1 1"},
		{ZoneName: "example.org."},
		{Zone: "x", ZoneName: "a..b"},
		{Threads: -1},
		{Identity: `say "hello"`},
		{Dnstap: "dnstap:\n\tdnstap-enable: yes\n", DnstapSocket: "/tmp/a"},
		{Dnstap: "dnstap:\n\tdnstap-enable: yes\n", LogClientQuery: true},
		{Dnstap: "dnstap:\n\tdnstap-enable: yes\n", Identity: "a"},
		{Dnstap: "\tdnstap-enable: yes\n"},
	}
	for _, c := range bad {
		if err := c.check(); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
	if err := (&Config{DnstapTCP: "127.0.0.1:6000", Identity: "a b"}).check(); err != nil {
		t.Errorf("good config: %v", err)
	}
}

func TestPortTaken(t *testing.T) {
	// The first port offered is taken for UDP and TCP.
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	taken := tcp.Addr().(*net.TCPAddr).Port
	udp, err := net.ListenPacket("udp", tcp.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	offered := 0
	saved := pickPort
	pickPort = func() (int, error) {
		offered++
		if offered == 1 {
			return taken, nil
		}
		return tooltest.LoopbackPort()
	}
	t.Cleanup(func() { pickPort = saved })

	s := Start(t, Config{})
	if offered != 2 || s.Addr == tcp.Addr().String() {
		t.Errorf("%d ports offered, unbound on %s, want 2 offered and not the taken %d", offered, s.Addr, taken)
	}
	query(t, s, "", "www.example.test", dns.TypeA, dns.RcodeSuccess)
	if !strings.Contains(strings.ToLower(s.Log()), "address already in use") {
		t.Errorf("the log does not show the failed bind:\n%s", s.Log())
	}
}

func TestCheckconfRejects(t *testing.T) {
	r := tooltest.Record(t, func(tb testing.TB) { Start(tb, Config{Extra: "no-such-option: yes"}) })
	if r.WasSkipped {
		t.Skip(r.Msgs)
	}
	if !r.WasFailed || !strings.Contains(strings.Join(r.Msgs, "\n"), "unbound-checkconf rejects") {
		t.Errorf("Start with a bad option: failed %v: %q", r.WasFailed, r.Msgs)
	}
}

func TestExtraRPZ(t *testing.T) {
	// Extra overrides module-config and ends with a clause of its own.
	rpz := filepath.Join(t.TempDir(), "rpz.db")
	err := os.WriteFile(rpz, []byte(`$ORIGIN rpz.local.
$TTL 60
@	SOA	localhost. hostmaster.localhost. 1 3600 600 86400 60
@	NS	localhost.
www.example.test	CNAME	.
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	s := Start(t, Config{Extra: fmt.Sprintf(`module-config: "respip iterator"
rpz:
	name: "rpz.local."
	zonefile: %q
`, rpz)})
	query(t, s, "", "www.example.test", dns.TypeA, dns.RcodeNameError)
	query(t, s, "", "mail.example.test", dns.TypeA, dns.RcodeSuccess)
}
