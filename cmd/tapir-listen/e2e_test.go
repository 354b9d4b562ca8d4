package main

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tapir-edge/tapir/lib/testkit/tooltest"

	"github.com/miekg/dns"

	"github.com/tapir-edge/tapir/deploy/resolvers"
	"github.com/tapir-edge/tapir/lib/dnstap"
	"github.com/tapir-edge/tapir/lib/dnswire"
	"github.com/tapir-edge/tapir/lib/fstrm"
	"github.com/tapir-edge/tapir/lib/testkit/unboundtest"
)

// The test binary doubles as tapir-listen, so that the tests run the real
// program, signals and all, without a separate build.
func TestMain(m *testing.M) { tooltest.Main(m, main) }

type proc struct {
	cmd    *exec.Cmd
	stderr *tooltest.Log // read while the tool writes it
	done   chan error
}

func run(t *testing.T, args ...string) *proc {
	t.Helper()
	cmd := tooltest.Command(args...)
	p := &proc{cmd: cmd, stderr: new(tooltest.Log), done: make(chan error, 1)}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		if t.Failed() {
			t.Logf("tapir-listen stderr:\n%s", p.stderr)
		}
	})
	return p
}

// stop sends SIGTERM and checks the exit status is 0.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("tapir-listen: %v\n%s", err, p.stderr)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("tapir-listen did not exit on SIGTERM\n%s", p.stderr)
	}
}

func waitFile(t *testing.T, path string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear", path)
		}
	}
}

func freePort(t *testing.T) string {
	return fmt.Sprintf("127.0.0.1:%d", tooltest.FreePort(t))
}

// msg is what the test checks of each frame.
type msg struct {
	identity string
	typ      dnstap.MessageType
	client   netip.Addr
	qname    string
	qtype    uint16
	rcode    int // -1 for queries
}

func (m msg) String() string {
	return fmt.Sprintf("%s %v %v %s %s rcode=%d", m.identity, m.typ, m.client, m.qname, dns.TypeToString[m.qtype], m.rcode)
}

// readFrames reads what a file holds so far; a missing STOP is expected
// while tapir-listen is still writing.
func readFrames(t *testing.T, path string, stopped bool) []msg {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := fstrm.NewFileReader(f, fstrm.ReaderOptions{ContentTypes: []string{"protobuf:dnstap.Dnstap"}})
	if err != nil {
		if !stopped {
			return nil
		}
		t.Fatal(err)
	}
	var out []msg
	var fr dnstap.Frame
	name := make([]byte, 0, 256)
	for {
		b, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			if !stopped && (errors.Is(err, fstrm.ErrMissingStop) || errors.Is(err, fstrm.ErrTruncated)) {
				return out
			}
			t.Fatalf("%s: %v", path, err)
		}
		if err := fr.Unmarshal(b); err != nil {
			t.Fatalf("frame %d: %v", r.Frames(), err)
		}
		m := msg{identity: string(fr.Identity), typ: fr.Type, rcode: -1}
		m.client, _ = netip.AddrFromSlice(fr.QueryAddress)
		q, qt, _, err := dnswire.Question(fr.DNS(), name)
		if err != nil {
			t.Fatalf("frame %d: %v", r.Frames(), err)
		}
		m.qname, m.qtype = string(q), qt
		if fr.Type.IsResponse() {
			h, _ := dnswire.ParseHeader(fr.DNS())
			m.rcode = int(h.Rcode())
		}
		out = append(out, m)
	}
}

func waitFrames(t *testing.T, path string, n int) []msg {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		got := readFrames(t, path, false)
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d frames in %s, want %d", len(got), path, n)
		}
	}
}

type query struct {
	client string
	name   string
	qtype  uint16
	rcode  int
}

// ask sends the queries to Unbound and returns the frames they should make.
func ask(t *testing.T, s *unboundtest.Server, identity string, qs []query) []msg {
	t.Helper()
	var want []msg
	for _, q := range qs {
		r, err := s.QueryFrom(q.client, q.name, q.qtype)
		if err != nil {
			t.Fatalf("query %s from %s: %v", q.name, q.client, err)
		}
		if r.Rcode != q.rcode {
			t.Fatalf("%s: rcode %d, want %d", q.name, r.Rcode, q.rcode)
		}
		c := netip.MustParseAddr(q.client)
		want = append(want,
			msg{identity, dnstap.ClientQuery, c, q.name, q.qtype, -1},
			msg{identity, dnstap.ClientResponse, c, q.name, q.qtype, q.rcode})
	}
	return want
}

func queries(prefix string, n int) []query {
	names := []struct {
		name  string
		qtype uint16
		rcode int
	}{
		{"www.example.test.", dns.TypeA, dns.RcodeSuccess},
		{"www.example.test.", dns.TypeAAAA, dns.RcodeSuccess},
		{"example.test.", dns.TypeMX, dns.RcodeSuccess},
		{"example.test.", dns.TypeTXT, dns.RcodeSuccess},
		{"missing.example.test.", dns.TypeA, dns.RcodeNameError},
	}
	var qs []query
	for i := range n {
		x := names[i%len(names)]
		qs = append(qs, query{fmt.Sprintf("%s.%d", prefix, 1+i%50), x.name, x.qtype, x.rcode})
	}
	return qs
}

// sameMessages compares as multisets: two resolvers interleave, and an
// Unbound with more than one thread may reorder.
func sameMessages(t *testing.T, got, want []msg) {
	t.Helper()
	count := map[string]int{}
	for _, m := range want {
		count[m.String()]++
	}
	for _, m := range got {
		count[m.String()]--
	}
	bad := 0
	for k, n := range count {
		if n != 0 {
			bad++
			if bad < 10 {
				t.Errorf("%+d × %s", -n, k)
			}
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d frames, want %d", len(got), len(want))
	}
}

// Two real Unbounds, configured with the files of tapir-listen(1)
// RESOLVERS as they are (the test's socket path and port filled in), one
// on a unix socket and one over TCP, send dnstap of client queries and
// responses; one restarts mid-test. Every query and response arrives, with
// the right names, types, clients and rcodes.
func TestUnbound(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "dnstap.sock")
	tcp := freePort(t)
	out := filepath.Join(dir, "out.fstrm")
	p := run(t, "-u", sock, "-l", tcp, "-w", out)
	waitFile(t, sock)

	tcpHost, tcpPort, _ := net.SplitHostPort(tcp)
	viaUnix := unboundtest.Start(t, unboundtest.Config{
		Dnstap: resolvers.Fill("unbound-dnstap.conf", resolvers.Vars{Socket: sock})})
	viaTCP := unboundtest.Start(t, unboundtest.Config{
		Dnstap: resolvers.Fill("unbound-dnstap-tcp.conf", resolvers.Vars{TCPHost: tcpHost, TCPPort: tcpPort})})
	// The files set no dnstap-identity: Unbound sends its host name, the
	// same for both; the clients' addresses tell their frames apart.
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}

	want := ask(t, viaUnix, host, queries("127.77.1", 100))
	want = append(want, ask(t, viaTCP, host, queries("127.77.2", 100))...)
	waitFrames(t, out, len(want))

	// Unbound drops what its dnstap thread has not sent when it stops:
	// everything was seen to arrive above, so the restart loses nothing.
	viaUnix.Restart()
	want = append(want, ask(t, viaUnix, host, queries("127.77.3", 60))...)
	want = append(want, ask(t, viaTCP, host, queries("127.77.4", 60))...)
	waitFrames(t, out, len(want))

	p.stop(t)
	got := readFrames(t, out, true) // now with STOP
	sameMessages(t, got, want)
	log := p.stderr.String()
	for _, s := range []string{"identity=" + host, `version="unbound `, "counters at exit", "dropped_frames_full=0"} {
		if !strings.Contains(log, s) {
			t.Errorf("log lacks %q", s)
		}
	}
	// unix, TCP, and unix again after the restart: a new connection.
	if n := strings.Count(log, "resolver identified"); n != 3 {
		t.Errorf("resolvers were identified %d times, want 3 (the restarted Unbound connects again)\n%s", n, log)
	}
	readable(t, out, len(want))
}

// readable checks that the reference readers take a file tapir-listen
// wrote: the dnstap command and BIND's dnstap-read.
func readable(t *testing.T, path string, frames int) {
	t.Helper()
	for _, c := range [][]string{{"dnstap", "-r", path, "-q"}, {"dnstap-read", path}} {
		if _, err := exec.LookPath(c[0]); err != nil {
			if os.Getenv("TAPIR_REQUIRE_REAL") == "1" {
				t.Fatalf("%s not installed", c[0])
			}
			t.Logf("%s not installed; not checked", c[0])
			continue
		}
		out, err := exec.Command(c[0], c[1:]...).Output()
		if err != nil {
			t.Errorf("%s: %v", c[0], err)
			continue
		}
		lines := strings.Count(string(out), "\n")
		if lines != frames {
			t.Errorf("%s read %d messages, want %d", c[0], lines, frames)
		}
		if !strings.Contains(string(out), "www.example.test") {
			t.Errorf("%s output lacks the query names:\n%.500s", c[0], out)
		}
	}
}

// --types keeps only client responses, and --set-identity renames.
func TestUnboundFilters(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "dnstap.sock")
	out := filepath.Join(dir, "out.fstrm")
	p := run(t, "-u", sock, "-w", out, "--types", "CR", "--set-identity", "edge-7")
	waitFile(t, sock)
	s := unboundtest.Start(t, unboundtest.Config{Dnstap: resolvers.Fill("unbound-dnstap.conf", resolvers.Vars{Socket: sock})})
	all := ask(t, s, "edge-7", queries("127.77.5", 40))
	var want []msg
	for _, m := range all {
		if m.typ == dnstap.ClientResponse {
			want = append(want, m)
		}
	}
	waitFrames(t, out, len(want))
	p.stop(t)
	sameMessages(t, readFrames(t, out, true), want)
}
