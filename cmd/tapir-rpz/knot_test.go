package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/tapir-edge/tapir/deploy/resolvers"
	"github.com/tapir-edge/tapir/lib/testkit/tooltest"
)

// Knot Resolver, configured with the files the man pages show: its
// dnstap reaches tapir-listen, and it enforces the zone file that
// tapir-rpz serve --zone-file writes, and takes a new zone, renamed into
// place, without a restart.
func TestKnot(t *testing.T) {
	kresd := tooltest.Need(t, "kresd")
	dir := t.TempDir()
	sock := filepath.Join(dir, "dnstap.sock")
	zoneFile := filepath.Join(dir, "rpz.zone")
	v := resolvers.Vars{Socket: sock, ZoneFile: zoneFile}
	deny := write(t, dir, "deny.txt", "bad.example.test\n")

	listenBin := filepath.Join(dir, "tapir-listen")
	if out, err := exec.Command("go", "build", "-o", listenBin, "../tapir-listen").CombinedOutput(); err != nil {
		t.Fatalf("build tapir-listen: %v\n%s", err, out)
	}
	captured := filepath.Join(dir, "dnstap.fstrm")
	listen := exec.Command(listenBin, "-u", sock, "-w", captured)
	serve := tooltest.Command("serve", "--listen", fmt.Sprintf("127.0.0.1:%d", tooltest.FreePort(t)), "--no-input", "--deny", deny, "--zone-file", zoneFile)
	var logs [3]tooltest.Log
	listen.Stderr, serve.Stderr = &logs[0], &logs[1]
	procs := []*exec.Cmd{listen, serve}
	defer func() {
		for i := len(procs) - 1; i >= 0; i-- {
			tooltest.Stop(procs[i])
		}
		if t.Failed() {
			t.Logf("kresd:\n%s\ntapir-rpz:\n%s\ntapir-listen:\n%s", logs[2].String(), logs[1].String(), logs[0].String())
		}
	}()
	for _, c := range []*exec.Cmd{listen, serve} {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
	}
	// kresd needs the zone file and the socket when it starts.
	waitForFile(t, zoneFile)
	waitForFile(t, sock)

	kr := startKnot(t, kresd, dir, resolvers.Fill("knot-dnstap.conf", v)+resolvers.Fill("knot-rpz.conf", v), &logs[2])
	procs = append(procs, kr.cmd)

	r := kr.ask(t, "bad.example.test.")
	if r == nil || r.Rcode != dns.RcodeNameError {
		t.Fatalf("bad.example.test.: %v, want NXDOMAIN from the RPZ", r)
	}
	for _, name := range []string{"good.example.test.", "later.example.test."} {
		if r = kr.ask(t, name); r == nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
			t.Fatalf("%s: %v, want the upstream's answer", name, r)
		}
	}

	// kresd's dnstap arrived: the client's query and kresd's response.
	var out []byte
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		out, _ = exec.Command("go", "run", "../tapir-cat", captured).Output()
		if lineWithAll(out, ` CQ 127.0.0.1 UDP `, `"good.example.test." IN A`) && lineWithAll(out, ` CR 127.0.0.1 UDP `, `"good.example.test." IN A`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no dnstap of good.example.test. from kresd in %s:\n%s", captured, out)
		}
	}

	// A new deny entry: tapir-rpz serve, on SIGHUP, renames a new zone
	// file into place, and the same kresd process enforces it.
	write(t, dir, "deny.txt", "bad.example.test\nlater.example.test\n")
	serve.Process.Signal(syscall.SIGHUP)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if r = kr.ask(t, "later.example.test."); r != nil && r.Rcode == dns.RcodeNameError {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("later.example.test.: %v, want NXDOMAIN once the zone file has it", r)
		}
	}
	if b, _ := os.ReadFile(zoneFile); !strings.Contains(string(b), "later.example.test\tCNAME\t.") {
		t.Fatalf("zone file:\n%s", b)
	}
	if !strings.Contains(logs[2].String(), "RPZ reloading") {
		t.Errorf("kresd did not log the reload")
	}
	if r = kr.ask(t, "good.example.test."); r == nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
		t.Fatalf("good.example.test. after the reload: %v", r)
	}
}

// knot is a kresd the test started.
type knot struct {
	cmd  *exec.Cmd
	addr string
}

// startKnot starts kresd on a loopback port with conf, the snippets under
// test, between the test's own lines: these keep every packet on
// loopback (no root priming, no trust anchor or its updates, no time
// checks against the Internet), send example.test. to a local upstream
// that serves the zone of main_test.go, and refuse every other name.
// kresd logs to log.
func startKnot(t *testing.T, kresd, dir, conf string, log *tooltest.Log) *knot {
	t.Helper()
	upstream := serveUpstream(t)
	port := tooltest.FreePort(t)
	config := write(t, dir, "kresd.conf", fmt.Sprintf(`-- test only: nothing leaves loopback
log_level('info')
modules.unload('priming')
modules.unload('ta_update')
modules.unload('ta_signal_query')
modules.unload('ta_sentinel')
modules.unload('detect_time_skew')
modules.unload('detect_time_jump')
trust_anchors.remove('.')
net.listen('127.0.0.1', %[1]d, {kind = 'dns'})
cache.open(10 * MB, 'lmdb://%[2]s/cache')
-- the files under test
%[3]s-- test only: the test's names from the local upstream, nothing else
policy.add(policy.suffix(policy.STUB({'%[4]s'}), {todname('example.test.')}))
policy.add(policy.all(policy.REFUSE))
`, port, dir, conf, strings.Replace(upstream, ":", "@", 1)))
	k := &knot{
		cmd:  exec.Command(kresd, "--noninteractive", "--config", config, dir),
		addr: fmt.Sprintf("127.0.0.1:%d", port),
	}
	k.cmd.Stdout, k.cmd.Stderr = log, log
	if err := k.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return k
}

// ask asks kresd for name's A record, trying for a few seconds while
// kresd starts; nil if it never answers.
func (k *knot) ask(t *testing.T, name string) *dns.Msg {
	t.Helper()
	m := new(dns.Msg).SetQuestion(name, dns.TypeA)
	c := &dns.Client{Timeout: time.Second}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if r, _, err := c.Exchange(m, k.addr); err == nil {
			return r
		}
	}
	return nil
}

// serveUpstream serves the zone of main_test.go on a loopback UDP port,
// authoritatively, and returns its address.
func serveUpstream(t *testing.T) string {
	t.Helper()
	records := map[string][]dns.RR{}
	zp := dns.NewZoneParser(strings.NewReader(zone), "", "")
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		records[rr.Header().Name] = append(records[rr.Header().Name], rr)
	}
	if err := zp.Err(); err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		r := new(dns.Msg).SetReply(q)
		r.Authoritative = true
		name := strings.ToLower(q.Question[0].Name)
		rrs, ok := records[name]
		if !ok {
			r.Rcode = dns.RcodeNameError
		}
		for _, rr := range rrs {
			if rr.Header().Rrtype == q.Question[0].Qtype {
				r.Answer = append(r.Answer, rr)
			}
		}
		w.WriteMsg(r)
	})}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown(); pc.Close() })
	return pc.LocalAddr().String()
}

// waitForFile waits for path to exist.
func waitForFile(t *testing.T, path string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s", path)
		}
	}
}

// lineWithAll says whether a line of out has all of parts.
func lineWithAll(out []byte, parts ...string) bool {
	for _, l := range strings.Split(string(out), "\n") {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(l, p)
		}
		if all {
			return true
		}
	}
	return false
}

// Knot Resolver in monitor mode, with the file of tapir-rpz(1) MONITOR
// MODE: it resolves a name the zone (from tapir-rpz zone) denies, and logs
// the rule; a PASSTHRU rule (an allowlist's) it neither applies nor logs.
func TestKnotMonitor(t *testing.T) {
	kresd := tooltest.Need(t, "kresd")
	dir := t.TempDir()
	zoneFile := filepath.Join(dir, "rpz.zone")
	deny := write(t, dir, "deny.txt", "*.example.test\n")
	allow := write(t, dir, "allow.txt", "good.example.test\n")
	if out, err := tooltest.Command("zone", "--deny", deny, "--allow", allow, "--zone-file", zoneFile).CombinedOutput(); err != nil {
		t.Fatalf("tapir-rpz zone: %v\n%s", err, out)
	}
	var log tooltest.Log
	kr := startKnot(t, kresd, dir, resolvers.Fill("knot-monitor.conf", resolvers.Vars{ZoneFile: zoneFile}), &log)
	defer func() {
		tooltest.Stop(kr.cmd)
		if t.Failed() {
			b, _ := os.ReadFile(zoneFile)
			t.Logf("kresd:\n%s\nzone:\n%s", log.String(), b)
		}
	}()
	for _, name := range []string{"bad.example.test.", "good.example.test."} {
		if r := kr.ask(t, name); r == nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 {
			t.Fatalf("%s: %v, want the upstream's answer", name, r)
		}
	}
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(log.String(), "tapir-monitor: RPZ rule for bad.example.test. A, not applied"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("kresd did not log the rule for bad.example.test.")
		}
	}
	if strings.Contains(log.String(), "good.example.test") {
		t.Error("kresd logged the PASSTHRU rule of good.example.test.")
	}
}
