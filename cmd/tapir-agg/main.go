// Command tapir-agg turns dnstap into DNS TAPIR's aggregates: histograms of
// well-known domains and new_qname events.
package main

import (
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/tapir-edge/tapir/cmd/tool"
	"github.com/tapir-edge/tapir/lib/agg"
	"github.com/tapir-edge/tapir/lib/dnstap"
	"github.com/tapir-edge/tapir/lib/record"
	"github.com/tapir-edge/tapir/lib/stage"
)

//go:generate go run -tags docs .

func main() { tool.Main(app(), manual) }

func app() *cli.App {
	return &cli.App{
		Name:      "tapir-agg",
		Usage:     "histograms of well-known domains and new-name events from dnstap",
		UsageText: "tapir-agg --well-known FILE [--state DIR] [-r FILE]... [-w FILE] [options]",
		Description: `tapir-agg reads dnstap (usually from tapir-anon) and writes tapir records
(content type json:tapir.Record) in the formats the DNS TAPIR core takes
from its edge: for each interval, one histogram record with a row per
well-known domain seen, and a new_qname record the first time a name that
is not well known is seen at this edge. tapir-send delivers them.

Which messages count: CLIENT_RESPONSE by default (--types), so that a
resolver that logs queries and responses is not counted twice. The first
question's name, lowercased, decides. A message that is not dnstap, has no
DNS message, does not parse, has no question or an invalid name, or no
timestamp, is counted by reason and skipped.

Well-known domains come from --well-known files: one name per line, #
comments; "example.com." matches that name, ".example.net." every strict
subdomain of example.net., and the longest match wins. A bad line is logged
with its file and line, counted, and skipped. SIGHUP reloads the lists
without stopping.

Intervals (--interval) are aligned to the dnstap timestamps, not the wall
clock, so a replay gives what the live run gave. An interval is written
--late after its end, since resolver threads deliver messages out of order;
a message for an interval already written is counted as late. At the end of
the input, or on SIGTERM, the open intervals are written marked partial.

Distinct clients per domain are estimated with HyperLogLog (log2m 10,
regwidth 4), serialised in the hll-storage-spec v1 layout as the DNS TAPIR
edge (EDM) writes it, so the core can merge sketches. The hash of a client
address is, by default, keyed (SipHash-2-4 with a key kept in the --state
directory): raw addresses are never hashed with a hash others can compute.
--client-hash edm uses EDM's unkeyed hash instead, for sketches identical to
EDM's; use it only on pseudonymised input (after tapir-anon).

New names are remembered in --state (time-sliced filters, bounded in
memory and on disk), so a restart does not announce them again; a name
unseen for --forget-after is announced again. A burst of new names beyond
--new-qname-rate a second (of message time) is counted, not queued.`,
		Flags: append(append(append([]cli.Flag{
			&cli.StringSliceFlag{Name: "well-known", Usage: "well-known domain list `FILE` (repeatable)", Category: "Lists", TakesFile: true},
			&cli.StringSliceFlag{Name: "ignore-names", Usage: "leave out names in list `FILE` (same format; repeatable)", Category: "Lists", TakesFile: true},
			&cli.StringSliceFlag{Name: "ignore-clients", Usage: "leave out clients in `FILE` of addresses and prefixes (repeatable)", Category: "Lists", TakesFile: true},
			&cli.StringSliceFlag{Name: "types", Aliases: []string{"t"}, Value: cli.NewStringSlice("CLIENT_RESPONSE"), Usage: "count messages of these `TYPES` (comma-separated, repeatable)", Category: "Counting"},
			&cli.DurationFlag{Name: "interval", Value: time.Minute, Usage: "histogram `INTERVAL`, whole seconds", Category: "Counting"},
			&cli.DurationFlag{Name: "late", Value: 5 * time.Second, Usage: "keep an interval open `GRACE` after its end for messages out of order", Category: "Counting"},
			&cli.IntFlag{Name: "max-domains", Value: 200000, Usage: "at most `N` rows per interval; messages for more are counted as overflow", Category: "Counting"},
			&cli.StringFlag{Name: "client-hash", Value: "keyed", Usage: "hash clients with a `HASH`: keyed (SipHash, key in --state) or edm (EDM's, for pseudonymised input)", Category: "Counting"},
			&cli.StringFlag{Name: "state", Usage: "keep names seen, and the client hash key, in `DIR`", Category: "New names", TakesFile: true},
			&cli.DurationFlag{Name: "forget-after", Value: 30 * 24 * time.Hour, Usage: "announce a name again after `DURATION` unseen", Category: "New names"},
			&cli.IntFlag{Name: "seen-capacity", Value: 1000000, Usage: "new names a day the seen-set holds at a 1% false-positive rate (`N`)", Category: "New names"},
			&cli.IntFlag{Name: "new-qname-rate", Value: 1000, Usage: "at most `N` new_qname events a second; more are counted", Category: "New names"},
		}, tool.InputFlags()...), tool.OutputFlags()...), tool.MetricsFlag),
		Action: action,
	}
}

var manual = tool.Manual{
	Examples: []tool.Example{
		{Text: "Aggregate what the resolvers send, after pseudonymisation:",
			Command: "tapir-listen -u /run/tapir/dnstap.sock | tapir-anon -k anon.key | tapir-agg --well-known /usr/share/tapir/well-known-domains.txt --state /var/lib/tapir/agg | tapir-send"},
		{Text: "Replay a capture into five-minute histograms and read them:",
			Command: "tapir-agg --well-known wk.txt --interval 5m -r capture.fstrm | tapir-cat --json"},
	},
	Sections: [][2]string{
		{"RECORDS", `histogram: {"type":"histogram","start":RFC 3339,"duration":seconds,"partial":true if cut short,"overflow":messages beyond --max-domains,"rows":[...]}. Each row: label0 (the TLD) to label9 (the rest of the name, joined), a_count, aaaa_count, mx_count, ns_count, other_type_count, non_in_count, ok_count, nx_count, fail_count, other_rcode_count, edm_status_bits (1 exact match, 2 suffix match), v4client_count, v6client_count, v4client_count_hll and v6client_count_hll (base64 of the hll-storage-spec v1 bytes). An exact and a suffix entry of one domain are separate rows, as in EDM.

new_qname: {"type":"new_qname","version":0,"timestamp":start of the interval,"qname" (lowercased),"qtype","qclass","flags":the response's header word}, the members EDM sets; the schema's optional initiator and rdlength are left out, as EDM does.`},
		{"COUNTERS", `Logged on SIGUSR1 and at exit, served with --metrics as tapir_agg_*: frames, matched, new_qnames, histograms, bad_list_lines, and skipped by reason: type, not_dnstap, no_message, short, no_question, bad_name, no_time, ignored_name, ignored_client, late, overflow, new_qname_rate.`},
		{"MEMORY", `A histogram row costs about 280 bytes with a few clients, and its two sketches up to 576 bytes each when full; the rows are bounded by the list and --max-domains. A million rows in one interval take about 280 MB, and writing their histogram (250 MB of JSON, one frame) brings the heap to about 800 MB at the peak; set GOMEMLIMIT to bound it harder. New names cost nothing per interval. The seen-set is one Bloom filter a day (18.7 bits a name at --seen-capacity, 1% false positives over the whole window when every day is full): 2.3 MB a day at the default capacity, 72 MB for the default 30 days, however many names arrive; a day over capacity is counted and its false-positive rate rises (a false positive is a new name not announced). The state is saved every five minutes and at exit.`},
		tool.FIFOs,
		{"SIGNALS", `SIGTERM, SIGINT: stop reading at a frame boundary (see FIFOS), write the open intervals (partial), save the state, STOP, exit 0.

SIGHUP: reload the lists, reopen the -w file (a new stream, appended if the file was not moved away).

SIGUSR1: log the counters.`},
	},
	SeeAlso: []string{"tapir-anon(1)", "tapir-send(1)", "tapir-cat(1)"},
}

func action(c *cli.Context) error {
	o := agg.Options{
		Config: agg.Config{
			Interval:     c.Duration("interval"),
			Late:         c.Duration("late"),
			MaxDomains:   c.Int("max-domains"),
			NewPerSecond: c.Int("new-qname-rate"),
		},
		WellKnown:     c.StringSlice("well-known"),
		IgnoreNames:   c.StringSlice("ignore-names"),
		IgnoreClients: c.StringSlice("ignore-clients"),
		State:         c.String("state"),
		ForgetAfter:   c.Duration("forget-after"),
		SeenCapacity:  c.Int("seen-capacity"),
		ClientHash:    c.String("client-hash"),
	}
	for _, arg := range c.StringSlice("types") {
		for _, name := range strings.Split(arg, ",") {
			t, err := dnstap.ParseMessageType(strings.TrimSpace(name))
			if err != nil {
				return tool.Usagef("--types: %v", err)
			}
			o.Types = append(o.Types, t)
		}
	}
	a, err := agg.Open(o)
	if err != nil {
		return err
	}
	defer a.Close()
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
	if err := tool.ServeMetrics(ctx, c, a.Metrics()); err != nil {
		return err
	}
	return a.Run(ctx, stage.Config{Inputs: tool.Inputs(c), Identities: ids, Signals: sig}, out)
}
