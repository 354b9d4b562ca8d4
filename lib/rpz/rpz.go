// Package rpz is the policy processor behind tapir-rpz: it feeds the
// operator's lists and the core's observations through the policy engine,
// and turns the decisions into the Response Policy Zone that resolvers
// load, file or transfer.
package rpz

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tapir-edge/tapir/lib/blocklist"
	"github.com/tapir-edge/tapir/lib/keyfile"
	"github.com/tapir-edge/tapir/lib/policy"
	"github.com/tapir-edge/tapir/lib/rpzzone"
)

// List is one of the operator's list files.
type List struct {
	Kind   policy.Kind
	Path   string
	Format blocklist.Format
}

// Processor keeps the policy engine and the zone in step. It is safe for
// concurrent use.
type Processor struct {
	Engine *policy.Engine
	Zone   *rpzzone.Zone
	Lists  []List
	Log    *slog.Logger
	// Journal, when set, is where observations are appended, so that a
	// restart replays the ones not yet expired.
	Journal string
	// Monitor writes every decision as PASSTHRU: the resolver logs what
	// the zone matches (rpz-log) but blocks nothing, as operators begin.
	Monitor bool
	// Compact rewrites the journal to the observations in force at
	// Start, and whenever it has grown to twice that and 1 MiB more:
	// without it the journal grows with every message from the core.
	// Only the one process that appends may compact.
	Compact bool

	// Observed and Refused count the observations applied and refused.
	Observed, Refused atomic.Uint64

	mu     sync.Mutex
	mtimes map[string]time.Time // of the lists when last loaded
	// journalSize is the journal's size; compacted, its size after the
	// last compaction.
	journalSize, compacted int64
}

// Start loads the lists and replays the journal of observations, then
// brings the zone to what the engine decides, in one change.
func (p *Processor) Start(now time.Time) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.Lists {
		if err := p.loadList(l); err != nil {
			return err
		}
	}
	if err := p.replay(now); err != nil {
		return err
	}
	if p.Compact && p.journalSize > 0 {
		if err := p.compact(now); err != nil {
			return err
		}
	}
	return p.resync()
}

func (p *Processor) loadList(l List) error {
	f, err := os.Open(l.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil {
		if p.mtimes == nil {
			p.mtimes = map[string]time.Time{}
		}
		p.mtimes[l.Path] = fi.ModTime()
	}
	entries, bad, err := blocklist.Parse(l.Path, f, l.Format)
	if err != nil {
		return fmt.Errorf("%s: %w", l.Path, err)
	}
	for i, e := range bad {
		if i < 20 {
			p.Log.Warn("bad list line skipped", "err", e)
		}
	}
	p.Engine.SetList(l.Kind, l.Path, entries)
	p.Log.Info("list loaded", "kind", l.Kind, "file", l.Path, "entries", len(entries), "bad_lines", len(bad))
	return nil
}

// Reload reads the lists again (SIGHUP, or a list file changed) and
// applies what changed to the zone.
func (p *Processor) Reload() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.Lists {
		if err := p.loadList(l); err != nil {
			return err
		}
	}
	return p.resync()
}

// Changed reports whether a list file changed since it was loaded (its
// modification time), so that serve reloads it without a SIGHUP.
func (p *Processor) Changed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.Lists {
		fi, err := os.Stat(l.Path)
		if err == nil && !fi.ModTime().Equal(p.mtimes[l.Path]) {
			return true
		}
	}
	return false
}

// resync makes the zone hold exactly the engine's decisions: at start,
// the zone is as it was persisted and the engine anew.
func (p *Processor) resync() error {
	want := map[[2]string]policy.Action{}
	for _, d := range p.Engine.Decisions() {
		want[key(d.Name, d.Suffix)] = d.Action
	}
	var cs []rpzzone.Change
	for _, r := range p.Zone.Rules() {
		k := key(r.Name, r.Suffix)
		old := r
		if a, ok := want[k]; ok {
			if n := p.rule(r.Name, r.Suffix, a); *n != r {
				cs = append(cs, rpzzone.Change{Name: r.Name, Suffix: r.Suffix, Old: &old, New: n})
			}
			delete(want, k)
		} else {
			cs = append(cs, rpzzone.Change{Name: r.Name, Suffix: r.Suffix, Old: &old})
		}
	}
	for k, a := range want {
		cs = append(cs, rpzzone.Change{Name: k[0], Suffix: k[1] == "*", New: p.rule(k[0], k[1] == "*", a)})
	}
	if len(cs) == 0 {
		return nil
	}
	_, err := p.Zone.Apply(cs)
	return err
}

func key(name string, suffix bool) [2]string {
	if suffix {
		return [2]string{name, "*"}
	}
	return [2]string{name, ""}
}

// rule is the zone rule for a decision.
func (p *Processor) rule(name string, suffix bool, a policy.Action) *rpzzone.Rule {
	r := &rpzzone.Rule{Name: name, Suffix: suffix}
	if p.Monitor {
		r.Action = rpzzone.PASSTHRU
		return r
	}
	switch a.Kind {
	case policy.Drop:
		r.Action = rpzzone.DROP
	case policy.NXDomain:
		r.Action = rpzzone.NXDOMAIN
	case policy.NoData:
		r.Action = rpzzone.NODATA
	case policy.TCPOnly:
		r.Action = rpzzone.TCPONLY
	case policy.Redirect:
		r.Action, r.Target = rpzzone.REDIRECT, a.Target
	default:
		r.Action = rpzzone.PASSTHRU
	}
	return r
}

// apply turns the engine's changes into one zone change.
func (p *Processor) apply(cs []policy.Change) error {
	if len(cs) == 0 {
		return nil
	}
	zc := make([]rpzzone.Change, 0, len(cs))
	for _, c := range cs {
		z := rpzzone.Change{Name: c.Name, Suffix: c.Suffix}
		if c.Old.Kind != policy.None {
			z.Old = p.rule(c.Name, c.Suffix, c.Old)
		}
		if c.New.Kind != policy.None {
			z.New = p.rule(c.Name, c.Suffix, c.New)
		}
		zc = append(zc, z)
	}
	serial, err := p.Zone.Apply(zc)
	if errors.Is(err, rpzzone.ErrConflict) {
		// The zone and the engine disagree (a zone from an older run):
		// bring the zone to the engine's view.
		return p.resync()
	}
	if err == nil {
		p.Log.Info("zone changed", "serial", serial, "changes", len(zc))
	}
	return err
}

// Observe applies one observation record from the core.
func (p *Processor) Observe(rec []byte, now time.Time) (err error) {
	defer func() {
		if err != nil {
			p.Refused.Add(1)
		} else {
			p.Observed.Add(1)
		}
	}()
	o, err := policy.DecodeObservation(rec)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.Journal != "" {
		n, err := appendLine(p.Journal, rec)
		if err != nil {
			return fmt.Errorf("observation journal: %w", err)
		}
		p.journalSize += n
	}
	if err := p.apply(p.Engine.Apply(o, now)); err != nil {
		return err
	}
	if p.Compact && p.journalSize > 2*p.compacted+1<<20 {
		if err := p.compact(now); err != nil {
			// The journal as it was still holds everything.
			p.Log.Error("compact the observation journal", "file", p.Journal, "err", err)
		}
	}
	return nil
}

// compact replaces the journal, atomically, with the observations in
// force at now: each name once, with the rest of its life.
func (p *Processor) compact(now time.Time) error {
	obs := p.Engine.Observations(now)
	var size int64
	names := 0
	err := keyfile.WriteFunc(p.Journal, 0o600, func(w io.Writer) error {
		size = 0
		for _, o := range obs {
			b, err := json.Marshal(o)
			if err != nil {
				return err
			}
			n, err := w.Write(append(b, '\n'))
			size += int64(n)
			if err != nil {
				return err
			}
			names += len(o.Added)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if size != p.journalSize {
		p.Log.Info("observation journal compacted", "file", p.Journal, "bytes_before", p.journalSize, "bytes", size, "names", names)
	}
	p.journalSize, p.compacted = size, size
	return nil
}

// Expire removes the observations whose time has come.
func (p *Processor) Expire(now time.Time) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.apply(p.Engine.ExpireChanges(now))
}

// Explain says which rule decides name.
func (p *Processor) Explain(name string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.Engine.Explain(name)
}

// replay applies the journal's observations, expiring what is due.
func (p *Processor) replay(now time.Time) error {
	if p.Journal == "" {
		return nil
	}
	f, err := os.Open(p.Journal)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	s.Buffer(nil, 64<<20)
	n := 0
	for line := 1; s.Scan(); line++ {
		o, err := policy.DecodeObservation(s.Bytes())
		if err != nil {
			// A torn last line from a crash, or damage: say where.
			p.Log.Warn("observation journal: line skipped", "file", p.Journal, "line", line, "err", err)
			continue
		}
		p.Engine.Apply(o, now)
		n++
	}
	p.Engine.ExpireChanges(now)
	if fi, err := f.Stat(); err == nil {
		p.journalSize = fi.Size()
	}
	p.Log.Info("observations replayed", "file", p.Journal, "observations", n)
	return s.Err()
}

// appendLine appends rec as one line to the journal at path, and
// returns the bytes it added.
func appendLine(path string, rec []byte) (int64, error) {
	var b bytes.Buffer
	if err := json.Compact(&b, rec); err != nil {
		return 0, err
	}
	b.WriteByte('\n')
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return 0, err
	}
	n, err := f.Write(b.Bytes())
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return int64(n), err
}

// JournalPath is the observation journal in a state directory.
func JournalPath(state string) string { return filepath.Join(state, "observations.jsonl") }
