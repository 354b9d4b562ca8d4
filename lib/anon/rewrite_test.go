package anon

import (
	"bytes"
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/tapir-edge/tapir/lib/dnstap"
	"github.com/tapir-edge/tapir/lib/pseudo"
)

var testKey = bytes.Repeat([]byte{0x5a}, 32)

func keyring(t testing.TB, rot Rotation) *Keyring {
	t.Helper()
	k, err := NewKeyring(pseudo.NameCryptoPAn, testKey, pseudo.Options{CacheSize: 1024}, rot)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// query and response with ECS (a /32, the client itself), a cookie and NSID.
func messages(t testing.TB) (q, r []byte) {
	t.Helper()
	m := new(dns.Msg).SetQuestion("www.example.com.", dns.TypeA)
	o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
	o.SetUDPSize(1232)
	o.Option = append(o.Option,
		&dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 32, Address: net.IPv4(198, 51, 100, 77).To4()},
		&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"},
		&dns.EDNS0_NSID{Code: dns.EDNS0NSID, Nsid: ""})
	m.Extra = append(m.Extra, o)
	q, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	resp := new(dns.Msg).SetReply(m)
	resp.Answer = append(resp.Answer, &dns.A{Hdr: dns.RR_Header{Name: "www.example.com.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.IPv4(192, 0, 2, 1)})
	resp.Extra = []dns.RR{o}
	r, err = resp.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return q, r
}

func sample(t testing.TB) dnstap.Frame {
	var f dnstap.Frame
	f.Identity, f.Version, f.Extra = []byte("resolver-1.isp.example"), []byte("unbound 1.17"), []byte("extra")
	f.Type = dnstap.ClientResponse
	f.SocketFamily, f.SocketProtocol = dnstap.FamilyINET, dnstap.ProtocolUDP
	f.QueryAddress, f.ResponseAddress = []byte{198, 51, 100, 77}, []byte{192, 0, 2, 53}
	f.QueryPort, f.ResponsePort = 40000, 53
	f.SetQueryTime(time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC))
	f.SetResponseTime(time.Date(2026, 11, 27, 10, 0, 0, 1000, time.UTC))
	f.QueryMessage, f.ResponseMessage = messages(t)
	f.Message.Unknown = []byte{15<<3 | 2, 6, 0x12, 4, 198, 51, 100, 77} // policy { value = the client }
	return f
}

func rewrite(t *testing.T, cfg *Config, f dnstap.Frame) (dnstap.Frame, *Rewriter) {
	t.Helper()
	rw := NewRewriter(cfg)
	out, err := rw.Rewrite(nil, f.AppendMarshal(nil))
	if err != nil {
		t.Fatal(err)
	}
	var g dnstap.Frame
	if err := g.Unmarshal(out); err != nil {
		t.Fatal(err)
	}
	return g, rw
}

func edns(t *testing.T, msg []byte) (codes []uint16, m *dns.Msg) {
	t.Helper()
	m = new(dns.Msg)
	if err := m.Unpack(msg); err != nil {
		t.Fatalf("unpack: %v", err)
	}
	if o := m.IsEdns0(); o != nil {
		for _, opt := range o.Option {
			codes = append(codes, opt.Option())
		}
	}
	return codes, m
}

func TestRewriteDefaults(t *testing.T) {
	in := sample(t)
	cfg := &Config{Keys: keyring(t, RotateNever)}
	g, rw := rewrite(t, cfg, in)

	cp, _ := pseudo.NewCryptoPAn(testKey, 0)
	wantQ, _ := cp.Map(nil, in.QueryAddress)
	wantR, _ := cp.Map(nil, in.ResponseAddress)
	if !bytes.Equal(g.QueryAddress, wantQ) || !bytes.Equal(g.ResponseAddress, wantR) {
		t.Errorf("addresses %v %v, want %v %v", net.IP(g.QueryAddress), net.IP(g.ResponseAddress), net.IP(wantQ), net.IP(wantR))
	}
	if g.QueryPort != 0 || g.ResponsePort != 0 || g.HasQueryPort() {
		t.Errorf("ports %d %d not zeroed", g.QueryPort, g.ResponsePort)
	}
	if g.Identity != nil || g.Version != nil || g.Extra != nil || g.Message.Unknown != nil {
		t.Errorf("identity %q version %q extra %q unknown %x not dropped", g.Identity, g.Version, g.Extra, g.Message.Unknown)
	}
	for name, msg := range map[string][]byte{"query": g.QueryMessage, "response": g.ResponseMessage} {
		codes, m := edns(t, msg)
		if !slices.Equal(codes, []uint16{dns.EDNS0NSID}) {
			t.Errorf("%s: EDNS options %v, want only NSID", name, codes)
		}
		if m.Question[0].Name != "www.example.com." {
			t.Errorf("%s: question %v", name, m.Question)
		}
	}
	if _, m := edns(t, g.ResponseMessage); len(m.Answer) != 1 || m.Answer[0].(*dns.A).A.String() != "192.0.2.1" {
		t.Errorf("answer changed: %v", m.Answer)
	}
	if rw.Stats.OptionsRemoved != 4 {
		t.Errorf("stats %+v", rw.Stats)
	}
	// Times and type pass unchanged.
	if g.Type != in.Type || g.QueryTimeSec != in.QueryTimeSec || g.ResponseTimeNsec != in.ResponseTimeNsec {
		t.Errorf("times or type changed")
	}
	// The raw client address is nowhere in the frame.
	out := g.AppendMarshal(nil)
	if bytes.Contains(out, in.QueryAddress) {
		t.Errorf("raw client address left in %x", out)
	}
}

func TestRewriteKeep(t *testing.T) {
	in := sample(t)
	cfg := &Config{Keys: keyring(t, RotateNever), KeepECS: true, KeepCookies: true, KeepPorts: true, KeepUnknown: true,
		Identity: Field{Value: []byte("edge-7")}, Version: Field{Keep: true}, Extra: Field{Keep: true}, Messages: KeepQuery}
	g, _ := rewrite(t, cfg, in)
	if string(g.Identity) != "edge-7" || string(g.Version) != "unbound 1.17" || string(g.Extra) != "extra" {
		t.Errorf("identity %q version %q extra %q", g.Identity, g.Version, g.Extra)
	}
	if g.QueryPort != 40000 || g.ResponsePort != 53 || !bytes.Equal(g.Message.Unknown, in.Message.Unknown) {
		t.Errorf("ports or unknown fields not kept")
	}
	if g.ResponseMessage != nil || !bytes.Equal(g.QueryMessage, in.QueryMessage) {
		t.Errorf("--keep-messages query: response %d bytes, query changed %v", len(g.ResponseMessage), !bytes.Equal(g.QueryMessage, in.QueryMessage))
	}
	cfg.Messages = KeepNone
	if g, _ := rewrite(t, cfg, in); g.QueryMessage != nil || g.ResponseMessage != nil {
		t.Error("--keep-messages none kept a message")
	}
}

func TestRotation(t *testing.T) {
	k := keyring(t, RotateDaily)
	cfg := &Config{Keys: k}
	day1 := sample(t)
	day2 := sample(t)
	day2.SetResponseTime(time.Date(2026, 11, 28, 0, 0, 1, 0, time.UTC))
	day2.SetQueryTime(time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC))
	g1, _ := rewrite(t, cfg, day1)
	g1b, _ := rewrite(t, cfg, day1)
	g2, _ := rewrite(t, cfg, day2)
	if !bytes.Equal(g1.QueryAddress, g1b.QueryAddress) {
		t.Error("one day, two pseudonyms")
	}
	if bytes.Equal(g1.QueryAddress, g2.QueryAddress) {
		t.Error("two days, one pseudonym: rotation did nothing")
	}
	if string(g1.Extra) != "tapir-anon cryptopan period 2026-11-27" || string(g2.Extra) != "tapir-anon cryptopan period 2026-11-28" {
		t.Errorf("extra %q, %q", g1.Extra, g2.Extra)
	}
	wk := keyring(t, RotateWeekly)
	for _, d := range []time.Time{
		time.Date(2026, 11, 27, 23, 0, 0, 0, time.UTC), time.Date(2021, 1, 3, 0, 0, 0, 0, time.UTC), // a Sunday in 2020-W53
		time.Date(2024, 12, 30, 0, 0, 0, 0, time.UTC), time.Date(1969, 12, 29, 0, 0, 0, 0, time.UTC),
	} {
		y, w := d.ISOWeek()
		if got, want := wk.Period(wk.Era(d.Unix())), fmt.Sprintf("%04d-W%02d", y, w); got != want {
			t.Errorf("%v: period %s, want %s", d, got, want)
		}
	}
}

// A new key (SIGHUP) applies to the next frame; a bad one is refused and
// the old one stays.
func TestReplaceKey(t *testing.T) {
	k := keyring(t, RotateNever)
	cfg := &Config{Keys: k}
	rw := NewRewriter(cfg)
	f := sample(t)
	raw := f.AppendMarshal(nil)
	a, _ := rw.Rewrite(nil, bytes.Clone(raw))
	if err := k.Replace([]byte("short")); err == nil {
		t.Fatal("a 5-byte key was taken")
	}
	b, _ := rw.Rewrite(nil, bytes.Clone(raw))
	if !bytes.Equal(a, b) {
		t.Error("a refused key changed the pseudonyms")
	}
	if err := k.Replace(bytes.Repeat([]byte{1}, 32)); err != nil {
		t.Fatal(err)
	}
	c, _ := rw.Rewrite(nil, bytes.Clone(raw))
	if bytes.Equal(a, c) {
		t.Error("the new key was not used")
	}
}

func TestBadInput(t *testing.T) {
	cfg := &Config{Keys: keyring(t, RotateNever)}
	rw := NewRewriter(cfg)
	if _, err := rw.Rewrite(nil, []byte("\xff\xff not dnstap")); err == nil || rw.Stats.NotDnstap != 1 {
		t.Errorf("not dnstap: %v, stats %+v", err, rw.Stats)
	}
	f := sample(t)
	f.QueryAddress = []byte{1, 2, 3, 4, 5}
	f.ResponseMessage = []byte{0, 1, 2} // not a DNS message
	out, err := rw.Rewrite(nil, f.AppendMarshal(nil))
	if err != nil {
		t.Fatal(err)
	}
	var g dnstap.Frame
	g.Unmarshal(out)
	if g.QueryAddress != nil || g.ResponseMessage != nil || g.QueryMessage == nil {
		t.Errorf("bad address %x or message %x not dropped", g.QueryAddress, g.ResponseMessage)
	}
	if rw.Stats.BadAddresses != 1 || rw.Stats.BadMessages != 1 || rw.Problem == "" {
		t.Errorf("stats %+v, problem %q", rw.Stats, rw.Problem)
	}
}

// IPv4 under ipcrypt-deterministic becomes 16 bytes: the frame says IPv6.
func TestFamilyFollowsLength(t *testing.T) {
	k, err := NewKeyring(pseudo.NameDeterministic, testKey[:16], pseudo.Options{}, RotateNever)
	if err != nil {
		t.Fatal(err)
	}
	g, _ := rewrite(t, &Config{Keys: k}, sample(t))
	if len(g.QueryAddress) != 16 || g.SocketFamily != dnstap.FamilyINET6 {
		t.Errorf("address of %d bytes, family %v", len(g.QueryAddress), g.SocketFamily)
	}
}

func BenchmarkRewrite(b *testing.B) {
	cfg := &Config{Keys: keyring(b, RotateNever)}
	rw := NewRewriter(cfg)
	f := sample(b)
	raw := f.AppendMarshal(nil)
	in := make([]byte, len(raw))
	var out []byte
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		copy(in, raw) // Rewrite strips options in place
		out, _ = rw.Rewrite(out[:0], in)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
}
