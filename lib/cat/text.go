package cat

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/miekg/dns"

	"github.com/tapir-edge/tapir/lib/dnstap"
)

// TimeFormat is how the text output writes a message's time.
type TimeFormat int

// Time formats of the text output.
const (
	// TimeDnstap is "15:04:05.000000" in the local time zone, the time
	// of the query for a query type and of the response otherwise, as
	// dnstap -q writes it.
	TimeDnstap TimeFormat = iota
	// TimeRFC3339 is the full time in UTC with nanoseconds,
	// "2006-01-02T15:04:05.000000000Z".
	TimeRFC3339
	// TimeUnix is seconds since the epoch with nanoseconds,
	// "1714564800.123456789".
	TimeUnix
)

// ParseTimeFormat reads the name of a TimeFormat: dnstap, rfc3339 or unix.
func ParseTimeFormat(s string) (TimeFormat, error) {
	switch s {
	case "dnstap", "":
		return TimeDnstap, nil
	case "rfc3339":
		return TimeRFC3339, nil
	case "unix":
		return TimeUnix, nil
	}
	return 0, fmt.Errorf("unknown time format %q: want dnstap, rfc3339 or unix", s)
}

// rfc3339 is RFC 3339 with all nine digits of nanoseconds, so that the
// times of a stream sort as strings.
const rfc3339 = "2006-01-02T15:04:05.000000000Z07:00"

// quiet holds what appendQuiet reuses from one message to the next.
type quiet struct {
	loc *time.Location
	tf  TimeFormat
	msg dns.Msg
}

// appendQuiet appends the line that dnstap -q (golang-dnstap's
// TextFormat) writes for the frame, byte for byte, except that the time
// can be written in another format, and that the socket protocols that
// the dnstap tool 0.4.0 does not know (DNSCrypt, DoQ) are named where it
// writes nothing.
func (q *quiet) appendQuiet(dst []byte, f *dnstap.Frame) []byte {
	m := &f.Message
	var who byte
	switch m.Type {
	case dnstap.ClientQuery, dnstap.ClientResponse:
		who = 'C'
	case dnstap.ResolverQuery, dnstap.ResolverResponse:
		who = 'R'
	case dnstap.AuthQuery, dnstap.AuthResponse:
		who = 'A'
	case dnstap.ForwarderQuery, dnstap.ForwarderResponse:
		who = 'F'
	case dnstap.ToolQuery, dnstap.ToolResponse:
		who = 'T'
	case dnstap.UpdateQuery, dnstap.UpdateResponse:
		who = 'U'
	}
	if who == 0 || f.FrameType != dnstap.FrameMessage || !f.HasMessage {
		// golang-dnstap leaves out STUB_*: keep its line. It cannot read
		// a frame of another type at all.
		return append(dst, "[unhandled Message.Type]\n"...)
	}
	query := m.Type.IsQuery()

	dst = q.appendTime(dst, m, query)
	dst = append(dst, ' ', who)
	if query {
		dst = append(dst, "Q "...)
	} else {
		dst = append(dst, "R "...)
	}

	// The address of the other end, seen from the server: the client
	// for client and authoritative messages, the upstream server for
	// the others.
	a := m.ResponseAddress
	switch m.Type {
	case dnstap.ClientQuery, dnstap.ClientResponse, dnstap.AuthQuery, dnstap.AuthResponse:
		a = m.QueryAddress
	}
	dst = appendIP(dst, a)
	dst = append(dst, ' ')

	if p := m.SocketProtocol; p >= dnstap.ProtocolUDP && p <= dnstap.ProtocolDOQ {
		// golang-dnstap takes other values as absent (a proto2 enum).
		dst = append(dst, p.String()...)
	}
	dst = append(dst, ' ')

	msg := m.ResponseMessage
	if query {
		msg = m.QueryMessage
	}
	dst = strconv.AppendInt(dst, int64(len(msg)), 10)
	dst = append(dst, "b "...)

	// The line says X for a message that miekg/dns cannot unpack as a
	// whole, not only one with a bad question, so it must be unpacked.
	if err := q.msg.Unpack(msg); err != nil || len(q.msg.Question) == 0 {
		return append(dst, "X \n"...)
	}
	qq := q.msg.Question[0]
	dst = append(dst, '"')
	dst = append(dst, qq.Name...)
	dst = append(dst, "\" "...)
	dst = append(dst, dns.Class(qq.Qclass).String()...)
	dst = append(dst, ' ')
	dst = append(dst, dns.Type(qq.Qtype).String()...)
	return append(dst, '\n')
}

func (q *quiet) appendTime(dst []byte, m *dnstap.Message, query bool) []byte {
	if q.tf != TimeDnstap {
		sec, nsec, ok := m.Time()
		if !ok {
			return append(dst, '?')
		}
		return appendTime(dst, sec, nsec, q.tf)
	}
	sec, nsec := m.ResponseTimeSec, m.ResponseTimeNsec
	hasSec := m.Present&dnstap.FieldResponseTimeSec != 0 || sec != 0
	hasNsec := m.Present&dnstap.FieldResponseTimeNsec != 0 || nsec != 0
	if query {
		sec, nsec = m.QueryTimeSec, m.QueryTimeNsec
		hasSec = m.Present&dnstap.FieldQueryTimeSec != 0 || sec != 0
		hasNsec = m.Present&dnstap.FieldQueryTimeNsec != 0 || nsec != 0
	}
	if hasSec {
		loc := q.loc
		if loc == nil {
			loc = time.Local
		}
		dst = time.Unix(int64(sec), 0).In(loc).AppendFormat(dst, "15:04:05")
	} else {
		dst = append(dst, "??:??:??"...)
	}
	if !hasNsec {
		return append(dst, ".??????"...)
	}
	dst = append(dst, '.')
	return appendPadded(dst, uint64(nsec/1000), 6)
}

// appendTime writes a time in one of the full formats.
func appendTime(dst []byte, sec uint64, nsec uint32, tf TimeFormat) []byte {
	if tf == TimeUnix {
		dst = strconv.AppendUint(dst, sec, 10)
		dst = append(dst, '.')
		return appendPadded(dst, uint64(nsec), 9)
	}
	return time.Unix(int64(sec), int64(nsec)).UTC().AppendFormat(dst, rfc3339)
}

// appendPadded writes v in decimal with at least width digits.
func appendPadded(dst []byte, v uint64, width int) []byte {
	var b [20]byte
	s := strconv.AppendUint(b[:0], v, 10)
	for range width - len(s) {
		dst = append(dst, '0')
	}
	return append(dst, s...)
}

// appendIP writes an address as net.IP.String does, which is what
// golang-dnstap prints: an IPv4-mapped IPv6 address as IPv4, an address
// of a length that is not 4 or 16 as "?" and hex.
func appendIP(dst, a []byte) []byte {
	switch {
	case a == nil:
		return append(dst, "MISSING_ADDRESS"...)
	case len(a) == 0:
		return append(dst, "<nil>"...)
	}
	ip, ok := netip.AddrFromSlice(a)
	if !ok {
		dst = append(dst, '?')
		return hex.AppendEncode(dst, a)
	}
	return ip.Unmap().AppendTo(dst)
}
