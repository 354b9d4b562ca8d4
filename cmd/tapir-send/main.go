// Command tapir-send delivers tapir records to the DNS TAPIR core, losing
// nothing while the core is away.
package main

import (
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/tapir-edge/tapir/cmd/tool"
	"github.com/tapir-edge/tapir/lib/archive"
	"github.com/tapir-edge/tapir/lib/send"
	"github.com/tapir-edge/tapir/lib/stage"
)

//go:generate go run -tags docs .

func main() { tool.Main(app(), manual) }

func app() *cli.App {
	return &cli.App{
		Name:      "tapir-send",
		Usage:     "deliver tapir records to the DNS TAPIR core",
		UsageText: "tapir-send --to URL... --spool DIR [credentials] [-r FILE]...\ntapir-send --spool DIR --status [--json]",
		Description: `tapir-send reads tapir records (json:tapir.Record, from tapir-agg) and
delivers each to the destinations that take it. It is the pipeline's only
exit to the core.

Delivery is at least once. Every record is first written to the spool of
each destination that takes it (--spool DIR, one folder per destination,
each bounded by --spool-max; when full, the oldest records go and are
counted). A record leaves the spool only when its destination accepted it:
a crash, a restart or a core away for days loses nothing, and what was
spooled is delivered first at the next start. A destination's temporary
failure (a network error, 5xx, 408, 429) is retried with exponential
backoff and jitter, and after a 429 or 503 no sooner than its Retry-After;
a refusal for good (another 4xx) moves the record to the spool's rejected/
folder with the reason beside it, and counts it.

Destinations (--to, repeatable):

 aggrec, broker:  the aggregate receiver, and the MQTT broker, named in
 --node's node.json.

 https://aggrec.example/  the DNS TAPIR aggregate receiver: each histogram
 record becomes a Parquet file with the DNS TAPIR histogram schema, POSTed
 to /api/v1/aggregate/histogram with Content-Digest, Aggregate-Interval and
 an RFC 9421 signature by the node's data key (--data-key), made at each
 attempt, over mutual TLS with the node's certificate (--tls-cert,
 --tls-key). Success is 201 with a Location, which is logged.

 mqtts://broker:8883/  the DNS TAPIR MQTT broker: each new_qname record
 as the payload of a JWS (JSON serialization, EdDSA or ES256 by the data
 key, kid the node name) on events/up/NAME/new_qname (--mqtt-topic), MQTT 5
 at QoS 1 over TLS with the node's certificate: the broker's acknowledgement
 is what removes it from the spool. Up to 16 events wait for their
 acknowledgements at once, so they may reach the broker out of order (each
 has its timestamp).

 file:///var/lib/tapir/archive/  an archive of the whole stream (records,
 or dnstap with --dnstap) in files named by interval (--rotate, --max-size),
 compressed with zstd and encrypted to age recipients (--recipient), so the
 edge cannot read its own archive, only the analysts holding the
 identities; each file is written under a temporary name and renamed when
 complete; --keep-age and --keep-bytes delete old files. tapir-cat reads
 the files directly.

 unix:/run/collector.sock, tcp:HOST:PORT  a relay: the stream, as it is
 (records, or dnstap with --dnstap), to another Frame Streams receiver
 (a second toolkit, DNS-collector, fstrm_capture) with the bidirectional
 handshake, reconnecting when it goes away. A relay is not spooled: while
 its receiver is away, up to --relay-buffer frames wait in memory, and the
 oldest are dropped and counted.

When the input ends, tapir-send goes on delivering for up to --drain, then
leaves what remains in the spool for its next run.`,
		Flags: append(append([]cli.Flag{
			&cli.StringSliceFlag{Name: "to", Aliases: []string{"t"}, Usage: "deliver to `URL` (repeatable)", Category: "Destinations"},
			&cli.BoolFlag{Name: "dnstap", Usage: "the input is dnstap, not records (for archives and relays only)", Category: "Destinations"},
			&cli.StringFlag{Name: "mqtt-topic", Usage: "publish new_qname events on `TOPIC` (default events/up/NAME/new_qname)", Category: "Destinations"},
			&cli.DurationFlag{Name: "rotate", Value: time.Hour, Usage: "archive: a new file every `DURATION`, on the boundary", Category: "Archive"},
			&cli.StringFlag{Name: "max-size", Value: "0", Usage: "archive: a new file also at `BYTES` (0: no limit)", Category: "Archive"},
			&cli.DurationFlag{Name: "keep-age", Usage: "archive: delete files older than `DURATION` (0: keep)", Category: "Archive"},
			&cli.StringFlag{Name: "keep-bytes", Value: "0", Usage: "archive: delete the oldest files beyond `BYTES` in all (0: keep)", Category: "Archive"},
			&cli.BoolFlag{Name: "no-zstd", Usage: "archive: do not compress", Category: "Archive"},
			&cli.StringSliceFlag{Name: "recipient", Usage: "archive: encrypt to age `RECIPIENT` (repeatable)", Category: "Archive"},
			&cli.StringSliceFlag{Name: "recipients-file", Usage: "archive: encrypt to the age recipients in `FILE`", Category: "Archive", TakesFile: true},
			&cli.IntFlag{Name: "relay-buffer", Value: 100000, Usage: "frames a relay holds while its receiver is away (`N`); the oldest go first", Category: "Destinations"},
			&cli.StringFlag{Name: "spool", Aliases: []string{"s"}, Usage: "keep undelivered records in `DIR`", Category: "Spool", TakesFile: true},
			&cli.StringFlag{Name: "spool-max", Value: "1GiB", Usage: "at most `BYTES` in each destination's spool; the oldest go first", Category: "Spool"},
			&cli.BoolFlag{Name: "status", Usage: "print what waits in the spool, per destination, and exit", Category: "Spool"},
			&cli.BoolFlag{Name: "json", Usage: "with --status, print JSON", Category: "Spool"},
			&cli.DurationFlag{Name: "drain", Value: 10 * time.Second, Usage: "after the input ends, deliver for up to `DURATION`", Category: "Spool"},
			&cli.StringFlag{Name: "node", Usage: "the node directory `DIR` that tapir-enroll wrote: name, data key, TLS certificate and key, CA certificate, core URLs", Category: "Credentials", TakesFile: true},
			&cli.StringFlag{Name: "name", Usage: "the node `NAME` (the signature's keyid), without --node", Category: "Credentials"},
			&cli.StringFlag{Name: "data-key", Usage: "the node's data key `FILE` (PKCS #8 PEM, Ed25519 or ECDSA P-256; mode 0600)", Category: "Credentials", TakesFile: true},
			&cli.StringFlag{Name: "tls-cert", Usage: "the node's certificate `FILE` (PEM) for mutual TLS", Category: "Credentials", TakesFile: true},
			&cli.StringFlag{Name: "tls-key", Usage: "the node's TLS key `FILE` (PEM, mode 0600)", Category: "Credentials", TakesFile: true},
			&cli.StringFlag{Name: "ca-file", Usage: "trust the CA certificates in `FILE` besides the system's and, with --node, the node's", Category: "Credentials", TakesFile: true},
			&cli.BoolFlag{Name: "insecure", Usage: "allow http:// destinations (tests only)", Category: "Credentials"},
		}, tool.InputFlags()...), tool.MetricsFlag),
		Action: action,
	}
}

var manual = tool.Manual{
	Examples: []tool.Example{
		{Text: "Deliver the aggregates of the edge pipeline:",
			Command: "tapir-agg --well-known wk.txt --state /var/lib/tapir/agg | tapir-send --node /etc/tapir/node --to aggrec --spool /var/lib/tapir/spool"},
		{Text: "See what waits for the core:",
			Command: "tapir-send --spool /var/lib/tapir/spool --status"},
	},
	Sections: [][2]string{
		tool.FIFOs,
		{"SIGNALS", `SIGTERM, SIGINT: stop reading at a frame boundary (see FIFOS) and stop sending; what was not delivered stays in the spool; exit 0.

SIGUSR1: log the counters (delivered, rejected, retries, spool_dropped, spool_items, spool_bytes, per destination).`},
	},
	SeeAlso: []string{"tapir-agg(1)", "tapir-enroll(1)", "tapir-cat(1)"},
}

// action is tapir-send: it spools every record of the input for each
// destination that takes it, and delivers from the spools until the input
// ends (then for up to --drain) or SIGTERM.
func action(c *cli.Context) error {
	dir := c.String("spool")
	if dir == "" {
		return tool.Usagef("give the spool directory with --spool DIR")
	}
	if c.Bool("status") {
		return status(c.App.Writer, dir, c.Bool("json"))
	}
	o, err := options(c)
	if err != nil {
		return err
	}
	t, err := send.Open(c.Context, o)
	if err != nil {
		return err
	}
	ids, err := tool.Identities(c)
	if err != nil {
		return err
	}
	ctx, sig, stop := tool.Notify(c.Context)
	defer stop()
	if err := tool.ServeMetrics(ctx, c, t.Metrics()); err != nil {
		return err
	}
	return t.Run(ctx, stage.Config{Inputs: tool.Inputs(c), Identities: ids, Signals: sig})
}

// options reads the flags of a run into send.Options.
func options(c *cli.Context) (send.Options, error) {
	o := send.Options{
		To:          c.StringSlice("to"),
		Dnstap:      c.Bool("dnstap"),
		Spool:       c.String("spool"),
		Drain:       c.Duration("drain"),
		RelayBuffer: c.Int("relay-buffer"),
		MQTTTopic:   c.String("mqtt-topic"),
		Credentials: send.Credentials{
			Node:    c.String("node"),
			Name:    c.String("name"),
			DataKey: c.String("data-key"),
			TLSCert: c.String("tls-cert"),
			TLSKey:  c.String("tls-key"),
			CAFile:  c.String("ca-file"),
		},
		Insecure: c.Bool("insecure"),
	}
	if len(o.To) == 0 {
		return o, tool.Usagef("give at least one destination with --to URL")
	}
	var err error
	if o.SpoolMax, err = tool.ParseBytes(c.String("spool-max")); err != nil {
		return o, tool.Usagef("--spool-max: %v", err)
	}
	// The archive flags are read only for an archive, as they concern
	// none other.
	if slices.ContainsFunc(o.To, func(to string) bool { return strings.HasPrefix(to, "file:") }) {
		o.Archive, err = archiveConfig(c)
	}
	return o, err
}

// archiveConfig reads the flags of the archives.
func archiveConfig(c *cli.Context) (archive.Config, error) {
	a := archive.Config{Rotate: c.Duration("rotate"), Zstd: !c.Bool("no-zstd"), KeepAge: c.Duration("keep-age")}
	var err error
	if a.Recipients, err = tool.Recipients(c); err != nil {
		return a, err
	}
	if a.MaxSize, err = tool.ParseBytes(c.String("max-size")); err != nil {
		return a, tool.Usagef("--max-size: %v", err)
	}
	if a.KeepBytes, err = tool.ParseBytes(c.String("keep-bytes")); err != nil {
		return a, tool.Usagef("--keep-bytes: %v", err)
	}
	return a, nil
}
