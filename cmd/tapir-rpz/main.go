// Command tapir-rpz is the DNS TAPIR policy processor: the core's
// observations and the operator's lists, through the operator's policy,
// into a Response Policy Zone that resolvers enforce.
package main

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/tapir-edge/tapir/cmd/tool"
	"github.com/tapir-edge/tapir/deploy/resolvers"
	"github.com/tapir-edge/tapir/lib/blocklist"
	"github.com/tapir-edge/tapir/lib/policy"
	"github.com/tapir-edge/tapir/lib/rpz"
	"github.com/tapir-edge/tapir/lib/stage"
)

//go:generate go run -tags docs .

func main() { tool.Main(app(), manual) }

// inputs are the flags of every command: lists, policy, zone, state.
func inputs() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "allow", Usage: "allowlist `FILE` (repeatable): always passes", Category: "Lists", TakesFile: true},
		&cli.StringSliceFlag{Name: "deny", Usage: "denylist `FILE` (repeatable)", Category: "Lists", TakesFile: true},
		&cli.StringSliceFlag{Name: "doubt", Usage: "doubtlist `FILE` (repeatable): decided by the doubt rules of the policy", Category: "Lists", TakesFile: true},
		&cli.StringFlag{Name: "list-format", Value: "auto", Usage: "`FORMAT` of the lists: auto, plain, hosts, csv, csv:N, rpz or adblock", Category: "Lists"},
		&cli.StringFlag{Name: "policy", Usage: "policy `FILE` (see POLICY); default: deny action nxdomain", Category: "Lists", TakesFile: true},
		&cli.BoolFlag{Name: "monitor", Usage: "monitor mode: every rule PASSTHRU, so the resolver logs what would be blocked (rpz-log) and blocks nothing", Category: "Zone"},
		&cli.StringFlag{Name: "origin", Value: "rpz.tapir.", Usage: "the zone's `NAME`", Category: "Zone"},
		&cli.StringFlag{Name: "state", Usage: "keep the zone's serial, journal and the observations in `DIR`", Category: "Zone", TakesFile: true},
		&cli.StringFlag{Name: "zone-file", Usage: "write the zone to `FILE` (atomically; with serve, on every change)", Category: "Zone", TakesFile: true},
		&cli.StringSliceFlag{Name: "read", Aliases: []string{"r"}, Usage: "observation records from `FILE` (repeatable)", Category: "Input", TakesFile: true},
		&cli.StringSliceFlag{Name: "identity", Aliases: []string{"i"}, Usage: "age identity `FILE` for encrypted input", Category: "Input", TakesFile: true},
	}
}

func app() *cli.App {
	return &cli.App{
		Name:  "tapir-rpz",
		Usage: "turn observations and lists, through a policy, into a Response Policy Zone",
		UsageText: `tapir-rpz zone [--allow FILE] [--deny FILE] [--doubt FILE] [--policy FILE] [-r FILE] [--zone-file FILE]
tapir-observe --broker URL --node DIR | tapir-rpz serve --listen ADDR [--notify ADDR] [--state DIR] [lists]
tapir-rpz explain [lists] NAME...`,
		Description: `DNS TAPIR provides intelligence, not enforcement: the operator decides
what to block. tapir-rpz turns the core's observations (observation
records, from tapir-observe) and the operator's own lists, through
the operator's policy, into an RPZ zone that the resolver enforces.

zone: writes the zone once, to stdout or --zone-file.

serve: a primary for the zone on --listen (a bare port binds loopback):
AXFR, and IXFR from a journal of recent changes kept in --state (clients
too far behind get AXFR); NOTIFY to every --notify address on each change;
transfers allowed to --allow-transfer (default loopback only), with TSIG
if --tsig-name and --tsig-secret-file are given. Observations are read from
stdin (or -r) as they come, expire at time_added + ttl, and the lists are
reloaded on SIGHUP.

explain: says which rule decides each NAME, from which source.

The zone's serial increases with every change (RFC 1982) and is saved in
--state before the zone is served, so it never goes backwards. Observations
are kept in --state too, so that a restart serves the same zone.`,
		Commands: []*cli.Command{
			{Name: "zone", Usage: "write the zone", Flags: inputs(), Action: zoneAction},
			{Name: "serve", Usage: "serve the zone (AXFR, IXFR, NOTIFY), kept up to date", Flags: append(inputs(),
				&cli.StringFlag{Name: "listen", Aliases: []string{"l"}, Value: "127.0.0.1:5353", Usage: "serve on `ADDR` (UDP and TCP)", Category: "Serve"},
				&cli.StringSliceFlag{Name: "notify", Usage: "send NOTIFY to `ADDR` (host:port) on every change (repeatable)", Category: "Serve"},
				&cli.StringSliceFlag{Name: "allow-transfer", Usage: "allow transfers from `PREFIX` (repeatable; default loopback only)", Category: "Serve"},
				&cli.StringFlag{Name: "tsig-name", Usage: "TSIG key `NAME` (hmac-sha256) required for transfers and used on NOTIFY", Category: "Serve"},
				&cli.StringFlag{Name: "tsig-secret-file", Usage: "the TSIG secret (base64) in `FILE` (mode 0600)", Category: "Serve", TakesFile: true},
				&cli.BoolFlag{Name: "no-input", Usage: "read no observations: serve the lists alone", Category: "Serve"},
				tool.MetricsFlag,
			), Action: serveAction},
			{Name: "explain", Usage: "say which rule decides a name", ArgsUsage: "NAME...", Flags: inputs(), Action: explainAction},
		},
	}
}

var manual = tool.Manual{
	Examples: []tool.Example{
		{Text: "Block the operator's own denylist, and what the core observes, for Unbound:",
			Command: "tapir-observe --broker mqtts://broker/observations/down/edge-1 --node /var/lib/tapir/node | tapir-rpz serve --listen 127.0.0.1:5353 --notify 127.0.0.1:53 --state /var/lib/tapir/rpz --deny /etc/tapir/deny.txt --allow /etc/tapir/allow.txt --policy /etc/tapir/policy"},
		{Text: "See what the lists alone would block, as a zone file:",
			Command: "tapir-rpz zone --deny deny.txt --allow allow.txt > rpz.zone && named-checkzone rpz.tapir. rpz.zone"},
		{Text: "Why is a name blocked?",
			Command: "tapir-rpz explain --deny deny.txt --policy policy www.bad.example"},
	},
	Sections: [][2]string{
		{"POLICY", `One rule a line; # comments. An allowlist entry (local or from the core, exact or suffix) always wins: it is written as PASSTHRU. Then the deny rules, then the doubt rules are tried; when several fire, the most restrictive action wins (drop, nxdomain, nodata, tcp-only, redirect, passthru, in that order), the earlier rule on a tie.

 KIND [CONDITION...] action ACTION
 KIND: deny (denylist entries) | doubt (doubtlist entries)
 CONDITIONS, all must hold:
   source=NAME      entries from this source (a list file, or an observation's src_name)
   sources>=N       at least N distinct sources list the entry
   tags>=N          their tag bits count at least N
   tags-any=T[,T]   the entry has one of these tags
 TAGS: newname highvolume badip cdntracker likelymalware likelybotnetcc
 ACTIONS: nxdomain (CNAME .) nodata (CNAME *.) drop (rpz-drop.)
   tcp-only (rpz-tcp-only.) redirect:FQDN passthru (rpz-passthru.)

An example:

 deny action nxdomain
 deny source=dns-tapir action drop
 doubt sources>=2 action nxdomain
 doubt tags>=3 action nodata
 doubt tags-any=likelymalware,likelybotnetcc action drop`},
		{"LISTS", `Plain names, hosts files (0.0.0.0 name), CSV (csv:N for column N), RPZ zone files and adblock rules (||name^), sniffed or given with --list-format. Comments, blank lines, case, trailing dots and IDNs (converted to A-labels) are handled; "*.example.com" and ".example.com" mean every strict subdomain. A bad line is logged with its file and line and skipped.`},
		{"RESOLVERS", resolvers.Section(`The zone is rpz.tapir., served on 127.0.0.1 port 5353 by tapir-rpz.service. These files are installed in /usr/share/doc/tapir-toolkit/resolvers; the tests start each resolver with them.`, resolvers.RPZ)},
		{"MONITOR MODE", resolvers.Section(`Many operators begin by watching what the zone would block. Either serve the zone with --monitor (every rule PASSTHRU: Unbound's rpz-log and BIND's rpz log category show each hit), or have the resolver log the zone's rules and apply none of them:`, resolvers.Monitor) + `

Then tapir-cat --match-rpz ZONEFILE counts, rule by rule, what a dnstap stream or archive would have had blocked.`},
		tool.FIFOs,
		{"SIGNALS", `SIGTERM, SIGINT: stop reading at a frame boundary (see FIFOS), apply what was read, stop serving; the state is on disk. SIGHUP: reload the lists. SIGUSR1: log the serial and the number of rules.`},
	},
	SeeAlso: []string{"tapir-observe(1)", "named-checkzone(1)", "unbound.conf(5)"},
}

// open builds the Processor the flags describe. compact is for serve, the
// one command that appends to the journal.
func open(c *cli.Context, compact bool) (*rpz.Processor, error) {
	format, err := blocklist.ParseFormat(c.String("list-format"))
	if err != nil {
		return nil, tool.Usagef("--list-format: %w", err)
	}
	o := rpz.Options{Policy: c.String("policy"), Origin: c.String("origin"), State: c.String("state"), Monitor: c.Bool("monitor"), Compact: compact}
	for _, k := range []struct {
		flag string
		kind policy.Kind
	}{{"allow", policy.Allow}, {"deny", policy.Deny}, {"doubt", policy.Doubt}} {
		for _, path := range c.StringSlice(k.flag) {
			o.Lists = append(o.Lists, rpz.List{Kind: k.kind, Path: path, Format: format})
		}
	}
	return rpz.Open(o)
}

// read applies the observations of the -r files, for zone and explain.
func read(c *cli.Context, p *rpz.Processor) error {
	in := c.StringSlice("read")
	if len(in) == 0 {
		return nil
	}
	ids, err := tool.Identities(c)
	if err != nil {
		return err
	}
	return p.Read(c.Context, stage.Config{Inputs: in, Identities: ids})
}

// zoneAction is tapir-rpz zone: the zone, once, to stdout or --zone-file.
func zoneAction(c *cli.Context) error {
	p, err := open(c, false)
	if err != nil {
		return err
	}
	if err := read(c, p); err != nil {
		return err
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

// explainAction is tapir-rpz explain NAME…
func explainAction(c *cli.Context) error {
	if c.NArg() == 0 {
		return tool.Usagef("explain needs a NAME")
	}
	p, err := open(c, false)
	if err != nil {
		return err
	}
	if err := read(c, p); err != nil {
		return err
	}
	for _, name := range c.Args().Slice() {
		fmt.Fprintln(c.App.Writer, strings.TrimRight(p.Explain(name), "\n"))
	}
	return nil
}

// serveAction is tapir-rpz serve: a primary for the zone, kept up to date
// from the observations on stdin (or -r), the lists and expiry.
func serveAction(c *cli.Context) error {
	p, err := open(c, true)
	if err != nil {
		return err
	}
	s, err := rpz.NewServer(p, rpz.ServeOptions{
		Listen:         tool.LoopbackAddr(c.String("listen")),
		Notify:         c.StringSlice("notify"),
		AllowTransfer:  c.StringSlice("allow-transfer"),
		TSIGName:       c.String("tsig-name"),
		TSIGSecretFile: c.String("tsig-secret-file"),
		ZoneFile:       c.String("zone-file"),
	})
	if err != nil {
		return err
	}
	var in stage.Config
	if !c.Bool("no-input") {
		if in.Identities, err = tool.Identities(c); err != nil {
			return err
		}
		in.Inputs = tool.Inputs(c)
	}
	ctx, sig, stop := tool.Notify(c.Context)
	defer stop()
	if err := tool.ServeMetrics(ctx, c, s.Metrics()); err != nil {
		return err
	}
	in.Signals = sig
	return s.Run(ctx, in)
}
