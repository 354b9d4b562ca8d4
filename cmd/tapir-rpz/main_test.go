package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/tapir-edge/tapir/cmd/tool/docs"
	"github.com/tapir-edge/tapir/deploy/resolvers"
	"github.com/tapir-edge/tapir/lib/fstrm"
	"github.com/tapir-edge/tapir/lib/record"
	"github.com/tapir-edge/tapir/lib/testkit/tooltest"
	"github.com/tapir-edge/tapir/lib/testkit/unboundtest"
)

func TestDocs(t *testing.T) { docs.Test(t, app(), manual) }

func TestMain(m *testing.M) { tooltest.Main(m, main) }

const zone = `$ORIGIN example.test.
$TTL 300
@	SOA	ns.example.test. hostmaster.example.test. 1 3600 600 86400 300
@	NS	ns.example.test.
ns	A	192.0.2.53
bad	A	192.0.2.66
good	A	192.0.2.80
later	A	192.0.2.81
x.wild	A	192.0.2.99
`

func write(t *testing.T, dir, name, text string) string {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// rcodeOf asks Unbound, polling until want or a deadline.
func waitRcode(t *testing.T, ub *unboundtest.Server, name string, want int) {
	t.Helper()
	var got int
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		r, err := ub.Query(name, dns.TypeA)
		if err == nil {
			if got = r.Rcode; got == want {
				return
			}
		}
	}
	t.Fatalf("%s: rcode %s, want %s\n%s", name, dns.RcodeToString[got], dns.RcodeToString[want], ub.Log())
}

func observation(list, name string, ttl int) []byte {
	return fmt.Appendf(nil, `{"type":"observation","src_name":"dns-tapir","msg_type":"observation","list_type":%q,"added":[{"name":%q,"time_added":%q,"ttl":%d,"tag_mask":16}],"removed":[],"timestamp":%q}`,
		list, name, time.Now().UTC().Format(time.RFC3339), ttl, time.Now().UTC().Format(time.RFC3339))
}

// A real Unbound, configured with the file of the manual, pulls the zone
// from tapir-rpz serve and enforces it: the
// denylist blocks, the allowlist wins, an observation from the core is
// enforced after NOTIFY without restarting Unbound, and stops being
// enforced when it expires.
func TestUnboundEnforces(t *testing.T) {
	dir := t.TempDir()
	deny := write(t, dir, "deny.txt", "bad.example.test\n*.wild.example.test\n")
	allow := write(t, dir, "allow.txt", "good.example.test\n")
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()

	// The file of tapir-rpz(1) RESOLVERS, as it is, with the test's port.
	ub := unboundtest.Start(t, unboundtest.Config{Zone: zone, ZoneName: "example.test.",
		Extra: resolvers.Fill("unbound-rpz.conf", resolvers.Vars{PrimaryPort: fmt.Sprint(port)})})

	zoneFile := filepath.Join(dir, "rpz.zone")
	cmd := tooltest.Command("serve", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--notify", ub.Addr,
		"--state", filepath.Join(dir, "state"), "--deny", deny, "--allow", allow, "--zone-file", zoneFile)
	stdin, _ := cmd.StdinPipe()
	tooltest.Start(t, "tapir-rpz", cmd)
	w := fstrm.NewWriter(stdin, record.ContentType)
	w.Flush()

	waitRcode(t, ub, "bad.example.test.", dns.RcodeNameError)
	waitRcode(t, ub, "x.wild.example.test.", dns.RcodeNameError)
	waitRcode(t, ub, "good.example.test.", dns.RcodeSuccess)
	waitRcode(t, ub, "later.example.test.", dns.RcodeSuccess)

	// The core observes later.example.test. for 4 seconds, and
	// good.example.test., which the allowlist keeps.
	w.WriteFrame(observation("denylist", "later.example.test.", 4))
	w.WriteFrame(observation("denylist", "good.example.test.", 3600))
	w.Flush()
	waitRcode(t, ub, "later.example.test.", dns.RcodeNameError)
	if r, err := ub.Query("good.example.test.", dns.TypeA); err != nil || r.Rcode != dns.RcodeSuccess {
		t.Errorf("the allowlisted name was blocked: %v %v", r, err)
	}
	// Expired: enforced no more.
	waitRcode(t, ub, "later.example.test.", dns.RcodeSuccess)

	// The operator edits the denylist: reloaded without a signal.
	time.Sleep(10 * time.Millisecond) // a modification time of its own
	write(t, dir, "deny.txt", "bad.example.test\n*.wild.example.test\nlater.example.test\n")
	waitRcode(t, ub, "later.example.test.", dns.RcodeNameError)

	if p, err := exec.LookPath("named-checkzone"); err == nil {
		if out, err := exec.Command(p, "rpz.tapir.", zoneFile).CombinedOutput(); err != nil {
			t.Errorf("named-checkzone: %v\n%s", err, out)
		}
	} else if os.Getenv("TAPIR_REQUIRE_REAL") == "1" {
		t.Error("named-checkzone not installed")
	}
	b, _ := os.ReadFile(zoneFile)
	if !strings.Contains(string(b), "good.example.test\tCNAME\trpz-passthru.") {
		t.Errorf("zone file:\n%s", b)
	}
}

// explain names the rule and the source.
func TestExplain(t *testing.T) {
	dir := t.TempDir()
	deny := write(t, dir, "deny.txt", "*.evil.example\n")
	pol := write(t, dir, "policy", "deny action drop\n")
	out, err := tooltest.Command("explain", "--deny", deny, "--policy", pol, "www.evil.example").Output()
	if err != nil || !strings.Contains(string(out), "drop") || !strings.Contains(string(out), "deny.txt") {
		t.Errorf("explain: %v\n%s", err, out)
	}
}

// Monitor mode writes every rule as PASSTHRU.
func TestMonitor(t *testing.T) {
	dir := t.TempDir()
	deny := write(t, dir, "deny.txt", "bad.example\n*.evil.example\n")
	out, err := tooltest.Command("zone", "--monitor", "--deny", deny).Output()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(out), "CNAME\trpz-passthru.") != 2 || strings.Contains(string(out), "CNAME\t.") {
		t.Errorf("monitor zone:\n%s", out)
	}
}
