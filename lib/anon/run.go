package anon

import (
	"context"
	"log/slog"
	"sync"

	"github.com/tapir-edge/tapir/lib/fault"
	"github.com/tapir-edge/tapir/lib/metrics"
	"github.com/tapir-edge/tapir/lib/pseudo"
	"github.com/tapir-edge/tapir/lib/stage"
	"github.com/tapir-edge/tapir/lib/stream"
)

// Options are what tapir-anon is told: how to rewrite, the method and its
// key, and how many goroutines rewrite.
type Options struct {
	// Config says how frames are rewritten; Open sets its Keys from the
	// fields below.
	Config
	Key      KeyFile
	Pseudo   pseudo.Options // the method's cache and truncate's prefixes
	Rotation Rotation
	Workers  int // goroutines that rewrite; at least one
	Log      *slog.Logger
}

// maxIssues bounds the problems of frames logged one by one; a stream of
// garbage must not flood the log.
const maxIssues = 100

// Tool is tapir-anon: the rewriting configuration, with its key, and its
// counters.
type Tool struct {
	o   Options
	log *slog.Logger
	m   *metrics.Set
	c   *Counters
}

// Open checks the method and reads its key. Its errors are configuration
// errors (fault.Config).
func Open(o Options) (*Tool, error) {
	t := &Tool{o: o, log: o.Log, m: metrics.New("tapir_anon")}
	if t.log == nil {
		t.log = slog.Default()
	}
	method := o.Key.Method
	size, err := pseudo.KeySize(method)
	if err != nil {
		return nil, fault.Errorf(fault.Config, "--method: %v (one of %v)", err, pseudo.Names())
	}
	var key []byte
	if size > 0 {
		if key, err = o.Key.Read(); err != nil {
			return nil, err
		}
	} else if o.Key.Path != "" {
		return nil, fault.Errorf(fault.Config, "--method %s takes no key", method)
	}
	p := o.Pseudo
	if method == pseudo.NameTruncate && (p.V4Bits < 0 || p.V4Bits > 32 || p.V6Bits < 0 || p.V6Bits > 128) {
		return nil, fault.Errorf(fault.Config, "--v4-prefix is 0 to 32 and --v6-prefix 0 to 128")
	}
	if t.o.Keys, err = NewKeyring(method, key, p, o.Rotation); err != nil {
		return nil, fault.Errorf(fault.Config, "--key-file: %v", err)
	}
	t.c = NewCounters(t.m)
	return t, nil
}

// Metrics are the counters of tapir-anon, to serve.
func (t *Tool) Metrics() *metrics.Set { return t.m }

// Run rewrites the dnstap of in onto out until the inputs end or ctx
// ends, then closes out. in says where to read and which signals to
// answer; Run sets the rest. On in.Signals.Reload the key is read again,
// a bad one leaving the old one in use, and out is reopened.
//
// Run returns stage.Run's errors: those of the inputs (fault.Input), and
// an encrypted input without an identity (fault.Config); an output that
// fails is a runtime failure.
func (t *Tool) Run(ctx context.Context, in stage.Config, out *stream.Output) error {
	sink := &lockedSink{out: out}
	in.Log, in.Metrics = t.log, t.m
	in.OnReload = func() {
		t.reloadKey()
		if err := sink.reopen(); err != nil {
			t.log.Error("reopen output", "err", err)
		}
	}
	p := &Pipeline{Config: &t.o.Config, Workers: t.o.Workers, C: t.c, Log: t.log, MaxIssues: maxIssues}
	err := p.Run(ctx, in, sink)
	if cerr := sink.close(); err == nil {
		err = cerr
	}
	t.m.Log(t.log, "counters at exit")
	return err
}

// reloadKey reads the key file again; a key that fails to load leaves
// the old one in use, so that a mistake does not stop the pipeline.
func (t *Tool) reloadKey() {
	key, err := t.o.Key.Read()
	if err == nil {
		err = t.o.Keys.Replace(key)
	}
	if err != nil {
		t.log.Error("reload key: keeping the old one", "err", err)
		return
	}
	t.log.Info("key reloaded")
}

// lockedSink serialises the pipeline's writes, on its writer goroutine,
// with SIGHUP's reopen, on Run's.
type lockedSink struct {
	mu  sync.Mutex
	out *stream.Output
}

func (s *lockedSink) WriteFrames(b []byte, n int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.WriteFrames(b, n)
}

func (s *lockedSink) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.Flush()
}

func (s *lockedSink) reopen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.Reopen()
}

func (s *lockedSink) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.Close()
}
