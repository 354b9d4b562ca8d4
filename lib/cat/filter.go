package cat

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/tapir-edge/tapir/lib/dnstap"
	"github.com/tapir-edge/tapir/lib/dnswire"
)

// Filter selects the messages to print. Each non-empty criterion must
// hold; within one, any value may match. The zero Filter selects all.
type Filter struct {
	// Names are name suffixes, matched on label boundaries against the
	// question name, as ParseName returns them.
	Names []string
	// Clients are prefixes that the client address (query_address)
	// must be in.
	Clients []netip.Prefix
	// Types are dnstap message types; RecordTypes are the "type" values
	// of tapir records. A dnstap message matches only Types and a record
	// only RecordTypes, so that one --type flag serves both streams.
	Types       []dnstap.MessageType
	RecordTypes []string
	// Rcodes are response codes (0 to 15, the header's four bits); only
	// DNS responses match.
	Rcodes []uint8
	// Since and Until, when not zero, bound the message time: at or
	// after Since, before Until.
	Since, Until time.Time
}

// IsZero reports whether f selects every message.
func (f *Filter) IsZero() bool {
	return len(f.Names) == 0 && len(f.Clients) == 0 && len(f.Types) == 0 &&
		len(f.RecordTypes) == 0 && len(f.Rcodes) == 0 && f.Since.IsZero() && f.Until.IsZero()
}

// needsDNS reports whether matching a dnstap frame looks into its DNS
// message.
func (f *Filter) needsDNS() bool { return len(f.Names) > 0 || len(f.Rcodes) > 0 }

// ParseName returns name as Filter.Names holds it: in presentation
// format, lowercased, with the final dot, and escaped as the question
// names of matched messages are, so that "Example.COM" and "example.com."
// are the same filter.
func ParseName(name string) (string, error) {
	if name == "" || name == "." {
		return ".", nil
	}
	// Round trip through wire format: miekg/dns checks the name and reads
	// its escapes, and dnswire writes it as it writes question names.
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
	b, err := m.Pack()
	if err != nil {
		return "", fmt.Errorf("%q is not a domain name: %w", name, err)
	}
	q, _, _, err := dnswire.Question(b, nil)
	if err != nil {
		return "", fmt.Errorf("%q is not a domain name: %w", name, err)
	}
	return string(q), nil
}

// ParseClient reads an address ("192.0.2.1", "2001:db8::1") or a prefix
// ("192.0.2.0/24", "2001:db8::/32").
func ParseClient(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not an address or prefix", s)
		}
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			// Clients are compared unmapped: see matcher.client.
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q is not an address or prefix", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// ParseRcode reads a response code by name (NOERROR, NXDOMAIN, any case)
// or number. Only the codes of the header's four bits can be matched
// without reading the whole message, so larger ones are refused.
func ParseRcode(s string) (uint8, error) {
	if n, err := strconv.ParseUint(s, 10, 8); err == nil {
		if n > 15 {
			return 0, fmt.Errorf("rcode %d: only 0 to 15 (the header's rcode) can be matched", n)
		}
		return uint8(n), nil
	}
	u := strings.ToUpper(s)
	if u == "NOTIMPL" {
		u = "NOTIMP"
	}
	n, ok := dns.StringToRcode[u]
	if !ok {
		return 0, fmt.Errorf("unknown rcode %q", s)
	}
	if n > 15 {
		return 0, fmt.Errorf("rcode %s: only 0 to 15 (the header's rcode) can be matched", u)
	}
	return uint8(n), nil
}

// ParseTime reads a time for --since and --until: RFC 3339
// ("2024-05-01T12:00:00Z", fractional seconds allowed), the same without
// a zone, or a date ("2024-05-01"); both of the last are UTC.
func ParseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time: want RFC 3339 (2006-01-02T15:04:05Z) or a date (2006-01-02)", s)
}

// ParseType reads a --type value: a dnstap message type (CLIENT_QUERY or
// CQ, any case), or the type of a tapir record (new_qname, histogram…),
// which is written in lower case.
func (f *Filter) ParseType(s string) error {
	if t, err := dnstap.ParseMessageType(s); err == nil {
		f.Types = append(f.Types, t)
		return nil
	}
	if s == "" || strings.ToLower(s) != s || strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789_") != "" {
		return fmt.Errorf("unknown type %q: want a dnstap message type (CLIENT_QUERY, CQ…) or a record type (new_qname, histogram…)", s)
	}
	f.RecordTypes = append(f.RecordTypes, s)
	return nil
}

// matcher is a Filter prepared for matching many messages.
type matcher struct {
	f         *Filter
	types     uint64 // bit t set for each dnstap message type t < 64
	rcodes    uint16 // bit r set for each rcode
	name      []byte // scratch for the question name
	dnsNeeded bool
}

func newMatcher(f *Filter) *matcher {
	m := &matcher{f: f, name: make([]byte, 0, dnswire.MaxNameLen), dnsNeeded: f.needsDNS()}
	for _, t := range f.Types {
		if t >= 0 && t < 64 {
			m.types |= 1 << t
		}
	}
	for _, r := range f.Rcodes {
		m.rcodes |= 1 << (r & 0xf)
	}
	return m
}

// frame reports whether the decoded dnstap frame fr matches. It does not
// allocate.
func (m *matcher) frame(fr *dnstap.Frame) bool {
	f := m.f
	if len(f.Types) > 0 && (fr.Type < 0 || fr.Type >= 64 || m.types&(1<<fr.Type) == 0) {
		return false
	}
	if len(f.RecordTypes) > 0 && len(f.Types) == 0 {
		return false
	}
	if len(f.Clients) > 0 && !m.client(fr.ClientAddr()) {
		return false
	}
	if !f.Since.IsZero() || !f.Until.IsZero() {
		sec, nsec, ok := fr.Time()
		if !ok || !m.inTime(time.Unix(int64(sec), int64(nsec))) {
			return false
		}
	}
	if !m.dnsNeeded {
		return true
	}
	msg := fr.DNS()
	if len(f.Rcodes) > 0 {
		h, err := dnswire.ParseHeader(msg)
		if err != nil || !h.QR() || m.rcodes&(1<<h.Rcode()) == 0 {
			return false
		}
	}
	if len(f.Names) > 0 {
		var err error
		m.name, _, _, err = dnswire.Question(msg, m.name)
		if err != nil || !m.nameMatch(m.name) {
			return false
		}
	}
	return true
}

func (m *matcher) client(a []byte) bool {
	ip, ok := netip.AddrFromSlice(a)
	if !ok {
		return false
	}
	// A dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d; they
	// must match an IPv4 prefix, or a raw address could hide from a
	// check. ParseClient unmaps prefixes likewise.
	ip = ip.Unmap()
	for _, p := range m.f.Clients {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

func (m *matcher) inTime(t time.Time) bool {
	f := m.f
	return (f.Since.IsZero() || !t.Before(f.Since)) && (f.Until.IsZero() || t.Before(f.Until))
}

func (m *matcher) nameMatch(qname []byte) bool {
	for _, s := range m.f.Names {
		if nameHasSuffix(qname, s) {
			return true
		}
	}
	return false
}

// nameHasSuffix reports whether the name qname is suffix or lies under it.
// Both are in presentation format, as ParseName writes them, so the label
// boundary before the suffix is a dot that is not escaped.
func nameHasSuffix(qname []byte, suffix string) bool {
	if suffix == "." {
		return true
	}
	i := len(qname) - len(suffix)
	if i < 0 || string(qname[i:]) != suffix {
		return false
	}
	if i == 0 {
		return true
	}
	if qname[i-1] != '.' {
		return false
	}
	// The dot ends a label unless an odd number of backslashes escape it.
	n := 0
	for j := i - 2; j >= 0 && qname[j] == '\\'; j-- {
		n++
	}
	return n%2 == 0
}

// recordFields are the members of a tapir record that filters look at.
type recordFields struct {
	Type      string          `json:"type"`
	Qname     string          `json:"qname"`
	Timestamp string          `json:"timestamp"`
	Start     string          `json:"start"`
	Flags     json.RawMessage `json:"flags"`
}

// record reports whether the tapir record rec matches: its "type" against
// RecordTypes, "qname" against Names, "timestamp" (or a histogram's
// "start") against Since and Until, and the rcode in "flags", the header
// word of a response, against Rcodes. No record has a client address, so
// none matches Clients. A record without the member a filter needs does
// not match it.
func (m *matcher) record(rec []byte) bool {
	f := m.f
	var r recordFields
	// A member of an unexpected type leaves its field empty, which then
	// does not match; the record is still valid JSON.
	_ = json.Unmarshal(rec, &r)
	if len(f.Clients) > 0 {
		return false
	}
	if len(f.RecordTypes) > 0 || len(f.Types) > 0 {
		ok := false
		for _, t := range f.RecordTypes {
			ok = ok || t == r.Type
		}
		if !ok {
			return false
		}
	}
	if !f.Since.IsZero() || !f.Until.IsZero() {
		ts := r.Timestamp
		if ts == "" {
			ts = r.Start
		}
		t, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil || !m.inTime(t) {
			return false
		}
	}
	if len(f.Rcodes) > 0 {
		flags, err := strconv.ParseUint(string(r.Flags), 10, 16)
		if err != nil || flags&dnswire.FlagQR == 0 || m.rcodes&(1<<(flags&0xf)) == 0 {
			return false
		}
	}
	if len(f.Names) > 0 {
		q := strings.ToLower(r.Qname)
		if q == "" {
			return false
		}
		if !strings.HasSuffix(q, ".") {
			q += "."
		}
		if !m.nameMatch([]byte(q)) {
			return false
		}
	}
	return true
}
