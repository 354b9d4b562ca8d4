// Package unboundtest runs a real Unbound resolver on loopback as a test
// fixture.
//
// [Start] writes a configuration into a temporary directory, checks it with
// unbound-checkconf, starts "unbound -d" on a free port of 127.0.0.1 and
// stops it again when the test ends. Unbound never touches the network: it
// answers names in one authoritative zone (by default [DefaultZone], named
// [DefaultZoneName]), its built-in local zones such as localhost., and
// refuses every other name at once.
//
// Unbound can send dnstap telemetry to a Unix socket or a TCP address of the
// test's choosing, which is what the packages of the toolkit consume: from
// a dnstap: clause Start writes, or from one the test gives as it is (such
// as the one the manual gives operators, see package resolvers).
//
// Tests that need Unbound are skipped when it is not installed, unless the
// environment variable TAPIR_REQUIRE_REAL is 1, in which case they fail.
//
// A test of a dnstap receiver might read:
//
//	l, err := net.Listen("unix", sockPath) // the receiver under test
//	...
//	s := unboundtest.Start(t, unboundtest.Config{
//		DnstapSocket:      sockPath,
//		LogClientQuery:    true,
//		LogClientResponse: true,
//	})
//	if _, err := s.QueryFrom("127.77.1.2", "www.example.test", dns.TypeA); err != nil {
//		t.Fatal(err)
//	}
//	// ... wait for the two frames, or time.Sleep(unboundtest.DnstapFlushDelay),
//	// before s.Stop or s.Restart: Unbound drops frames it has not sent yet.
package unboundtest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/tapir-edge/tapir/lib/testkit/tooltest"
)

// DefaultZoneName is the origin of [DefaultZone].
const DefaultZoneName = "example.test."

// DefaultZone is the zone Unbound serves when [Config].Zone is empty.
// Queries for names in it are answered NOERROR; any other name under
// example.test. is NXDOMAIN. The addresses are documentation addresses
// (RFC 5737, RFC 3849).
const DefaultZone = `$ORIGIN example.test.
$TTL 300
@	SOA	ns.example.test. hostmaster.example.test. 1 3600 600 86400 300
@	NS	ns.example.test.
@	A	192.0.2.1
@	AAAA	2001:db8::1
@	MX	10 mail.example.test.
@	TXT	"v=spf1 -all"
ns	A	192.0.2.53
www	A	192.0.2.80
www	AAAA	2001:db8::80
mail	A	192.0.2.25
mail	AAAA	2001:db8::25
txt	TXT	"unboundtest"
alias	CNAME	www.example.test.
*.wild	A	192.0.2.99
*.wild	TXT	"wildcard"
`

// DnstapFlushDelay is how long a test should wait after its last query
// before it calls [Server.Stop] or [Server.Restart] when it counts dnstap
// frames. Unbound hands queued dnstap messages to its output thread at the
// latest one second after the first of them was queued, and it drops the
// messages still queued when it stops.
const DnstapFlushDelay = 1500 * time.Millisecond

const (
	startTimeout = 10 * time.Second // for Unbound to start answering
	stopTimeout  = 5 * time.Second  // for Unbound to exit after SIGTERM
	bindAttempts = 5                // ports tried before Start gives up
	queryTimeout = 2 * time.Second  // per query in Server.Query and friends

	// startMarker is the line Unbound logs (at verbosity 1) once its
	// sockets are open and its zones are loaded, just before its main
	// thread starts serving.
	startMarker = "start of service ("
)

// pickPort returns the port Unbound is to listen on; tests replace it.
var pickPort = tooltest.LoopbackPort

// Config says how to start Unbound. The zero value starts Unbound serving
// [DefaultZone] without dnstap.
type Config struct {
	// DnstapSocket is the path of the Unix socket Unbound sends dnstap to
	// (dnstap-socket-path), or "". The path must be shorter than 108
	// bytes. Unbound connects by itself and retries until something
	// listens there.
	DnstapSocket string

	// DnstapTCP is the "127.0.0.1:PORT" address Unbound sends dnstap to
	// over plain TCP (dnstap-ip with dnstap-tls: no), or "". At most one
	// of DnstapSocket and DnstapTCP may be set.
	DnstapTCP string

	// Identity is the dnstap identity (dnstap-identity); the default is
	// "unboundtest". Unbound sends its version too.
	Identity string

	// Dnstap is the text of a dnstap: clause, used as it is in place of
	// the one Start writes from DnstapSocket, DnstapTCP, Identity and
	// the Log fields, which must then be left empty: for instance a
	// resolver configuration file an operator is given, with the test's
	// socket path or port filled in. Unbound takes a relative
	// dnstap-socket-path as relative to Dir; a Unix socket path must be
	// shorter than 108 bytes.
	Dnstap string

	// LogClientQuery and LogClientResponse enable the dnstap
	// CLIENT_QUERY and CLIENT_RESPONSE messages
	// (dnstap-log-client-query-messages and
	// dnstap-log-client-response-messages). Unbound sends no messages
	// unless some are enabled.
	LogClientQuery, LogClientResponse bool

	// LogResolverQuery and LogResolverResponse enable the dnstap
	// RESOLVER_QUERY and RESOLVER_RESPONSE messages. Answers from the
	// zone involve no upstream query, so they produce none.
	LogResolverQuery, LogResolverResponse bool

	// Threads is the number of threads (num-threads); the default is 1.
	Threads int

	// Zone is the text of a zone file Unbound serves, with origin
	// ZoneName, in place of DefaultZone. It must have an SOA record.
	// Relative names are relative to ZoneName. Zone and ZoneName are
	// given together or not at all.
	Zone     string
	ZoneName string

	// Extra holds more configuration lines appended inside the server:
	// clause, after the ones Start writes, which they override where a
	// setting takes one value (for example module-config: "respip
	// iterator" for RPZ). Extra may end with further clauses such as
	// rpz:, since the clauses Start writes follow it. Keep verbosity at
	// 1 or more and leave logfile alone: Start reads the log to see that
	// Unbound has started.
	Extra string
}

// Server is an Unbound process started by [Start].
type Server struct {
	// Addr is the "127.0.0.1:PORT" address on which Unbound answers DNS
	// over UDP and TCP. It stays the same across Restart.
	Addr string

	// Dir is the temporary directory with Unbound's configuration,
	// zone file, log and pid file.
	Dir string

	// ConfigFile is the path of Unbound's configuration file in Dir.
	ConfigFile string

	t       testing.TB
	c       Config
	unbound string // path of the unbound program
	port    int

	mu   sync.Mutex
	proc *process // nil when stopped
}

// process is one run of Unbound.
type process struct {
	cmd    *exec.Cmd
	done   chan struct{} // closed when cmd.Wait has returned
	err    error         // from cmd.Wait, valid once done is closed
	logOff int64         // size of the log file when the run began
	errOff int64         // size of the stderr file when the run began
}

// Start starts Unbound configured by c and returns once it serves queries.
// The test fails, with Unbound's log, if Unbound cannot be started. When the
// unbound program is not installed, Start skips the test, or fails it if the
// environment variable TAPIR_REQUIRE_REAL is 1.
//
// Without dnstap, Start makes sure Unbound answers by querying the SOA of the
// zone. With dnstap (c.DnstapSocket, c.DnstapTCP or c.Dnstap set) it sends
// no query, so that the dnstap stream carries only the test's own queries;
// it relies on the line Unbound logs when it starts serving.
//
// Start registers [Server.Stop] with t.Cleanup. Like t.Fatal, Start must be
// called from the goroutine running the test.
func Start(t testing.TB, c Config) *Server {
	t.Helper()
	unbound := tooltest.Need(t, "unbound")
	checkconf := tooltest.Need(t, "unbound-checkconf")
	if c.DnstapSocket != "" {
		// Unbound would take a relative path as relative to Dir.
		abs, err := filepath.Abs(c.DnstapSocket)
		if err != nil {
			t.Fatalf("unboundtest: %v", err)
		}
		c.DnstapSocket = abs
	}
	if err := c.check(); err != nil {
		t.Fatalf("unboundtest: %v", err)
	}
	if c.Zone == "" {
		c.Zone, c.ZoneName = DefaultZone, DefaultZoneName
	}
	c.ZoneName = dns.CanonicalName(c.ZoneName)
	if c.Identity == "" && c.Dnstap == "" {
		c.Identity = "unboundtest"
	}
	if c.Threads == 0 {
		c.Threads = 1
	}

	dir := t.TempDir()
	s := &Server{
		Dir:        dir,
		ConfigFile: filepath.Join(dir, "unbound.conf"),
		t:          t,
		c:          c,
		unbound:    unbound,
	}
	if strings.ContainsAny(dir, "\"\n") {
		t.Fatalf("unboundtest: temporary directory %q cannot be quoted in unbound.conf", dir)
	}
	if err := os.WriteFile(s.zoneFile(), []byte(c.Zone), 0o644); err != nil {
		t.Fatalf("unboundtest: %v", err)
	}
	t.Cleanup(s.Stop)

	// Another process may take the free port between the moment it is
	// found and the moment Unbound binds it (Unbound is told not to share
	// ports, so it fails rather than silently splitting the traffic):
	// then try another port.
	for attempt := 1; ; attempt++ {
		port, err := pickPort()
		if err != nil {
			t.Fatalf("unboundtest: no free port: %v", err)
		}
		s.port = port
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if err := os.WriteFile(s.ConfigFile, []byte(s.config()), 0o644); err != nil {
			t.Fatalf("unboundtest: %v", err)
		}
		if attempt == 1 {
			out, err := exec.Command(checkconf, s.ConfigFile).CombinedOutput()
			if err != nil {
				t.Fatalf("unboundtest: unbound-checkconf rejects the configuration: %v\n%s\nconfiguration:\n%s",
					err, out, s.config())
			}
		}
		err = s.start()
		if err == nil {
			return s
		}
		if !errors.Is(err, errBind) || attempt == bindAttempts {
			t.Fatalf("unboundtest: %v\n%s", err, s.Log())
		}
		t.Logf("unboundtest: %v; trying another port", err)
	}
}

// check reports the first problem in c.
func (c *Config) check() error {
	if c.DnstapSocket != "" && c.DnstapTCP != "" {
		return errors.New("both DnstapSocket and DnstapTCP are set")
	}
	if c.Dnstap != "" {
		if c.DnstapSocket != "" || c.DnstapTCP != "" || c.Identity != "" ||
			c.LogClientQuery || c.LogClientResponse || c.LogResolverQuery || c.LogResolverResponse {
			return errors.New("config: Dnstap is set together with DnstapSocket, DnstapTCP, Identity or a Log field")
		}
		if !strings.HasPrefix(strings.TrimSpace(c.Dnstap), "dnstap:") {
			return errors.New("config: Dnstap does not begin with the dnstap: clause")
		}
	}
	// A sockaddr_un holds at most 107 bytes of path on Linux.
	if len(c.DnstapSocket) > 107 {
		return fmt.Errorf("DnstapSocket %q is too long for a Unix socket", c.DnstapSocket)
	}
	if c.DnstapTCP != "" {
		host, port, err := net.SplitHostPort(c.DnstapTCP)
		if err != nil {
			return fmt.Errorf("DnstapTCP: %v", err)
		}
		if net.ParseIP(host) == nil {
			return fmt.Errorf("DnstapTCP %q: the host must be an IP address", c.DnstapTCP)
		}
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return fmt.Errorf("DnstapTCP %q: bad port", c.DnstapTCP)
		}
	}
	if (c.Zone == "") != (c.ZoneName == "") {
		return errors.New("config: Zone and ZoneName must be given together")
	}
	if c.ZoneName != "" {
		if _, ok := dns.IsDomainName(c.ZoneName); !ok {
			return fmt.Errorf("config: ZoneName %q is not a domain name", c.ZoneName)
		}
	}
	if c.Threads < 0 {
		return fmt.Errorf("config: Threads is %d", c.Threads)
	}
	for _, f := range []struct{ name, v string }{
		{"DnstapSocket", c.DnstapSocket},
		{"Identity", c.Identity},
		{"ZoneName", c.ZoneName},
	} {
		if strings.ContainsAny(f.v, "\"\n") {
			return fmt.Errorf("%s %q cannot be quoted in unbound.conf", f.name, f.v)
		}
	}
	return nil
}

func (s *Server) zoneFile() string   { return filepath.Join(s.Dir, "zone.db") }
func (s *Server) logFile() string    { return filepath.Join(s.Dir, "unbound.log") }
func (s *Server) stderrFile() string { return filepath.Join(s.Dir, "stderr.log") }

// config returns the text of unbound.conf.
func (s *Server) config() string {
	c := &s.c
	var b strings.Builder
	line := func(format string, args ...any) {
		fmt.Fprintf(&b, "\t"+format+"\n", args...)
	}
	b.WriteString("# Written by unboundtest for a test; Unbound must not touch the network.\nserver:\n")
	line("verbosity: 1") // the start marker is logged at verbosity 1
	line("log-time-ascii: yes")
	line("num-threads: %d", c.Threads)
	line("interface: 127.0.0.1@%d", s.port)
	// By default Unbound binds with SO_REUSEPORT, and would then share a
	// port taken by another process in the meantime instead of failing.
	line("so-reuseport: no")
	line("access-control: 127.0.0.0/8 allow")
	// Stay in the foreground, in this directory, with the privileges of
	// the test, even as root: no user switch and no chroot.
	line("do-daemonize: no")
	line(`username: ""`)
	line(`chroot: ""`)
	line("directory: %q", s.Dir)
	line("pidfile: %q", filepath.Join(s.Dir, "unbound.pid"))
	line("logfile: %q", s.logFile())
	line("use-syslog: no")
	// No validator: it would want a trust anchor and DNSSEC lookups.
	line(`module-config: "iterator"`)
	// Answers come only from local data, without any outgoing query:
	// every name is refused at once (REFUSED, a fast and deterministic
	// answer that is told apart from the NXDOMAIN of a missing name in the
	// zone) except under the more specific local zones: the zone below,
	// whose transparent local zone lets its queries through to the
	// iterator, which answers them from the auth-zone (for-upstream)
	// without root priming; and Unbound's default local zones (localhost.,
	// reverse loopback, test., invalid. ...). A transparent local zone also
	// turns off a default local zone of the same name, so the zone may be
	// a default one such as test.
	line(`local-zone: "." refuse`)
	line("local-zone: %q transparent", c.ZoneName)
	if c.Extra != "" {
		b.WriteString(c.Extra)
		if !strings.HasSuffix(c.Extra, "\n") {
			b.WriteString("\n")
		}
	}

	b.WriteString("auth-zone:\n")
	line("name: %q", c.ZoneName)
	line("zonefile: %q", s.zoneFile())
	line("for-upstream: yes")
	line("for-downstream: no")
	line("fallback-enabled: no")

	b.WriteString("remote-control:\n")
	line("control-enable: no")

	if c.Dnstap != "" {
		b.WriteString(c.Dnstap)
		if !strings.HasSuffix(c.Dnstap, "\n") {
			b.WriteString("\n")
		}
	} else if c.DnstapSocket != "" || c.DnstapTCP != "" {
		yesno := func(v bool) string {
			if v {
				return "yes"
			}
			return "no"
		}
		b.WriteString("dnstap:\n")
		line("dnstap-enable: yes")
		if c.DnstapSocket != "" {
			line("dnstap-socket-path: %q", c.DnstapSocket)
		} else {
			host, port, _ := net.SplitHostPort(c.DnstapTCP)
			line("dnstap-ip: \"%s@%s\"", host, port)
			line("dnstap-tls: no")
		}
		line("dnstap-send-identity: yes")
		line("dnstap-send-version: yes")
		line("dnstap-identity: %q", c.Identity)
		line("dnstap-log-client-query-messages: %s", yesno(c.LogClientQuery))
		line("dnstap-log-client-response-messages: %s", yesno(c.LogClientResponse))
		line("dnstap-log-resolver-query-messages: %s", yesno(c.LogResolverQuery))
		line("dnstap-log-resolver-response-messages: %s", yesno(c.LogResolverResponse))
	}
	return b.String()
}

// errBind marks a start that failed because the port was taken.
var errBind = errors.New("unbound could not bind its port")

// start runs Unbound once and waits until it serves. On failure Unbound is
// no longer running.
func (s *Server) start() error {
	stderr, err := os.OpenFile(s.stderrFile(), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer stderr.Close() // the child has its own copy
	p := &process{
		done:   make(chan struct{}),
		logOff: fileSize(s.logFile()),
		errOff: fileSize(s.stderrFile()),
	}
	p.cmd = exec.Command(s.unbound, "-d", "-c", s.ConfigFile)
	p.cmd.Dir = s.Dir
	p.cmd.Stdout = stderr
	p.cmd.Stderr = stderr
	p.cmd.SysProcAttr = sysProcAttr()
	if err := p.cmd.Start(); err != nil {
		return err
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	s.mu.Lock()
	s.proc = p
	s.mu.Unlock()

	// With -d, Unbound reports setup errors on stderr and logs to its
	// log file from the start of its threads on; look at both.
	deadline := time.Now().Add(startTimeout)
	for !s.started(p) {
		select {
		case <-p.done:
			s.mu.Lock()
			s.proc = nil
			s.mu.Unlock()
			out := strings.ToLower(s.runOutput(p))
			// "can't bind socket: Address already in use" for UDP,
			// "bind: address already in use" for TCP.
			if strings.Contains(out, "address already in use") {
				return fmt.Errorf("%w %d: %v", errBind, s.port, p.err)
			}
			if strings.Contains(out, "permission denied") {
				// Debian's package ships an AppArmor profile that
				// confines unbound to /etc/unbound and the like.
				return fmt.Errorf("unbound exited at start: %v (where AppArmor is enforced, "+
					"its profile for %s forbids the files of a test: disable the profile "+
					"with apparmor_parser -R or aa-complain)", p.err, s.unbound)
			}
			return fmt.Errorf("unbound exited at start: %v", p.err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.halt(p)
			return fmt.Errorf("unbound did not log %q within %v", startMarker, startTimeout)
		}
	}
	if s.c.DnstapSocket != "" || s.c.DnstapTCP != "" || s.c.Dnstap != "" {
		return nil
	}
	for {
		_, err := s.Query(s.c.ZoneName, dns.TypeSOA)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			s.halt(p)
			return fmt.Errorf("unbound does not answer on %s: %v", s.Addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// started reports whether Unbound has logged, in the run p, that it serves.
func (s *Server) started(p *process) bool {
	return strings.Contains(s.runOutput(p), startMarker)
}

// runOutput returns what Unbound wrote to its log and stderr during run p.
func (s *Server) runOutput(p *process) string {
	return readFrom(s.logFile(), p.logOff) + readFrom(s.stderrFile(), p.errOff)
}

// Stop stops Unbound with SIGTERM and waits for it to exit, killing it after
// 5 seconds. Stop does nothing if Unbound is not running; it is called by
// t.Cleanup too. It reports an error on the test if Unbound had exited
// before Stop.
//
// Unbound drops the dnstap messages it has not sent yet when it stops: a test
// that counts dnstap frames should wait [DnstapFlushDelay] after its last
// query before calling Stop (or better, wait until it has received the
// frames it expects).
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.proc
	if p == nil {
		return
	}
	s.proc = nil
	select {
	case <-p.done:
		s.t.Errorf("unboundtest: unbound exited unexpectedly: %v\n%s", p.err, s.Log())
		return
	default:
	}
	s.terminate(p)
}

// halt stops the run p of Unbound that start gave up on.
func (s *Server) halt(p *process) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.proc = nil
	s.terminate(p)
}

// terminate sends SIGTERM to the run p of Unbound and waits for it to exit,
// killing it after stopTimeout.
func (s *Server) terminate(p *process) {
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		s.t.Logf("unboundtest: signalling unbound: %v", err)
	}
	select {
	case <-p.done:
		if p.err != nil {
			s.t.Logf("unboundtest: unbound exited with %v", p.err)
		}
	case <-time.After(stopTimeout):
		s.t.Logf("unboundtest: unbound did not exit within %v of SIGTERM; killing it", stopTimeout)
		p.cmd.Process.Kill()
		<-p.done
	}
}

// Restart stops Unbound and starts it again with the same configuration on
// the same port, for instance to check that a dnstap listener survives a
// restart of the resolver. Unbound's cache is empty afterwards. Restart
// fails the test if Unbound does not start again; like t.Fatal, it must be
// called from the goroutine running the test.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	// The port was ours a moment ago; should another process have taken
	// it in between, it may be only briefly.
	var err error
	for range bindAttempts {
		if err = s.start(); !errors.Is(err, errBind) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		s.t.Fatalf("unboundtest: restart: %v\n%s", err, s.Log())
	}
}

// Query sends a recursive query for name (made fully qualified) and qtype to
// Unbound over UDP, or TCP when the answer is truncated, and returns the
// response. The response may have any rcode; err is about the exchange.
func (s *Server) Query(name string, qtype uint16) (*dns.Msg, error) {
	return s.QueryFrom("", name, qtype)
}

// QueryFrom is like [Server.Query] but sends the query from the IP address
// src, which may be any address in 127.0.0.0/8: every one is local on
// Linux, so tests can act as many distinct clients. An empty src lets the
// system choose.
func (s *Server) QueryFrom(src string, name string, qtype uint16) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	return s.Exchange(src, m)
}

// Exchange sends the query m to Unbound from the IP address src (see
// [Server.QueryFrom]) over UDP, retrying over TCP when the response is
// truncated, and returns the response. It lets tests send queries Query
// cannot express, such as ones with EDNS options.
func (s *Server) Exchange(src string, m *dns.Msg) (*dns.Msg, error) {
	var ip net.IP
	if src != "" {
		if ip = net.ParseIP(src); ip == nil {
			return nil, fmt.Errorf("unboundtest: source address %q is not an IP address", src)
		}
	}
	r, err := exchange("udp", ip, m, s.Addr)
	if err == nil && r.Truncated {
		r, err = exchange("tcp", ip, m, s.Addr)
	}
	return r, err
}

// exchange sends m to addr over network ("udp" or "tcp") from the address
// src, if not nil.
func exchange(network string, src net.IP, m *dns.Msg, addr string) (*dns.Msg, error) {
	d := &net.Dialer{Timeout: queryTimeout}
	if src != nil {
		if network == "tcp" {
			d.LocalAddr = &net.TCPAddr{IP: src}
		} else {
			d.LocalAddr = &net.UDPAddr{IP: src}
		}
	}
	c := &dns.Client{Net: network, Dialer: d, Timeout: queryTimeout}
	r, _, err := c.Exchange(m, addr)
	return r, err
}

// Log returns what Unbound has written to its log file, followed by what it
// wrote to its standard error if anything, over all its runs, for failure
// messages.
func (s *Server) Log() string {
	var b strings.Builder
	b.WriteString("--- unbound log " + s.logFile() + ":\n")
	b.WriteString(ensureNewline(readFrom(s.logFile(), 0)))
	if e := readFrom(s.stderrFile(), 0); e != "" {
		b.WriteString("--- unbound stderr:\n")
		b.WriteString(ensureNewline(e))
	}
	return b.String()
}

// readFrom returns the contents of the named file from offset on, or "" if
// it cannot be read.
func readFrom(name string, offset int64) string {
	data, err := os.ReadFile(name)
	if err != nil || offset > int64(len(data)) {
		return ""
	}
	return string(data[offset:])
}

// fileSize returns the size of the named file, or 0.
func fileSize(name string) int64 {
	fi, err := os.Stat(name)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// ensureNewline adds a final newline to a non-empty s that lacks one (Unbound
// ends its fatal error message without one).
func ensureNewline(s string) string {
	if s != "" && !strings.HasSuffix(s, "\n") {
		return s + "\n"
	}
	return s
}
