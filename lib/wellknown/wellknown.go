// Package wellknown reads the well-known domain list of DNS TAPIR and
// matches query names against it.
//
// The list is a text file with one name per line. A '#' starts a comment,
// on a line of its own or after a name; blank lines are ignored. Names are
// in presentation format (RFC 1035 section 5.1), are lowercased on reading,
// and get a trailing dot if they lack one. An entry "example.com." matches
// that name only; an entry ".example.net." matches every strict subdomain
// of example.net. (www.example.net., a.b.example.net.) but not example.net.
// itself: the convention of the DNS TAPIR edge (EDM).
//
// When several entries match a name, the longest wins: an exact entry
// beats any suffix entry, and .a.example.net. beats .example.net.
//
// A List is immutable once loaded, so any number of goroutines may match
// against it. To reload (on SIGHUP), call [Load] again and swap the new
// List in, for example with an atomic.Pointer.
package wellknown

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/tapir-edge/tapir/lib/blocklist"
	"github.com/tapir-edge/tapir/lib/dnsname"
)

// maxLineLen bounds the length of a line that is read and judged.
const maxLineLen = 4096

// Status bits of a histogram row, as EDM sets its edm_status_bits column.
const (
	StatusExact  = 1 // the row's entry matched a query name exactly
	StatusSuffix = 2 // the row's entry matched as a suffix (".example.net.")
)

// List is a set of well-known domains. The zero List is empty and usable.
type List struct {
	// exact and suffix map an entry's name, without the leading dot of a
	// suffix entry, to its index in names. Two maps rather than one with
	// flags, because the real list has no suffix entries: when suffix is
	// empty a lookup is a single map probe.
	exact  map[string]int32
	suffix map[string]int32
	// names holds each entry as written in the list ("example.com." or
	// ".example.net."), by index. All the strings are slices of one
	// backing string, which saves a heap object per name.
	names []string
	// maxSuffixLabels is the label count of the longest suffix entry: a
	// parent with more labels cannot match, so the walk skips it.
	maxSuffixLabels int
}

// Match is the result of [List.Match].
type Match struct {
	// Domain is the matching entry's name without the leading dot of a
	// suffix entry: "example.net." for both "example.net." and
	// ".example.net.". Empty when OK is false. It points into the List
	// and costs no allocation.
	Domain string
	// Index identifies the entry within its List: 0 <= Index < Len(). An
	// exact and a suffix entry for the same domain have different
	// indices, so a histogram keyed by Index keeps them apart, as EDM
	// keys its rows by the entry's index in its DAWG. Indices are not
	// stable across loads: a reloaded list may number entries anew.
	Index int
	// Exact is set when the query name equals an exact entry.
	Exact bool
	// Suffix is set when the query name is a strict subdomain of a suffix
	// entry (and no exact entry matched).
	Suffix bool
	// OK is set when some entry matched: Exact || Suffix.
	OK bool
}

// StatusBits returns the edm_status_bits value for a histogram row of
// this match: [StatusExact], [StatusSuffix], or 0 when nothing matched.
func (m Match) StatusBits() uint64 {
	switch {
	case m.Exact:
		return StatusExact
	case m.Suffix:
		return StatusSuffix
	}
	return 0
}

// Entry returns the entry's name as written in the list (with its leading
// dot for a suffix entry), for Match.Index i. It panics if i is out of
// range.
func (l *List) Entry(i int) string { return l.names[i] }

// Len returns the number of distinct entries. An exact entry and a suffix
// entry for the same domain count as two.
func (l *List) Len() int {
	if l == nil {
		return 0
	}
	return len(l.names)
}

// Match finds the longest entry that matches qname. qname is in
// presentation format, lowercase, with a trailing dot, as
// dnswire.Question returns it; "\." inside a label is not a label
// boundary. A name with uppercase letters or without the trailing dot is
// normalised first, which costs a copy on the stack but no allocation.
// Match allocates nothing.
func (l *List) Match(qname []byte) (m Match) {
	if l == nil || len(l.names) == 0 || len(qname) == 0 {
		return Match{}
	}
	if needsNormal(qname) {
		return l.matchNormal(qname)
	}
	return l.match(qname)
}

// matchNormal lowercases qname and adds its trailing dot in a buffer on
// the stack, then matches. It is a function of its own so that the
// common path does not pay for clearing the buffer.
//
//go:noinline
func (l *List) matchNormal(qname []byte) Match {
	var buf [1024]byte
	if len(qname) >= len(buf) {
		return Match{} // longer than any valid name
	}
	n := copy(buf[:], qname)
	for i := range n {
		if c := buf[i]; 'A' <= c && c <= 'Z' {
			buf[i] = c + 'a' - 'A'
		}
	}
	if buf[n-1] != '.' || escaped(buf[:n], n-1) {
		buf[n] = '.'
		n++
	}
	return l.match(buf[:n])
}

func (l *List) match(qname []byte) Match {
	// A map index with string(b) as key does not allocate.
	if i, ok := l.exact[string(qname)]; ok {
		return Match{Domain: l.names[i], Index: int(i), Exact: true, OK: true}
	}
	if len(l.suffix) == 0 {
		return Match{}
	}
	// Walk the parents from the longest, so the first hit is the longest
	// suffix entry. A parent with more labels than any suffix entry
	// cannot match: skip those without a map probe.
	labels := countLabels(qname)
	for off := nextLabel(qname, 0); off < len(qname); off = nextLabel(qname, off) {
		labels--
		if labels > l.maxSuffixLabels {
			continue
		}
		if i, ok := l.suffix[string(qname[off:])]; ok {
			return Match{Domain: l.names[i][1:], Index: int(i), Suffix: true, OK: true}
		}
	}
	return Match{}
}

// needsNormal reports whether name has an uppercase letter or lacks its
// trailing dot.
func needsNormal(name []byte) bool {
	if name[len(name)-1] != '.' || escaped(name, len(name)-1) {
		return true
	}
	for _, c := range name {
		if 'A' <= c && c <= 'Z' {
			return true
		}
	}
	return false
}

// escaped reports whether name[i] is escaped: preceded by an odd number
// of backslashes.
func escaped(name []byte, i int) bool {
	n := 0
	for j := i - 1; j >= 0 && name[j] == '\\'; j-- {
		n++
	}
	return n%2 == 1
}

// nextLabel returns the offset of the label after the one that starts at
// off, or len(name) if that was the last. Escapes are skipped whole, so
// "\." and "\\" do not end a label.
func nextLabel(name []byte, off int) int {
	for i := off; i < len(name); i++ {
		switch name[i] {
		case '\\':
			i++ // the escaped character, or the first digit of \DDD
		case '.':
			return i + 1
		}
	}
	return len(name)
}

// countLabels returns the number of labels of name, not counting the
// root: 2 for "example.com.", 0 for ".".
func countLabels(name []byte) int {
	if len(name) == 1 && name[0] == '.' {
		return 0
	}
	n := 0
	for off := 0; off < len(name); off = nextLabel(name, off) {
		n++
	}
	return n
}

// LineError is a line of a list that could not be read as an entry.
type LineError struct {
	File   string // the file name as given to Load
	Line   int    // 1-based
	Reason string
}

func (e *LineError) Error() string { return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Reason) }

// Load reads and merges the list files at paths. A line that is not a
// valid entry is skipped and reported in bad (each a *LineError, "file:
// line: reason"), so that the caller can log and count them and go on
// with the rest of the list: a bad line loses nothing else. err is set
// only if a file could not be read; then l is nil.
func Load(paths ...string) (l *List, bad []error, err error) {
	b := newBuilder()
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, nil, fmt.Errorf("well-known list: %w", err)
		}
		err = b.read(f, p)
		f.Close()
		if err != nil {
			return nil, nil, err
		}
	}
	return b.list(), b.bad, nil
}

// Parse reads one list from r, as Load reads a file; name is used in the
// reports of bad lines.
func Parse(name string, r io.Reader) (l *List, bad []error, err error) {
	b := newBuilder()
	if err := b.read(r, name); err != nil {
		return nil, nil, err
	}
	return b.list(), b.bad, nil
}

type builder struct {
	all   strings.Builder // the entries, end to end
	spans [][2]int        // each entry's offsets in all
	index map[string]int  // entry as written → position in spans, for duplicates
	bad   []error
	entry []byte // the entry being added, reused from line to line
}

func newBuilder() *builder { return &builder{index: map[string]int{}} }

func (b *builder) read(r io.Reader, file string) error {
	br := bufio.NewReaderSize(r, 64*1024)
	var buf []byte
	for line := 1; ; line++ {
		text, long, err := blocklist.ReadLine(br, buf[:0], maxLineLen)
		buf = text[:0]
		switch {
		case long:
			b.bad = append(b.bad, &LineError{file, line, fmt.Sprintf("line longer than %d bytes", maxLineLen)})
		case len(text) > 0 || err == nil:
			if line == 1 {
				text = bytes.TrimPrefix(text, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark
			}
			b.add(text, file, line)
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s:%d: %w", file, line, err)
		}
	}
}

func (b *builder) add(text []byte, file string, line int) {
	if i := bytes.IndexByte(text, '#'); i >= 0 {
		text = text[:i]
	}
	text = bytes.TrimSpace(text)
	if len(text) == 0 {
		return
	}
	entry, err := appendEntry(b.entry[:0], text)
	if err != nil {
		b.bad = append(b.bad, &LineError{file, line, fmt.Sprintf("%q: %v", text, err)})
		return
	}
	b.entry = entry
	// A map index with string(entry) as key does not allocate; a map
	// assignment does, once per distinct entry.
	if _, dup := b.index[string(entry)]; dup {
		return
	}
	start := b.all.Len()
	b.all.Write(entry)
	b.index[string(entry)] = len(b.spans)
	b.spans = append(b.spans, [2]int{start, b.all.Len()})
}

// appendEntry checks one entry and appends it to dst in the form
// dnswire.Question writes names in, so that it compares equal to query
// names byte for byte ([dnsname.AppendEscaped]). A leading dot marks a
// suffix entry and is kept.
func appendEntry(dst, text []byte) ([]byte, error) {
	if len(text) > 1 && text[0] == '.' {
		name, err := dnsname.AppendEscaped(append(dst, '.'), text[1:])
		if err != nil {
			return dst, err
		}
		if len(name) == len(dst)+2 { // ".": the root
			return dst, errors.New("a suffix entry for the root would match every name")
		}
		return name, nil
	}
	return dnsname.AppendEscaped(dst, text)
}

func (b *builder) list() *List {
	all := b.all.String()
	l := &List{
		exact:  make(map[string]int32, len(b.spans)),
		suffix: map[string]int32{},
		names:  make([]string, len(b.spans)),
	}
	for i, sp := range b.spans {
		name := all[sp[0]:sp[1]]
		l.names[i] = name
		if len(name) > 1 && name[0] == '.' {
			l.suffix[name[1:]] = int32(i)
			l.maxSuffixLabels = max(l.maxSuffixLabels, countLabels([]byte(name[1:])))
		} else {
			l.exact[name] = int32(i)
		}
	}
	return l
}

// Labels splits a domain name into the label0…label9 columns of a DNS
// TAPIR histogram row, as EDM fills them (pkg/runner/session.go,
// reverseLabelsBounded and setLabels, in dnstapir/edm): label0 is the
// rightmost label (the TLD), label1 the next one to its left, and so on.
// A name of more than 10 labels keeps its 9 rightmost in label0…label8,
// and label9 holds all the others, still in reversed order, joined with
// dots: for l12.l11.….l1.l0. label9 is "l9.l10.l11.l12". Unused columns
// are empty strings; the root gives none. Labels stay in presentation
// format ("a\.b" is one label) and a leading dot is ignored.
//
// EDM quirk: EDM splits a suffix entry ".example.net." with its leading
// dot and so writes an extra empty label ("" rather than null) after the
// last one. Labels does not; a caller that must reproduce EDM byte for
// byte adds it.
func Labels(name string) [10]string {
	var out [10]string
	name = strings.TrimPrefix(name, ".")
	b := []byte(name) // for nextLabel; a copy, but Labels is off the hot path
	var starts []int
	for off := 0; off < len(b); off = nextLabel(b, off) {
		starts = append(starts, off)
	}
	n := len(starts)
	label := func(i int) string { // the i-th label from the left
		end := len(name)
		if i+1 < n {
			end = starts[i+1]
		}
		return strings.TrimSuffix(name[starts[i]:end], ".")
	}
	for j := 0; j < n && j < 9; j++ {
		out[j] = label(n - 1 - j)
	}
	if n == 10 {
		out[9] = label(0)
	} else if n > 10 {
		rest := make([]string, 0, n-9)
		for i := n - 10; i >= 0; i-- {
			rest = append(rest, label(i))
		}
		out[9] = strings.Join(rest, ".")
	}
	return out
}
