package agg

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tapir-edge/tapir/lib/dnstap"
	"github.com/tapir-edge/tapir/lib/fault"
	"github.com/tapir-edge/tapir/lib/hll"
	"github.com/tapir-edge/tapir/lib/keyfile"
	"github.com/tapir-edge/tapir/lib/metrics"
	"github.com/tapir-edge/tapir/lib/seen"
	"github.com/tapir-edge/tapir/lib/stage"
	"github.com/tapir-edge/tapir/lib/stream"
	"github.com/tapir-edge/tapir/lib/wellknown"
)

// Options are what tapir-agg is told: how to count, the lists, and where
// to keep what it remembers.
type Options struct {
	// Config says how to count; Open sets its Ignore, IgnoreClients,
	// Hash and Labels from the fields below.
	Config
	WellKnown     []string // well-known domain list files
	IgnoreNames   []string // list files of names to leave out
	IgnoreClients []string // files of addresses and prefixes to leave out
	// State is the directory of the seen-set and the client hash key;
	// without one, both live only as long as the process.
	State        string
	ForgetAfter  time.Duration // a name unseen this long is new again
	SeenCapacity int           // new names a day at 1% false positives
	// ClientHash is "keyed" (SipHash, its key in State) or "edm" (EDM's
	// unkeyed hash, for pseudonymised input).
	ClientHash string
	Log        *slog.Logger
}

// SaveEvery is how often Run saves the seen-set.
const SaveEvery = 5 * time.Minute

// Tool is tapir-agg: an Aggregator with its lists, its state and its
// counters.
type Tool struct {
	o        Options
	log      *slog.Logger
	m        *metrics.Set
	badLines *metrics.Counter
	wk       *lists
	seen     *seen.Set
	stats    atomic.Pointer[Stats] // the aggregator's, as last published
}

// Open reads the lists and the state that o names. Its errors are
// configuration errors (fault.Config), but for a state that cannot be
// read.
func Open(o Options) (*Tool, error) {
	t := &Tool{o: o, log: o.Log, m: metrics.New("tapir_agg")}
	if t.log == nil {
		t.log = slog.Default()
	}
	t.badLines = t.m.Counter("bad_list_lines", "Lines of the well-known and ignore lists that were skipped.")
	if o.Interval < time.Second || o.Interval%time.Second != 0 {
		return nil, fault.Errorf(fault.Config, "--interval %v: want whole seconds, at least 1s", o.Interval)
	}
	if len(o.WellKnown) == 0 {
		return nil, fault.Errorf(fault.Config, "give the well-known domain list with --well-known FILE")
	}
	t.wk = &lists{paths: o.WellKnown}
	if err := t.wk.load(t.log, t.badLines); err != nil {
		return nil, fault.Errorf(fault.Config, "--well-known: %w", err)
	}
	t.o.Labels = wellknown.Labels
	if len(o.IgnoreNames) > 0 {
		ig := &lists{paths: o.IgnoreNames}
		if err := ig.load(t.log, t.badLines); err != nil {
			return nil, fault.Errorf(fault.Config, "--ignore-names: %w", err)
		}
		t.o.Ignore = ig
	}
	for _, p := range o.IgnoreClients {
		ps, err := readPrefixes(p)
		if err != nil {
			return nil, fault.Errorf(fault.Config, "--ignore-clients: %w", err)
		}
		t.o.Config.IgnoreClients = append(t.o.Config.IgnoreClients, ps...)
	}
	switch o.ClientHash {
	case "keyed", "":
	case "edm":
		t.o.Hash = hll.HashEDM
	default:
		return nil, fault.Errorf(fault.Config, "--client-hash %q: want keyed or edm", o.ClientHash)
	}
	so := seen.Options{ForgetAfter: o.ForgetAfter, Capacity: o.SeenCapacity}
	if o.State != "" {
		if err := os.MkdirAll(o.State, 0o700); err != nil {
			return nil, fault.Errorf(fault.Config, "--state: %w", err)
		}
		so.Dir = filepath.Join(o.State, "seen")
	}
	s, warnings, err := seen.Open(so)
	if err != nil {
		return nil, fault.Errorf(fault.Config, "--state: %w", err)
	}
	for _, w := range warnings {
		t.log.Warn("state", "err", w)
	}
	if o.State == "" {
		t.log.Warn("no --state: names seen are forgotten at exit, and announced again next run")
	}
	t.seen = s
	if t.o.Hash == nil {
		key, err := hashKey(o.State)
		if err != nil {
			s.Close()
			return nil, err
		}
		t.o.Hash = func(a []byte) uint64 { return hll.Hash(key, a) }
	}
	return t, nil
}

// Metrics are the counters of tapir-agg, to serve.
func (t *Tool) Metrics() *metrics.Set { return t.m }

// Close saves and closes the state.
func (t *Tool) Close() error { return t.seen.Close() }

// Run aggregates the dnstap of in into records on out until the inputs
// end or ctx ends, then writes the open intervals (partial), saves the
// state and closes out. in says where to read and which signals to
// answer; Run sets the rest.
func (t *Tool) Run(ctx context.Context, in stage.Config, out *stream.Output) error {
	a := New(t.o.Config, t.wk, t.seen, out.WriteFrame)
	publish := func() { s := a.Stats; t.stats.Store(&s) }
	publish()
	t.counters()
	save := func() {
		if t.o.State == "" {
			return
		}
		if err := t.seen.Flush(); err != nil {
			t.log.Error("save state", "err", err)
		}
	}
	saved := time.Now()

	in.ContentType = dnstap.ContentType
	in.Log, in.Metrics = t.log, t.m
	in.Handle = func(b *stage.Batch) error {
		defer b.Release()
		for _, f := range b.All() {
			if err := a.Add(f); err != nil {
				return err
			}
		}
		return nil
	}
	in.Tick = time.Second
	in.OnTick = func() error {
		publish()
		if time.Since(saved) >= SaveEvery {
			save()
			saved = time.Now()
		}
		return out.Flush()
	}
	in.OnReload = func() {
		if err := t.wk.load(t.log, t.badLines); err != nil {
			t.log.Error("reload --well-known: keeping the old list", "err", err)
		}
		if err := out.Reopen(); err != nil {
			t.log.Error("reopen output", "err", err)
		}
	}
	in.OnReport = publish
	err := stage.Run(ctx, in)
	if ferr := a.Flush(); err == nil {
		err = ferr
	}
	save()
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	publish()
	t.m.Log(t.log, "counters at exit")
	return err
}

// counters serves the snapshot of the aggregator's Stats that Run
// publishes.
func (t *Tool) counters() {
	get := func(f func(*Stats) uint64) func() float64 {
		return func() float64 { return float64(f(t.stats.Load())) }
	}
	t.m.CounterFunc("frames", "Frames read.", get(func(s *Stats) uint64 { return s.Frames }))
	t.m.CounterFunc("matched", "Messages counted in histograms.", get(func(s *Stats) uint64 { return s.Matched }))
	t.m.CounterFunc("new_qnames", "new_qname events written.", get(func(s *Stats) uint64 { return s.NewQnames }))
	t.m.CounterFunc("histograms", "Histogram records written.", get(func(s *Stats) uint64 { return s.Histograms }))
	for i, name := range SkipNames {
		t.m.CounterFunc("skipped", "Messages not counted, by reason.", get(func(s *Stats) uint64 { return s.Skipped[i] }), "reason", name)
	}
}

// lists is a Matcher over a well-known list that SIGHUP can replace.
type lists struct {
	paths []string
	cur   atomic.Pointer[wellknown.List]
}

func (l *lists) Match(q []byte) (string, string, bool, bool) {
	wl := l.cur.Load()
	m := wl.Match(q)
	if !m.OK {
		return "", "", false, false
	}
	return wl.Entry(m.Index), m.Domain, m.Exact, true
}

// load reads the lists; bad lines are logged and counted, not fatal.
func (l *lists) load(log *slog.Logger, bad *metrics.Counter) error {
	wl, badLines, err := wellknown.Load(l.paths...)
	if err != nil {
		return err
	}
	for i, e := range badLines {
		if i < 20 {
			log.Warn("bad list line skipped", "err", e)
		}
	}
	bad.Add(uint64(len(badLines)))
	l.cur.Store(wl)
	log.Info("list loaded", "files", strings.Join(l.paths, ","), "entries", wl.Len(), "bad_lines", len(badLines))
	return nil
}

// readPrefixes reads a file of addresses and prefixes, one a line, with #
// comments.
func readPrefixes(path string) ([]netip.Prefix, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var ps []netip.Prefix
	s := bufio.NewScanner(f)
	for n := 1; s.Scan(); n++ {
		line, _, _ := strings.Cut(s.Text(), "#")
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		p, err := netip.ParsePrefix(line)
		if err != nil {
			a, aerr := netip.ParseAddr(line)
			if aerr != nil {
				return nil, fmt.Errorf("%s:%d: %q is not an address or prefix", path, n, line)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		ps = append(ps, p.Masked())
	}
	return ps, s.Err()
}

// hashKey is the key of the client hash: kept in the state directory so
// that sketches of one edge stay comparable across restarts, or made anew
// for a run without state. A key file readable by others is a
// configuration error; one of the wrong size, a corrupt state.
func hashKey(state string) (*[16]byte, error) {
	var key [16]byte
	if state == "" {
		rand.Read(key[:])
		return &key, nil
	}
	path := filepath.Join(state, "client-hash.key")
	b, err := keyfile.Read(path)
	if errors.Is(err, os.ErrNotExist) {
		rand.Read(key[:])
		if err := keyfile.Write(path, key[:], 0o600); err != nil {
			return nil, fmt.Errorf("write %s: %w", path, err)
		}
		return &key, nil
	}
	if err != nil {
		return nil, err
	}
	if len(b) != 16 {
		return nil, fmt.Errorf("%s: %d bytes, want 16: the state is corrupt (remove the file to start a new key)", path, len(b))
	}
	copy(key[:], b)
	return &key, nil
}
