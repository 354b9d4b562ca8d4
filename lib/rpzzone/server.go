package rpzzone

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Server is an authoritative primary for a [Zone] over UDP and TCP: it
// answers SOA and NS queries at the apex and queries for the rules' names,
// AXFR (TCP) and IXFR (RFC 1995, from the zone's journal; a client older
// than the journal gets the whole zone; a current one gets the SOA alone;
// over UDP the SOA alone, telling the client to use TCP), and sends NOTIFY
// to its targets after every change.
type Server struct {
	Zone *Zone

	// Allow lists who may transfer the zone; transfers from elsewhere
	// are REFUSED. Empty means loopback only (127.0.0.0/8, ::1).
	Allow []netip.Prefix

	// TSIGName and TSIGSecret (base64), when set, make TSIG
	// (hmac-sha256) required for transfers, and sign NOTIFY messages.
	TSIGName, TSIGSecret string

	// Notify lists the "host:port" addresses sent a NOTIFY (over UDP)
	// after every change. Each is retried, NotifyTimeout apart, until it
	// answers, at most NotifyAttempts times (defaults 2s and 5). A newer
	// change replaces a NOTIFY still being retried.
	Notify         []string
	NotifyTimeout  time.Duration
	NotifyAttempts int

	// NotifyOnStart sends a NOTIFY with the current serial when Serve
	// starts, so that secondaries check a restarted primary at once.
	NotifyOnStart bool

	// Logger receives one line per transfer and per NOTIFY outcome;
	// default slog.Default().
	Logger *slog.Logger

	// OnNotify, if not nil, is called after each NOTIFY attempt, with
	// the error (nil once acknowledged). For tests and metrics.
	OnNotify func(target string, serial uint32, err error)

	// OnTransfer, if not nil, is called for each transfer request, with
	// what was sent (AXFR, IXFR, IXFR-current, IXFR-udp) or "refused".
	// For metrics.
	OnTransfer func(kind string)
}

func (s *Server) transferred(kind string) {
	if s.OnTransfer != nil {
		s.OnTransfer(kind)
	}
}

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}

// maxMsg bounds the uncompressed size of the records in one message of a
// transfer, leaving room for a TSIG record under the 65535 bytes of TCP.
const maxMsg = 60000

// Serve serves the zone on listenAddr ("host:port") over UDP and TCP until
// ctx is done. It returns once both listeners are closed; the error is nil
// when ctx ended it.
func (s *Server) Serve(ctx context.Context, listenAddr string) error {
	pc, err := net.ListenPacket("udp", listenAddr)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", listenAddr)
	if err != nil {
		pc.Close()
		return err
	}
	return s.ServeListeners(ctx, pc, l)
}

// ServeListeners is Serve on listeners the caller opened (for instance on a
// port of its choosing, port 0 included).
func (s *Server) ServeListeners(ctx context.Context, pc net.PacketConn, l net.Listener) error {
	if s.Zone == nil {
		return errors.New("rpzzone: Server without a Zone")
	}
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	var secrets map[string]string
	if s.TSIGName != "" {
		secrets = map[string]string{dns.CanonicalName(s.TSIGName): s.TSIGSecret}
	}
	h := dns.HandlerFunc(s.handle)
	udp := &dns.Server{PacketConn: pc, Handler: h, TsigSecret: secrets}
	tcp := &dns.Server{Listener: l, Handler: h, TsigSecret: secrets}
	errc := make(chan error, 2)
	started := make(chan struct{}, 2)
	for _, srv := range []*dns.Server{udp, tcp} {
		srv.NotifyStartedFunc = func() { started <- struct{}{} }
		go func() { errc <- srv.ActivateAndServe() }()
	}
	// Shutdown before a server has started would leave it running.
	for range 2 {
		select {
		case <-started:
		case err := <-errc:
			udp.Shutdown()
			tcp.Shutdown()
			pc.Close()
			l.Close()
			return err
		}
	}

	ch := s.Zone.subscribe()
	defer s.Zone.unsubscribe(ch)
	nctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	targets := make([]chan uint32, len(s.Notify))
	for i, t := range s.Notify {
		targets[i] = make(chan uint32, 1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.notifier(nctx, t, targets[i])
		}()
	}

	if s.NotifyOnStart {
		for _, t := range targets {
			t <- s.Zone.Serial()
		}
	}
	var first error
	for {
		select {
		case <-ch:
			serial := s.Zone.Serial()
			for _, t := range targets {
				// Replace a serial not yet taken by the newer one.
				// This loop is the only sender: the send never blocks.
				select {
				case <-t:
				default:
				}
				t <- serial
			}
			continue
		case <-ctx.Done():
		case first = <-errc:
		}
		break
	}
	udp.Shutdown()
	tcp.Shutdown()
	if first != nil && ctx.Err() == nil {
		return first
	}
	return nil
}

// notifier sends NOTIFY for the serials it receives to target.
func (s *Server) notifier(ctx context.Context, target string, serials chan uint32) {
	timeout, attempts := s.NotifyTimeout, s.NotifyAttempts
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	if attempts <= 0 {
		attempts = 5
	}
	c := &dns.Client{Net: "udp", Timeout: timeout}
	if s.TSIGName != "" {
		c.TsigSecret = map[string]string{dns.CanonicalName(s.TSIGName): s.TSIGSecret}
	}
	var serial uint32
	pending := false // serial holds a newer serial to announce
	for {
		if !pending {
			select {
			case <-ctx.Done():
				return
			case serial = <-serials:
			}
		}
		pending = false
	retry:
		for i := 1; i <= attempts; i++ {
			m := new(dns.Msg)
			m.SetNotify(s.Zone.Origin())
			m.Answer = []dns.RR{s.Zone.soa(serial)}
			if s.TSIGName != "" {
				m.SetTsig(dns.CanonicalName(s.TSIGName), dns.HmacSHA256, 300, time.Now().Unix())
			}
			start := time.Now()
			r, _, err := c.ExchangeContext(ctx, m, target)
			if ctx.Err() != nil {
				return
			}
			if err == nil && (r.Opcode != dns.OpcodeNotify || r.Rcode != dns.RcodeSuccess) {
				err = fmt.Errorf("answer %s %s", dns.OpcodeToString[r.Opcode], dns.RcodeToString[r.Rcode])
			}
			if s.OnNotify != nil {
				s.OnNotify(target, serial, err)
			}
			if err == nil {
				s.Logger.Debug("rpzzone: notify acknowledged", "target", target, "serial", serial)
				break
			}
			s.Logger.Warn("rpzzone: notify", "target", target, "serial", serial, "attempt", i, "err", err)
			if i == attempts {
				break
			}
			// Wait out the rest of the timeout (a refusal comes fast),
			// unless a newer serial arrives.
			select {
			case <-ctx.Done():
				return
			case serial = <-serials:
				pending = true
				break retry
			case <-time.After(timeout - time.Since(start)):
			}
		}
	}
}

func (s *Server) allowed(addr net.Addr) bool {
	var ip netip.Addr
	switch a := addr.(type) {
	case *net.TCPAddr:
		ip, _ = netip.AddrFromSlice(a.IP)
	case *net.UDPAddr:
		ip, _ = netip.AddrFromSlice(a.IP)
	default:
		return false
	}
	ip = ip.Unmap()
	acl := s.Allow
	if len(acl) == 0 {
		acl = loopback
	}
	for _, p := range acl {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

func (s *Server) handle(w dns.ResponseWriter, q *dns.Msg) {
	z := s.Zone
	m := new(dns.Msg)
	m.SetReply(q)
	if q.Opcode != dns.OpcodeQuery || len(q.Question) != 1 || q.Question[0].Qclass != dns.ClassINET {
		m.SetRcode(q, dns.RcodeNotImplemented)
		if q.Opcode == dns.OpcodeQuery {
			m.SetRcode(q, dns.RcodeRefused)
		}
		w.WriteMsg(m)
		return
	}
	qq := q.Question[0]
	name := dns.CanonicalName(qq.Name)
	origin := z.Origin()
	if !dns.IsSubDomain(origin, name) {
		m.SetRcode(q, dns.RcodeRefused)
		w.WriteMsg(m)
		return
	}
	tcp := w.LocalAddr().Network() == "tcp"
	if qq.Qtype == dns.TypeAXFR || qq.Qtype == dns.TypeIXFR {
		if name != origin {
			m.SetRcode(q, dns.RcodeNotAuth)
			w.WriteMsg(m)
			return
		}
		if !s.allowed(w.RemoteAddr()) {
			s.Logger.Info("rpzzone: transfer refused by ACL", "client", w.RemoteAddr().String())
			s.transferred("refused")
			m.SetRcode(q, dns.RcodeRefused)
			w.WriteMsg(m)
			return
		}
		if s.TSIGName != "" {
			t := q.IsTsig()
			if t == nil || w.TsigStatus() != nil || dns.CanonicalName(t.Hdr.Name) != dns.CanonicalName(s.TSIGName) {
				s.Logger.Info("rpzzone: transfer refused: TSIG", "client", w.RemoteAddr().String(), "err", w.TsigStatus())
				s.transferred("refused")
				m.SetRcode(q, dns.RcodeNotAuth)
				if t != nil {
					// Sign the error when the key is known.
					if w.TsigStatus() == nil {
						m.SetTsig(t.Hdr.Name, t.Algorithm, t.Fudge, time.Now().Unix())
					}
				}
				w.WriteMsg(m)
				return
			}
		}
		s.transfer(w, q, tcp)
		return
	}

	z.mu.RLock()
	serial := z.serial
	m.Authoritative = true
	switch {
	case name == origin:
		switch qq.Qtype {
		case dns.TypeSOA:
			m.Answer = []dns.RR{z.soa(serial)}
		case dns.TypeNS:
			m.Answer = z.nsRRs()
		default:
			m.Ns = []dns.RR{z.soa(serial)}
		}
	default:
		rel := strings.TrimSuffix(name, "."+origin) + "."
		k := key{rel, false}
		if strings.HasPrefix(rel, "*.") {
			k = key{rel[2:], true}
		}
		if r, ok := z.rules[k]; ok {
			m.Answer = []dns.RR{z.rr(&r)}
		} else {
			m.Rcode = dns.RcodeNameError
			m.Ns = []dns.RR{z.soa(serial)}
		}
	}
	z.mu.RUnlock()
	if t := q.IsTsig(); t != nil && w.TsigStatus() == nil {
		m.SetTsig(t.Hdr.Name, t.Algorithm, t.Fudge, time.Now().Unix())
	}
	if !tcp {
		m.Truncate(udpSize(q))
	}
	w.WriteMsg(m)
}

func udpSize(q *dns.Msg) int {
	if o := q.IsEdns0(); o != nil && o.UDPSize() > dns.MinMsgSize {
		return int(o.UDPSize())
	}
	return dns.MinMsgSize
}

// transfer answers an AXFR or IXFR query.
func (s *Server) transfer(w dns.ResponseWriter, q *dns.Msg, tcp bool) {
	z := s.Zone
	qt := q.Question[0].Qtype
	var clientSerial uint32
	haveClient := false
	if qt == dns.TypeIXFR {
		for _, rr := range q.Ns {
			if soa, ok := rr.(*dns.SOA); ok {
				clientSerial, haveClient = soa.Serial, true
			}
		}
		if !haveClient {
			m := new(dns.Msg)
			m.SetRcode(q, dns.RcodeFormatError)
			w.WriteMsg(m)
			return
		}
	}
	if !tcp && qt == dns.TypeAXFR {
		m := new(dns.Msg)
		m.SetRcode(q, dns.RcodeRefused)
		w.WriteMsg(m)
		return
	}

	// Gather the records under the read lock, then send without it.
	z.mu.RLock()
	serial := z.serial
	soa := z.soa(serial)
	var rrs []dns.RR
	kind := "AXFR"
	switch {
	case qt == dns.TypeIXFR && (clientSerial == serial || !serialLess(clientSerial, serial)):
		// Up to date (or ahead of us, which is its problem): the SOA.
		rrs = []dns.RR{soa}
		kind = "IXFR-current"
	case qt == dns.TypeIXFR && !tcp:
		// Over UDP: the SOA alone tells the client to come over TCP.
		rrs = []dns.RR{soa}
		kind = "IXFR-udp"
	case qt == dns.TypeIXFR:
		if d := z.diffLocked(clientSerial); d != nil {
			rrs, kind = d, "IXFR"
			break
		}
		fallthrough
	default:
		rrs = make([]dns.RR, 0, len(z.rules)+len(z.o.NS)+2)
		rrs = append(rrs, soa)
		rrs = append(rrs, z.nsRRs()...)
		for _, r := range z.sortedLocked() {
			rrs = append(rrs, z.rr(&r))
		}
		rrs = append(rrs, soa)
	}
	z.mu.RUnlock()

	s.Logger.Info("rpzzone: transfer", "client", w.RemoteAddr().String(), "kind", kind,
		"from", clientSerial, "to", serial, "records", len(rrs))
	s.transferred(kind)
	tsig := q.IsTsig()
	for len(rrs) > 0 {
		m := new(dns.Msg)
		m.SetReply(q)
		m.Authoritative = true
		m.Compress = true
		size := 12 + len(q.Question[0].Name) + 6
		n := 0
		for n < len(rrs) {
			l := dns.Len(rrs[n])
			if n > 0 && size+l > maxMsg {
				break
			}
			size += l
			n++
		}
		m.Answer = rrs[:n]
		rrs = rrs[n:]
		if tsig != nil {
			m.SetTsig(tsig.Hdr.Name, tsig.Algorithm, tsig.Fudge, time.Now().Unix())
		}
		if err := w.WriteMsg(m); err != nil {
			s.Logger.Warn("rpzzone: transfer", "client", w.RemoteAddr().String(), "err", err)
			return
		}
		w.TsigTimersOnly(true)
	}
}

// serialLess reports whether a < b in RFC 1982 serial number arithmetic.
func serialLess(a, b uint32) bool {
	return a != b && int32(b-a) > 0
}

// diffLocked returns the IXFR answer from serial from to the current serial
// (RFC 1995: the current SOA, then per journal entry the old SOA, the
// deleted records, the new SOA, the added records, and the current SOA), or
// nil if the journal does not reach back to from.
func (z *Zone) diffLocked(from uint32) []dns.RR {
	i := -1
	for j := range z.journal {
		if z.journal[j].From == from {
			i = j
			break
		}
	}
	if i < 0 || z.journal[len(z.journal)-1].To != z.serial {
		return nil
	}
	cur := z.soa(z.serial)
	rrs := []dns.RR{cur}
	for _, e := range z.journal[i:] {
		rrs = append(rrs, z.soa(e.From))
		for _, c := range e.Changes {
			if c.Old != nil {
				rrs = append(rrs, z.rr(c.Old))
			}
		}
		rrs = append(rrs, z.soa(e.To))
		for _, c := range e.Changes {
			if c.New != nil {
				rrs = append(rrs, z.rr(c.New))
			}
		}
	}
	return append(rrs, cur)
}
