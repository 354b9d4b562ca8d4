package dnswire_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/tapir-edge/tapir/lib/dnstap"
	"github.com/tapir-edge/tapir/lib/dnswire"
	"github.com/tapir-edge/tapir/lib/fstrm"
	"github.com/tapir-edge/tapir/lib/stream"
)

// dropPrivate selects the options that identify a client, which
// tapir-anon removes.
func dropPrivate(code uint16) bool {
	return code == dnswire.OptionECS || code == dnswire.OptionCookie
}

func dropAll(uint16) bool  { return true }
func dropNone(uint16) bool { return false }

func dropCode(c uint16) func(uint16) bool { return func(code uint16) bool { return code == c } }

// Options as miekg/dns builds them.

func optECS4() *dns.EDNS0_SUBNET {
	return &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: net.ParseIP("198.51.100.0").To4()}
}

func optECS6() *dns.EDNS0_SUBNET {
	return &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 2, SourceNetmask: 56, SourceScope: 48, Address: net.ParseIP("2001:db8:1234:5600::")}
}

func optClientCookie() *dns.EDNS0_COOKIE {
	return &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "24a5ac1c3b8e79c1"}
}

func optFullCookie() *dns.EDNS0_COOKIE {
	return &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "24a5ac1c3b8e79c1" + "01000000" + "65a1b2c3" + "5c1e9e7f0a3d2b4c"}
}

func optNSID(s string) *dns.EDNS0_NSID {
	return &dns.EDNS0_NSID{Code: dns.EDNS0NSID, Nsid: fmt.Sprintf("%x", s)}
}

func optPadding(n int) *dns.EDNS0_PADDING { return &dns.EDNS0_PADDING{Padding: make([]byte, n)} }

func ednsOPT(opts ...dns.EDNS0) *dns.OPT {
	o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
	o.SetUDPSize(1232)
	o.SetDo()
	o.Option = opts
	return o
}

func ednsRR(tb testing.TB, s string) dns.RR {
	tb.Helper()
	rr, err := dns.NewRR(s)
	if err != nil {
		tb.Fatal(err)
	}
	return rr
}

// ednsQuery returns a query for www.example.com/A with an OPT record holding
// opts, or without OPT record if opts is nil.
func ednsQuery(opts ...dns.EDNS0) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion("www.example.com.", dns.TypeA)
	m.Id = 0x5ca1
	if opts != nil {
		m.Extra = append(m.Extra, ednsOPT(opts...))
	}
	return m
}

// ednsResponse returns a resolver's response: a CNAME chain, the authority,
// glue, and an OPT record holding opts last, as servers write it.
func ednsResponse(tb testing.TB, opts ...dns.EDNS0) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion("www.example.com.", dns.TypeA)
	m.Id = 0xfeed
	m.Response, m.RecursionAvailable, m.AuthenticatedData = true, true, true
	m.Answer = []dns.RR{
		ednsRR(tb, "www.example.com. 300 IN CNAME web.cdn.example.net."),
		ednsRR(tb, "web.cdn.example.net. 60 IN A 192.0.2.1"),
		ednsRR(tb, "web.cdn.example.net. 60 IN A 192.0.2.2"),
	}
	m.Ns = []dns.RR{
		ednsRR(tb, "cdn.example.net. 3600 IN NS ns1.cdn.example.net."),
		ednsRR(tb, "cdn.example.net. 3600 IN NS ns2.example.org."),
	}
	m.Extra = []dns.RR{
		ednsRR(tb, "ns1.cdn.example.net. 3600 IN A 192.0.2.53"),
		ednsRR(tb, "ns1.cdn.example.net. 3600 IN AAAA 2001:db8::53"),
		ednsOPT(opts...),
	}
	return m
}

// packCompressed packs m with name compression, as servers do.
func packCompressed(tb testing.TB, m *dns.Msg) []byte {
	tb.Helper()
	m.Compress = true
	b, err := m.Pack()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// ednsOption is an option as Options yields it.
type ednsOption struct {
	code uint16
	data []byte
}

// hasOption reports whether msg's OPT record holds an option with the
// given code.
func hasOption(msg []byte, code uint16) (found bool, err error) {
	err = dnswire.Options(msg, func(c uint16, _ []byte) bool {
		found = c == code
		return !found
	})
	return found, err
}

// optionList returns the options of msg, copied.
func optionList(msg []byte) ([]ednsOption, error) {
	var opts []ednsOption
	err := dnswire.Options(msg, func(code uint16, data []byte) bool {
		opts = append(opts, ednsOption{code, slices.Clone(data)})
		return true
	})
	return opts, err
}

// checkStrip runs StripOptions on a copy of msg and checks what must hold
// for any input; bad describes what does not. Where miekg/dns unpacks
// msg, it must unpack the result and read the same message but for the
// options removed.
func checkStrip(msg []byte, drop func(uint16) bool) (out []byte, n int, bad string, err error) {
	in := slices.Clone(msg)
	out, n, err = dnswire.StripOptions(in, drop)
	opts, oerr := optionList(msg)
	if err != nil {
		switch {
		case err != dnswire.ErrShort && err != dnswire.ErrBadName && err != dnswire.ErrBadOPT && err != dnswire.ErrPointer:
			return out, n, fmt.Sprintf("unexpected error %v", err), err
		case !bytes.Equal(in, msg):
			return out, n, fmt.Sprintf("error %v, and the message changed", err), err
		case out != nil || n != 0:
			return out, n, fmt.Sprintf("error %v with %d bytes, %d removed", err, len(out), n), err
		case err == dnswire.ErrPointer && oerr != nil:
			return out, n, fmt.Sprintf("StripOptions: %v; Options: %v", err, oerr), err
		case err != dnswire.ErrPointer && oerr != err:
			return out, n, fmt.Sprintf("StripOptions: %v; Options: %v", err, oerr), err
		}
		return out, n, "", err
	}
	if oerr != nil {
		return out, n, fmt.Sprintf("StripOptions succeeds, Options fails: %v", oerr), err
	}
	var want []ednsOption
	size := len(msg)
	for _, o := range opts {
		if drop(o.code) {
			size -= 4 + len(o.data)
		} else {
			want = append(want, o)
		}
	}
	switch {
	case n != len(opts)-len(want):
		return out, n, fmt.Sprintf("%d options removed, want %d", n, len(opts)-len(want)), err
	case len(out) != size:
		return out, n, fmt.Sprintf("%d bytes left, want %d", len(out), size), err
	case len(out) > 0 && &out[0] != &in[0]:
		return out, n, "result not in place", err
	case n == 0 && !bytes.Equal(out, msg):
		return out, n, "nothing removed, yet the message changed", err
	case !bytes.Equal(out[:dnswire.HeaderLen], msg[:dnswire.HeaderLen]):
		return out, n, "header changed", err
	}
	got, oerr := optionList(out)
	if oerr != nil {
		return out, n, fmt.Sprintf("Options on the result: %v", oerr), err
	}
	if !slices.EqualFunc(got, want, func(a, b ednsOption) bool { return a.code == b.code && bytes.Equal(a.data, b.data) }) {
		return out, n, fmt.Sprintf("options left %v, want %v", got, want), err
	}

	var mo, mr dns.Msg
	if mo.Unpack(msg) != nil {
		return out, n, "", err
	}
	if uerr := mr.Unpack(out); uerr != nil {
		return out, n, fmt.Sprintf("miekg/dns unpacks the message but not the result: %v", uerr), err
	}
	return out, n, sameButOptions(&mo, &mr, drop), err
}

// sameButOptions compares two messages that miekg/dns unpacked: all must
// be the same but the options of the OPT records, of which b must have
// those of a that drop does not select.
func sameButOptions(a, b *dns.Msg, drop func(uint16) bool) string {
	if a.MsgHdr != b.MsgHdr {
		return fmt.Sprintf("header %+v, was %+v", b.MsgHdr, a.MsgHdr)
	}
	if len(a.Question) != len(b.Question) {
		return fmt.Sprintf("%d questions, was %d", len(b.Question), len(a.Question))
	}
	for i := range a.Question {
		if a.Question[i] != b.Question[i] {
			return fmt.Sprintf("question %v, was %v", b.Question[i], a.Question[i])
		}
	}
	for s, sec := range [][2][]dns.RR{{a.Answer, b.Answer}, {a.Ns, b.Ns}, {a.Extra, b.Extra}} {
		if len(sec[0]) != len(sec[1]) {
			return fmt.Sprintf("section %d: %d records, was %d", s+1, len(sec[1]), len(sec[0]))
		}
		for i, ra := range sec[0] {
			rb := sec[1][i]
			oa, ok := ra.(*dns.OPT)
			if !ok {
				if ra.String() != rb.String() {
					return fmt.Sprintf("section %d: %q, was %q", s+1, rb, ra)
				}
				continue
			}
			ob, ok := rb.(*dns.OPT)
			if !ok {
				return fmt.Sprintf("section %d: %q, was an OPT record", s+1, rb)
			}
			ha, hb := oa.Hdr, ob.Hdr
			ha.Rdlength, hb.Rdlength = 0, 0
			if ha != hb {
				return fmt.Sprintf("section %d: OPT header %+v, was %+v", s+1, ob.Hdr, oa.Hdr)
			}
			var want, got []string
			for _, o := range oa.Option {
				if !drop(o.Option()) {
					want = append(want, fmt.Sprintf("%d %s", o.Option(), o))
				}
			}
			for _, o := range ob.Option {
				got = append(got, fmt.Sprintf("%d %s", o.Option(), o))
			}
			if !slices.Equal(got, want) {
				return fmt.Sprintf("section %d: options %q, want %q", s+1, got, want)
			}
		}
	}
	return ""
}

func optionCodes(opts []ednsOption) []uint16 {
	var c []uint16
	for _, o := range opts {
		c = append(c, o.code)
	}
	return c
}

func TestStripOptions(t *testing.T) {
	tsigged := func(t *testing.T, opts ...dns.EDNS0) []byte {
		m := ednsResponse(t, opts...)
		m.SetTsig("transfer.key.", dns.HmacSHA256, 300, time.Now().Unix())
		m.Compress = true
		b, _, err := dns.TsigGenerate(m, "c2VjcmV0LXNlY3JldC1zZWNyZXQ=", "", false)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name string
		msg  func(t *testing.T) []byte
		drop func(uint16) bool
		n    int
		left []uint16 // codes of the options left
		err  error
	}{
		{name: "query ECS", msg: func(t *testing.T) []byte { return packCompressed(t, ednsQuery(optECS4())) }, n: 1},
		{name: "query cookie", msg: func(t *testing.T) []byte { return packCompressed(t, ednsQuery(optClientCookie())) }, n: 1},
		{name: "query ECS cookie", msg: func(t *testing.T) []byte { return packCompressed(t, ednsQuery(optECS4(), optClientCookie())) }, n: 2},
		{name: "query cookie ECS", msg: func(t *testing.T) []byte { return packCompressed(t, ednsQuery(optClientCookie(), optECS6())) }, n: 2},
		{name: "query NSID ECS padding cookie", n: 2, left: []uint16{dnswire.OptionNSID, dnswire.OptionPadding},
			msg: func(t *testing.T) []byte {
				return packCompressed(t, ednsQuery(optNSID(""), optECS4(), optPadding(40), optClientCookie()))
			}},
		{name: "query ECS padding", n: 1, left: []uint16{dnswire.OptionPadding},
			msg: func(t *testing.T) []byte { return packCompressed(t, ednsQuery(optECS4(), optPadding(100))) }},
		{name: "query NSID", left: []uint16{dnswire.OptionNSID},
			msg: func(t *testing.T) []byte { return packCompressed(t, ednsQuery(optNSID(""))) }},
		{name: "query EDNS without options", msg: func(t *testing.T) []byte { return packCompressed(t, ednsQuery([]dns.EDNS0{}...)) }},
		{name: "query without EDNS", msg: func(t *testing.T) []byte { return packCompressed(t, ednsQuery()) }},
		{name: "response ECS cookie NSID", n: 2, left: []uint16{dnswire.OptionNSID},
			msg: func(t *testing.T) []byte {
				return packCompressed(t, ednsResponse(t, optECS6(), optFullCookie(), optNSID("ns1.example")))
			}},
		{name: "response drop all", drop: dropAll, n: 4,
			msg: func(t *testing.T) []byte {
				return packCompressed(t, ednsResponse(t, optNSID("ns1.example"), optECS4(), optFullCookie(), optPadding(12)))
			}},
		{name: "response drop none", drop: dropNone, left: []uint16{dnswire.OptionECS, dnswire.OptionCookie},
			msg: func(t *testing.T) []byte { return packCompressed(t, ednsResponse(t, optECS4(), optFullCookie())) }},
		{name: "response ECS in the middle", drop: dropCode(dnswire.OptionECS), n: 1,
			left: []uint16{dnswire.OptionNSID, dnswire.OptionCookie, dnswire.OptionPadding},
			msg: func(t *testing.T) []byte {
				return packCompressed(t, ednsResponse(t, optNSID("x"), optECS4(), optFullCookie(), optPadding(3)))
			}},
		{name: "TSIG after OPT", n: 2, msg: func(t *testing.T) []byte { return tsigged(t, optECS4(), optFullCookie()) }},
		{name: "TSIG after OPT, nothing to remove", left: []uint16{dnswire.OptionNSID},
			msg: func(t *testing.T) []byte { return tsigged(t, optNSID("a")) }},
		{name: "TSIG owner compressed", n: 1, msg: func(t *testing.T) []byte {
			// The key is named after the zone, so the TSIG
			// record's owner points back to the authority section.
			m := ednsResponse(t, optClientCookie())
			m.SetTsig("cdn.example.net.", dns.HmacSHA256, 300, 1700000000)
			b := packCompressed(t, m)
			if !bytes.Contains(b, []byte{0, 250, 0, 255}) || bytes.Contains(b, []byte("\x03cdn\x07example\x03net\x00\x00\xfa")) {
				t.Fatal("TSIG owner name not compressed")
			}
			return b
		}},
		{name: "OPT first, glue points back", n: 2, msg: func(t *testing.T) []byte {
			// Glue names appear in the authority section first, so
			// the glue after the OPT record points before it.
			m := ednsResponse(t, optECS4(), optFullCookie())
			m.Extra = append(m.Extra[2:], m.Extra[:2]...)
			return packCompressed(t, m)
		}},
		{name: "OPT first, glue points after it", err: dnswire.ErrPointer, msg: func(t *testing.T) []byte {
			// mail.example.org appears first in the additional
			// section, after the OPT record, and its AAAA record
			// points to its A record: both would move.
			m := ednsResponse(t, optECS4())
			m.Extra = []dns.RR{m.Extra[2],
				ednsRR(t, "mail.example.org. 300 IN A 192.0.2.25"),
				ednsRR(t, "mail.example.org. 300 IN AAAA 2001:db8::25")}
			return packCompressed(t, m)
		}},
		{name: "OPT first, glue points after it, nothing to remove", left: []uint16{dnswire.OptionNSID},
			msg: func(t *testing.T) []byte {
				m := ednsResponse(t, optNSID("x"))
				m.Extra = []dns.RR{m.Extra[2],
					ednsRR(t, "mail.example.org. 300 IN A 192.0.2.25"),
					ednsRR(t, "mail.example.org. 300 IN AAAA 2001:db8::25")}
				return packCompressed(t, m)
			}},
		{name: "two OPT records", n: 4, left: []uint16{dnswire.OptionNSID, dnswire.OptionPadding}, msg: func(t *testing.T) []byte {
			// Malformed (RFC 6891 section 6.1.1), but both are stripped.
			m := ednsResponse(t, optECS4(), optNSID("a"), optFullCookie())
			m.Extra = append(m.Extra, ednsOPT(optClientCookie(), optPadding(8), optECS6()))
			return packCompressed(t, m)
		}},
		{name: "OPT in the answer section", n: 1, left: []uint16{dnswire.OptionNSID}, msg: func(t *testing.T) []byte {
			m := ednsQuery(optNSID("a"))
			m.Answer = append(m.Answer, ednsOPT(optECS4()))
			return packCompressed(t, m)
		}},
		{name: "OPT in the answer section, names after it point after it", err: dnswire.ErrPointer,
			msg: func(t *testing.T) []byte {
				// The glue points to the NS record's RDATA.
				m := ednsResponse(t, optNSID("a"))
				m.Answer = append(m.Answer, ednsOPT(optECS4()))
				return packCompressed(t, m)
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.drop == nil {
				tc.drop = dropPrivate
			}
			msg := tc.msg(t)
			var m dns.Msg
			if err := m.Unpack(msg); err != nil {
				t.Fatalf("miekg/dns cannot unpack the message: %v", err)
			}
			out, n, bad, err := checkStrip(msg, tc.drop)
			if bad != "" {
				t.Fatal(bad)
			}
			if err != tc.err || n != tc.n {
				t.Fatalf("StripOptions = %d, %v; want %d, %v", n, err, tc.n, tc.err)
			}
			if err != nil {
				return
			}
			left, _ := optionList(out)
			if !slices.Equal(optionCodes(left), tc.left) {
				t.Errorf("options left %v, want %v", optionCodes(left), tc.left)
			}
			for _, c := range []uint16{dnswire.OptionECS, dnswire.OptionCookie} {
				has, err := hasOption(out, c)
				if err != nil || has != slices.Contains(tc.left, c) {
					t.Errorf("hasOption(%d) = %v, %v", c, has, err)
				}
			}
		})
	}
}

// TestStripOptionsTSIG shows that stripping breaks a TSIG signature but
// not the message.
func TestStripOptionsTSIG(t *testing.T) {
	const secret = "c2VjcmV0LXNlY3JldC1zZWNyZXQ="
	m := ednsQuery(optECS4(), optClientCookie())
	m.SetTsig("key.example.", dns.HmacSHA256, 300, time.Now().Unix())
	msg, _, err := dns.TsigGenerate(m, secret, "", false)
	if err != nil {
		t.Fatal(err)
	}
	// TsigVerify writes to the message it checks.
	if err := dns.TsigVerify(slices.Clone(msg), secret, "", false); err != nil {
		t.Fatalf("before: %v", err)
	}
	out, n, err := dnswire.StripOptions(slices.Clone(msg), dropPrivate)
	if err != nil || n != 2 {
		t.Fatalf("StripOptions = %d, %v", n, err)
	}
	if err := dns.TsigVerify(slices.Clone(out), secret, "", false); err == nil {
		t.Error("TSIG still verifies after stripping")
	}
	var r dns.Msg
	if err := r.Unpack(out); err != nil {
		t.Fatal(err)
	}
	if ts := r.IsTsig(); ts == nil || ts.Hdr.Name != "key.example." {
		t.Errorf("TSIG record lost: %v", r.Extra)
	}
}

// Raw messages, for what miekg/dns does not write.

// raw returns a response with the given section counts, followed by parts.
func rawMsg(qd, an, ns, ar int, parts ...[]byte) []byte {
	b := []byte{0xab, 0xcd, 0x81, 0x80, 0, byte(qd), 0, byte(an), 0, byte(ns), 0, byte(ar)}
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// rr encodes a record of class IN (or the UDP size, for OPT), TTL 300
// (0 for OPT).
func rawRR(name []byte, typ uint16, rdata ...[]byte) []byte {
	b := append(slices.Clone(name), byte(typ>>8), byte(typ), 0, 1, 0, 0, 1, 44, 0, 0)
	if typ == 41 {
		b = append(b[:len(name)+2], 0x04, 0xd0, 0, 0, 0x80, 0, 0, 0)
	}
	n := len(b)
	for _, r := range rdata {
		b = append(b, r...)
	}
	binary.BigEndian.PutUint16(b[n-2:], uint16(len(b)-n))
	return b
}

// opt encodes an EDNS option.
func rawOpt(code uint16, data []byte) []byte {
	return append([]byte{byte(code >> 8), byte(code), byte(len(data) >> 8), byte(len(data))}, data...)
}

func rawPtr(off int) []byte { return []byte{0xc0 | byte(off>>8), byte(off)} }

var (
	rawQuestion = append(wireName("a", "example"), typeA_IN...) // at offset 12
	rawQname    = 12
	rawAfterQ   = 12 + len(rawQuestion)
	rawECSData  = []byte{0, 1, 24, 0, 198, 51, 100}
	rawECS      = rawOpt(dnswire.OptionECS, rawECSData)
	rawAddr     = []byte{192, 0, 2, 1}
	rawRoot     = []byte{0}
)

// TestStripOptionsPointers checks the compression pointers that removing
// bytes would break, or not, in messages that miekg/dns reads.
func TestStripOptionsPointers(t *testing.T) {
	tests := []struct {
		name string
		msg  func() []byte
		drop func(uint16) bool
		err  error
	}{
		{name: "record after OPT points before it", msg: func() []byte {
			return rawMsg(1, 1, 0, 2, rawQuestion, rawRR(rawPtr(rawQname), 1, rawAddr),
				rawRR(rawRoot, 41, rawECS), rawRR(rawPtr(rawQname), 1, rawAddr))
		}},
		{name: "TSIG after OPT points to the question", msg: func() []byte {
			tsig := [][]byte{wireName("hmac-sha256"), {0, 0, 0x65, 0x53, 0xf1, 0x00, 1, 44}, {0, 0}, {0xab, 0xcd, 0, 0, 0, 0}}
			return rawMsg(1, 1, 0, 2, rawQuestion, rawRR(rawPtr(rawQname), 1, rawAddr), rawRR(rawRoot, 41, rawECS), rawRR(rawPtr(rawQname), 250, tsig...))
		}},
		{name: "record after OPT points to one after it", err: dnswire.ErrPointer, msg: func() []byte {
			opt := rawRR(rawRoot, 41, rawECS)
			glue := rawAfterQ + len(opt)
			return rawMsg(1, 0, 0, 3, rawQuestion, opt, rawRR(wireName("glue", "example"), 1, rawAddr), rawRR(rawPtr(glue), 1, rawAddr))
		}},
		{name: "record after OPT points to one after it, ECS kept", drop: dropCode(dnswire.OptionCookie), msg: func() []byte {
			opt := rawRR(rawRoot, 41, rawECS)
			glue := rawAfterQ + len(opt)
			return rawMsg(1, 0, 0, 3, rawQuestion, opt, rawRR(wireName("glue", "example"), 1, rawAddr), rawRR(rawPtr(glue), 1, rawAddr))
		}},
		{name: "pointer forward past OPT", err: dnswire.ErrPointer, msg: func() []byte {
			answer := rawRR(rawPtr(0), 1, rawAddr)
			opt := rawRR(rawRoot, 41, rawECS)
			answer = rawRR(rawPtr(rawAfterQ+len(answer)+len(opt)), 1, rawAddr)
			return rawMsg(1, 1, 0, 2, rawQuestion, answer, opt, rawRR(wireName("fwd", "example"), 1, rawAddr))
		}},
		{name: "name in RDATA after OPT points after it", err: dnswire.ErrPointer, msg: func() []byte {
			opt := rawRR(rawRoot, 41, rawECS)
			owner := rawAfterQ + len(opt)
			return rawMsg(1, 0, 0, 2, rawQuestion, opt, rawRR(wireName("c", "example"), 5, []byte{1, 'x'}, rawPtr(owner)))
		}},
		{name: "name in RDATA after OPT points before it", msg: func() []byte {
			return rawMsg(1, 0, 0, 2, rawQuestion, rawRR(rawRoot, 41, rawECS), rawRR(wireName("c", "example"), 5, []byte{1, 'x'}, rawPtr(rawQname)))
		}},
		{name: "MX exchange after OPT points after it", err: dnswire.ErrPointer, msg: func() []byte {
			opt := rawRR(rawRoot, 41, rawECS)
			owner := rawAfterQ + len(opt)
			return rawMsg(1, 0, 0, 2, rawQuestion, opt, rawRR(wireName("m", "example"), 15, []byte{0, 10}, rawPtr(owner)))
		}},
		{name: "SRV target after OPT points after it", err: dnswire.ErrPointer, msg: func() []byte {
			opt := rawRR(rawRoot, 41, rawECS)
			owner := rawAfterQ + len(opt)
			return rawMsg(1, 0, 0, 2, rawQuestion, opt, rawRR(wireName("s", "example"), 33, []byte{0, 1, 0, 2, 0, 53}, rawPtr(owner)))
		}},
		{name: "SOA second name after OPT points after it", err: dnswire.ErrPointer, msg: func() []byte {
			opt := rawRR(rawRoot, 41, rawECS)
			owner := rawAfterQ + len(opt)
			return rawMsg(1, 0, 0, 2, rawQuestion, opt, rawRR(wireName("z", "example"), 6, rawPtr(rawQname), rawPtr(owner), make([]byte, 20)))
		}},
		{name: "RRSIG signer after OPT points after it", err: dnswire.ErrPointer, msg: func() []byte {
			opt := rawRR(rawRoot, 41, rawECS)
			owner := rawAfterQ + len(opt)
			return rawMsg(1, 0, 0, 2, rawQuestion, opt, rawRR(wireName("z", "example"), 46, make([]byte, 18), rawPtr(owner), []byte{1, 2, 3}))
		}},
		{name: "NAPTR replacement after OPT points after it", err: dnswire.ErrPointer, msg: func() []byte {
			opt := rawRR(rawRoot, 41, rawECS)
			owner := rawAfterQ + len(opt)
			return rawMsg(1, 0, 0, 2, rawQuestion, opt, rawRR(wireName("n", "example"), 35, []byte{0, 1, 0, 2, 1, 'u', 3, 'E', '2', 'U', 0}, rawPtr(owner)))
		}},
		{name: "TXT after OPT, no names in it", msg: func() []byte {
			opt := rawRR(rawRoot, 41, rawECS)
			owner := rawAfterQ + len(opt)
			return rawMsg(1, 0, 0, 2, rawQuestion, opt, rawRR(wireName("t", "example"), 16, []byte{2}, rawPtr(owner)))
		}},
		{name: "pointer chain through opaque data", err: dnswire.ErrPointer, msg: func() []byte {
			// The answer's owner points into TXT data, where a
			// name continues with a pointer past the OPT record.
			txt := rawRR(wireName("t", "example"), 16, []byte{4, 1, 'y', 0, 0})
			answer := rawRR(rawPtr(0), 1, rawAddr)
			opt := rawRR(rawRoot, 41, rawECS)
			inTXT := rawAfterQ + len(txt) - 4
			after := rawAfterQ + len(txt) + len(answer) + len(opt)
			copy(txt[len(txt)-2:], rawPtr(after))
			return rawMsg(1, 2, 0, 2, rawQuestion, txt, rawRR(rawPtr(inTXT), 1, rawAddr), opt, rawRR(wireName("z", "example"), 1, rawAddr))
		}},
		{name: "pointer into option data before the removed ones", err: dnswire.ErrPointer, msg: func() []byte {
			// These bytes do not move, but they follow the OPT
			// RDLENGTH, which changes: StripOptions does not look
			// closer, since a name in OPT RDATA is bogus anyway.
			opt := rawRR(rawRoot, 41, rawOpt(65001, wireName("in", "option")), rawECS)
			answer := rawRR(rawPtr(0), 1, rawAddr)
			data := rawAfterQ + len(answer) + 11 + 4
			return rawMsg(1, 1, 0, 1, rawQuestion, rawRR(rawPtr(data), 1, rawAddr), opt)
		}},
		{name: "pointer into option data after a removed one", err: dnswire.ErrPointer, msg: func() []byte {
			opt := rawRR(rawRoot, 41, rawECS, rawOpt(65001, wireName("in", "option")))
			answer := rawRR(rawPtr(0), 1, rawAddr)
			data := rawAfterQ + len(answer) + 11 + len(rawECS) + 4
			return rawMsg(1, 1, 0, 1, rawQuestion, rawRR(rawPtr(data), 1, rawAddr), opt)
		}},
		{name: "pointer into a removed option", err: dnswire.ErrPointer, drop: dropCode(65002), msg: func() []byte {
			opt := rawRR(rawRoot, 41, rawOpt(65002, wireName("in", "option")))
			answer := rawRR(rawPtr(0), 1, rawAddr)
			data := rawAfterQ + len(answer) + 11 + 4
			return rawMsg(1, 1, 0, 1, rawQuestion, rawRR(rawPtr(data), 1, rawAddr), opt)
		}},
		{name: "pointer to OPT RDLENGTH", err: dnswire.ErrPointer, msg: func() []byte {
			// Its high byte reads as the root label. It stays 0 here,
			// but StripOptions does not look that closely.
			answer := rawRR(rawPtr(0), 1, rawAddr)
			rdlength := rawAfterQ + len(answer) + 9
			return rawMsg(1, 1, 0, 1, rawQuestion, rawRR(rawPtr(rdlength), 1, rawAddr), rawRR(rawRoot, 41, rawECS))
		}},
		{name: "pointer to OPT TTL", msg: func() []byte {
			// The OPT TTL, written by rr as 0x00008000, starts with
			// a zero byte: the root label. It does not move.
			answer := rawRR(rawPtr(0), 1, rawAddr)
			ttl := rawAfterQ + len(answer) + 5
			return rawMsg(1, 1, 0, 1, rawQuestion, rawRR(rawPtr(ttl), 1, rawAddr), rawRR(rawRoot, 41, rawECS))
		}},
		{name: "second OPT: pointers between the two", msg: func() []byte {
			opt1 := rawRR(rawRoot, 41, rawOpt(dnswire.OptionNSID, nil))
			glue := rawAfterQ + len(opt1)
			return rawMsg(1, 0, 0, 4, rawQuestion, opt1, rawRR(wireName("glue", "example"), 1, rawAddr), rawRR(rawPtr(glue), 1, rawAddr),
				rawRR(rawRoot, 41, rawECS))
		}},
		{name: "second OPT: pointers between the two, first stripped", err: dnswire.ErrPointer, msg: func() []byte {
			opt1 := rawRR(rawRoot, 41, rawECS)
			glue := rawAfterQ + len(opt1)
			return rawMsg(1, 0, 0, 4, rawQuestion, opt1, rawRR(wireName("glue", "example"), 1, rawAddr), rawRR(rawPtr(glue), 1, rawAddr),
				rawRR(rawRoot, 41, rawOpt(dnswire.OptionNSID, nil)))
		}},
		{name: "trailing bytes after the records", msg: func() []byte {
			return rawMsg(1, 0, 0, 1, rawQuestion, rawRR(rawRoot, 41, rawECS), []byte("trailing"))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.drop == nil {
				tc.drop = dropPrivate
			}
			msg := tc.msg()
			var m dns.Msg
			if err := m.Unpack(msg); err != nil {
				t.Fatalf("miekg/dns cannot unpack the message: %v", err)
			}
			out, _, bad, err := checkStrip(msg, tc.drop)
			if bad != "" {
				t.Fatal(bad)
			}
			if err != tc.err {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if err == nil && bytes.HasSuffix(msg, []byte("trailing")) != bytes.HasSuffix(out, []byte("trailing")) {
				t.Error("trailing bytes lost")
			}
		})
	}
}

// TestStripOptionsUncountedOPT shows a limit: an OPT record that the
// header does not count, as the server of DVE-2017-0007 sends, is no
// part of the message for any parser, and StripOptions keeps it, client
// subnet and all.
func TestStripOptionsUncountedOPT(t *testing.T) {
	msg := rawMsg(1, 0, 0, 0, rawQuestion, rawRR(rawRoot, 41, rawECS))
	out, n, err := dnswire.StripOptions(slices.Clone(msg), dropPrivate)
	if err != nil || n != 0 || !bytes.Equal(out, msg) {
		t.Errorf("StripOptions = %q, %d, %v", out, n, err)
	}
	if has, err := hasOption(msg, dnswire.OptionECS); has || err != nil {
		t.Errorf("hasOption = %v, %v", has, err)
	}
}

func TestStripOptionsMalformed(t *testing.T) {
	ok := rawMsg(1, 1, 0, 1, rawQuestion, rawRR(rawPtr(rawQname), 1, rawAddr), rawRR(rawRoot, 41, rawECS))
	tests := []struct {
		name string
		msg  []byte
		err  error
	}{
		{"empty", nil, dnswire.ErrShort},
		{"short header", ok[:11], dnswire.ErrShort},
		{"question cut", ok[:rawAfterQ-1], dnswire.ErrShort},
		{"record header cut", ok[:rawAfterQ+5], dnswire.ErrShort},
		{"RDATA cut", ok[:len(ok)-1], dnswire.ErrShort},
		{"a record missing", rawMsg(1, 1, 0, 2, rawQuestion, rawRR(rawPtr(rawQname), 1, rawAddr), rawRR(rawRoot, 41, rawECS)), dnswire.ErrShort},
		{"owner name loops", rawMsg(1, 1, 0, 1, rawQuestion, rawRR(rawPtr(rawAfterQ), 1, rawAddr), rawRR(rawRoot, 41, rawECS)), dnswire.ErrBadName},
		{"owner name points past the end", rawMsg(1, 1, 0, 1, rawQuestion, rawRR(rawPtr(1000), 1, rawAddr), rawRR(rawRoot, 41, rawECS)), dnswire.ErrBadName},
		{"CNAME target loops", rawMsg(1, 1, 0, 1, rawQuestion, rawRR(rawPtr(rawQname), 5, rawPtr(rawAfterQ+12)), rawRR(rawRoot, 41, rawECS)), dnswire.ErrBadName},
		{"label type 0x40", rawMsg(1, 1, 0, 1, rawQuestion, rawRR([]byte{0x41, 0}, 1, rawAddr), rawRR(rawRoot, 41, rawECS)), dnswire.ErrBadName},
		{"option header cut", rawMsg(1, 0, 0, 1, rawQuestion, rawRR(rawRoot, 41, rawECS, []byte{0, 12, 0})), dnswire.ErrBadOPT},
		{"option data cut", rawMsg(1, 0, 0, 1, rawQuestion, rawRR(rawRoot, 41, rawECS[:len(rawECS)-1])), dnswire.ErrBadOPT},
		{"option data overruns", rawMsg(1, 0, 0, 1, rawQuestion, rawRR(rawRoot, 41, rawECS, []byte{0, 12, 0, 2, 0})), dnswire.ErrBadOPT},
		{"second OPT bad", rawMsg(1, 0, 0, 2, rawQuestion, rawRR(rawRoot, 41, rawECS), rawRR(rawRoot, 41, []byte{0, 10, 0, 9})), dnswire.ErrBadOPT},
		{"record after OPT cut", rawMsg(1, 0, 0, 2, rawQuestion, rawRR(rawRoot, 41, rawECS), rawRR(rawRoot, 1, rawAddr)[:9]), dnswire.ErrShort},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, drop := range []func(uint16) bool{dropPrivate, dropAll, dropNone} {
				_, _, bad, err := checkStrip(tc.msg, drop)
				if bad != "" {
					t.Fatal(bad)
				}
				if err != tc.err {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
			}
			called := false
			if err := dnswire.Options(tc.msg, func(uint16, []byte) bool { called = true; return true }); err != tc.err || called {
				t.Errorf("Options = %v, yield called: %v", err, called)
			}
			if has, err := hasOption(tc.msg, dnswire.OptionECS); err != tc.err || has {
				t.Errorf("hasOption = %v, %v", has, err)
			}
		})
	}
	if _, _, bad, err := checkStrip(ok, dropPrivate); err != nil || bad != "" {
		t.Fatalf("the well-formed message: %v %s", err, bad)
	}
}

func TestOptions(t *testing.T) {
	cookie := []byte{1, 2, 3, 4, 5, 6, 7, 8}
	msg := rawMsg(1, 1, 0, 2, rawQuestion, rawRR(rawPtr(rawQname), 1, rawAddr),
		rawRR(rawRoot, 41, rawOpt(dnswire.OptionNSID, nil), rawECS, rawOpt(dnswire.OptionCookie, cookie)),
		rawRR(rawRoot, 41, rawOpt(dnswire.OptionPadding, make([]byte, 5))))
	want := []ednsOption{{dnswire.OptionNSID, []byte{}}, {dnswire.OptionECS, rawECSData}, {dnswire.OptionCookie, cookie},
		{dnswire.OptionPadding, make([]byte, 5)}}
	var got []ednsOption
	err := dnswire.Options(msg, func(code uint16, data []byte) bool {
		if cap(data) != len(data) {
			t.Errorf("option %d: data can grow into the message", code)
		}
		got = append(got, ednsOption{code, slices.Clone(data)})
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Options yields %v, want %v", got, want)
	}

	calls := 0
	if err := dnswire.Options(msg, func(uint16, []byte) bool { calls++; return calls < 2 }); err != nil || calls != 2 {
		t.Errorf("Options went on after yield returned false: %d calls, %v", calls, err)
	}

	for code, want := range map[uint16]bool{dnswire.OptionECS: true, dnswire.OptionPadding: true, dnswire.OptionEDE: false} {
		if has, err := hasOption(msg, code); has != want || err != nil {
			t.Errorf("hasOption(%d) = %v, %v", code, has, err)
		}
	}
	noEDNS := rawMsg(1, 0, 0, 0, rawQuestion)
	if err := dnswire.Options(noEDNS, func(uint16, []byte) bool { t.Error("yield called"); return true }); err != nil {
		t.Error(err)
	}
	if has, err := hasOption(noEDNS, dnswire.OptionECS); has || err != nil {
		t.Errorf("hasOption without OPT record = %v, %v", has, err)
	}
}

func TestStripOptionsAllocs(t *testing.T) {
	msg := stripBenchMessage(t)
	buf := make([]byte, len(msg))
	if n := testing.AllocsPerRun(100, func() {
		copy(buf, msg)
		if _, _, err := dnswire.StripOptions(buf, dropPrivate); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("StripOptions allocates %v times per run", n)
	}
}

// withOptions returns msg with opts appended to its OPT record, or with an
// OPT record holding them if it has none, and nil if msg does not end with
// its records and OPT record. Appending at the end moves no name, so stripping the
// options again must give back exactly msg.
func withOptions(tb testing.TB, msg []byte, opts ...[]byte) []byte {
	tb.Helper()
	var m dns.Msg
	if m.Unpack(msg) != nil {
		return nil
	}
	var data []byte
	for _, o := range opts {
		data = append(data, o...)
	}
	out := slices.Clone(msg)
	e := m.IsEdns0()
	switch {
	case e == nil:
		out = append(out, rawRR(rawRoot, 41, data)...)
		binary.BigEndian.PutUint16(out[10:], binary.BigEndian.Uint16(out[10:])+1)
	case m.Extra[len(m.Extra)-1] == e:
		rdlength := int(e.Hdr.Rdlength)
		at := len(msg) - rdlength - 2
		if at < 9 || binary.BigEndian.Uint16(msg[at:]) != uint16(rdlength) || binary.BigEndian.Uint16(msg[at-8:]) != 41 {
			return nil // trailing bytes, or the name of a record
		}
		binary.BigEndian.PutUint16(out[at:], uint16(rdlength+len(data)))
		out = append(out, data...)
	default:
		return nil
	}
	var r dns.Msg
	if err := r.Unpack(out); err != nil || len(ednsOptions(r.IsEdns0())) != len(ednsOptions(e))+len(opts) {
		// Bytes after the records: DVE-2017-0007 answers with an OPT
		// record that ARCOUNT does not count.
		if e == nil {
			return nil
		}
		tb.Fatalf("options not appended: %v\n%v", err, &r)
	}
	return out
}

// captureMessages returns the DNS messages of the dns-violations
// captures, read with lib/fstrm and lib/dnstap, and those of
// testdata/sample.dnstap.zst if there is one.
func captureMessages(tb testing.TB) map[string][][]byte {
	tb.Helper()
	paths, _ := filepath.Glob("../../testdata/dns-violations/*.dnstap")
	if len(paths) == 0 {
		tb.Skip("no captures in testdata/dns-violations")
	}
	if _, err := os.Stat("../../testdata/sample.dnstap.zst"); err == nil {
		paths = append(paths, "../../testdata/sample.dnstap.zst")
	}
	out := make(map[string][][]byte)
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			tb.Fatal(err)
		}
		s, err := stream.NewReader(f, nil)
		if err != nil {
			tb.Fatalf("%s: %v", p, err)
		}
		r, err := fstrm.NewFileReader(s, fstrm.ReaderOptions{ContentTypes: []string{"protobuf:dnstap.Dnstap"}})
		if err != nil {
			tb.Fatalf("%s: %v", p, err)
		}
		var fr dnstap.Frame
		for {
			b, err := r.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				tb.Fatalf("%s: %v", p, err)
			}
			if err := fr.Unmarshal(b); err != nil {
				tb.Fatalf("%s: %v", p, err)
			}
			for _, msg := range [][]byte{fr.QueryMessage, fr.ResponseMessage} {
				if msg != nil {
					out[filepath.Base(p)] = append(out[filepath.Base(p)], slices.Clone(msg))
				}
			}
		}
		f.Close()
	}
	return out
}

// TestStripOptionsCaptures strips the messages of the captures as they
// are, and with ECS and cookies added.
func TestStripOptionsCaptures(t *testing.T) {
	ecs, nsid, cookie, pad := rawECS, rawOpt(dnswire.OptionNSID, nil), rawOpt(dnswire.OptionCookie, []byte("01234567abcdefghABCDEFGH")), rawOpt(dnswire.OptionPadding, make([]byte, 9))
	total, removed, added := 0, 0, 0
	for file, msgs := range captureMessages(t) {
		for i, msg := range msgs {
			total++
			for _, drop := range []func(uint16) bool{dropPrivate, dropAll} {
				_, n, bad, err := checkStrip(msg, drop)
				if bad != "" || err != nil {
					t.Fatalf("%s message %d: %v %s", file, i, err, bad)
				}
				if drop(dnswire.OptionECS) && drop(dnswire.OptionNSID) {
					continue
				}
				removed += n
			}

			in := withOptions(t, msg, nsid, ecs, pad, cookie)
			if in == nil {
				continue
			}
			added++
			// Stripping the options added gives the message with
			// only the others added, stripped of its own, if any.
			want, had, _, _ := checkStrip(withOptions(t, msg, nsid, pad), dropPrivate)
			out, n, bad, err := checkStrip(in, dropPrivate)
			if bad != "" || err != nil || n != had+2 {
				t.Fatalf("%s message %d with options: %d, %v %s", file, i, n, err, bad)
			}
			if !bytes.Equal(out, want) {
				t.Errorf("%s message %d: stripped to\n%q, want\n%q", file, i, out, want)
			}
			want, _, _, _ = checkStrip(withOptions(t, msg), dropAll)
			if out, _, _, _ = checkStrip(in, dropAll); !bytes.Equal(out, want) {
				t.Errorf("%s message %d: stripped of all to\n%q, want\n%q", file, i, out, want)
			}
		}
	}
	t.Logf("%d messages, %d options removed as they are; %d with options added", total, removed, added)
}

// FuzzStripOptions checks, for any input, that StripOptions does not
// panic, leaves the input as it was when it fails, and otherwise removes
// exactly the options it should: Options reads the rest, and miekg/dns,
// if it unpacks the input, unpacks the result to the same message but
// for those options. The corpus in testdata holds the messages of the
// captures, with and without ECS and cookies added, and those of the
// tests above.
func FuzzStripOptions(f *testing.F) {
	for _, msg := range stripSeeds(f) {
		f.Add(msg)
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		for _, drop := range []func(uint16) bool{dropPrivate, dropAll, dropNone} {
			if _, _, bad, _ := checkStrip(msg, drop); bad != "" {
				t.Fatal(bad)
			}
		}
	})
}

// stripSeeds returns messages built as in the tests above.
func stripSeeds(tb testing.TB) [][]byte {
	m := ednsResponse(tb, optNSID("ns1"), optECS4(), optFullCookie())
	first := ednsResponse(tb, optECS4(), optFullCookie())
	first.Extra = []dns.RR{first.Extra[2], ednsRR(tb, "mail.example.org. 300 IN A 192.0.2.25"), ednsRR(tb, "mail.example.org. 300 IN AAAA 2001:db8::25")}
	two := ednsResponse(tb, optECS4())
	two.Extra = append(two.Extra, ednsOPT(optClientCookie(), optPadding(4)))
	return [][]byte{
		packCompressed(tb, ednsQuery(optECS4(), optClientCookie())),
		packCompressed(tb, ednsQuery(optNSID(""), optECS6(), optPadding(20))),
		packCompressed(tb, m),
		packCompressed(tb, first),
		packCompressed(tb, two),
		rawMsg(1, 0, 0, 2, rawQuestion, rawRR(rawRoot, 41, rawECS), rawRR(wireName("c", "example"), 5, []byte{1, 'x'}, rawPtr(rawAfterQ+22))),
		rawMsg(1, 1, 0, 1, rawQuestion, rawRR(rawPtr(rawAfterQ+16+9), 1, rawAddr), rawRR(rawRoot, 41, rawECS)),
	}
}

var writeCorpus = flag.Bool("write-strip-corpus", false, "write the seed corpus of FuzzStripOptions to testdata/fuzz")

// TestWriteStripCorpus writes the seed corpus of FuzzStripOptions, with
// -write-strip-corpus.
func TestWriteStripCorpus(t *testing.T) {
	if !*writeCorpus {
		t.Skip("without -write-strip-corpus")
	}
	seeds := stripSeeds(t)
	for file, msgs := range captureMessages(t) {
		if !strings.HasPrefix(file, "DVE-") {
			continue // the sample is large, and may hold real clients' data
		}
		for _, msg := range msgs {
			seeds = append(seeds, msg)
			if in := withOptions(t, msg, rawECS, rawOpt(dnswire.OptionCookie, []byte("01234567"))); in != nil {
				seeds = append(seeds, in)
			}
		}
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzStripOptions")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	written := map[string]bool{}
	for _, s := range seeds {
		data := []byte("go test fuzz v1\n[]byte(" + strconv.Quote(string(s)) + ")\n")
		name := fmt.Sprintf("%x", sha256.Sum256(data))[:16]
		if written[name] {
			continue
		}
		written[name] = true
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d files in %s", len(written), dir)
}

// stripBenchMessage returns a typical response to a client that sent ECS
// and a cookie: a CNAME and two addresses, ECS with a scope, client and
// server cookie.
func stripBenchMessage(tb testing.TB) []byte {
	m := new(dns.Msg)
	m.SetQuestion("www.example.com.", dns.TypeA)
	m.Response, m.RecursionDesired, m.RecursionAvailable = true, true, true
	m.Answer = []dns.RR{
		ednsRR(tb, "www.example.com. 300 IN CNAME web.cdn.example.net."),
		ednsRR(tb, "web.cdn.example.net. 60 IN A 192.0.2.1"),
		ednsRR(tb, "web.cdn.example.net. 60 IN A 192.0.2.2"),
	}
	m.Extra = []dns.RR{ednsOPT(optECS6(), optFullCookie())}
	return packCompressed(tb, m)
}

func BenchmarkStripOptions(b *testing.B) {
	msg := stripBenchMessage(b)
	buf := make([]byte, len(msg))
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		copy(buf, msg) // StripOptions works in place
		if _, n, err := dnswire.StripOptions(buf, dropPrivate); n != 2 || err != nil {
			b.Fatal(n, err)
		}
	}
}

// BenchmarkStripOptionsNone is StripOptions on the same message but
// removing nothing: the cost of checking it.
func BenchmarkStripOptionsNone(b *testing.B) {
	msg := stripBenchMessage(b)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, n, err := dnswire.StripOptions(msg, dropNone); n != 0 || err != nil {
			b.Fatal(n, err)
		}
	}
}

// BenchmarkMiekgStrip is the baseline for BenchmarkStripOptions: unpack
// with miekg/dns, filter the options, pack (which compresses afresh).
func BenchmarkMiekgStrip(b *testing.B) {
	msg := stripBenchMessage(b)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	buf := make([]byte, 0, 512)
	for b.Loop() {
		var m dns.Msg
		if err := m.Unpack(msg); err != nil {
			b.Fatal(err)
		}
		o := m.IsEdns0()
		o.Option = slices.DeleteFunc(o.Option, func(e dns.EDNS0) bool { return dropPrivate(e.Option()) })
		m.Compress = true
		out, err := m.PackBuffer(buf)
		if err != nil || len(out) >= len(msg) {
			b.Fatal(len(out), err)
		}
	}
}

func ednsOptions(o *dns.OPT) []dns.EDNS0 {
	if o == nil {
		return nil
	}
	return o.Option
}
