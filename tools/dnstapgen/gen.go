package main

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/miekg/dns"

	"github.com/tapir-edge/tapir/lib/dnstap"
)

// Mix says what traffic to make. Shares are fractions from 0 to 1.
type Mix struct {
	Clients     int     // distinct client addresses
	IPv6Clients float64 // share of the clients with an IPv6 address
	Names       int     // distinct names in the popularity list
	NewNames    float64 // share of queries for a name never seen before
	TCP         float64 // share of queries over TCP (the rest over UDP)
	NXDomain    float64 // share of responses with rcode NXDOMAIN
	ServFail    float64 // share of responses with rcode SERVFAIL
	Refused     float64 // share of responses with rcode REFUSED
	EDNS        float64 // share of queries with an OPT record
	ECS         float64 // share of the queries with an OPT record that carry a client subnet
	Pool        int     // distinct query and response pairs packed in advance
}

// DefaultMix is the traffic of a busy ISP resolver, roughly.
var DefaultMix = Mix{
	Clients:     1000,
	IPv6Clients: 0.3,
	Names:       10000,
	NewNames:    0.05,
	TCP:         0.03,
	NXDomain:    0.08,
	ServFail:    0.015,
	Refused:     0.005,
	EDNS:        0.9,
	ECS:         0.05,
	Pool:        1 << 15,
}

// check reports the first value of m that is out of range.
func (m Mix) check() error {
	for _, s := range []struct {
		name string
		v    float64
	}{
		{"ipv6-clients", m.IPv6Clients}, {"new-names", m.NewNames}, {"tcp-queries", m.TCP},
		{"nxdomain", m.NXDomain}, {"servfail", m.ServFail}, {"refused", m.Refused},
		{"edns", m.EDNS}, {"ecs", m.ECS},
	} {
		if !(s.v >= 0 && s.v <= 1) {
			return fmt.Errorf("--%s %v: want a share from 0 to 1", s.name, s.v)
		}
	}
	if m.NXDomain+m.ServFail+m.Refused > 1 {
		return fmt.Errorf("--nxdomain, --servfail and --refused add up to more than 1")
	}
	if m.NewNames > 1-qtypeShare(dns.TypePTR) {
		return fmt.Errorf("--new-names %v: at most %v (PTR queries are for reverse names)", m.NewNames, 1-qtypeShare(dns.TypePTR))
	}
	if m.Clients < 1 || m.Clients > 1<<24 {
		return fmt.Errorf("--clients %d: want 1 to %d", m.Clients, 1<<24)
	}
	if m.Names < 1 || m.Names > 1<<24 {
		return fmt.Errorf("--names %d: want 1 to %d", m.Names, 1<<24)
	}
	if m.Pool < 1 || m.Pool > 1<<22 {
		return fmt.Errorf("--pool %d: want 1 to %d", m.Pool, 1<<22)
	}
	return nil
}

// qtypes are the query types made and their weights, which add up to 100.
var qtypes = []struct {
	t uint16
	w float64
}{
	{dns.TypeA, 60}, {dns.TypeAAAA, 25}, {dns.TypeHTTPS, 5}, {dns.TypePTR, 3},
	{dns.TypeTXT, 2}, {dns.TypeMX, 1.5}, {dns.TypeNS, 1}, {dns.TypeSOA, 1},
	{dns.TypeSRV, 1}, {dns.TypeSVCB, 0.25}, {dns.TypeDS, 0.25},
}

// qtypeShare is the share of queries of type t.
func qtypeShare(t uint16) float64 {
	for _, q := range qtypes {
		if q.t == t {
			return q.w / 100
		}
	}
	return 0
}

// dist picks an index with given weights: a binary search of the
// cumulative weights.
type dist struct{ cdf []float64 }

func newDist(weights []float64) dist {
	cdf := make([]float64, len(weights))
	sum := 0.0
	for i, w := range weights {
		sum += w
		cdf[i] = sum
	}
	return dist{cdf}
}

// newZipf weighs n ranks by 1/rank^s: a few at the top take most picks.
func newZipf(n int, s float64) dist {
	w := make([]float64, n)
	for i := range w {
		w[i] = math.Pow(float64(i+1), -s)
	}
	return newDist(w)
}

func (d dist) pick(r *rand.Rand) int {
	u := r.Float64() * d.cdf[len(d.cdf)-1]
	return min(sort.SearchFloat64s(d.cdf, u), len(d.cdf)-1)
}

// client is one client of the simulated resolver.
type client struct {
	addr   []byte // 4 or 16 bytes
	family dnstap.SocketFamily
}

// pair is a query and its response, packed with ID 0.
type pair struct {
	query, response []byte
	// label is, for a new name, the length of its first label, which is
	// filled with random characters for every query (the name starts at
	// offset 12 of both messages, after the header); otherwise 0.
	label int
	rcode int
}

// The resolver's own addresses, the response address of every message.
var (
	resolver4 = net.ParseIP("192.0.2.53").To4()
	resolver6 = net.ParseIP("2001:db8::53").To16()
)

// Traffic is what the generators of one run share: the clients and the
// pool of packed messages. It is read-only once made.
type Traffic struct {
	mix     Mix
	clients []client
	pick    dist // which client sends a query
	pool    []pair
}

// NewTraffic makes the clients and the pool of messages of mix, from seed.
func NewTraffic(seed uint64, mix Mix) (*Traffic, error) {
	if err := mix.check(); err != nil {
		return nil, err
	}
	r := rand.New(rand.NewPCG(seed, 0x746170697267656e)) // "tapirgen"
	t := &Traffic{mix: mix, clients: makeClients(r, mix), pick: newZipf(mix.Clients, 1.2)}
	b := &builder{
		r:     r,
		mix:   mix,
		names: nameList(r, mix.Names),
		rcode: newDist([]float64{1 - mix.NXDomain - mix.ServFail - mix.Refused, mix.NXDomain, mix.ServFail, mix.Refused}),
	}
	b.rank = newZipf(len(b.names), 1.0)
	w := make([]float64, len(qtypes))
	for i, q := range qtypes {
		w[i] = q.w
	}
	b.qtype = newDist(w)
	t.pool = make([]pair, mix.Pool)
	for i := range t.pool {
		p, err := b.pair()
		if err != nil {
			return nil, err
		}
		t.pool[i] = p
	}
	return t, nil
}

// makeClients returns mix.Clients distinct addresses from the
// documentation ranges, in random order of IPv4 and IPv6. When the 761
// IPv4 addresses run out, the rest are IPv6.
func makeClients(r *rand.Rand, mix Mix) []client {
	var v4 [][]byte
	for _, prefix := range [][3]byte{{192, 0, 2}, {198, 51, 100}, {203, 0, 113}} {
		for h := 1; h < 255; h++ {
			a := []byte{prefix[0], prefix[1], prefix[2], byte(h)}
			if !net.IP(a).Equal(resolver4) {
				v4 = append(v4, a)
			}
		}
	}
	r.Shuffle(len(v4), func(i, j int) { v4[i], v4[j] = v4[j], v4[i] })
	seen := map[[16]byte]bool{}
	clients := make([]client, mix.Clients)
	for i := range clients {
		if len(v4) > 0 && r.Float64() >= mix.IPv6Clients {
			clients[i] = client{v4[0], dnstap.FamilyINET}
			v4 = v4[1:]
			continue
		}
		for {
			var a [16]byte
			binary.BigEndian.PutUint32(a[:], 0x20010db8)
			binary.BigEndian.PutUint32(a[4:], r.Uint32())
			binary.BigEndian.PutUint64(a[8:], r.Uint64())
			if !seen[a] {
				seen[a] = true
				clients[i] = client{a[:], dnstap.FamilyINET6}
				break
			}
		}
	}
	return clients
}

// builder makes the pool of pairs.
type builder struct {
	r     *rand.Rand
	mix   Mix
	names []string
	rank  dist // Zipf over names
	qtype dist
	rcode dist
}

var rcodes = []int{dns.RcodeSuccess, dns.RcodeNameError, dns.RcodeServerFailure, dns.RcodeRefused}

// pair makes one query and its response.
func (b *builder) pair() (pair, error) {
	r := b.r
	qtype := qtypes[b.qtype.pick(r)].t
	var name string
	label := 0
	switch {
	case qtype == dns.TypePTR:
		name = b.reverseName()
	// PTR queries have reverse names: make the share of new names
	// among the others larger, so that it is right overall.
	case r.Float64() < b.mix.NewNames/(1-qtypeShare(dns.TypePTR)):
		// A name never seen before: a random first label under a
		// popular name, or a random domain under a TLD (as a domain
		// generation algorithm makes). The label is a placeholder
		// that each query fills anew.
		label = 8 + r.IntN(9)
		parent := b.names[b.rank.pick(r)]
		if r.Float64() < 0.5 {
			parent = tld(madeUpDomain(r))
		}
		name = string(randomLabel(nil, r, label)) + "." + parent
	default:
		name = b.names[b.rank.pick(r)]
	}
	rcode := rcodes[b.rcode.pick(r)]

	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	q.Id = 0
	var qopt *dns.OPT
	if r.Float64() < b.mix.EDNS {
		qopt = &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
		qopt.SetUDPSize([]uint16{1232, 1232, 4096, 1400}[r.IntN(4)])
		if r.Float64() < 0.3 {
			qopt.SetDo()
		}
		if r.Float64() < 0.2 {
			cookie := make([]byte, 8)
			for i := range cookie {
				cookie[i] = byte(r.Uint32())
			}
			qopt.Option = append(qopt.Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: hex.EncodeToString(cookie)})
		}
		if r.Float64() < b.mix.ECS {
			qopt.Option = append(qopt.Option, b.subnet())
		}
		q.Extra = append(q.Extra, qopt)
	}

	m := new(dns.Msg)
	m.SetReply(q)
	m.Compress = true
	m.RecursionAvailable = rcode != dns.RcodeRefused
	m.Rcode = rcode
	switch rcode {
	case dns.RcodeSuccess:
		b.answer(m, name, qtype)
		m.AuthenticatedData = qopt != nil && qopt.Do() && r.Float64() < 0.4
	case dns.RcodeNameError:
		zone := registered(name)
		if zone == name {
			zone = tld(name)
		}
		m.Ns = append(m.Ns, b.soa(zone))
	}
	if qopt != nil {
		opt := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
		opt.SetUDPSize(1232)
		if qopt.Do() {
			opt.SetDo()
		}
		for _, o := range qopt.Option {
			if s, ok := o.(*dns.EDNS0_SUBNET); ok {
				echo := *s
				echo.SourceScope = s.SourceNetmask
				opt.Option = append(opt.Option, &echo)
			}
		}
		if rcode == dns.RcodeServerFailure && r.Float64() < 0.5 {
			code := []uint16{dns.ExtendedErrorCodeNoReachableAuthority, dns.ExtendedErrorCodeNetworkError, dns.ExtendedErrorCodeDNSBogus}[r.IntN(3)]
			opt.Option = append(opt.Option, &dns.EDNS0_EDE{InfoCode: code})
		}
		m.Extra = append(m.Extra, opt)
	}

	qb, err := q.Pack()
	if err != nil {
		return pair{}, fmt.Errorf("pack query for %s %s: %w", name, dns.TypeToString[qtype], err)
	}
	rb, err := m.Pack()
	if err != nil {
		return pair{}, fmt.Errorf("pack response for %s %s: %w", name, dns.TypeToString[qtype], err)
	}
	return pair{query: qb, response: rb, label: label, rcode: rcode}, nil
}

// reverseName is the PTR name of a random documentation address.
func (b *builder) reverseName() string {
	r := b.r
	if r.Float64() < 0.8 {
		p := [][3]int{{192, 0, 2}, {198, 51, 100}, {203, 0, 113}}[r.IntN(3)]
		return fmt.Sprintf("%d.%d.%d.%d.in-addr.arpa.", 1+r.IntN(254), p[2], p[1], p[0])
	}
	ip := make(net.IP, 16)
	binary.BigEndian.PutUint32(ip, 0x20010db8)
	binary.BigEndian.PutUint32(ip[4:], r.Uint32())
	binary.BigEndian.PutUint64(ip[8:], r.Uint64())
	name, _ := dns.ReverseAddr(ip.String())
	return name
}

// subnet is a client subnet option for a documentation network.
func (b *builder) subnet() *dns.EDNS0_SUBNET {
	r := b.r
	if r.Float64() < 0.7 {
		p := [][3]byte{{192, 0, 2}, {198, 51, 100}, {203, 0, 113}}[r.IntN(3)]
		return &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: net.IPv4(p[0], p[1], p[2], 0).To4()}
	}
	ip := make(net.IP, 16)
	binary.BigEndian.PutUint32(ip, 0x20010db8)
	binary.BigEndian.PutUint16(ip[4:], uint16(r.Uint32()))
	ip[6] = byte(r.Uint32())
	return &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 2, SourceNetmask: 56, Address: ip}
}

// ttl is the remaining TTL of a cached record.
func (b *builder) ttl() uint32 {
	full := []int{20, 60, 300, 300, 600, 3600, 3600, 86400}[b.r.IntN(8)]
	return uint32(1 + b.r.IntN(full))
}

func (b *builder) hdr(name string, t uint16) dns.RR_Header {
	return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: b.ttl()}
}

func (b *builder) soa(zone string) dns.RR {
	ns := "ns1." + zone
	if zone == tld(zone) {
		ns = "a.nic." + zone
	}
	return &dns.SOA{Hdr: b.hdr(zone, dns.TypeSOA), Ns: ns, Mbox: "hostmaster." + zone,
		Serial: 2024060100 + uint32(b.r.IntN(100)), Refresh: 7200, Retry: 3600, Expire: 1209600, Minttl: 300}
}

// answer fills a NOERROR response for name and qtype: records, or no data
// (the zone's SOA in the authority section).
func (b *builder) answer(m *dns.Msg, name string, qtype uint16) {
	r := b.r
	zone := registered(name)
	nodata := func() { m.Ns = append(m.Ns, b.soa(zone)) }
	switch qtype {
	case dns.TypeA, dns.TypeAAAA:
		if qtype == dns.TypeAAAA && r.Float64() < 0.2 {
			nodata()
			return
		}
		owner := name
		if r.Float64() < 0.25 {
			target := "e" + strconv.Itoa(r.IntN(10000)) + "." + string(randomLabel(nil, r, 1)) + "." + cdnHosts[r.IntN(len(cdnHosts))] + "."
			m.Answer = append(m.Answer, &dns.CNAME{Hdr: b.hdr(owner, dns.TypeCNAME), Target: target})
			owner = target
		}
		n := []int{1, 1, 1, 2, 4}[r.IntN(5)]
		for range n {
			if qtype == dns.TypeA {
				a := []byte{[]byte{192, 198, 203}[r.IntN(3)], 0, 2, byte(1 + r.IntN(254))}
				switch a[0] {
				case 198:
					a[1], a[2] = 51, 100
				case 203:
					a[1], a[2] = 0, 113
				}
				m.Answer = append(m.Answer, &dns.A{Hdr: b.hdr(owner, dns.TypeA), A: net.IP(a)})
			} else {
				a := make(net.IP, 16)
				binary.BigEndian.PutUint32(a, 0x20010db8)
				binary.BigEndian.PutUint16(a[4:], uint16(r.Uint32()))
				binary.BigEndian.PutUint16(a[14:], uint16(r.Uint32()))
				m.Answer = append(m.Answer, &dns.AAAA{Hdr: b.hdr(owner, dns.TypeAAAA), AAAA: a})
			}
		}
	case dns.TypeHTTPS:
		if r.Float64() < 0.4 {
			nodata()
			return
		}
		alpn := [][]string{{"h2", "h3"}, {"h3", "h2"}, {"h2"}}[r.IntN(3)]
		m.Answer = append(m.Answer, &dns.HTTPS{SVCB: dns.SVCB{Hdr: b.hdr(name, dns.TypeHTTPS), Priority: 1, Target: ".",
			Value: []dns.SVCBKeyValue{&dns.SVCBAlpn{Alpn: alpn}}}})
	case dns.TypeMX:
		for i := range 1 + r.IntN(2) {
			m.Answer = append(m.Answer, &dns.MX{Hdr: b.hdr(name, dns.TypeMX), Preference: uint16(10 * (i + 1)), Mx: "mx" + strconv.Itoa(i+1) + "." + zone})
		}
	case dns.TypeNS:
		if name != zone {
			nodata()
			return
		}
		for i := range 2 + r.IntN(3) {
			m.Answer = append(m.Answer, &dns.NS{Hdr: b.hdr(name, dns.TypeNS), Ns: "ns" + strconv.Itoa(i+1) + "." + zone})
		}
	case dns.TypeTXT:
		m.Answer = append(m.Answer, &dns.TXT{Hdr: b.hdr(name, dns.TypeTXT), Txt: []string{"v=spf1 include:_spf." + zone + " ~all"}})
		if r.Float64() < 0.5 {
			m.Answer = append(m.Answer, &dns.TXT{Hdr: b.hdr(name, dns.TypeTXT), Txt: []string{"site-verification=" + string(randomLabel(nil, r, 32))}})
		}
	case dns.TypePTR:
		host := "host-" + strconv.Itoa(r.IntN(65536)) + "." + madeUpDomain(r) + "."
		m.Answer = append(m.Answer, &dns.PTR{Hdr: b.hdr(name, dns.TypePTR), Ptr: host})
	case dns.TypeSOA:
		if name != zone {
			nodata()
			return
		}
		m.Answer = append(m.Answer, b.soa(zone))
	case dns.TypeSRV:
		if r.Float64() < 0.5 {
			nodata()
			return
		}
		m.Answer = append(m.Answer, &dns.SRV{Hdr: b.hdr(name, dns.TypeSRV), Priority: 10, Weight: 5, Port: 443, Target: "srv1." + zone})
	default:
		nodata()
	}
}

// Generator makes the frames of one stream: query and response frames,
// CLIENT_QUERY then CLIENT_RESPONSE (or the types asked for) for each
// simulated query. Each response frame follows its query frame directly,
// so response times run slightly out of order with the query times of the
// next frames, as they do from a multi-threaded resolver.
type Generator struct {
	t     *Traffic
	r     *rand.Rand
	f     dnstap.Frame
	types []dnstap.MessageType
	needQ bool // a query frame is among types
	needR bool // a response frame is among types

	start int64   // simulated start, ns since the epoch
	gap   float64 // mean ns between queries
	clock float64 // ns from start to the current query

	// The current query: its position among types, client, pair,
	// transport, port, times, and its messages with ID and new name set.
	next         int
	c            *client
	p            *pair
	proto        dnstap.SocketProtocol
	port         uint32
	qtime, rtime int64
	q, resp      []byte
}

// NewGenerator returns a generator of stream number stream of a run: a
// stream of its own, from seed, with the given identity, server version,
// message types (CLIENT_QUERY and CLIENT_RESPONSE only), simulated start
// and rate of queries per second.
func NewGenerator(t *Traffic, seed uint64, stream int, identity, version string, types []dnstap.MessageType, start time.Time, qps float64) (*Generator, error) {
	if len(types) == 0 {
		return nil, fmt.Errorf("no message types")
	}
	if !(qps > 0) || math.IsInf(qps, 0) {
		return nil, fmt.Errorf("--qps %v: want a positive rate", qps)
	}
	g := &Generator{
		t:     t,
		r:     rand.New(rand.NewPCG(seed, uint64(stream)+1)),
		start: start.UnixNano(),
		gap:   1e9 / qps,
	}
	for _, typ := range types {
		if slices.Contains(g.types, typ) {
			continue
		}
		switch typ {
		case dnstap.ClientQuery:
			g.needQ = true
		case dnstap.ClientResponse:
			g.needR = true
		default:
			return nil, fmt.Errorf("message type %v: only CLIENT_QUERY and CLIENT_RESPONSE are made", typ)
		}
		g.types = append(g.types, typ)
	}
	g.f.Identity = []byte(identity)
	g.f.Version = []byte(version)
	g.f.HasMessage = true
	return g, nil
}

// newQuery draws the next simulated query.
func (g *Generator) newQuery() {
	r, t := g.r, g.t
	g.clock += r.ExpFloat64() * g.gap
	g.c = &t.clients[t.pick.pick(r)]
	g.p = &t.pool[r.IntN(len(t.pool))]
	g.proto = dnstap.ProtocolUDP
	if r.Float64() < t.mix.TCP {
		g.proto = dnstap.ProtocolTCP
	}
	g.port = uint32(1024 + r.IntN(65536-1024))
	id := uint16(r.Uint32())

	// Latency: an answer from the cache, a refusal, or a recursion
	// (log-normal around 30 ms), or a SERVFAIL after retries.
	var lat float64
	switch {
	case g.p.rcode == dns.RcodeRefused:
		lat = 10e3 + r.Float64()*40e3
	case g.p.rcode == dns.RcodeServerFailure:
		lat = 200e6 + r.Float64()*2800e6
	case r.Float64() < 0.7:
		lat = 20e3 + r.Float64()*400e3
	default:
		lat = min(30e6*math.Exp(0.9*r.NormFloat64()), 5e9)
	}
	g.qtime = g.start + int64(g.clock)
	g.rtime = g.qtime + int64(lat)

	if g.needQ {
		g.q = append(g.q[:0], g.p.query...)
		binary.BigEndian.PutUint16(g.q, id)
	}
	if g.needR {
		g.resp = append(g.resp[:0], g.p.response...)
		binary.BigEndian.PutUint16(g.resp, id)
	}
	if n := g.p.label; n > 0 {
		for i := 13; i < 13+n; i++ {
			c := labelChars[r.IntN(len(labelChars))]
			if g.needQ {
				g.q[i] = c
			}
			if g.needR {
				g.resp[i] = c
			}
		}
	}
}

// Append appends the protobuf encoding of the next dnstap frame to dst.
func (g *Generator) Append(dst []byte) []byte {
	if g.next == 0 {
		g.newQuery()
	}
	typ := g.types[g.next]
	g.next = (g.next + 1) % len(g.types)

	f := &g.f
	f.Type = typ
	f.SocketFamily = g.c.family
	f.SocketProtocol = g.proto
	f.QueryAddress = g.c.addr
	if g.c.family == dnstap.FamilyINET {
		f.ResponseAddress = resolver4
	} else {
		f.ResponseAddress = resolver6
	}
	f.QueryPort = g.port
	f.ResponsePort = 53
	f.QueryTimeSec, f.QueryTimeNsec = uint64(g.qtime/1e9), uint32(g.qtime%1e9)
	f.Present = dnstap.FieldType | dnstap.FieldSocketFamily | dnstap.FieldSocketProtocol |
		dnstap.FieldQueryPort | dnstap.FieldResponsePort | dnstap.FieldQueryTimeSec | dnstap.FieldQueryTimeNsec
	if typ == dnstap.ClientQuery {
		f.QueryMessage, f.ResponseMessage = g.q, nil
		f.ResponseTimeSec, f.ResponseTimeNsec = 0, 0
	} else {
		f.QueryMessage, f.ResponseMessage = nil, g.resp
		f.ResponseTimeSec, f.ResponseTimeNsec = uint64(g.rtime/1e9), uint32(g.rtime%1e9)
		f.Present |= dnstap.FieldResponseTimeSec | dnstap.FieldResponseTimeNsec
	}
	return f.AppendMarshal(dst)
}

// AppendFrames appends n frames to dst, each framed as in a Frame
// Streams data frame: a 32-bit big-endian length, then the frame.
func (g *Generator) AppendFrames(dst []byte, n int) []byte {
	for range n {
		at := len(dst)
		dst = append(dst, 0, 0, 0, 0)
		dst = g.Append(dst)
		binary.BigEndian.PutUint32(dst[at:], uint32(len(dst)-at-4))
	}
	return dst
}
