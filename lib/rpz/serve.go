package rpz

import (
	"context"
	"net/netip"
	"strings"
	"time"

	"github.com/tapir-edge/tapir/lib/fault"
	"github.com/tapir-edge/tapir/lib/keyfile"
	"github.com/tapir-edge/tapir/lib/metrics"
	"github.com/tapir-edge/tapir/lib/rpzzone"
	"github.com/tapir-edge/tapir/lib/stage"
)

// ServeOptions say where the zone is served, to whom, and where else it
// is written.
type ServeOptions struct {
	Listen string   // "host:port", UDP and TCP
	Notify []string // "host:port" sent NOTIFY on every change
	// AllowTransfer are the addresses and prefixes that may transfer the
	// zone; none is loopback only.
	AllowTransfer []string
	// TSIGName, with the base64 secret in TSIGSecretFile (mode 0600),
	// makes TSIG required for transfers and signs NOTIFY.
	TSIGName, TSIGSecretFile string
	// ZoneFile, when set, is written (atomically) whenever the serial
	// moved, for resolvers that read the zone from a file.
	ZoneFile string
}

// Server is tapir-rpz serve: a primary for a Processor's zone, which it
// keeps up to date from observations, the lists and expiry.
type Server struct {
	p            *Processor
	o            ServeOptions
	srv          *rpzzone.Server
	m            *metrics.Set
	reloadFailed *metrics.Counter
	written      uint32 // the serial last written to ZoneFile
}

// NewServer prepares to serve p's zone as o says. Its errors are
// configuration errors (fault.Config).
func NewServer(p *Processor, o ServeOptions) (*Server, error) {
	s := &Server{p: p, o: o, m: metrics.New("tapir_rpz"),
		srv: &rpzzone.Server{Zone: p.Zone, Notify: o.Notify, NotifyOnStart: true, Logger: p.Log}}
	for _, a := range o.AllowTransfer {
		pfx, err := netip.ParsePrefix(a)
		if err != nil {
			addr, aerr := netip.ParseAddr(a)
			if aerr != nil {
				return nil, fault.Errorf(fault.Config, "--allow-transfer %q: not an address or prefix", a)
			}
			pfx = netip.PrefixFrom(addr, addr.BitLen())
		}
		s.srv.Allow = append(s.srv.Allow, pfx)
	}
	if o.TSIGSecretFile != "" {
		b, err := keyfile.Read(o.TSIGSecretFile)
		if err != nil {
			return nil, fault.Errorf(fault.Config, "--tsig-secret-file: %w", err)
		}
		s.srv.TSIGName, s.srv.TSIGSecret = o.TSIGName, strings.TrimSpace(string(b))
	}
	s.counters()
	return s, nil
}

// counters registers the metrics of serve, and counts transfers and
// NOTIFY failures as the DNS server reports them.
func (s *Server) counters() {
	p, m := s.p, s.m
	m.Gauge("serial", "The zone's serial.", func() float64 { return float64(p.Zone.Serial()) })
	m.Gauge("rules", "Rules in the zone.", func() float64 { return float64(p.Zone.Len()) })
	m.CounterFunc("observations", "Observations from the core applied.", func() float64 { return float64(p.Observed.Load()) })
	m.CounterFunc("observations_refused", "Observation records refused (see the log).", func() float64 { return float64(p.Refused.Load()) })
	s.reloadFailed = m.Counter("list_reload_failures", "List reloads that failed (the old lists stay).")
	transfers := map[string]*metrics.Counter{}
	for _, k := range []string{"AXFR", "IXFR", "IXFR-current", "IXFR-udp", "refused"} {
		transfers[k] = m.Counter("transfers", "Zone transfer requests, by what was sent.", "kind", k)
	}
	s.srv.OnTransfer = func(kind string) { transfers[kind].Add(1) }
	notifyFailed := m.Counter("notify_failures", "NOTIFY attempts not acknowledged.")
	s.srv.OnNotify = func(_ string, _ uint32, err error) {
		if err != nil {
			notifyFailed.Add(1)
		}
	}
}

// Metrics are the counters of serve, to serve; Run adds
// input_skipped_bytes when it reads an input.
func (s *Server) Metrics() *metrics.Set { return s.m }

// Run serves the zone until ctx ends or the DNS server fails, applying
// the observations of in's inputs (see Processor.Read) as they come and,
// once they end, serving on; every second it expires what is due,
// reloads the lists if a file changed, and writes ZoneFile if the serial
// moved. in.Signals.Reload reloads the lists. When ctx ends, or the
// server fails, the input stops at a frame boundary after what it gave
// is applied; Run returns the server's error. in says what to read and
// which signals to answer; Run sets the rest.
func (s *Server) Run(ctx context.Context, in stage.Config) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	served := make(chan error, 1)
	go func() {
		err := s.srv.Serve(ctx, s.o.Listen)
		cancel() // stop reading, as on SIGTERM
		served <- err
	}()
	s.p.Log.Info("serving the zone", "origin", s.p.Zone.Origin(), "serial", s.p.Zone.Serial(), "listen", s.o.Listen)
	in.Tick, in.OnTick, in.OnReload, in.Metrics = time.Second, s.tick, s.reload, s.m
	for ctx.Err() == nil {
		// An input that ends, or fails, leaves the lists and expiry
		// to keep the zone: the second round has no input, and ends
		// with ctx.
		if err := s.p.Read(ctx, in); err != nil {
			s.p.Log.Error("observations", "err", err)
		}
		in.Inputs = nil
	}
	return <-served
}

// tick is serve's work of every second. Its failures are logged: the
// zone is served as it stands.
func (s *Server) tick() error {
	log := s.p.Log
	if err := s.p.Expire(time.Now()); err != nil {
		log.Error("expire", "err", err)
	}
	if s.p.Changed() {
		log.Info("a list changed: reloading")
		s.reload()
	}
	if serial := s.p.Zone.Serial(); s.o.ZoneFile != "" && serial != s.written {
		if err := s.p.Zone.WriteFile(s.o.ZoneFile); err != nil {
			log.Error("write zone file", "err", err)
		} else {
			s.written = serial
		}
	}
	return nil
}

// reload reads the lists again; a list that fails keeps the old ones.
func (s *Server) reload() {
	if err := s.p.Reload(); err != nil {
		s.reloadFailed.Add(1)
		s.p.Log.Error("reload lists: keeping the old ones", "err", err)
	}
}
