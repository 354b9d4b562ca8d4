package blocklist

import (
	"strings"

	"github.com/miekg/dns"
)

// noOrigin stands for the origin of a zone file that has neither $ORIGIN
// nor an SOA record: relative names are made absolute below it, and it is
// cut off again.
const noOrigin = "origin.invalid."

// rpzState gathers the lines of one record of a zone file (a record in
// parentheses spans lines) and the context that the records share.
type rpzState struct {
	buf       strings.Builder
	start     int  // line of the record's first line
	depth     int  // open parentheses
	pending   bool // buf holds a record
	origin    string
	apex      string // the zone apex, absolute, lowercase; "" if not known
	lastOwner string // for a record with a blank owner
	// apexFromOrigin is set while apex is the first $ORIGIN, which an
	// SOA record replaces.
	apexFromOrigin bool
}

// rpzLine adds one line of a zone file; each complete record is parsed by
// the miekg/dns zone parser on its own, so that a bad record is reported
// with its line and the next one is read.
func (p *parser) rpzLine(text string, line int) {
	z := p.rpz
	code, depth := stripZoneComment(text, z.depth)
	if !z.pending {
		if strings.TrimSpace(code) == "" {
			z.depth = depth
			return
		}
		z.start = line
		z.pending = true
		z.buf.Reset()
	} else {
		z.buf.WriteByte(' ')
	}
	z.buf.WriteString(code)
	z.depth = depth
	if depth <= 0 {
		p.rpzFlush()
	}
}

// stripZoneComment returns text without its comment (from a ';' outside
// quotes) and the parenthesis depth after the line.
func stripZoneComment(text string, depth int) (string, int) {
	quoted := false
	for i := 0; i < len(text); i++ {
		switch c := text[i]; {
		case c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == ';':
			return text[:i], depth
		case c == '(':
			depth++
		case c == ')':
			depth--
		}
	}
	return text, depth
}

// rpzFlush parses the record gathered in p.rpz, if any.
func (p *parser) rpzFlush() {
	z := p.rpz
	if !z.pending {
		return
	}
	z.pending = false
	z.depth = 0
	text := z.buf.String()
	line := z.start
	if p.rpzDirective(strings.Fields(text), line) {
		return
	}
	if text[0] == ' ' || text[0] == '\t' {
		if z.lastOwner == "" {
			p.fail(line, "a record without an owner name, and none before it")
			return
		}
		text = z.lastOwner + text
	}
	if rr := p.rpzRecord(text, line); rr != nil {
		p.rpzEntry(rr, line)
	}
}

// rpzDirective handles a $ directive, reporting whether fields was one.
func (p *parser) rpzDirective(fields []string, line int) bool {
	z := p.rpz
	switch strings.ToUpper(fields[0]) {
	case "$ORIGIN":
		if len(fields) < 2 {
			p.fail(line, "$ORIGIN without a name")
			return true
		}
		o := fields[1]
		if !dns.IsFqdn(o) {
			o += "." + z.origin
		}
		if _, ok := dns.IsDomainName(o); !ok {
			p.fail(line, "$ORIGIN %q: not a domain name", fields[1])
			return true
		}
		z.origin = dns.CanonicalName(o)
		if z.apex == "" {
			z.apex = z.origin // until an SOA says otherwise
			z.apexFromOrigin = true
		}
	case "$TTL":
	case "$INCLUDE", "$GENERATE":
		p.fail(line, "%s is not supported in a list; record skipped", fields[0])
	default:
		return false
	}
	return true
}

// rpzRecord parses one record, or reports why it cannot and returns nil.
func (p *parser) rpzRecord(text string, line int) dns.RR {
	origin := p.rpz.origin
	if origin == "" {
		origin = noOrigin
	}
	zp := dns.NewZoneParser(strings.NewReader(text), origin, "")
	zp.SetDefaultTTL(3600)
	zp.SetIncludeAllowed(false)
	rr, ok := zp.Next()
	if err := zp.Err(); err != nil {
		// The parser saw one record alone: its line numbers are ours
		// already, so cut its own.
		msg := err.Error()
		if i := strings.LastIndex(msg, " at line: "); i >= 0 {
			msg = msg[:i]
		}
		p.fail(line, "%s", strings.TrimPrefix(msg, "dns: "))
		return nil
	}
	if !ok {
		return nil
	}
	return rr
}

// rpzEntry takes the name a record's owner gives, relative to the zone
// apex, as an entry: QNAME triggers only.
func (p *parser) rpzEntry(rr dns.RR, line int) {
	z := p.rpz
	owner := dns.CanonicalName(rr.Header().Name)
	z.lastOwner = owner
	if rr.Header().Rrtype == dns.TypeSOA && (z.apex == "" || z.apexFromOrigin) {
		z.apex = owner
		z.apexFromOrigin = false
		return
	}
	apex := z.apex
	if apex == "" {
		apex = noOrigin
	}
	if owner == apex {
		return // SOA, NS and the like at the apex
	}
	rel, below := strings.CutSuffix(owner, "."+apex)
	if !below {
		if apex != noOrigin {
			p.fail(line, "%q is not below the zone apex %q", owner, apex)
			return
		}
		// An absolute name in a file without $ORIGIN or SOA: an
		// entry as it stands.
		rel = owner
	}
	if cn, ok := rr.(*dns.CNAME); ok && dns.CanonicalName(cn.Target) == "rpz-passthru." {
		p.fail(line, "%q: a PASSTHRU record allows a name; put it in an allow list. Skipped", rel)
		return
	}
	trimmed := strings.TrimSuffix(rel, ".")
	for _, t := range []string{"rpz-ip", "rpz-nsdname", "rpz-nsip", "rpz-client-ip"} {
		if trimmed == t || strings.HasSuffix(trimmed, "."+t) {
			p.fail(line, "%q: an RPZ %s trigger, not a name; skipped", rel, t)
			return
		}
	}
	p.add(rel, line)
}
