package main

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tapir-edge/tapir/cmd/tool/docs"
	"github.com/tapir-edge/tapir/lib/testkit/tooltest"

	"github.com/miekg/dns"

	"github.com/tapir-edge/tapir/lib/dnstap"
	"github.com/tapir-edge/tapir/lib/fstrm"
	"github.com/tapir-edge/tapir/lib/testkit/unboundtest"
)

func TestDocs(t *testing.T) { docs.Test(t, app(), manual) }

// The test binary doubles as tapir-anon.
func TestMain(m *testing.M) { tooltest.Main(m, main) }

var command = tooltest.Command

func writeKey(t *testing.T, dir string, key string) string {
	p := filepath.Join(dir, "anon.key")
	if err := os.WriteFile(p, []byte(key), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// listen builds tapir-listen, which the end-to-end test runs in front.
func listen(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "tapir-listen")
	out, err := exec.Command("go", "build", "-o", bin, "../tapir-listen").CombinedOutput()
	if err != nil {
		t.Fatalf("build tapir-listen: %v\n%s", err, out)
	}
	return bin
}

// Real Unbound → tapir-listen → tapir-anon → file. dnstap -r reads the
// file, and no address a client used, nor the subnet a client sent in
// ECS, is anywhere in its bytes, in any encoding.
func TestUnboundToAnon(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "dnstap.sock")
	raw, anon := filepath.Join(dir, "raw.fstrm"), filepath.Join(dir, "anon.fstrm")
	key := writeKey(t, dir, strings.Repeat("ab", 32)+"\n") // hex

	l := exec.Command(listen(t), "-u", sock, "-w", raw)
	var lerr bytes.Buffer
	l.Stderr = &lerr
	if err := l.Start(); err != nil {
		t.Fatal(err)
	}
	defer l.Process.Kill()
	for i := 0; i < 200; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	s := unboundtest.Start(t, unboundtest.Config{DnstapSocket: sock, LogClientQuery: true, LogClientResponse: true})

	var clients []netip.Addr
	ecs := netip.MustParseAddr("203.0.113.77")
	for i := range 40 {
		src := netip.AddrFrom4([4]byte{127, 77, byte(1 + i/10), byte(2 + i)})
		clients = append(clients, src)
		m := new(dns.Msg).SetQuestion(fmt.Sprintf("host%d.example.test.", i%3), dns.TypeA)
		m.RecursionDesired = true
		o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
		o.SetUDPSize(1232)
		o.Option = append(o.Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 32, Address: net.IP(ecs.AsSlice())},
			&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"})
		m.Extra = append(m.Extra, o)
		if _, err := s.Exchange(src.String(), m); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(unboundtest.DnstapFlushDelay)
	s.Stop()
	l.Process.Signal(syscall.SIGTERM)
	if err := l.Wait(); err != nil {
		t.Fatalf("tapir-listen: %v\n%s", err, lerr.String())
	}
	rawBytes, _ := os.ReadFile(raw)
	// The raw capture has what must go: the test would prove nothing
	// otherwise.
	if !bytes.Contains(rawBytes, clients[0].AsSlice()) || !bytes.Contains(rawBytes, ecs.AsSlice()) {
		t.Fatal("the raw capture lacks the client or ECS address")
	}

	a := command("-k", key, "-r", raw, "-w", anon)
	var aerr bytes.Buffer
	a.Stderr = &aerr
	if err := a.Run(); err != nil {
		t.Fatalf("tapir-anon: %v\n%s", err, aerr.String())
	}
	out, _ := os.ReadFile(anon)
	for _, c := range append(clients, ecs, netip.MustParseAddr("127.0.0.1")) {
		b := c.As4()
		for _, enc := range [][]byte{
			b[:], []byte(c.String()),
			fmt.Appendf(nil, "%d.%d.%d.%d.in-addr.arpa", b[3], b[2], b[1], b[0]),
			fmt.Appendf(nil, "%02x%02x%02x%02x", b[0], b[1], b[2], b[3]),
			netip.AddrFrom16(c.As16()).AsSlice(), // IPv4-mapped
		} {
			if bytes.Contains(out, enc) {
				t.Errorf("anonymised output holds %v as %q", c, enc)
			}
		}
	}
	// Every frame is still there, readable by dnstap -r, without ECS.
	frames := count(t, anon)
	if frames != 80 {
		t.Errorf("%d frames, want 80 (40 queries and responses)", frames)
	}
	if _, err := exec.LookPath("dnstap"); err == nil {
		q, err := exec.Command("dnstap", "-r", anon, "-q").Output()
		if err != nil || strings.Count(string(q), "\n") != 80 || !strings.Contains(string(q), "example.test") {
			t.Errorf("dnstap -r: %v\n%.300s", err, q)
		}
	} else if os.Getenv("TAPIR_REQUIRE_REAL") == "1" {
		t.Error("dnstap not installed")
	}
	n := 0
	if m := regexp.MustCompile(`options_removed=(\d+)`).FindStringSubmatch(aerr.String()); m != nil {
		n, _ = strconv.Atoi(m[1])
	}
	if n < 80 {
		t.Errorf("counters do not show the 80 queries' options removed:\n%s", aerr.String())
	}
}

func count(t *testing.T, path string) int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := fstrm.NewFileReader(f, fstrm.ReaderOptions{ContentTypes: []string{dnstap.ContentType}})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	var fr dnstap.Frame
	for {
		b, err := r.Next()
		if err != nil {
			break
		}
		if err := fr.Unmarshal(b); err != nil {
			t.Fatal(err)
		}
		n++
	}
	return n
}

// A missing, malformed or exposed key is an error at start, exit 2.
func TestKeyErrors(t *testing.T) {
	dir := t.TempDir()
	good := writeKey(t, dir, strings.Repeat("ab", 32))
	short := filepath.Join(dir, "short")
	os.WriteFile(short, []byte("abcd"), 0o600)
	exposed := filepath.Join(dir, "exposed")
	os.WriteFile(exposed, []byte(strings.Repeat("ab", 32)), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-r", "/dev/null"}, "needs --key-file"},
		{[]string{"-k", short, "-r", "/dev/null"}, "key"},
		{[]string{"-k", exposed, "-r", "/dev/null"}, "mode 0644"},
		{[]string{"-k", good, "--method", "rot13", "-r", "/dev/null"}, "rot13"},
		{[]string{"-k", good, "--rotate", "hourly", "-r", "/dev/null"}, "hourly"},
	} {
		cmd := command(append(tc.args, "-w", filepath.Join(dir, "out"))...)
		out, _ := cmd.CombinedOutput()
		if code := cmd.ProcessState.ExitCode(); code != 2 || !strings.Contains(string(out), tc.want) {
			t.Errorf("%q: exit %d, want 2 with %q:\n%s", tc.args, code, tc.want, out)
		}
		if strings.Contains(string(out), strings.Repeat("ab", 32)) {
			t.Errorf("%q: the key was logged", tc.args)
		}
	}
}
