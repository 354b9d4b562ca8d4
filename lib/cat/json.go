package cat

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/miekg/dns"

	"github.com/tapir-edge/tapir/lib/dnstap"
	"github.com/tapir-edge/tapir/lib/dnswire"
)

// The JSON and YAML outputs are one tree of values, built per message and
// written by appendJSON or appendYAML, so that they cannot drift apart.
// A value is nil, bool, string, an integer type, json.Number, object or
// array.

// object is a JSON object whose members keep their order.
type object []member

type member struct {
	key string
	val any
}

type array []any

func (o object) add(key string, val any) object { return append(o, member{key, val}) }

// frameObject returns the tree of a dnstap frame: the dnstap fields under
// the names of dnstap.proto, times in RFC 3339 (UTC, nanoseconds), and
// each DNS message decoded.
func frameObject(f *dnstap.Frame) object {
	m := &f.Message
	o := make(object, 0, 16)
	if f.HasMessage || m.Type != 0 {
		o = o.add("type", m.Type.String())
	}
	if f.FrameType != dnstap.FrameMessage {
		o = o.add("frame_type", f.FrameType.String())
	}
	if f.Identity != nil {
		o = o.add("identity", string(f.Identity))
	}
	if f.Version != nil {
		o = o.add("version", string(f.Version))
	}
	if f.Extra != nil {
		o = o.add("extra", base64.StdEncoding.EncodeToString(f.Extra))
	}
	if m.Present&dnstap.FieldSocketFamily != 0 || m.SocketFamily != 0 {
		o = o.add("socket_family", m.SocketFamily.String())
	}
	if m.Present&dnstap.FieldSocketProtocol != 0 || m.SocketProtocol != 0 {
		o = o.add("socket_protocol", m.SocketProtocol.String())
	}
	if m.QueryAddress != nil {
		o = o.add("query_address", addrString(m.QueryAddress))
	}
	if m.HasQueryPort() {
		o = o.add("query_port", m.QueryPort)
	}
	if m.ResponseAddress != nil {
		o = o.add("response_address", addrString(m.ResponseAddress))
	}
	if m.HasResponsePort() {
		o = o.add("response_port", m.ResponsePort)
	}
	if m.HasQueryTime() {
		o = o.add("query_time", string(appendTime(nil, m.QueryTimeSec, m.QueryTimeNsec, TimeRFC3339)))
	}
	if m.HasResponseTime() {
		o = o.add("response_time", string(appendTime(nil, m.ResponseTimeSec, m.ResponseTimeNsec, TimeRFC3339)))
	}
	if m.QueryZone != nil {
		if name, _, err := dns.UnpackDomainName(m.QueryZone, 0); err == nil {
			o = o.add("query_zone", name)
		} else {
			o = o.add("query_zone_raw", base64.StdEncoding.EncodeToString(m.QueryZone))
		}
	}
	if m.QueryMessage != nil {
		o = o.add("query_message", dnsObject(m.QueryMessage))
	}
	if m.ResponseMessage != nil {
		o = o.add("response_message", dnsObject(m.ResponseMessage))
	}
	return o
}

// addrString writes an address as it is, an IPv4-mapped one included;
// an address of a bad length is written in hex after "?", as net.IP does.
func addrString(a []byte) string {
	ip, ok := netip.AddrFromSlice(a)
	if !ok {
		return "?" + hex.EncodeToString(a)
	}
	return ip.String()
}

// dnsObject decodes a DNS message. One that miekg/dns cannot unpack is
// kept whole in base64 ("raw") beside the "error".
func dnsObject(b []byte) object {
	var m dns.Msg
	if err := m.Unpack(b); err != nil {
		o := object{}
		if h, err := dnswire.ParseHeader(b); err == nil {
			o = o.add("id", h.ID)
		}
		return o.add("size", len(b)).
			add("error", err.Error()).
			add("raw", base64.StdEncoding.EncodeToString(b))
	}
	o := make(object, 0, 16)
	o = o.add("id", m.Id).
		add("size", len(b)).
		add("opcode", opcodeName(m.Opcode)).
		add("rcode", rcodeName(&m)).
		add("flags", object{
			{"qr", m.Response}, {"aa", m.Authoritative}, {"tc", m.Truncated},
			{"rd", m.RecursionDesired}, {"ra", m.RecursionAvailable}, {"z", m.Zero},
			{"ad", m.AuthenticatedData}, {"cd", m.CheckingDisabled},
		})
	if len(m.Question) > 0 {
		q := m.Question[0]
		o = o.add("qname", q.Name).
			add("qtype", dns.Type(q.Qtype).String()).
			add("qclass", dns.Class(q.Qclass).String())
	}
	if len(m.Question) > 1 {
		qs := make(array, len(m.Question))
		for i, q := range m.Question {
			qs[i] = object{{"name", q.Name}, {"type", dns.Type(q.Qtype).String()}, {"class", dns.Class(q.Qclass).String()}}
		}
		o = o.add("questions", qs)
	}
	for _, s := range []struct {
		name string
		rrs  []dns.RR
	}{{"answer", m.Answer}, {"authority", m.Ns}, {"additional", m.Extra}} {
		var rrs array
		for _, rr := range s.rrs {
			if rr.Header().Rrtype == dns.TypeOPT {
				continue
			}
			rrs = append(rrs, rrObject(rr))
		}
		if len(rrs) > 0 {
			o = o.add(s.name, rrs)
		}
	}
	if opt := m.IsEdns0(); opt != nil {
		o = o.add("edns", ednsObject(opt))
	}
	return o
}

func rrObject(rr dns.RR) object {
	h := rr.Header()
	return object{
		{"name", h.Name},
		{"type", dns.Type(h.Rrtype).String()},
		{"class", dns.Class(h.Class).String()},
		{"ttl", h.Ttl},
		// The record's text is its header, then the rdata.
		{"rdata", strings.TrimPrefix(rr.String(), h.String())},
	}
}

func ednsObject(opt *dns.OPT) object {
	o := object{
		{"version", opt.Version()},
		{"udp_size", opt.UDPSize()},
		{"do", opt.Do()},
	}
	if z := opt.Z(); z != 0 {
		o = o.add("z", z)
	}
	if len(opt.Option) == 0 {
		return o
	}
	opts := make(array, 0, len(opt.Option))
	for _, e := range opt.Option {
		eo := object{{"code", e.Option()}, {"name", optionName(e.Option())}}
		switch e := e.(type) {
		case *dns.EDNS0_SUBNET:
			eo = eo.add("family", e.Family).
				add("source_prefix", e.SourceNetmask).
				add("scope_prefix", e.SourceScope)
			if a, ok := netip.AddrFromSlice(e.Address); ok {
				if e.Family == 1 {
					a = a.Unmap()
				}
				eo = eo.add("address", a.String())
				if p, err := a.Prefix(int(e.SourceNetmask)); err == nil {
					eo = eo.add("subnet", p.String())
				}
			}
		case *dns.EDNS0_EDE:
			eo = eo.add("info_code", e.InfoCode)
			if s, ok := dns.ExtendedErrorCodeToString[e.InfoCode]; ok {
				eo = eo.add("info", s)
			}
			eo = eo.add("extra_text", e.ExtraText)
		default:
			eo = eo.add("data", e.String())
		}
		opts = append(opts, eo)
	}
	return o.add("options", opts)
}

// optionName names an EDNS option as dig does.
func optionName(code uint16) string {
	switch code {
	case dns.EDNS0LLQ:
		return "LLQ"
	case dns.EDNS0UL:
		return "UL"
	case dns.EDNS0NSID:
		return "NSID"
	case dns.EDNS0DAU:
		return "DAU"
	case dns.EDNS0DHU:
		return "DHU"
	case dns.EDNS0N3U:
		return "N3U"
	case dns.EDNS0SUBNET:
		return "ECS"
	case dns.EDNS0EXPIRE:
		return "EXPIRE"
	case dns.EDNS0COOKIE:
		return "COOKIE"
	case dns.EDNS0TCPKEEPALIVE:
		return "KEEPALIVE"
	case dns.EDNS0PADDING:
		return "PADDING"
	case 13:
		return "CHAIN"
	case 14:
		return "KEY-TAG"
	case dns.EDNS0EDE:
		return "EDE"
	case dns.EDNS0REPORTING:
		return "REPORT-CHANNEL"
	case dns.EDNS0ZONEVERSION:
		return "ZONEVERSION"
	}
	return "OPT" + strconv.Itoa(int(code))
}

func opcodeName(op int) string {
	if s, ok := dns.OpcodeToString[op]; ok {
		return s
	}
	return "OPCODE" + strconv.Itoa(op)
}

// rcodeName names the message's rcode, extended by EDNS.
func rcodeName(m *dns.Msg) string {
	rc := m.Rcode
	if rc == dns.RcodeBadVers && m.IsTsig() == nil {
		// 16 is BADSIG in a TSIG record but BADVERS in the OPT
		// header, and miekg/dns names it BADSIG.
		return "BADVERS"
	}
	if s, ok := dns.RcodeToString[rc]; ok {
		return s
	}
	return "RCODE" + strconv.Itoa(rc)
}

// errNotObject is the error for a record frame that is valid JSON but
// not an object.
var errNotObject = errors.New("record is not a JSON object")

// appendRecord appends a tapir record as one line of compact JSON,
// checking that it is a JSON object. Its members are kept as they came.
func appendRecord(dst, rec []byte) ([]byte, error) {
	var b bytes.Buffer
	b.Grow(len(rec))
	if err := json.Compact(&b, rec); err != nil {
		return dst, fmt.Errorf("record is not valid JSON: %w", err)
	}
	if b.Len() == 0 || b.Bytes()[0] != '{' {
		return dst, errNotObject
	}
	dst = append(dst, b.Bytes()...)
	return append(dst, '\n'), nil
}

// appendJSON writes v in compact JSON.
func appendJSON(dst []byte, v any) []byte {
	switch v := v.(type) {
	case object:
		dst = append(dst, '{')
		for i, m := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, m.key, false)
			dst = append(dst, ':')
			dst = appendJSON(dst, m.val)
		}
		return append(dst, '}')
	case array:
		dst = append(dst, '[')
		for i, e := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSON(dst, e)
		}
		return append(dst, ']')
	}
	return appendScalar(dst, v, false)
}

// appendScalar writes a value that is not an object or array, in JSON,
// which is also YAML; yaml makes strings safe for YAML too.
func appendScalar(dst []byte, v any, yaml bool) []byte {
	switch v := v.(type) {
	case nil:
		return append(dst, "null"...)
	case bool:
		return strconv.AppendBool(dst, v)
	case string:
		return appendString(dst, v, yaml)
	case json.Number:
		return append(dst, v...)
	case int:
		return strconv.AppendInt(dst, int64(v), 10)
	case uint8:
		return strconv.AppendUint(dst, uint64(v), 10)
	case uint16:
		return strconv.AppendUint(dst, uint64(v), 10)
	case uint32:
		return strconv.AppendUint(dst, uint64(v), 10)
	case uint64:
		return strconv.AppendUint(dst, v, 10)
	case int64:
		return strconv.AppendInt(dst, v, 10)
	}
	panic(fmt.Sprintf("cat: no encoding for %T", v))
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string. Bytes that are not UTF-8 become
// U+FFFD, as with encoding/json. With yaml, every character that YAML
// does not allow unescaped in a double-quoted scalar is escaped too, so
// that the string is the same in YAML 1.1 and 1.2 parsers.
func appendString(dst []byte, s string, yaml bool) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c == '\n':
				dst = append(dst, '\\', 'n')
			case c == '\r':
				dst = append(dst, '\\', 'r')
			case c == '\t':
				dst = append(dst, '\\', 't')
			case c < 0x20 || c == 0x7f:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029' || (yaml && !yamlPrintable(r)):
			dst = appendEscape(dst, r)
		default:
			dst = append(dst, s[i:i+n]...)
		}
		i += n
	}
	return append(dst, '"')
}

// yamlPrintable reports whether YAML allows the non-ASCII rune r in a
// scalar as it is: YAML 1.2 section 5.1, less U+0085, which YAML 1.1
// takes as a line break, and U+FEFF, a byte order mark.
func yamlPrintable(r rune) bool {
	return (r >= 0xa0 && r <= 0xd7ff) || (r >= 0xe000 && r <= 0xfffd && r != 0xfeff) || (r >= 0x10000 && r <= 0x10ffff)
}

// appendEscape writes r, which is in the Basic Multilingual Plane (every
// rune that needs escaping is), as \uXXXX.
func appendEscape(dst []byte, r rune) []byte {
	return append(dst, '\\', 'u', hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
}
