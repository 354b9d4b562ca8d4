package agg

import (
	"bufio"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/tapir-edge/tapir/cmd/tool"
	"github.com/tapir-edge/tapir/lib/dnstap"
	"github.com/tapir-edge/tapir/lib/fstrm"
	"github.com/tapir-edge/tapir/lib/hll"
	"github.com/tapir-edge/tapir/lib/keyfile"
	"github.com/tapir-edge/tapir/lib/metrics"
	"github.com/tapir-edge/tapir/lib/record"
	"github.com/tapir-edge/tapir/lib/seen"
	"github.com/tapir-edge/tapir/lib/stream"
	"github.com/tapir-edge/tapir/lib/wellknown"
)

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
	if bad != nil {
		bad.Add(uint64(len(badLines)))
	}
	l.cur.Store(wl)
	log.Info("list loaded", "files", strings.Join(l.paths, ","), "entries", wl.Len(), "bad_lines", len(badLines))
	return nil
}

// Action is tapir-agg: it reads the flags, the lists and the state, and
// aggregates the input until it ends or SIGTERM.
func Action(c *cli.Context) error {
	log := slog.Default()
	m := metrics.New("tapir_agg")
	badLines := m.Counter("bad_list_lines", "Lines of the well-known and ignore lists that were skipped.")
	cfg := Config{
		Interval:     c.Duration("interval"),
		Late:         c.Duration("late"),
		MaxDomains:   c.Int("max-domains"),
		NewPerSecond: c.Int("new-qname-rate"),
		Labels:       wellknown.Labels,
	}
	if cfg.Interval < time.Second || cfg.Interval%time.Second != 0 {
		return tool.Usagef("--interval %v: want whole seconds, at least 1s", cfg.Interval)
	}
	for _, arg := range c.StringSlice("types") {
		for _, name := range strings.Split(arg, ",") {
			t, err := dnstap.ParseMessageType(strings.TrimSpace(name))
			if err != nil {
				return tool.Usagef("--types: %v", err)
			}
			cfg.Types = append(cfg.Types, t)
		}
	}
	wk := &lists{paths: c.StringSlice("well-known")}
	if len(wk.paths) == 0 {
		return tool.Usagef("give the well-known domain list with --well-known FILE")
	}
	if err := wk.load(log, badLines); err != nil {
		return tool.Usagef("--well-known: %v", err)
	}
	if p := c.StringSlice("ignore-names"); len(p) > 0 {
		ig := &lists{paths: p}
		if err := ig.load(log, badLines); err != nil {
			return tool.Usagef("--ignore-names: %v", err)
		}
		cfg.Ignore = ig
	}
	for _, p := range c.StringSlice("ignore-clients") {
		ps, err := readPrefixes(p)
		if err != nil {
			return tool.Usagef("--ignore-clients: %v", err)
		}
		cfg.IgnoreClients = append(cfg.IgnoreClients, ps...)
	}
	state := c.String("state")
	var set SeenSet
	if state != "" {
		if err := os.MkdirAll(state, 0o700); err != nil {
			return tool.Usagef("--state: %v", err)
		}
		s, warnings, err := seen.Open(seen.Options{Dir: filepath.Join(state, "seen"), ForgetAfter: c.Duration("forget-after"), Capacity: c.Int("seen-capacity")})
		if err != nil {
			return tool.Usagef("--state: %v", err)
		}
		for _, w := range warnings {
			log.Warn("state", "err", w)
		}
		defer s.Close()
		set = s
	} else {
		s, _, err := seen.Open(seen.Options{ForgetAfter: c.Duration("forget-after"), Capacity: c.Int("seen-capacity")})
		if err != nil {
			return tool.Usagef("%v", err)
		}
		log.Warn("no --state: names seen are forgotten at exit, and announced again next run")
		set = s
	}
	switch c.String("client-hash") {
	case "keyed":
		key, err := hashKey(state)
		if err != nil {
			return err
		}
		cfg.Hash = func(a []byte) uint64 { return hll.Hash(key, a) }
	case "edm":
		cfg.Hash = hll.HashEDM
	default:
		return tool.Usagef("--client-hash %q: want keyed or edm", c.String("client-hash"))
	}

	ids, err := tool.Identities(c)
	if err != nil {
		return err
	}
	out, err := tool.CreateOutput(c, record.ContentType)
	if err != nil {
		return err
	}
	ctx, sig, stop := tool.Notify(c.Context)
	defer stop()
	if err := tool.ServeMetrics(ctx, c, m); err != nil {
		return err
	}
	var mu sync.Mutex // the output, between the aggregator and SIGHUP
	emit := func(b []byte) error {
		mu.Lock()
		defer mu.Unlock()
		return out.WriteFrame(b)
	}
	a := New(cfg, wk, set, emit)
	var snap atomic.Pointer[Stats]
	publish := func() { s := a.Stats; snap.Store(&s) }
	publish()
	counters(m, &snap)

	// Continue: a FIFO that systemd holds may have been read in part by
	// an earlier run, or written by a writer that crashed.
	// Plausible: what follows a crash is checked (resynchronised).
	src := stream.NewFrames(tool.Inputs(c), ids, fstrm.ReaderOptions{ContentTypes: []string{dnstap.ContentType}, Continue: true, Plausible: dnstap.Plausible}, log)
	defer src.Close()
	m.CounterFunc("input_skipped_bytes", "Input bytes skipped to find a frame boundary again, after a stage or writer died mid-frame.", func() float64 { return float64(src.Skipped()) })
	// The reader hands over frames in batches, so that a quiet stdin
	// cannot keep SIGTERM from being served, at little cost per frame.
	// On SIGTERM the loop stops the source and aggregates what it still
	// returns, so that a FIFO is left at a frame boundary with every
	// frame taken from it counted; quit abandons a source that does not
	// stop in time.
	quit := make(chan struct{})
	defer close(quit)
	batches := make(chan []byte, 4)
	free := make(chan []byte, 4)
	for range 4 {
		free <- make([]byte, 0, 256<<10)
	}
	go func() {
		defer close(batches)
		buf := <-free
		send := func() bool {
			select {
			case batches <- buf:
			case <-quit:
				return false
			}
			buf = (<-free)[:0]
			return true
		}
		for {
			b, _, _, err := src.Next()
			if err != nil {
				if !errors.Is(err, io.EOF) {
					log.Error("input", "err", err)
				}
				if len(buf) > 0 {
					send()
				}
				return
			}
			buf = append(buf, byte(len(b)>>24), byte(len(b)>>16), byte(len(b)>>8), byte(len(b)))
			buf = append(buf, b...)
			if len(buf) >= 192<<10 || !src.Buffered() {
				if !send() {
					return
				}
			}
		}
	}()
	flush := time.NewTicker(time.Second)
	defer flush.Stop()
	save := time.NewTicker(5 * time.Minute)
	defer save.Stop()
	saver, _ := set.(interface{ Flush() error })
	var runErr error
	done := ctx.Done()
	var giveUp <-chan time.Time
loop:
	for {
		select {
		case buf, ok := <-batches:
			if !ok {
				break loop
			}
			for b := buf; len(b) >= 4; {
				n := int(b[0])<<24 | int(b[1])<<16 | int(b[2])<<8 | int(b[3])
				if runErr = a.Add(b[4 : 4+n]); runErr != nil {
					break loop
				}
				b = b[4+n:]
			}
			free <- buf
		case <-flush.C:
			publish()
			mu.Lock()
			runErr = out.Flush()
			mu.Unlock()
			if runErr != nil {
				break loop
			}
		case <-save.C:
			if saver != nil && state != "" {
				if err := saver.Flush(); err != nil {
					log.Error("save state", "err", err)
				}
			}
		case <-sig.Reload:
			if err := wk.load(log, badLines); err != nil {
				log.Error("reload --well-known: keeping the old list", "err", err)
			}
			mu.Lock()
			if err := out.Reopen(); err != nil {
				log.Error("reopen output", "err", err)
			}
			mu.Unlock()
		case <-sig.Report:
			publish()
			m.Log(log, "counters")
		case <-done:
			done = nil
			src.Stop()
			t := time.NewTimer(fstrm.DefaultStopWait + 5*time.Second)
			defer t.Stop()
			giveUp = t.C
		case <-giveUp:
			log.Warn("input did not stop in time: leaving it")
			break loop
		}
	}
	if err := a.Flush(); err != nil && runErr == nil {
		runErr = err
	}
	if saver != nil && state != "" {
		if err := saver.Flush(); err != nil {
			log.Error("save state", "err", err)
		}
	}
	if err := out.Close(); err != nil && runErr == nil {
		runErr = err
	}
	publish()
	m.Log(log, "counters at exit")
	if runErr != nil {
		return runErr
	}
	return src.Err()
}

// counters serves a snapshot of the aggregator's Stats, which the loop
// that owns the aggregator publishes.
func counters(m *metrics.Set, snap *atomic.Pointer[Stats]) {
	get := func(f func(*Stats) uint64) func() float64 {
		return func() float64 { return float64(f(snap.Load())) }
	}
	m.CounterFunc("frames", "Frames read.", get(func(s *Stats) uint64 { return s.Frames }))
	m.CounterFunc("matched", "Messages counted in histograms.", get(func(s *Stats) uint64 { return s.Matched }))
	m.CounterFunc("new_qnames", "new_qname events written.", get(func(s *Stats) uint64 { return s.NewQnames }))
	m.CounterFunc("histograms", "Histogram records written.", get(func(s *Stats) uint64 { return s.Histograms }))
	for i, name := range SkipNames {
		m.CounterFunc("skipped", "Messages not counted, by reason.", get(func(s *Stats) uint64 { return s.Skipped[i] }), "reason", name)
	}
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
// for a run without state.
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
		return nil, tool.Usagef("%v", err)
	}
	if len(b) != 16 {
		return nil, tool.Usagef("%s: %d bytes, want 16", path, len(b))
	}
	copy(key[:], b)
	return &key, nil
}
