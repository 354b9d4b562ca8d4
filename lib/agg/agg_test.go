package agg

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/tapir-edge/tapir/lib/dnstap"
	"github.com/tapir-edge/tapir/lib/record"
)

// mapMatcher: exact names, and ".x." entries for strict subdomains.
type mapMatcher map[string]bool

func (m mapMatcher) Match(q []byte) (string, string, bool, bool) {
	if m[string(q)] {
		return string(q), string(q), true, true
	}
	for i := 0; i < len(q)-1; i++ {
		if q[i] == '.' && m["."+string(q[i+1:])] {
			return "." + string(q[i+1:]), string(q[i+1:]), false, true
		}
	}
	return "", "", false, false
}

type mapSeen map[string]bool

func (m mapSeen) Seen(n []byte, _ time.Time) bool {
	if m[string(n)] {
		return true
	}
	m[string(n)] = true
	return false
}

func config() Config {
	return Config{
		Interval: time.Minute, Late: 2 * time.Second,
		Hash: func(a []byte) uint64 {
			var h uint64
			for _, b := range a {
				h = h*131 + uint64(b)
			}
			return h
		},
		Labels: func(d string) (l [10]string) {
			parts := strings.Split(strings.TrimSuffix(d, "."), ".")
			for i := range parts {
				l[i] = parts[len(parts)-1-i]
			}
			return l
		},
	}
}

type msg struct {
	at     time.Time
	typ    dnstap.MessageType
	client []byte
	name   string
	qtype  uint16
	rcode  int
}

func (m msg) frame(t testing.TB) []byte {
	q := new(dns.Msg).SetQuestion(m.name, m.qtype)
	r := new(dns.Msg).SetRcode(q, m.rcode)
	b, err := r.Pack()
	if err != nil {
		t.Fatal(err)
	}
	var f dnstap.Frame
	f.Type = m.typ
	if f.Type == 0 {
		f.Type = dnstap.ClientResponse
	}
	f.QueryAddress = m.client
	f.ResponseMessage = b
	f.SetResponseTime(m.at)
	return f.AppendMarshal(nil)
}

type collector struct{ recs []any }

func (c *collector) emit(b []byte) error {
	typ, err := record.Type(b)
	if err != nil {
		return err
	}
	var r any
	switch typ {
	case record.TypeHistogram:
		r = new(record.Histogram)
	case record.TypeNewQname:
		r = new(record.NewQname)
	default:
		return fmt.Errorf("record of type %q", typ)
	}
	if err := json.Unmarshal(b, r); err != nil {
		return err
	}
	c.recs = append(c.recs, r)
	return nil
}

func (c *collector) histograms() []*record.Histogram {
	var hs []*record.Histogram
	for _, r := range c.recs {
		if h, ok := r.(*record.Histogram); ok {
			hs = append(hs, h)
		}
	}
	return hs
}

func (c *collector) names() []string {
	var ns []string
	for _, r := range c.recs {
		if n, ok := r.(*record.NewQname); ok {
			ns = append(ns, n.Qname)
		}
	}
	return ns
}

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func TestHistogram(t *testing.T) {
	wk := mapMatcher{"example.com.": true, ".example.net.": true, "www.example.net.": true}
	c := &collector{}
	a := New(config(), wk, mapSeen{}, c.emit)
	v4a, v4b, v6 := []byte{192, 0, 2, 1}, []byte{192, 0, 2, 2}, bytes.Repeat([]byte{0x20}, 16)
	for _, m := range []msg{
		{at: t0.Add(1 * time.Second), client: v4a, name: "example.com.", qtype: dns.TypeA},
		{at: t0.Add(2 * time.Second), client: v4b, name: "EXAMPLE.com.", qtype: dns.TypeAAAA, rcode: dns.RcodeNameError},
		{at: t0.Add(3 * time.Second), client: v6, name: "a.example.net.", qtype: dns.TypeMX, rcode: dns.RcodeServerFailure},
		{at: t0.Add(4 * time.Second), client: v4a, name: "www.example.net.", qtype: dns.TypeNS},
		{at: t0.Add(5 * time.Second), client: v4a, name: "b.example.net.", qtype: dns.TypeTXT, rcode: dns.RcodeRefused},
		{at: t0.Add(5 * time.Second), client: v4a, name: "example.net.", qtype: dns.TypeA}, // not a strict subdomain
		{at: t0.Add(6 * time.Second), typ: dnstap.ClientQuery, client: v4a, name: "example.com.", qtype: dns.TypeA},
		{at: t0.Add(59 * time.Second), client: v4a, name: "example.com.", qtype: dns.TypeA},
		{at: t0.Add(58 * time.Second), client: v4b, name: "example.com.", qtype: dns.TypeA}, // out of order, in grace
		{at: t0.Add(62 * time.Second), client: v4a, name: "example.com.", qtype: dns.TypeA}, // next interval; closes the first
		{at: t0.Add(30 * time.Second), client: v4a, name: "example.com.", qtype: dns.TypeA}, // late
	} {
		if err := a.Add(m.frame(t)); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Flush(); err != nil {
		t.Fatal(err)
	}
	hs := c.histograms()
	if len(hs) != 2 || hs[0].Partial || !hs[1].Partial || !hs[0].Start.Equal(t0) || hs[0].Duration != 60 {
		t.Fatalf("histograms %+v", hs)
	}
	rows := map[string]record.Row{}
	for _, r := range hs[0].Rows {
		var parts []string
		for _, l := range []string{r.Label9, r.Label8, r.Label7, r.Label6, r.Label5, r.Label4, r.Label3, r.Label2, r.Label1, r.Label0} {
			if l != "" {
				parts = append(parts, l)
			}
		}
		rows[strings.Join(parts, ".")] = r
	}
	com, net := rows["example.com"], rows["example.net"]
	if com.ACount != 3 || com.AAAACount != 1 || com.OKCount != 3 || com.NXCount != 1 || com.EDMStatusBits != 1 || com.V4ClientCount != 2 {
		t.Errorf("example.com row %+v", com)
	}
	if net.MXCount != 1 || net.OtherTypeCount != 1 || net.FailCount != 1 || net.OtherRcodeCount != 1 || net.EDMStatusBits != 2 || net.V6ClientCount != 1 || net.V4ClientCount != 1 {
		t.Errorf("example.net row %+v", net)
	}
	if www := rows["www.example.net"]; www.NSCount != 1 || www.EDMStatusBits != 1 || www.Label2 != "www" {
		t.Errorf("www.example.net row %+v", www)
	}
	if len(rows) != 3 {
		t.Errorf("rows %v", rows)
	}
	// Counts add up: types, rcodes and matched messages agree.
	var types, rcodes uint64
	for _, h := range hs {
		for _, r := range h.Rows {
			types += r.ACount + r.AAAACount + r.MXCount + r.NSCount + r.OtherTypeCount
			rcodes += r.OKCount + r.NXCount + r.FailCount + r.OtherRcodeCount
		}
	}
	if types != a.Stats.Matched || rcodes != a.Stats.Matched || a.Stats.Matched != 8 {
		t.Errorf("types %d, rcodes %d, matched %d", types, rcodes, a.Stats.Matched)
	}
	if a.Stats.Skipped[SkipLate] != 1 || a.Stats.Skipped[SkipType] != 1 {
		t.Errorf("skipped %v", a.Stats.Skipped)
	}
	if got := c.names(); len(got) != 1 || got[0] != "example.net." {
		t.Errorf("new names %v", got)
	}
}

func TestNewQnames(t *testing.T) {
	c := &collector{}
	cfg := config()
	cfg.NewPerSecond = 3
	a := New(cfg, mapMatcher{}, mapSeen{}, c.emit)
	for i := range 10 {
		a.Add(msg{at: t0, client: []byte{192, 0, 2, 1}, name: fmt.Sprintf("n%d.example.", i), qtype: dns.TypeA}.frame(t))
	}
	a.Add(msg{at: t0.Add(time.Second), client: []byte{192, 0, 2, 1}, name: "n0.example.", qtype: dns.TypeA}.frame(t))
	a.Add(msg{at: t0.Add(time.Second), client: []byte{192, 0, 2, 1}, name: "late.example.", qtype: dns.TypeA}.frame(t))
	got := c.names()
	if strings.Join(got, " ") != "n0.example. n1.example. n2.example. late.example." || a.Stats.Skipped[SkipRateLimited] != 7 {
		t.Errorf("announced %v, rate-limited %d", got, a.Stats.Skipped[SkipRateLimited])
	}
	n := c.recs[0].(*record.NewQname)
	if !n.Timestamp.Equal(t0) || n.Qtype != dns.TypeA || n.Qclass != 1 || n.Flags&0x8000 == 0 || n.Type != "new_qname" {
		t.Errorf("record %+v", n)
	}
}

func TestBadMessages(t *testing.T) {
	c := &collector{}
	a := New(config(), mapMatcher{}, mapSeen{}, c.emit)
	a.Add([]byte("not dnstap"))
	var f dnstap.Frame
	f.Type = dnstap.ClientResponse
	f.ResponseMessage = []byte{1, 2, 3}
	a.Add(f.AppendMarshal(nil))
	f.ResponseMessage = make([]byte, 12) // no question
	a.Add(f.AppendMarshal(nil))
	s := a.Stats.Skipped
	if s[SkipNotDnstap] != 1 || s[SkipShort] != 1 || s[SkipNoQuestion] != 1 {
		t.Errorf("skipped %v", s)
	}
}
