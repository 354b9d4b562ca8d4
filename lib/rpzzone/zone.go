// Package rpzzone holds a Response Policy Zone (RPZ): the rules, the SOA
// serial and a journal of recent changes, persisted in a state directory,
// and serves it as an authoritative primary (AXFR, IXFR, NOTIFY, TSIG, an
// ACL of who may transfer).
//
// A [Zone] is changed only by [Zone.Apply]: one call is one new serial. The
// serial follows RFC 1982 arithmetic (it wraps around) and is written to the
// state directory before the new content is visible to [Zone.WriteTo] or to
// a [Server], so that it never goes backwards, even after a crash.
//
// The state directory holds:
//
//	serial          the last serial handed out (decimal, written atomically)
//	snapshot        the rules at some serial (written atomically, from time to time)
//	journal/*.j     one file per change since, and the last JournalSize serials
//
// [Open] restores the rules from the snapshot and the journal, so that a
// restarted server still answers IXFR from serials it served before.
package rpzzone

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/tapir-edge/tapir/lib/keyfile"
)

// Action is what a resolver does with a name a rule matches.
type Action int

// The RPZ actions (RFC draft-vixie-dnsop-dns-rpz, "Policy Actions").
const (
	NXDOMAIN Action = iota // CNAME .
	NODATA                 // CNAME *.
	DROP                   // CNAME rpz-drop.
	PASSTHRU               // CNAME rpz-passthru.
	TCPONLY                // CNAME rpz-tcp-only.
	REDIRECT               // CNAME Rule.Target (a walled-garden FQDN)
)

var actionNames = [...]string{"NXDOMAIN", "NODATA", "DROP", "PASSTHRU", "TCPONLY", "REDIRECT"}

// String returns the name of the action, such as "NXDOMAIN".
func (a Action) String() string {
	if a < 0 || int(a) >= len(actionNames) {
		return "Action(" + strconv.Itoa(int(a)) + ")"
	}
	return actionNames[a]
}

// ParseAction parses the name of an action, case-insensitively; "TCP-ONLY"
// is accepted for TCPONLY.
func ParseAction(s string) (Action, error) {
	u := strings.ToUpper(s)
	if u == "TCP-ONLY" {
		return TCPONLY, nil
	}
	for i, n := range actionNames {
		if n == u {
			return Action(i), nil
		}
	}
	return 0, fmt.Errorf("rpzzone: unknown action %q", s)
}

// Rule is one policy entry of the zone.
type Rule struct {
	// Name is the name the rule matches, canonical (lower case, with
	// the trailing dot), such as "bad.example.com.".
	Name string
	// Suffix makes the rule match strict subdomains of Name only: it is
	// written as the wildcard "*.Name". A name and its subdomains take
	// two rules, one with Suffix and one without.
	Suffix bool
	// Action is what the resolver does.
	Action Action
	// Target is the canonical FQDN a REDIRECT rule points to; it is
	// empty for the other actions.
	Target string
}

// target returns the CNAME target of the rule.
func (r *Rule) target() string {
	switch r.Action {
	case NXDOMAIN:
		return "."
	case NODATA:
		return "*."
	case DROP:
		return "rpz-drop."
	case PASSTHRU:
		return "rpz-passthru."
	case TCPONLY:
		return "rpz-tcp-only."
	default:
		return r.Target
	}
}

// check reports what is wrong with r, which must be the rule for name and
// suffix.
func (r *Rule) check(name string, suffix bool) error {
	if r.Name != name || r.Suffix != suffix {
		return fmt.Errorf("rpzzone: rule for %q (suffix %v) in a change of %q (suffix %v)", r.Name, r.Suffix, name, suffix)
	}
	switch {
	case r.Action < NXDOMAIN || r.Action > REDIRECT:
		return fmt.Errorf("rpzzone: %s: bad action %d", r.Name, r.Action)
	case r.Action == REDIRECT:
		if _, ok := dns.IsDomainName(r.Target); !ok || r.Target != dns.CanonicalName(r.Target) || r.Target == "." {
			return fmt.Errorf("rpzzone: %s: redirect target %q is not a canonical FQDN", r.Name, r.Target)
		}
	case r.Target != "":
		return fmt.Errorf("rpzzone: %s: target %q given for action %v", r.Name, r.Target, r.Action)
	}
	return nil
}

// Change is one entry of [Zone.Apply]: the rule for (Name, Suffix) goes
// from Old to New. A nil Old or New means there is no such rule. Old must
// be what the zone holds; a mismatch is an error ([ErrConflict]).
type Change struct {
	Name     string
	Suffix   bool
	Old, New *Rule
}

// ErrConflict reports a change whose Old rule is not the one in the zone.
var ErrConflict = errors.New("rpzzone: change does not match the zone")

// Options configure a [Zone]. The zero value takes the defaults.
type Options struct {
	Origin  string   // the zone's name; default "rpz.tapir."
	MName   string   // SOA MNAME; default "localhost."
	RName   string   // SOA RNAME; default "hostmaster.localhost."
	NS      []string // NS targets at the apex; default ["localhost."]
	Refresh uint32   // SOA refresh; default 3600
	Retry   uint32   // SOA retry; default 600
	Expire  uint32   // SOA expire; default 864000 (10 days)
	Minimum uint32   // SOA minimum (negative TTL); default 60
	TTL     uint32   // TTL of every record; default 60

	// JournalSize is how many serials of changes are kept for IXFR;
	// default 100. Clients older than that get a full transfer.
	JournalSize int

	// Now gives the time of the first serial of a new state directory
	// (its Unix time); default time.Now.
	Now func() time.Time
}

func (o *Options) defaults() error {
	def := func(v *uint32, d uint32) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.Refresh, 3600)
	def(&o.Retry, 600)
	def(&o.Expire, 864000)
	def(&o.Minimum, 60)
	def(&o.TTL, 60)
	if o.Origin == "" {
		o.Origin = "rpz.tapir."
	}
	if o.MName == "" {
		o.MName = "localhost."
	}
	if o.RName == "" {
		o.RName = "hostmaster.localhost."
	}
	if len(o.NS) == 0 {
		o.NS = []string{"localhost."}
	}
	if o.JournalSize <= 0 {
		o.JournalSize = 100
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	for _, n := range append([]string{o.Origin, o.MName, o.RName}, o.NS...) {
		if _, ok := dns.IsDomainName(n); !ok || !dns.IsFqdn(n) {
			return fmt.Errorf("rpzzone: %q is not a fully qualified domain name", n)
		}
	}
	o.Origin = dns.CanonicalName(o.Origin)
	return nil
}

type key struct {
	name   string
	suffix bool
}

// journalEntry is the change from serial From to serial To.
type journalEntry struct {
	From, To uint32
	Changes  []Change
}

// Zone is an RPZ zone. Its methods are safe for concurrent use.
type Zone struct {
	o   Options
	dir string // "" for a zone without state

	mu            sync.RWMutex
	serial        uint32
	rules         map[key]Rule
	journal       []journalEntry // oldest first, consecutive
	snapSerial    uint32         // serial of the snapshot on disk
	sinceSnapshot int            // journal entries after the snapshot
	subs          []chan struct{}
}

// Open opens the zone whose state is in dir, creating dir if need be. An
// empty dir makes a zone that is not persisted (its first serial is the
// current Unix time).
func Open(dir string, o Options) (*Zone, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	z := &Zone{o: o, dir: dir, rules: make(map[key]Rule)}
	first := uint32(o.Now().Unix())
	if dir == "" {
		z.serial = first
		return z, nil
	}
	if err := os.MkdirAll(filepath.Join(dir, "journal"), 0o755); err != nil {
		return nil, err
	}
	persisted, havePersisted, err := readSerial(z.serialFile())
	if err != nil {
		return nil, err
	}
	snap, haveSnap, err := z.readSnapshot()
	if err != nil {
		return nil, err
	}
	if !havePersisted {
		// A new state directory.
		z.serial = first
		if err := z.writeSerial(first); err != nil {
			return nil, err
		}
		return z, z.writeSnapshot()
	}
	if haveSnap {
		z.serial = snap
		z.snapSerial = snap
		if err := z.replay(); err != nil {
			return nil, err
		}
	}
	if !haveSnap || z.serial != persisted {
		// A serial was handed out (and perhaps served) whose content
		// is lost: move past it with the content known, and forget the
		// journal, so that every client transfers the whole zone.
		z.serial = persisted + 1
		z.journal = nil
		if err := z.writeSerial(z.serial); err != nil {
			return nil, err
		}
		if err := z.writeSnapshot(); err != nil {
			return nil, err
		}
	}
	return z, nil
}

// Origin returns the canonical name of the zone.
func (z *Zone) Origin() string { return z.o.Origin }

// Serial returns the current serial.
func (z *Zone) Serial() uint32 {
	z.mu.RLock()
	defer z.mu.RUnlock()
	return z.serial
}

// Len returns the number of rules.
func (z *Zone) Len() int {
	z.mu.RLock()
	defer z.mu.RUnlock()
	return len(z.rules)
}

// Rule returns the rule for name and suffix, if there is one.
func (z *Zone) Rule(name string, suffix bool) (Rule, bool) {
	z.mu.RLock()
	defer z.mu.RUnlock()
	r, ok := z.rules[key{dns.CanonicalName(name), suffix}]
	return r, ok
}

// Rules returns the rules in the order of the zone file.
func (z *Zone) Rules() []Rule {
	z.mu.RLock()
	defer z.mu.RUnlock()
	return z.sortedLocked()
}

// Apply makes the changes, all or none, under one new serial, which it
// returns. The serial is persisted, and the changes journaled, before they
// are visible. Changes that change nothing (Old equals New) are dropped; if
// nothing is left, Apply returns the current serial and makes no new one.
// A name may appear once per call.
func (z *Zone) Apply(changes []Change) (uint32, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	eff := make([]Change, 0, len(changes))
	seen := make(map[key]bool, len(changes))
	for _, c := range changes {
		k := key{c.Name, c.Suffix}
		if c.Name != dns.CanonicalName(c.Name) {
			return z.serial, fmt.Errorf("rpzzone: %q is not a canonical name", c.Name)
		}
		if _, ok := dns.IsDomainName(c.Name); !ok || c.Name == "." {
			return z.serial, fmt.Errorf("rpzzone: %q is not a domain name", c.Name)
		}
		if seen[k] {
			return z.serial, fmt.Errorf("rpzzone: %q (suffix %v) changed twice in one call", c.Name, c.Suffix)
		}
		seen[k] = true
		for _, r := range []*Rule{c.Old, c.New} {
			if r != nil {
				if err := r.check(c.Name, c.Suffix); err != nil {
					return z.serial, err
				}
			}
		}
		cur, ok := z.rules[k]
		if (c.Old == nil) != !ok || (ok && cur != *c.Old) {
			return z.serial, fmt.Errorf("%w: %s (suffix %v)", ErrConflict, c.Name, c.Suffix)
		}
		if (c.Old == nil && c.New == nil) || (c.Old != nil && c.New != nil && *c.Old == *c.New) {
			continue
		}
		eff = append(eff, c)
	}
	if len(eff) == 0 {
		return z.serial, nil
	}
	e := journalEntry{From: z.serial, To: z.serial + 1, Changes: eff}
	if z.dir != "" {
		// The serial first: once on disk it is never handed out again.
		if err := z.writeSerial(e.To); err != nil {
			return z.serial, err
		}
		if err := z.writeJournal(&e); err != nil {
			return z.serial, err
		}
	}
	z.apply(&e)
	if z.dir != "" && z.sinceSnapshot >= (z.o.JournalSize+1)/2 {
		if err := z.writeSnapshot(); err != nil {
			return z.serial, err
		}
	}
	if z.dir != "" {
		z.prune()
	}
	for _, ch := range z.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	return z.serial, nil
}

// apply makes the changes of e in memory.
func (z *Zone) apply(e *journalEntry) {
	for _, c := range e.Changes {
		k := key{c.Name, c.Suffix}
		if c.New == nil {
			delete(z.rules, k)
		} else {
			z.rules[k] = *c.New
		}
	}
	z.serial = e.To
	z.journal = append(z.journal, *e)
	z.sinceSnapshot++
	if n := len(z.journal) - z.o.JournalSize; n > 0 {
		z.journal = slices.Delete(z.journal, 0, n)
	}
}

// subscribe returns a channel that receives a value after changes.
func (z *Zone) subscribe() chan struct{} {
	z.mu.Lock()
	defer z.mu.Unlock()
	ch := make(chan struct{}, 1)
	z.subs = append(z.subs, ch)
	return ch
}

func (z *Zone) unsubscribe(ch chan struct{}) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.subs = slices.DeleteFunc(z.subs, func(c chan struct{}) bool { return c == ch })
}

// sortedLocked returns the rules sorted by owner name, the exact rule of a
// name before its wildcard.
func (z *Zone) sortedLocked() []Rule {
	rs := make([]Rule, 0, len(z.rules))
	for _, r := range z.rules {
		rs = append(rs, r)
	}
	slices.SortFunc(rs, func(a, b Rule) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		switch {
		case a.Suffix == b.Suffix:
			return 0
		case b.Suffix:
			return -1
		}
		return 1
	})
	return rs
}

// owner returns the relative owner name of r in the zone file, without the
// origin and its dot.
func owner(r *Rule) string {
	n := strings.TrimSuffix(r.Name, ".")
	if r.Suffix {
		return "*." + n
	}
	return n
}

// soa returns the SOA record for serial.
func (z *Zone) soa(serial uint32) *dns.SOA {
	return &dns.SOA{
		Hdr:     dns.RR_Header{Name: z.o.Origin, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: z.o.TTL},
		Ns:      z.o.MName,
		Mbox:    z.o.RName,
		Serial:  serial,
		Refresh: z.o.Refresh,
		Retry:   z.o.Retry,
		Expire:  z.o.Expire,
		Minttl:  z.o.Minimum,
	}
}

// apexRRs returns the NS records at the apex.
func (z *Zone) nsRRs() []dns.RR {
	rrs := make([]dns.RR, 0, len(z.o.NS))
	for _, ns := range z.o.NS {
		rrs = append(rrs, &dns.NS{
			Hdr: dns.RR_Header{Name: z.o.Origin, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: z.o.TTL},
			Ns:  ns,
		})
	}
	return rrs
}

// rr returns the record of rule r.
func (z *Zone) rr(r *Rule) dns.RR {
	return &dns.CNAME{
		Hdr:    dns.RR_Header{Name: owner(r) + "." + z.o.Origin, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: z.o.TTL},
		Target: r.target(),
	}
}

// WriteTo writes the zone in zone file format: $ORIGIN and $TTL, the SOA
// and NS records at the apex, then one CNAME per rule, sorted by name (a
// name's exact rule before its wildcard), with names relative to the
// origin. The output depends only on the content and the serial.
func (z *Zone) WriteTo(w io.Writer) (int64, error) {
	z.mu.RLock()
	defer z.mu.RUnlock()
	bw := bufio.NewWriterSize(w, 1<<16)
	cw := &countWriter{w: bw}
	o := &z.o
	fmt.Fprintf(cw, "$ORIGIN %s\n$TTL %d\n", o.Origin, o.TTL)
	fmt.Fprintf(cw, "@\tSOA\t%s %s %d %d %d %d %d\n", o.MName, o.RName, z.serial, o.Refresh, o.Retry, o.Expire, o.Minimum)
	for _, ns := range o.NS {
		fmt.Fprintf(cw, "@\tNS\t%s\n", ns)
	}
	for _, r := range z.sortedLocked() {
		cw.WriteString(owner(&r))
		cw.WriteString("\tCNAME\t")
		cw.WriteString(r.target())
		cw.WriteString("\n")
	}
	if cw.err != nil {
		return cw.n, cw.err
	}
	return cw.n, bw.Flush()
}

type countWriter struct {
	w   *bufio.Writer
	n   int64
	err error
}

func (c *countWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.err = err
	return n, err
}

func (c *countWriter) WriteString(s string) {
	if c.err == nil {
		n, err := c.w.WriteString(s)
		c.n += int64(n)
		c.err = err
	}
}

// WriteFile writes the zone file to path atomically (mode 0644): readers
// see the old file or the new one, never a part.
func (z *Zone) WriteFile(path string) error {
	return keyfile.WriteFunc(path, 0o644, func(w io.Writer) error {
		_, err := z.WriteTo(w)
		return err
	})
}

// Persistence.

func (z *Zone) serialFile() string   { return filepath.Join(z.dir, "serial") }
func (z *Zone) snapshotFile() string { return filepath.Join(z.dir, "snapshot") }
func (z *Zone) journalFile(from uint32) string {
	return filepath.Join(z.dir, "journal", fmt.Sprintf("%010d.j", from))
}

func readSerial(path string) (uint32, bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 32)
	if err != nil {
		return 0, false, fmt.Errorf("rpzzone: %s: %w", path, err)
	}
	return uint32(v), true, nil
}

func (z *Zone) writeSerial(s uint32) error {
	return keyfile.Write(z.serialFile(), []byte(strconv.FormatUint(uint64(s), 10)+"\n"), 0o644)
}

// The snapshot and journal files are lines of text:
//
//	serial N                     (snapshot, first line)
//	from N to M                  (journal, first line)
//	+ NAME S|E ACTION [TARGET]   a rule (snapshot), or a new rule (journal)
//	- NAME S|E ACTION [TARGET]   an old rule (journal)
//
// S marks a suffix rule, E an exact one. A journal change is its - line, its
// + line, or both in that order.

func writeRule(w *bufio.Writer, sign byte, r *Rule) {
	w.WriteByte(sign)
	w.WriteByte(' ')
	w.WriteString(r.Name)
	if r.Suffix {
		w.WriteString(" S ")
	} else {
		w.WriteString(" E ")
	}
	w.WriteString(r.Action.String())
	if r.Target != "" {
		w.WriteByte(' ')
		w.WriteString(r.Target)
	}
	w.WriteByte('\n')
}

func parseRule(line string) (byte, Rule, error) {
	f := strings.Fields(line)
	if len(f) < 4 || len(f) > 5 || (f[0] != "+" && f[0] != "-") || (f[2] != "S" && f[2] != "E") {
		return 0, Rule{}, fmt.Errorf("bad line %q", line)
	}
	a, err := ParseAction(f[3])
	if err != nil {
		return 0, Rule{}, err
	}
	r := Rule{Name: f[1], Suffix: f[2] == "S", Action: a}
	if len(f) == 5 {
		r.Target = f[4]
	}
	if err := r.check(r.Name, r.Suffix); err != nil {
		return 0, Rule{}, err
	}
	return f[0][0], r, nil
}

func (z *Zone) writeSnapshot() error {
	err := keyfile.WriteFunc(z.snapshotFile(), 0o644, func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 1<<16)
		fmt.Fprintf(bw, "serial %d\n", z.serial)
		for _, r := range z.rules {
			writeRule(bw, '+', &r)
		}
		return bw.Flush()
	})
	if err == nil {
		z.snapSerial = z.serial
		z.sinceSnapshot = 0
	}
	return err
}

func (z *Zone) readSnapshot() (uint32, bool, error) {
	f, err := os.Open(z.snapshotFile())
	if errors.Is(err, os.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	var serial uint32
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if n == 1 {
			if _, err := fmt.Sscanf(line, "serial %d", &serial); err != nil {
				return 0, false, fmt.Errorf("rpzzone: %s:1: %w", f.Name(), err)
			}
			continue
		}
		_, r, err := parseRule(line)
		if err != nil {
			return 0, false, fmt.Errorf("rpzzone: %s:%d: %w", f.Name(), n, err)
		}
		z.rules[key{r.Name, r.Suffix}] = r
	}
	if err := sc.Err(); err != nil {
		return 0, false, err
	}
	return serial, true, nil
}

func (z *Zone) writeJournal(e *journalEntry) error {
	return keyfile.WriteFunc(z.journalFile(e.From), 0o644, func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 1<<16)
		fmt.Fprintf(bw, "from %d to %d\n", e.From, e.To)
		for _, c := range e.Changes {
			if c.Old != nil {
				writeRule(bw, '-', c.Old)
			}
			if c.New != nil {
				writeRule(bw, '+', c.New)
			}
		}
		return bw.Flush()
	})
}

func (z *Zone) readJournal(from uint32) (*journalEntry, error) {
	f, err := os.Open(z.journalFile(from))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	e := &journalEntry{}
	var last *Change
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if n == 1 {
			if _, err := fmt.Sscanf(line, "from %d to %d", &e.From, &e.To); err != nil || e.From != from {
				return nil, fmt.Errorf("rpzzone: %s:1: bad header %q", f.Name(), line)
			}
			continue
		}
		sign, r, err := parseRule(line)
		if err != nil {
			return nil, fmt.Errorf("rpzzone: %s:%d: %w", f.Name(), n, err)
		}
		if sign == '+' && last != nil && last.New == nil && last.Name == r.Name && last.Suffix == r.Suffix {
			last.New = &r
			continue
		}
		c := Change{Name: r.Name, Suffix: r.Suffix}
		if sign == '-' {
			c.Old = &r
		} else {
			c.New = &r
		}
		e.Changes = append(e.Changes, c)
		last = &e.Changes[len(e.Changes)-1]
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return e, nil
}

// replay applies the journal files that follow the snapshot, and loads the
// ones before it (still on disk) for IXFR.
func (z *Zone) replay() error {
	names, err := filepath.Glob(filepath.Join(z.dir, "journal", "*.j"))
	if err != nil {
		return err
	}
	entries := make(map[uint32]*journalEntry) // by To
	byFrom := make(map[uint32]*journalEntry)
	for _, name := range names {
		v, err := strconv.ParseUint(strings.TrimSuffix(filepath.Base(name), ".j"), 10, 32)
		if err != nil {
			continue
		}
		e, err := z.readJournal(uint32(v))
		if err != nil {
			return err
		}
		entries[e.To] = e
		byFrom[e.From] = e
	}
	// History before the snapshot, for IXFR only.
	var before []journalEntry
	for s := z.serial; len(before) < z.o.JournalSize; {
		e, ok := entries[s]
		if !ok {
			break
		}
		before = append(before, *e)
		s = e.From
	}
	slices.Reverse(before)
	z.journal = before
	z.sinceSnapshot = 0
	// Changes after the snapshot.
	for {
		e, ok := byFrom[z.serial]
		if !ok {
			break
		}
		for _, c := range e.Changes {
			cur, ok := z.rules[key{c.Name, c.Suffix}]
			if (c.Old == nil) != !ok || (ok && cur != *c.Old) {
				return fmt.Errorf("rpzzone: journal %d→%d does not follow the snapshot", e.From, e.To)
			}
		}
		z.apply(e)
		delete(byFrom, e.From)
	}
	return nil
}

// prune removes journal files that are neither in the in-memory journal nor
// needed to replay after the snapshot.
func (z *Zone) prune() {
	keep := make(map[string]bool)
	for _, e := range z.journal {
		keep[filepath.Base(z.journalFile(e.From))] = true
	}
	names, _ := filepath.Glob(filepath.Join(z.dir, "journal", "*.j"))
	for _, name := range names {
		if !keep[filepath.Base(name)] {
			os.Remove(name)
		}
	}
}
