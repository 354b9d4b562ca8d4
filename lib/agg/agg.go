// Package agg turns dnstap into DNS TAPIR's aggregates: per-interval
// histograms of well-known domains and new_qname events for names never
// seen before. It is the work behind tapir-agg.
//
// Intervals follow the dnstap timestamps, not the wall clock, so that a
// replay gives what the live run gave. Resolver threads interleave, so an
// interval stays open for a grace period (Late) after its end; a message
// for an interval already closed is counted as late, not added.
package agg

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"time"

	"github.com/tapir-edge/tapir/lib/dnstap"
	"github.com/tapir-edge/tapir/lib/dnswire"
	"github.com/tapir-edge/tapir/lib/hll"
	"github.com/tapir-edge/tapir/lib/record"
)

// Matcher finds the well-known domain a name falls under.
type Matcher interface {
	// Match returns the list entry that matched, as written in the list
	// (".example.net." for a suffix entry: exact and suffix entries of one
	// domain are separate rows, as in EDM), its domain ("example.net."),
	// and whether the match was exact rather than by suffix.
	Match(qname []byte) (entry, domain string, exact, ok bool)
}

// SeenSet remembers names seen before.
type SeenSet interface {
	// Seen reports whether name was seen before t, and records it.
	Seen(name []byte, t time.Time) bool
}

// Config says what to count and how.
type Config struct {
	Interval time.Duration
	Late     time.Duration
	Types    []dnstap.MessageType // default CLIENT_RESPONSE
	Ignore   Matcher              // names to leave out, or nil
	// IgnoreClients leaves out messages from these prefixes.
	IgnoreClients []netip.Prefix
	MaxDomains    int // rows per interval; more are counted as overflow
	// NewPerSecond bounds new_qname events per second of message time.
	NewPerSecond int
	// Hash hashes a client address for the sketches (keyed).
	Hash func(addr []byte) uint64
	// Labels splits a domain into label0…label9.
	Labels func(domain string) [10]string
}

// Reasons a message is skipped, for the counters.
const (
	SkipType = iota
	SkipNotDnstap
	SkipNoMessage
	SkipShort
	SkipNoQuestion
	SkipBadName
	SkipNoTime
	SkipIgnoredName
	SkipIgnoredClient
	SkipLate
	SkipOverflow
	SkipRateLimited
	numSkips
)

// SkipNames names the reasons, for metrics labels.
var SkipNames = [numSkips]string{"type", "not_dnstap", "no_message", "short", "no_question", "bad_name", "no_time", "ignored_name", "ignored_client", "late", "overflow", "new_qname_rate"}

// Stats counts what an Aggregator did.
type Stats struct {
	Frames, Matched, NewQnames, Histograms uint64
	Skipped                                [numSkips]uint64
}

// Emit receives each record as it is made, encoded as JSON, in a buffer
// that it must not keep.
type Emit func(rec []byte) error

// Aggregator counts messages into intervals and emits records.
type Aggregator struct {
	cfg   Config
	wk    Matcher
	seen  SeenSet
	emit  Emit
	Stats Stats

	open    map[int64]*interval // by start, in seconds
	closed  int64               // intervals starting before this are closed
	maxSeen int64               // the latest message time, in nanoseconds
	f       dnstap.Frame
	name    []byte
	bucket  struct{ sec, n int64 }
}

type interval struct {
	start    int64 // seconds
	rows     map[string]*row
	overflow uint64
}

type row struct {
	r      record.Row
	v4, v6 *hll.Sketch
}

// New returns an Aggregator that matches against wk, remembers names in
// seen, and hands records to emit.
func New(cfg Config, wk Matcher, seen SeenSet, emit Emit) *Aggregator {
	if cfg.Interval <= 0 {
		cfg.Interval = time.Minute
	}
	if len(cfg.Types) == 0 {
		cfg.Types = []dnstap.MessageType{dnstap.ClientResponse}
	}
	return &Aggregator{cfg: cfg, wk: wk, seen: seen, emit: emit, open: map[int64]*interval{}, closed: -1 << 62, name: make([]byte, 0, 256)}
}

func (a *Aggregator) skip(reason int) { a.Stats.Skipped[reason]++ }

// Add counts one dnstap frame.
func (a *Aggregator) Add(frame []byte) error {
	a.Stats.Frames++
	f := &a.f
	if err := f.Unmarshal(frame); err != nil {
		a.skip(SkipNotDnstap)
		return nil
	}
	if !a.wanted(f.Type) {
		a.skip(SkipType)
		return nil
	}
	msg := f.DNS()
	if msg == nil {
		a.skip(SkipNoMessage)
		return nil
	}
	h, err := dnswire.ParseHeader(msg)
	if err != nil {
		a.skip(SkipShort)
		return nil
	}
	q, qtype, qclass, err := dnswire.Question(msg, a.name)
	a.name = q[:0]
	switch {
	case errors.Is(err, dnswire.ErrNoQuestion):
		a.skip(SkipNoQuestion)
		return nil
	case errors.Is(err, dnswire.ErrShort):
		a.skip(SkipShort)
		return nil
	case err != nil:
		a.skip(SkipBadName)
		return nil
	}
	sec, nsec, ok := f.Time()
	if !ok {
		a.skip(SkipNoTime)
		return nil
	}
	t := int64(sec)*1e9 + int64(nsec)
	client := f.QueryAddress
	if len(a.cfg.IgnoreClients) > 0 && a.ignoredClient(client) {
		a.skip(SkipIgnoredClient)
		return nil
	}
	if a.cfg.Ignore != nil {
		if _, _, _, ok := a.cfg.Ignore.Match(q); ok {
			a.skip(SkipIgnoredName)
			return nil
		}
	}
	iv := a.interval(t)
	if iv == nil {
		a.skip(SkipLate)
		return nil
	}
	if entry, domain, exact, ok := a.wk.Match(q); ok {
		a.count(iv, entry, domain, exact, qtype, qclass, h.Rcode(), client)
	} else if !a.seen.Seen(q, time.Unix(0, t)) {
		if err := a.announce(iv, t, q, qtype, qclass, h.Flags); err != nil {
			return err
		}
	}
	// Close what the grace has passed, now that time has moved.
	if t > a.maxSeen {
		a.maxSeen = t
		return a.closeBefore(t - int64(a.cfg.Late))
	}
	return nil
}

func (a *Aggregator) wanted(t dnstap.MessageType) bool {
	for _, w := range a.cfg.Types {
		if t == w {
			return true
		}
	}
	return false
}

func (a *Aggregator) ignoredClient(b []byte) bool {
	addr, ok := netip.AddrFromSlice(b)
	if !ok {
		return false
	}
	addr = addr.Unmap()
	for _, p := range a.cfg.IgnoreClients {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// interval returns the open interval that t (nanoseconds) falls in, or nil
// if it has closed.
func (a *Aggregator) interval(t int64) *interval {
	step := int64(a.cfg.Interval)
	start := t - ((t%step)+step)%step
	s := start / 1e9
	if s < a.closed {
		return nil // its histogram is written: late
	}
	iv := a.open[s]
	if iv == nil {
		iv = &interval{start: s, rows: map[string]*row{}}
		a.open[s] = iv
	}
	return iv
}

func (a *Aggregator) count(iv *interval, entry, domain string, exact bool, qtype, qclass uint16, rcode uint8, client []byte) {
	r := iv.rows[entry]
	if r == nil {
		if a.cfg.MaxDomains > 0 && len(iv.rows) >= a.cfg.MaxDomains {
			iv.overflow++
			a.skip(SkipOverflow)
			return
		}
		r = &row{}
		r.r.SetLabels(a.cfg.Labels(domain))
		iv.rows[entry] = r
	}
	a.Stats.Matched++
	c := &r.r
	switch qtype {
	case 1:
		c.ACount++
	case 28:
		c.AAAACount++
	case 15:
		c.MXCount++
	case 2:
		c.NSCount++
	default:
		c.OtherTypeCount++
	}
	if qclass != 1 {
		c.NonINCount++
	}
	switch rcode {
	case 0:
		c.OKCount++
	case 3:
		c.NXCount++
	case 2:
		c.FailCount++
	default:
		c.OtherRcodeCount++
	}
	if exact {
		c.EDMStatusBits |= 1
	} else {
		c.EDMStatusBits |= 2
	}
	switch len(client) {
	case 4:
		if r.v4 == nil {
			r.v4 = hll.New()
		}
		r.v4.AddHash(a.cfg.Hash(client))
	case 16:
		if r.v6 == nil {
			r.v6 = hll.New()
		}
		r.v6.AddHash(a.cfg.Hash(client))
	}
}

// announce writes a new_qname event with the members EDM sets (initiator
// and rdlength, optional in the schema, EDM leaves out, and so does this).
func (a *Aggregator) announce(iv *interval, t int64, q []byte, qtype, qclass, flags uint16) error {
	if a.cfg.NewPerSecond > 0 {
		sec := t / 1e9
		if sec != a.bucket.sec {
			a.bucket.sec, a.bucket.n = sec, 0
		}
		if a.bucket.n >= int64(a.cfg.NewPerSecond) {
			a.skip(SkipRateLimited)
			return nil
		}
		a.bucket.n++
	}
	a.Stats.NewQnames++
	b, err := json.Marshal(&record.NewQname{
		Type: record.TypeNewQname, Timestamp: time.Unix(iv.start, 0).UTC(),
		Qname: string(q), Qtype: qtype, Qclass: qclass, Flags: flags,
	})
	if err != nil {
		return err
	}
	return a.emit(b)
}

// closeBefore emits and forgets every interval that ends at or before t.
func (a *Aggregator) closeBefore(t int64) error {
	step := int64(a.cfg.Interval)
	var done []int64
	for s := range a.open {
		if s*1e9+step <= t {
			done = append(done, s)
		}
	}
	if len(done) == 0 {
		return nil
	}
	sort.Slice(done, func(i, j int) bool { return done[i] < done[j] })
	for _, s := range done {
		if err := a.flush(a.open[s], false); err != nil {
			return err
		}
		delete(a.open, s)
		a.closed = max(a.closed, s+step/1e9)
	}
	return nil
}

// Flush emits every open interval: the input has ended or the tool is
// stopping. Those that the input had not passed the end of are marked
// partial.
func (a *Aggregator) Flush() error {
	var starts []int64
	for s := range a.open {
		starts = append(starts, s)
	}
	sort.Slice(starts, func(i, j int) bool { return starts[i] < starts[j] })
	for _, s := range starts {
		if err := a.flush(a.open[s], s*1e9+int64(a.cfg.Interval) > a.maxSeen); err != nil {
			return err
		}
		delete(a.open, s)
	}
	return nil
}

// flush writes an interval's histogram. The record is encoded row by row,
// each row forgotten once written, into a buffer sized for the whole, so
// that a large interval costs its rows or its JSON at once, not both and
// the copies of a growing buffer.
func (a *Aggregator) flush(iv *interval, partial bool) error {
	h := record.Histogram{
		Type: record.TypeHistogram, Start: time.Unix(iv.start, 0).UTC(), Duration: int64(a.cfg.Interval / time.Second),
		Partial: partial, Overflow: iv.overflow,
	}
	head, err := json.Marshal(&h)
	if err != nil {
		return err
	}
	// head ends with "rows":null}: open the array there instead.
	head = bytes.TrimSuffix(head, []byte("null}"))
	entries := make([]string, 0, len(iv.rows))
	for e := range iv.rows {
		entries = append(entries, e)
	}
	sort.Strings(entries)
	b := make([]byte, 0, len(head)+len(entries)*rowSize+2)
	b = append(append(b, head...), '[')
	for i, e := range entries {
		r := iv.rows[e]
		delete(iv.rows, e)
		if r.r.V4ClientCount, r.r.V4ClientHLL, err = sketch(r.v4); err != nil {
			return err
		}
		if r.r.V6ClientCount, r.r.V6ClientHLL, err = sketch(r.v6); err != nil {
			return err
		}
		row, err := json.Marshal(&r.r)
		if err != nil {
			return err
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, row...)
	}
	b = append(b, "]}"...)
	a.Stats.Histograms++
	return a.emit(b)
}

// rowSize is about what a row takes in JSON, to size the buffer.
const rowSize = 280

// sketch returns a sketch's count, and its bytes as EDM sends them: only
// for the probabilistic (sparse and full) representations, since the
// explicit one is the hashes themselves, which the count says enough of.
func sketch(s *hll.Sketch) (uint64, []byte, error) {
	if s == nil {
		return 0, nil, nil
	}
	n := s.Cardinality()
	if t := s.Type(); t != hll.Sparse && t != hll.Full {
		return n, nil, nil
	}
	b, err := s.AppendBinary(nil)
	if err != nil {
		return 0, nil, fmt.Errorf("encode sketch: %w", err)
	}
	return n, b, nil
}
