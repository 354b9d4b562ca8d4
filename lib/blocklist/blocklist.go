// Package blocklist reads the operator's own lists of domain names: the
// allow, deny and doubt lists of tapir-rpz.
//
// Five formats are read, each line by line:
//
//   - [Plain]: one name a line.
//   - [Hosts]: a hosts file, "0.0.0.0 name [name…]"; the address is any IPv4
//     or IPv6 address (0.0.0.0, 127.0.0.1, ::, ::1…) and is ignored;
//     localhost names ("localhost", "localhost.localdomain", "local",
//     "broadcasthost", "ip6-localhost", "ip6-loopback"…) are skipped.
//   - [CSV]: comma-separated values, the name in the column the caller
//     chooses ([CSVColumn], counted from 0); a first line whose name column
//     is not a name of two labels or more ("domain", "Host name") is a
//     header and skipped.
//   - [RPZ]: a Response Policy Zone file (RFC 1035 master file syntax):
//     every owner name below the zone apex is an entry, relative to the apex
//     ("bad.example.com.rpz.tapir." in zone rpz.tapir. is bad.example.com.),
//     whatever its action (CNAME ., CNAME *., rpz-drop. …), except PASSTHRU
//     records (CNAME rpz-passthru.), which are reported and skipped, as they
//     allow rather than name a domain, and the RPZ IP, NSDNAME, NSIP and
//     client-IP triggers, which are reported and skipped. The apex is the
//     owner of the SOA record, or else $ORIGIN; a file with neither has
//     absolute names that are entries as they stand.
//   - [Adblock]: adblock-style rules "||name^", with any "$options" ignored.
//     Such a rule blocks the name and every name below it, so it gives two
//     entries: the name, and a suffix entry for it. Other rules (cosmetic
//     "##", exceptions "@@", URL patterns) are reported and skipped.
//
// In every format a blank line is skipped, and a comment is skipped: a line
// whose first non-blank character is '#' (or ';' in Plain, Hosts, CSV and
// RPZ, or '!' in Adblock), and in Plain and Hosts the rest of a line from
// " #". Names are canonicalised by [dnsname.Canonical]: lowercase, IDNs as
// A-labels, a trailing dot; "*.example.com" and ".example.com" are suffix
// entries, which match every strict subdomain of example.com (not
// example.com itself).
//
// A line that cannot be read is reported as a [*LineError] (file:line:
// reason) and skipped: a bad line loses nothing else.
package blocklist

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"

	"github.com/tapir-edge/tapir/lib/dnsname"
)

// maxLineLen bounds the length of a line that is read and judged.
const maxLineLen = 64 * 1024

// Entry is one name of a list.
type Entry struct {
	// Name is canonical: lowercase, A-labels, a trailing dot.
	Name string
	// Suffix marks a suffix entry ("*.example.com" or ".example.com"),
	// which matches every strict subdomain of Name but not Name itself.
	Suffix bool
	// Line is the 1-based line of the list the entry was read from.
	Line int
}

// String returns the entry as a list would write it: "*.example.com." for
// a suffix entry.
func (e Entry) String() string {
	if e.Suffix {
		return "*." + e.Name
	}
	return e.Name
}

// LineError is a line of a list that could not be read as an entry.
type LineError struct {
	File   string // the name given to Parse
	Line   int    // 1-based
	Reason string
}

func (e *LineError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Reason) }

// Format is the syntax of a list. The CSV format carries the index of the
// name's column: see [CSVColumn].
type Format uint32

// The formats. [Auto] asks [Parse] to guess with [Sniff].
const (
	Auto Format = iota
	Plain
	Hosts
	CSV // the name in column 0; CSVColumn(n) for column n
	RPZ
	Adblock
)

const kindMask = 0xff

// CSVColumn returns the CSV format with the name in column col, counted
// from 0. It panics if col is negative or more than 1<<20.
func CSVColumn(col int) Format {
	if col < 0 || col > 1<<20 {
		panic("blocklist: CSV column out of range")
	}
	return CSV | Format(col)<<8
}

// Kind returns f without its CSV column: one of the format constants.
func (f Format) Kind() Format { return f & kindMask }

// Column returns the CSV column of f (0 for other formats).
func (f Format) Column() int { return int(f >> 8) }

// String returns the name [ParseFormat] reads: "plain", "csv:2"…
func (f Format) String() string {
	switch f.Kind() {
	case Auto:
		return "auto"
	case Plain:
		return "plain"
	case Hosts:
		return "hosts"
	case CSV:
		if f.Column() == 0 {
			return "csv"
		}
		return "csv:" + strconv.Itoa(f.Column())
	case RPZ:
		return "rpz"
	case Adblock:
		return "adblock"
	}
	return fmt.Sprintf("Format(%d)", uint32(f))
}

// ParseFormat reads a format name as a flag gives it: auto, plain, hosts,
// csv, csv:N (name in column N, from 0), rpz, adblock.
func ParseFormat(s string) (Format, error) {
	switch s {
	case "auto", "":
		return Auto, nil
	case "plain":
		return Plain, nil
	case "hosts":
		return Hosts, nil
	case "csv":
		return CSV, nil
	case "rpz":
		return RPZ, nil
	case "adblock":
		return Adblock, nil
	}
	if c, ok := strings.CutPrefix(s, "csv:"); ok {
		n, err := strconv.Atoi(c)
		if err == nil && n >= 0 && n <= 1<<20 {
			return CSVColumn(n), nil
		}
	}
	return 0, fmt.Errorf("unknown list format %q: want auto, plain, hosts, csv, csv:N, rpz or adblock", s)
}

// sniffLen is how much of a list Parse gives Sniff.
const sniffLen = 16 * 1024

// Parse reads a list in format f from r; name (a file name) is used in the
// reports of bad lines. With f == Auto the format is guessed by [Sniff]
// from the first 16 KiB. Entries come in the order of the list, without
// duplicates (the first line wins). A line that is not valid is reported
// in bad, each a *LineError, and skipped. err is set only if r could not
// be read; then entries is nil.
func Parse(name string, r io.Reader, f Format) (entries []Entry, bad []error, err error) {
	br := bufio.NewReaderSize(r, 64*1024)
	if f.Kind() == Auto {
		head, _ := br.Peek(sniffLen)
		f = Sniff(head)
	}
	p := &parser{file: name, format: f, seen: map[Entry]bool{}}
	if f.Kind() == RPZ {
		p.rpz = &rpzState{}
	}
	var buf []byte
	for line := 1; ; line++ {
		text, long, rerr := ReadLine(br, buf[:0], maxLineLen)
		buf = text[:0]
		switch {
		case long:
			p.bad = append(p.bad, &LineError{name, line, fmt.Sprintf("line longer than %d bytes", maxLineLen)})
		case len(text) > 0 || rerr == nil:
			if line == 1 {
				text = bytes.TrimPrefix(text, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark
			}
			p.line(string(bytes.TrimSuffix(text, []byte("\r"))), line)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return nil, nil, fmt.Errorf("%s:%d: %w", name, line, rerr)
		}
	}
	if p.rpz != nil {
		p.rpzFlush()
	}
	return p.entries, p.bad, nil
}

// ReadLine appends the next line of a list file, without its "\n", to buf
// and returns it. A line longer than max is skipped to its end and
// reported long, so that one bad line costs neither memory nor the rest.
func ReadLine(br *bufio.Reader, buf []byte, max int) (line []byte, long bool, err error) {
	for {
		chunk, err := br.ReadSlice('\n')
		if !long {
			if len(buf)+len(chunk) > max+1 {
				long = true
			} else {
				buf = append(buf, chunk...)
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		return bytes.TrimSuffix(buf, []byte("\n")), long, err
	}
}

type parser struct {
	file    string
	format  Format
	entries []Entry
	bad     []error
	seen    map[Entry]bool
	header  bool // a CSV line with data was seen
	rpz     *rpzState
}

func (p *parser) fail(line int, format string, args ...any) {
	p.bad = append(p.bad, &LineError{p.file, line, fmt.Sprintf(format, args...)})
}

// add canonicalises text and appends the entry, or reports the line.
func (p *parser) add(text string, line int) {
	name, suffix, err := dnsname.Canonical(text)
	if err != nil {
		p.fail(line, "%q: %v", text, err)
		return
	}
	p.addEntry(Entry{Name: name, Suffix: suffix, Line: line})
}

func (p *parser) addEntry(e Entry) {
	k := Entry{Name: e.Name, Suffix: e.Suffix}
	if p.seen[k] {
		return
	}
	p.seen[k] = true
	p.entries = append(p.entries, e)
}

// cutComment removes a comment that starts at a '#' at the start of the
// line or after a blank, and trims blanks.
func cutComment(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '#' && (i == 0 || s[i-1] == ' ' || s[i-1] == '\t') {
			s = s[:i]
			break
		}
	}
	return strings.TrimSpace(s)
}

func (p *parser) line(text string, line int) {
	switch p.format.Kind() {
	case Plain:
		text = cutComment(text)
		if text == "" || text[0] == ';' {
			return
		}
		if strings.ContainsAny(text, " \t") {
			p.fail(line, "%q: more than one field on a line", text)
			return
		}
		p.add(text, line)
	case Hosts:
		p.hostsLine(text, line)
	case CSV:
		p.csvLine(text, line)
	case RPZ:
		p.rpzLine(text, line)
	case Adblock:
		p.adblockLine(text, line)
	default:
		p.fail(line, "unknown list format %v", p.format)
	}
}

// localNames are the names a hosts file maps to a loopback address for
// the host itself; they are not blocklist entries.
var localNames = map[string]bool{
	"localhost.": true, "localhost.localdomain.": true, "local.": true,
	"broadcasthost.": true, "ip6-localhost.": true, "ip6-loopback.": true,
	"ip6-localnet.": true, "ip6-mcastprefix.": true, "ip6-allnodes.": true,
	"ip6-allrouters.": true, "ip6-allhosts.": true, "0.0.0.0.": true,
}

func (p *parser) hostsLine(text string, line int) {
	text = cutComment(text)
	if text == "" || text[0] == ';' {
		return
	}
	fields := strings.Fields(text)
	if _, err := netip.ParseAddr(fields[0]); err != nil {
		p.fail(line, "%q: not an address: a hosts line is \"ADDRESS NAME [NAME…]\"", fields[0])
		return
	}
	if len(fields) == 1 {
		p.fail(line, "%q: an address without names", text)
		return
	}
	for _, f := range fields[1:] {
		name, suffix, err := dnsname.Canonical(f)
		if err != nil {
			p.fail(line, "%q: %v", f, err)
			continue
		}
		if !suffix && localNames[name] {
			continue
		}
		p.addEntry(Entry{Name: name, Suffix: suffix, Line: line})
	}
}

func (p *parser) csvLine(text string, line int) {
	t := strings.TrimSpace(text)
	if t == "" || t[0] == '#' || t[0] == ';' {
		return
	}
	cr := csv.NewReader(strings.NewReader(text))
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	cr.TrimLeadingSpace = true
	rec, err := cr.Read()
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		p.fail(line, "CSV: %v", err)
		return
	}
	first := !p.header
	p.header = true
	col := p.format.Column()
	if col >= len(rec) {
		p.fail(line, "no column %d (counted from 0): the line has %d", col, len(rec))
		return
	}
	f := strings.TrimSpace(rec[col])
	name, suffix, err := dnsname.Canonical(f)
	if first && (err != nil || !strings.Contains(strings.TrimSuffix(name, "."), ".")) {
		return // a header line: not a name, or a single label such as "domain"
	}
	if err != nil {
		p.fail(line, "%q: %v", f, err)
		return
	}
	p.addEntry(Entry{Name: name, Suffix: suffix, Line: line})
}

func (p *parser) adblockLine(text string, line int) {
	text = strings.TrimSpace(text)
	if text == "" || text[0] == '!' || text[0] == '#' && !strings.HasPrefix(text, "##") {
		return
	}
	if text[0] == '[' && text[len(text)-1] == ']' {
		return // "[Adblock Plus 2.0]"
	}
	rule, ok := strings.CutPrefix(text, "||")
	if !ok {
		switch {
		case strings.HasPrefix(text, "@@"):
			p.fail(line, "%q: an exception rule: put the name in an allow list", text)
		default:
			p.fail(line, "%q: not a domain rule \"||name^\"", text)
		}
		return
	}
	if i := strings.IndexByte(rule, '$'); i >= 0 {
		rule = rule[:i]
	}
	name, ok := strings.CutSuffix(rule, "^")
	if !ok || strings.ContainsAny(name, "/^|") {
		p.fail(line, "%q: not a domain rule \"||name^\"", text)
		return
	}
	n, suffix, err := dnsname.Canonical(name)
	if err != nil {
		p.fail(line, "%q: %v", name, err)
		return
	}
	if !suffix {
		p.addEntry(Entry{Name: n, Line: line})
	}
	p.addEntry(Entry{Name: n, Suffix: true, Line: line})
}
