package rpz

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/tapir-edge/tapir/cmd/tool"
	"github.com/tapir-edge/tapir/lib/blocklist"
	"github.com/tapir-edge/tapir/lib/fstrm"
	"github.com/tapir-edge/tapir/lib/keyfile"
	"github.com/tapir-edge/tapir/lib/metrics"
	"github.com/tapir-edge/tapir/lib/policy"
	"github.com/tapir-edge/tapir/lib/record"
	"github.com/tapir-edge/tapir/lib/rpzzone"
	"github.com/tapir-edge/tapir/lib/stream"
)

// open builds the Processor the flags describe, with its lists loaded
// and its zone (persisted in --state, or in memory) up to date. compact
// is for serve, the one command that appends to the journal.
func open(c *cli.Context, compact bool) (*Processor, error) {
	log := slog.Default()
	var pol *policy.Policy
	if path := c.String("policy"); path != "" {
		var err error
		if pol, err = policy.LoadPolicy(path); err != nil {
			return nil, tool.Usagef("--policy: %v", err)
		}
	}
	format, err := blocklist.ParseFormat(c.String("list-format"))
	if err != nil {
		return nil, tool.Usagef("--list-format: %v", err)
	}
	var lists []List
	for _, k := range []struct {
		flag string
		kind policy.Kind
	}{{"allow", policy.Allow}, {"deny", policy.Deny}, {"doubt", policy.Doubt}} {
		for _, path := range c.StringSlice(k.flag) {
			lists = append(lists, List{Kind: k.kind, Path: path, Format: format})
		}
	}
	state := c.String("state")
	if state != "" {
		if err := os.MkdirAll(state, 0o700); err != nil {
			return nil, tool.Usagef("--state: %v", err)
		}
	}
	zone, err := rpzzone.Open(state, rpzzone.Options{Origin: c.String("origin")})
	if err != nil {
		return nil, tool.Usagef("zone: %v", err)
	}
	p := &Processor{Engine: policy.New(pol), Zone: zone, Lists: lists, Log: log, Monitor: c.Bool("monitor"), Compact: compact}
	if state != "" {
		p.Journal = JournalPath(state)
	}
	if err := p.Start(time.Now()); err != nil {
		return nil, tool.Usagef("%v", err)
	}
	return p, nil
}

// observe applies every observation record of the inputs (-r, or stdin
// when serving), until they end or, when serving, ctx ends: then the
// input stops at a frame boundary, after what it holds is applied.
func observe(ctx context.Context, c *cli.Context, p *Processor, names []string, m *metrics.Set) error {
	ids, err := tool.Identities(c)
	if err != nil {
		return err
	}
	log := slog.Default()
	// Continue: under systemd the input is a FIFO (tapir-rpz.socket) that
	// an earlier run read in part, or whose writer restarted or crashed.
	src := stream.NewFrames(names, ids, fstrm.ReaderOptions{ContentTypes: []string{record.ContentType},
		Continue: true, Plausible: record.Plausible}, log)
	defer src.Close()
	if m != nil {
		m.CounterFunc("input_skipped_bytes", "Input bytes skipped to find a frame boundary again, after a stage or writer died mid-frame.", func() float64 { return float64(src.Skipped()) })
	}
	defer context.AfterFunc(ctx, src.Stop)()
	for {
		b, n, name, err := src.Next()
		if errors.Is(err, io.EOF) {
			return src.Err()
		}
		if err != nil {
			return err
		}
		typ, err := record.Type(b)
		if err != nil || typ != record.TypeObservation {
			continue // other records pass by tapir-rpz
		}
		if err := p.Observe(b, time.Now()); err != nil {
			log.Warn("observation refused", "input", name, "frame", n, "err", err)
		}
	}
}

// ZoneAction is tapir-rpz zone: the zone, once, to stdout or a file.
func ZoneAction(c *cli.Context) error {
	p, err := open(c, false)
	if err != nil {
		return err
	}
	if in := c.StringSlice("read"); len(in) > 0 {
		if err := observe(c.Context, c, p, in, nil); err != nil {
			return err
		}
	}
	if path := c.String("zone-file"); path != "" {
		return p.Zone.WriteFile(path)
	}
	var b bytes.Buffer
	if _, err := p.Zone.WriteTo(&b); err != nil {
		return err
	}
	_, err = c.App.Writer.Write(b.Bytes())
	return err
}

// ExplainAction is tapir-rpz explain NAME…
func ExplainAction(c *cli.Context) error {
	if c.NArg() == 0 {
		return tool.Usagef("explain needs a NAME")
	}
	p, err := open(c, false)
	if err != nil {
		return err
	}
	if in := c.StringSlice("read"); len(in) > 0 {
		if err := observe(c.Context, c, p, in, nil); err != nil {
			return err
		}
	}
	for _, name := range c.Args().Slice() {
		fmt.Fprintln(c.App.Writer, strings.TrimRight(p.Explain(name), "\n"))
	}
	return nil
}

// ServeAction is tapir-rpz serve: a primary for the zone, kept up to date
// from the observations on stdin (or -r), the lists (reloaded on SIGHUP)
// and expiry.
func ServeAction(c *cli.Context) error {
	log := slog.Default()
	p, err := open(c, true)
	if err != nil {
		return err
	}
	srv := &rpzzone.Server{Zone: p.Zone, Notify: c.StringSlice("notify"), NotifyOnStart: true, Logger: log}
	for _, a := range c.StringSlice("allow-transfer") {
		pfx, err := netip.ParsePrefix(a)
		if err != nil {
			addr, aerr := netip.ParseAddr(a)
			if aerr != nil {
				return tool.Usagef("--allow-transfer %q: not an address or prefix", a)
			}
			pfx = netip.PrefixFrom(addr, addr.BitLen())
		}
		srv.Allow = append(srv.Allow, pfx)
	}
	if f := c.String("tsig-secret-file"); f != "" {
		b, err := keyfile.Read(f)
		if err != nil {
			return tool.Usagef("--tsig-secret-file: %v", err)
		}
		srv.TSIGName, srv.TSIGSecret = c.String("tsig-name"), strings.TrimSpace(string(b))
	}
	m := metrics.New("tapir_rpz")
	m.Gauge("serial", "The zone's serial.", func() float64 { return float64(p.Zone.Serial()) })
	m.Gauge("rules", "Rules in the zone.", func() float64 { return float64(p.Zone.Len()) })
	m.CounterFunc("observations", "Observations from the core applied.", func() float64 { return float64(p.Observed.Load()) })
	m.CounterFunc("observations_refused", "Observation records refused (see the log).", func() float64 { return float64(p.Refused.Load()) })
	reloadFailed := m.Counter("list_reload_failures", "List reloads that failed (the old lists stay).")
	transfers := map[string]*metrics.Counter{}
	for _, k := range []string{"AXFR", "IXFR", "IXFR-current", "IXFR-udp", "refused"} {
		transfers[k] = m.Counter("transfers", "Zone transfer requests, by what was sent.", "kind", k)
	}
	srv.OnTransfer = func(kind string) { transfers[kind].Add(1) }
	notifyFailed := m.Counter("notify_failures", "NOTIFY attempts not acknowledged.")
	srv.OnNotify = func(_ string, _ uint32, err error) {
		if err != nil {
			notifyFailed.Add(1)
		}
	}
	reload := func() {
		if err := p.Reload(); err != nil {
			reloadFailed.Add(1)
			log.Error("reload lists: keeping the old ones", "err", err)
		}
	}
	ctx, sig, stop := tool.Notify(c.Context)
	defer stop()
	if err := tool.ServeMetrics(ctx, c, m); err != nil {
		return err
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ctx, tool.LoopbackAddr(c.String("listen"))) }()
	log.Info("serving the zone", "origin", p.Zone.Origin(), "serial", p.Zone.Serial(), "listen", tool.LoopbackAddr(c.String("listen")))
	observed := make(chan struct{})
	if c.Bool("no-input") {
		close(observed)
	} else {
		go func() {
			defer close(observed)
			if err := observe(ctx, c, p, tool.Inputs(c), m); err != nil {
				log.Error("observations", "err", err)
			}
		}()
	}
	zoneFile := c.String("zone-file")
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	written := uint32(0)
	for {
		select {
		case <-tick.C:
			if err := p.Expire(time.Now()); err != nil {
				log.Error("expire", "err", err)
			}
			if p.Changed() {
				log.Info("a list changed: reloading")
				reload()
			}
			if s := p.Zone.Serial(); zoneFile != "" && s != written {
				if err := p.Zone.WriteFile(zoneFile); err != nil {
					log.Error("write zone file", "err", err)
				} else {
					written = s
				}
			}
		case <-sig.Reload:
			reload()
		case <-sig.Report:
			m.Log(log, "counters")
		case err := <-serveErr:
			return err
		case <-ctx.Done():
			// The input stops at a frame boundary once what it holds
			// is applied (journaled), so that the next run of a FIFO
			// goes on where this one stopped.
			select {
			case <-observed:
			case <-time.After(fstrm.DefaultStopWait + 5*time.Second):
				log.Warn("input did not stop in time: leaving it")
			}
			return <-serveErr
		}
	}
}
