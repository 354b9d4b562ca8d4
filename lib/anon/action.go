package anon

import (
	"log/slog"
	"runtime"
	"sync"

	"github.com/urfave/cli/v2"

	"github.com/tapir-edge/tapir/cmd/tool"
	"github.com/tapir-edge/tapir/lib/dnstap"
	"github.com/tapir-edge/tapir/lib/fault"
	"github.com/tapir-edge/tapir/lib/fstrm"
	"github.com/tapir-edge/tapir/lib/keyfile"
	"github.com/tapir-edge/tapir/lib/metrics"
	"github.com/tapir-edge/tapir/lib/pseudo"
	"github.com/tapir-edge/tapir/lib/stream"
)

// Action is tapir-anon: it reads the flags and the key, and rewrites the
// input to the output until the input ends or SIGTERM.
func Action(c *cli.Context) error {
	cfg, err := configure(c)
	if err != nil {
		return err
	}
	ids, err := tool.Identities(c)
	if err != nil {
		return err
	}
	out, err := tool.CreateOutput(c, dnstap.ContentType)
	if err != nil {
		return err
	}
	m := metrics.New("tapir_anon")
	ctx, sig, stop := tool.Notify(c.Context)
	defer stop()
	if err := tool.ServeMetrics(ctx, c, m); err != nil {
		return err
	}
	log := slog.Default()
	p := &Pipeline{Config: cfg, Workers: c.Int("workers"), C: NewCounters(m), Log: log, MaxIssues: 100}
	// Continue: a FIFO that systemd holds may have been read in part by
	// an earlier run, or written by a writer that crashed; on SIGTERM,
	// Run stops it at a frame boundary for the next run.
	// Plausible: what follows a crash is checked (resynchronised).
	src := stream.NewFrames(tool.Inputs(c), ids, fstrm.ReaderOptions{ContentTypes: []string{dnstap.ContentType}, Continue: true, Plausible: dnstap.Plausible}, log)
	defer src.Close()
	m.CounterFunc("input_skipped_bytes", "Input bytes skipped to find a frame boundary again, after a stage or writer died mid-frame.", func() float64 { return float64(src.Skipped()) })
	sink := &lockedSink{out: out}
	go func() {
		for {
			select {
			case <-sig.Reload:
				if key, err := readKey(c); err != nil {
					log.Error("reload key: keeping the old one", "err", err)
				} else if err := cfg.Keys.Replace(key); err != nil {
					log.Error("reload key: keeping the old one", "err", err)
				} else {
					log.Info("key reloaded")
				}
				if err := sink.reopen(); err != nil {
					log.Error("reopen output", "err", err)
				}
			case <-sig.Report:
				m.Log(log, "counters")
			case <-ctx.Done():
				return
			}
		}
	}()
	err = p.Run(ctx, src, sink)
	if cerr := sink.close(); err == nil {
		err = cerr
	}
	m.Log(log, "counters at exit")
	if err != nil {
		return fault.New(fault.Input, err)
	}
	return src.Err()
}

func configure(c *cli.Context) (*Config, error) {
	cfg := &Config{
		KeepECS:     c.Bool("keep-ecs"),
		KeepCookies: c.Bool("keep-cookies"),
		KeepPorts:   c.Bool("keep-ports"),
		KeepUnknown: c.Bool("keep-unknown"),
		Identity:    field(c, "identity"),
		Version:     field(c, "version"),
		Extra:       Field{Keep: c.Bool("keep-extra")},
	}
	var err error
	if cfg.Messages, err = ParseMessages(c.String("keep-messages")); err != nil {
		return nil, tool.Usagef("--keep-messages %v", err)
	}
	rot, err := ParseRotation(c.String("rotate"))
	if err != nil {
		return nil, tool.Usagef("--rotate: %v", err)
	}
	method := c.String("method")
	size, err := pseudo.KeySize(method)
	if err != nil {
		return nil, tool.Usagef("--method: %v (one of %v)", err, pseudo.Names())
	}
	var key []byte
	if size > 0 {
		if key, err = readKey(c); err != nil {
			return nil, err
		}
	} else if c.IsSet("key-file") {
		return nil, tool.Usagef("--method %s takes no key", method)
	}
	opts := pseudo.Options{CacheSize: c.Int("cache-size"), V4Bits: c.Int("v4-prefix"), V6Bits: c.Int("v6-prefix")}
	if method == pseudo.NameTruncate && (opts.V4Bits < 0 || opts.V4Bits > 32 || opts.V6Bits < 0 || opts.V6Bits > 128) {
		return nil, tool.Usagef("--v4-prefix is 0 to 32 and --v6-prefix 0 to 128")
	}
	if cfg.Keys, err = NewKeyring(method, key, opts, rot); err != nil {
		return nil, tool.Usagef("--key-file: %v", err)
	}
	return cfg, nil
}

func field(c *cli.Context, name string) Field {
	f := Field{Keep: c.Bool("keep-" + name)}
	if c.IsSet("set-" + name) {
		f.Value = []byte(c.String("set-" + name))
	}
	return f
}

// readKey reads the key file: the key itself, or with --kdf argon2id a
// passphrase to derive it from, as the DNS TAPIR edge (EDM) does.
func readKey(c *cli.Context) ([]byte, error) {
	path := c.String("key-file")
	if path == "" {
		return nil, tool.Usagef("--method %s needs --key-file (there is no default key)", c.String("method"))
	}
	b, err := keyfile.Read(path)
	if err != nil {
		return nil, tool.Usagef("--key-file: %v", err)
	}
	switch c.String("kdf") {
	case "none", "":
		key, err := pseudo.ParseKey(b)
		if err != nil {
			return nil, tool.Usagef("--key-file %s: %v", path, err)
		}
		return key, nil
	case "argon2id":
		pass := trimLine(b)
		if len(pass) == 0 {
			return nil, tool.Usagef("--key-file %s: empty passphrase", path)
		}
		return pseudo.DeriveKey(pass, []byte(c.String("salt"))), nil
	}
	return nil, tool.Usagef("--kdf %q: want none or argon2id", c.String("kdf"))
}

// trimLine drops one trailing newline, as a passphrase file written by an
// editor or echo ends.
func trimLine(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
		if n := len(b); n > 0 && b[n-1] == '\r' {
			b = b[:n-1]
		}
	}
	return b
}

// DefaultWorkers is how many goroutines rewrite frames by default.
func DefaultWorkers() int { return runtime.GOMAXPROCS(0) }

// lockedSink serialises the pipeline's writes with SIGHUP's reopen.
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
