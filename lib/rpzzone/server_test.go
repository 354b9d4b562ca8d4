package rpzzone

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// listenPair opens UDP and TCP listeners on the same free port of 127.0.0.1.
func listenPair(t testing.TB) (net.PacketConn, net.Listener, string) {
	t.Helper()
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			l.Close()
			continue
		}
		return pc, l, addr
	}
	t.Fatal("no free port for UDP and TCP")
	return nil, nil, ""
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// serve runs s on a free port until the test ends and returns its address.
func serve(t testing.TB, s *Server) string {
	t.Helper()
	if s.Logger == nil {
		s.Logger = quiet
	}
	pc, l, addr := listenPair(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.ServeListeners(ctx, pc, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	// Wait until it answers.
	c := &dns.Client{Timeout: time.Second}
	m := new(dns.Msg)
	m.SetQuestion(s.Zone.Origin(), dns.TypeSOA)
	for i := 0; ; i++ {
		if _, _, err := c.Exchange(m, addr); err == nil {
			return addr
		} else if i == 50 {
			t.Fatalf("server does not answer: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// xfr transfers the zone from addr: AXFR, or IXFR from serial when ixfr.
func xfr(addr, origin string, ixfr bool, serial uint32, tsigName, secret string) ([]dns.RR, error) {
	m := new(dns.Msg)
	if ixfr {
		m.SetIxfr(origin, serial, "localhost.", "hostmaster.localhost.")
	} else {
		m.SetAxfr(origin)
	}
	tr := &dns.Transfer{}
	if tsigName != "" {
		tr.TsigSecret = map[string]string{tsigName: secret}
		m.SetTsig(tsigName, dns.HmacSHA256, 300, time.Now().Unix())
	}
	ch, err := tr.In(m, addr)
	if err != nil {
		return nil, err
	}
	var rrs []dns.RR
	for env := range ch {
		if env.Error != nil {
			return rrs, env.Error
		}
		rrs = append(rrs, env.RR...)
	}
	return rrs, nil
}

// state is a zone's content as owner → CNAME target.
type state map[string]string

func stateOf(z *Zone) state {
	st := state{}
	for _, r := range z.Rules() {
		st[z.rr(&r).Header().Name] = r.target()
	}
	return st
}

// applyXfr applies an AXFR or IXFR answer to st, the client's content (nil
// for none), and reports whether it was incremental.
func applyXfr(t *testing.T, st state, rrs []dns.RR) (state, bool) {
	t.Helper()
	if len(rrs) < 2 {
		return st, false
	}
	first := rrs[0].(*dns.SOA)
	if _, ok := rrs[1].(*dns.SOA); !ok {
		// AXFR (or AXFR-style IXFR).
		st = state{}
		for _, rr := range rrs[1 : len(rrs)-1] {
			if c, ok := rr.(*dns.CNAME); ok {
				st[c.Hdr.Name] = c.Target
			}
		}
		return st, false
	}
	// Incremental: sequences of SOA(old) deletions SOA(new) additions.
	adding := true // the SOA that opens a deletion sequence turns it off
	for _, rr := range rrs[1 : len(rrs)-1] {
		switch v := rr.(type) {
		case *dns.SOA:
			adding = !adding
		case *dns.CNAME:
			if adding {
				st[v.Hdr.Name] = v.Target
			} else {
				if st[v.Hdr.Name] != v.Target {
					t.Fatalf("IXFR deletes %s %s, which the client does not have", v.Hdr.Name, v.Target)
				}
				delete(st, v.Hdr.Name)
			}
		}
	}
	if last := rrs[len(rrs)-1].(*dns.SOA); last.Serial != first.Serial {
		t.Fatalf("IXFR ends at %d, starts at %d", last.Serial, first.Serial)
	}
	return st, true
}

func equalState(a, b state) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || v != w {
			return false
		}
	}
	return true
}

func TestIXFR(t *testing.T) {
	z, err := Open(t.TempDir(), Options{JournalSize: 5})
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, &Server{Zone: z})

	// Record the content at every serial.
	history := map[uint32]state{z.Serial(): stateOf(z)}
	order := []uint32{z.Serial()}
	for i := range 8 {
		var cs []Change
		n := "n" + strconv.Itoa(i) + ".example."
		cs = append(cs, add(rule(n, false, NXDOMAIN, "")))
		if i > 0 {
			p := "n" + strconv.Itoa(i-1) + ".example."
			cs = append(cs, Change{Name: p, Old: rule(p, false, NXDOMAIN, ""), New: rule(p, false, REDIRECT, "garden.example.")})
			cs = append(cs, add(rule(p, true, DROP, "")))
		}
		if i > 2 {
			p := "n" + strconv.Itoa(i-3) + ".example."
			cs = append(cs, del(rule(p, true, DROP, "")))
		}
		s, err := z.Apply(cs)
		if err != nil {
			t.Fatal(err)
		}
		history[s] = stateOf(z)
		order = append(order, s)
	}
	cur := z.Serial()
	want := history[cur]

	for i, from := range order {
		rrs, err := xfr(addr, z.Origin(), true, from, "", "")
		if err != nil {
			t.Fatalf("IXFR from %d: %v", from, err)
		}
		if soa := rrs[0].(*dns.SOA); soa.Serial != cur {
			t.Fatalf("IXFR from %d starts with serial %d, want %d", from, soa.Serial, cur)
		}
		if from == cur {
			if len(rrs) != 1 {
				t.Fatalf("IXFR from the current serial: %d records, want the SOA", len(rrs))
			}
			continue
		}
		got, incr := applyXfr(t, clone(history[from]), rrs)
		inJournal := len(order)-1-i <= 5
		if incr != inJournal {
			t.Errorf("IXFR from %d (%d behind): incremental %v, want %v", from, len(order)-1-i, incr, inJournal)
		}
		if !equalState(got, want) {
			t.Errorf("IXFR from %d: client has\n%v\nwant\n%v", from, got, want)
		}
		if incr {
			// Exactly the changes: one SOA pair per serial.
			soas := 0
			for _, rr := range rrs {
				if _, ok := rr.(*dns.SOA); ok {
					soas++
				}
			}
			if wantSOAs := 2 + 2*(len(order)-1-i); soas != wantSOAs {
				t.Errorf("IXFR from %d: %d SOA records, want %d", from, soas, wantSOAs)
			}
		}
	}

	// AXFR.
	rrs, err := xfr(addr, z.Origin(), false, 0, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := applyXfr(t, nil, rrs); !equalState(got, want) {
		t.Errorf("AXFR: %v, want %v", got, want)
	}

	// A SOA query over UDP, and a policy record.
	c := new(dns.Client)
	m := new(dns.Msg)
	m.SetQuestion("n7.example."+z.Origin(), dns.TypeA)
	r, _, err := c.Exchange(m, addr)
	if err != nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) != 1 || r.Answer[0].(*dns.CNAME).Target != "." {
		t.Fatalf("query of a rule: %v %v", r, err)
	}
	// IXFR over UDP: the SOA alone, come over TCP. AXFR over UDP: no.
	m.SetIxfr(z.Origin(), order[0], "localhost.", "hostmaster.localhost.")
	if r, _, err := c.Exchange(m, addr); err != nil || len(r.Answer) != 1 || r.Answer[0].(*dns.SOA).Serial != cur {
		t.Fatalf("IXFR over UDP: %v %v", r, err)
	}
	m = new(dns.Msg)
	m.SetAxfr(z.Origin())
	if r, _, err := c.Exchange(m, addr); err != nil || r.Rcode != dns.RcodeRefused {
		t.Fatalf("AXFR over UDP: %v %v", r, err)
	}
	m = new(dns.Msg)
	m.SetQuestion("example.com.", dns.TypeA)
	if r, _, err := c.Exchange(m, addr); err != nil || r.Rcode != dns.RcodeRefused {
		t.Fatalf("query out of zone: %v %v", r, err)
	}
	m.SetQuestion("absent.example."+z.Origin(), dns.TypeA)
	if r, _, err := c.Exchange(m, addr); err != nil || r.Rcode != dns.RcodeNameError {
		t.Fatalf("query of no rule: %v %v", r, err)
	}
}

func clone(s state) state {
	c := state{}
	for k, v := range s {
		c[k] = v
	}
	return c
}

func TestACL(t *testing.T) {
	z, _ := Open("", Options{})
	z.Apply(allActions())
	addr := serve(t, &Server{Zone: z, Allow: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}})
	for _, ixfr := range []bool{false, true} {
		_, err := xfr(addr, z.Origin(), ixfr, 1, "", "")
		if err == nil {
			t.Fatalf("transfer (ixfr %v) from loopback allowed", ixfr)
		}
		t.Logf("refused: %v", err)
	}
	// SOA queries stay open to all.
	m := new(dns.Msg)
	m.SetQuestion(z.Origin(), dns.TypeSOA)
	if r, _, err := new(dns.Client).Exchange(m, addr); err != nil || r.Rcode != dns.RcodeSuccess {
		t.Fatalf("SOA: %v %v", r, err)
	}
	// The default ACL: loopback.
	addr2 := serve(t, &Server{Zone: z})
	if _, err := xfr(addr2, z.Origin(), false, 0, "", ""); err != nil {
		t.Fatalf("default ACL refuses loopback: %v", err)
	}
	s := &Server{}
	for a, want := range map[string]bool{"127.0.0.1": true, "127.9.9.9": true, "::1": true, "::ffff:127.0.0.1": true, "192.0.2.1": false, "::2": false} {
		if got := s.allowed(&net.TCPAddr{IP: net.ParseIP(a)}); got != want {
			t.Errorf("default ACL: %s allowed %v, want %v", a, got, want)
		}
	}
}

func TestTSIG(t *testing.T) {
	const name, secret = "xfr.key.", "c2VjcmV0IHNlY3JldCBzZWNyZXQgc2VjcmV0IHNlY3JldA=="
	z, _ := Open("", Options{})
	z.Apply(allActions())
	addr := serve(t, &Server{Zone: z, TSIGName: name, TSIGSecret: secret})
	if _, err := xfr(addr, z.Origin(), false, 0, "", ""); err == nil {
		t.Fatal("AXFR without TSIG allowed")
	}
	if _, err := xfr(addr, z.Origin(), true, 1, "", ""); err == nil {
		t.Fatal("IXFR without TSIG allowed")
	}
	if _, err := xfr(addr, z.Origin(), false, 0, name, "d3Jvbmcgc2VjcmV0IHdyb25nIHNlY3JldA=="); err == nil {
		t.Fatal("AXFR with a wrong secret allowed")
	}
	if _, err := xfr(addr, z.Origin(), false, 0, "other.key.", secret); err == nil {
		t.Fatal("AXFR with another key allowed")
	}
	rrs, err := xfr(addr, z.Origin(), false, 0, name, secret)
	if err != nil {
		t.Fatalf("AXFR with TSIG: %v", err)
	}
	if got, _ := applyXfr(t, nil, rrs); !equalState(got, stateOf(z)) {
		t.Fatal("AXFR with TSIG: wrong content")
	}
	// A transfer of several messages, each signed.
	big := bigChanges(20_000, "big")
	if _, err := z.Apply(big); err != nil {
		t.Fatal(err)
	}
	rrs, err = xfr(addr, z.Origin(), false, 0, name, secret)
	if err != nil {
		t.Fatalf("large AXFR with TSIG: %v", err)
	}
	if got, _ := applyXfr(t, nil, rrs); !equalState(got, stateOf(z)) || len(got) != 20_000+len(allActions()) {
		t.Fatalf("large AXFR with TSIG: %d rules", len(got))
	}
	s0 := z.Serial()
	z.Apply([]Change{add(rule("more.example.", false, DROP, ""))})
	rrs, err = xfr(addr, z.Origin(), true, s0, name, secret)
	if err != nil {
		t.Fatalf("IXFR with TSIG: %v", err)
	}
	if _, incr := applyXfr(t, stateOf(z), rrs); !incr {
		// (applied onto the new state it deletes nothing, adds again)
		t.Fatal("IXFR with TSIG not incremental")
	}
}

// notifyListener is a DNS server that records the NOTIFY messages it gets
// and acknowledges them, except the first ignore ones.
type notifyListener struct {
	mu      sync.Mutex
	ignore  int
	serials []uint32
	signed  []bool
	got     chan uint32
}

func (n *notifyListener) ServeDNS(w dns.ResponseWriter, q *dns.Msg) {
	if q.Opcode != dns.OpcodeNotify {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ignore > 0 {
		n.ignore--
		return
	}
	var serial uint32
	if len(q.Answer) == 1 {
		serial = q.Answer[0].(*dns.SOA).Serial
	}
	n.serials = append(n.serials, serial)
	n.signed = append(n.signed, q.IsTsig() != nil && w.TsigStatus() == nil)
	m := new(dns.Msg)
	m.SetReply(q)
	if t := q.IsTsig(); t != nil && w.TsigStatus() == nil {
		m.SetTsig(t.Hdr.Name, t.Algorithm, t.Fudge, time.Now().Unix())
	}
	w.WriteMsg(m)
	n.got <- serial
}

func startNotifyListener(t *testing.T, n *notifyListener, secrets map[string]string) string {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: n, TsigSecret: secrets}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go srv.ActivateAndServe()
	<-started
	t.Cleanup(func() { srv.Shutdown() })
	return pc.LocalAddr().String()
}

func TestNotify(t *testing.T) {
	const name, secret = "notify.key.", "c2VjcmV0IHNlY3JldCBzZWNyZXQgc2VjcmV0IHNlY3JldA=="
	for _, tsig := range []bool{false, true} {
		t.Run(fmt.Sprintf("tsig=%v", tsig), func(t *testing.T) {
			n := &notifyListener{ignore: 1, got: make(chan uint32, 10)}
			var secrets map[string]string
			s := &Server{NotifyTimeout: 200 * time.Millisecond}
			if tsig {
				secrets = map[string]string{name: secret}
				s.TSIGName, s.TSIGSecret = name, secret
			}
			target := startNotifyListener(t, n, secrets)
			z, _ := Open("", Options{})
			s.Zone = z
			s.Notify = []string{target}
			var mu sync.Mutex
			var attempts []error
			s.OnNotify = func(_ string, _ uint32, err error) {
				mu.Lock()
				attempts = append(attempts, err)
				mu.Unlock()
			}
			serve(t, s)
			serial, err := z.Apply([]Change{add(rule("new.example.", false, NXDOMAIN, ""))})
			if err != nil {
				t.Fatal(err)
			}
			select {
			case got := <-n.got:
				if got != serial {
					t.Fatalf("NOTIFY for serial %d, want %d", got, serial)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("no NOTIFY within 5s")
			}
			n.mu.Lock()
			if n.signed[0] != tsig {
				t.Errorf("NOTIFY signed %v, want %v", n.signed[0], tsig)
			}
			n.mu.Unlock()
			time.Sleep(100 * time.Millisecond)
			mu.Lock()
			defer mu.Unlock()
			// The first was ignored and timed out, the second acknowledged.
			if len(attempts) != 2 || attempts[0] == nil || attempts[1] != nil {
				t.Fatalf("attempts %v, want a timeout then success", attempts)
			}
		})
	}
}

func TestNotifyOnStart(t *testing.T) {
	n := &notifyListener{got: make(chan uint32, 10)}
	target := startNotifyListener(t, n, nil)
	z, _ := Open("", Options{})
	serve(t, &Server{Zone: z, Notify: []string{target}, NotifyOnStart: true})
	select {
	case got := <-n.got:
		if got != z.Serial() {
			t.Fatalf("NOTIFY for serial %d, want %d", got, z.Serial())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no NOTIFY at start within 5s")
	}
}

func TestNotifyRetriesBounded(t *testing.T) {
	n := &notifyListener{ignore: 1000, got: make(chan uint32, 10)}
	target := startNotifyListener(t, n, nil)
	z, _ := Open("", Options{})
	var mu sync.Mutex
	var errs []error
	serve(t, &Server{Zone: z, Notify: []string{target}, NotifyTimeout: 50 * time.Millisecond, NotifyAttempts: 3,
		OnNotify: func(_ string, _ uint32, err error) {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
		}})
	if _, err := z.Apply([]Change{add(rule("x.example.", false, DROP, ""))}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(600 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if len(errs) != 3 {
		t.Fatalf("%d attempts, want 3: %v", len(errs), errs)
	}
	for _, err := range errs {
		if err == nil {
			t.Fatal("an unanswered NOTIFY succeeded")
		}
	}
}
