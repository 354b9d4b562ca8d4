// Command tapir-cat prints tapir streams, dnstap or tapir records, as
// text, JSON or YAML, with filters: the analyst's tool.
package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/tapir-edge/tapir/cmd/tool"
	"github.com/tapir-edge/tapir/lib/cat"
	"github.com/tapir-edge/tapir/lib/fault"
	"github.com/tapir-edge/tapir/lib/stage"
)

//go:generate go run -tags docs .

func main() { tool.Main(app(), manual) }

func app() *cli.App {
	return &cli.App{
		Name:      "tapir-cat",
		Usage:     "print dnstap and tapir record streams as text, JSON or YAML",
		UsageText: "tapir-cat [-j | -y | -c] [filters] [-r FILE]... [FILE]...",
		Description: `tapir-cat reads tapir streams (Frame Streams of dnstap, content type
protobuf:dnstap.Dnstap, or of tapir records, json:tapir.Record), plain,
zstd-compressed or age-encrypted, from stdin or from files named with -r
or as arguments, one after the other, and prints each message.

By default a dnstap message is one line in the format of dnstap -q, and a
record its JSON on one line. --json and --yaml decode each DNS message.
--count prints only the number of messages; without filters it does not
decode them.

Filters select messages; all given must hold, and a repeated filter (or
comma-separated values) holds if any value does. Records are matched on
their members: --qname on "qname", --since and --until on "timestamp" (or
"start"), --rcode on "flags", --type on "type"; no record matches
--client, since records never carry a client address. --client is how an
operator checks that a pseudonymised stream holds no raw address.

A stream that cannot be read to its end (corrupt, truncated, of another
content type) is reported on stderr, with the frame number and byte
offset where it failed, after everything before that point was printed;
tapir-cat goes on with the next input and exits with status 3.`,
		Flags: append(tool.InputFlags(),
			&cli.BoolFlag{Name: "json", Aliases: []string{"j"}, Usage: "print one JSON object per line per message", Category: "Output"},
			&cli.BoolFlag{Name: "yaml", Aliases: []string{"y"}, Usage: "print one YAML document per message", Category: "Output"},
			&cli.BoolFlag{Name: "count", Aliases: []string{"c"}, Usage: "print only the number of messages that match", Category: "Output"},
			&cli.StringFlag{Name: "match-rpz", Usage: "print how many messages each rule of the RPZ zone `FILE` would have matched (what blocking would have done)", Category: "Output", TakesFile: true},
			&cli.StringFlag{Name: "time", Value: "dnstap", Usage: "time `FORMAT` of the text output: dnstap (15:04:05.000000, local time, as dnstap -q), rfc3339 (UTC, nanoseconds) or unix", Category: "Output"},

			&cli.StringSliceFlag{Name: "qname", Aliases: []string{"n"}, Usage: "keep questions for `NAME` or names under it (repeatable)", Category: "Filters"},
			&cli.StringSliceFlag{Name: "client", Usage: "keep messages whose client (query address) is `ADDR` or in the prefix ADDR/BITS (repeatable)", Category: "Filters"},
			&cli.StringSliceFlag{Name: "type", Aliases: []string{"t"}, Usage: "keep messages of these `TYPES`: dnstap message types (CLIENT_QUERY or CQ…) or record types (new_qname…) (comma-separated, repeatable)", Category: "Filters"},
			&cli.StringSliceFlag{Name: "rcode", Usage: "keep responses with this `RCODE` (NOERROR, NXDOMAIN, SERVFAIL… or a number; comma-separated, repeatable)", Category: "Filters"},
			&cli.StringFlag{Name: "since", Usage: "keep messages at or after `TIME` (RFC 3339, or a date; UTC unless a zone is given)", Category: "Filters"},
			&cli.StringFlag{Name: "until", Usage: "keep messages before `TIME`", Category: "Filters"},
		),
		Action: action,
	}
}

var manual = tool.Manual{
	Examples: []tool.Example{
		{Text: "Read a capture as dnstap -q does:",
			Command: "tapir-cat dnstap.fstrm"},
		{Text: "Follow what a resolver sends:",
			Command: "tapir-listen -u /tmp/dnstap.sock | tapir-cat"},
		{Text: "Find the clients that got NXDOMAIN for names under example.com in an encrypted archive:",
			Command: "tapir-cat -i key.txt --qname example.com --rcode NXDOMAIN --type CR --json archive.fstrm.zst.age | jq -r .query_address | sort | uniq -c"},
		{Text: "Check that a pseudonymised stream holds no address of the operator's networks:",
			Command: "tapir-cat --count --client 192.0.2.0/24 --client 2001:db8::/32 anon.fstrm"},
		{Text: "Count the messages of a day:",
			Command: "tapir-cat -c --since 2024-05-01 --until 2024-05-02 -r a.fstrm -r b.fstrm"},
		{Text: "Show an hour of new names from tapir-agg as YAML:",
			Command: "tapir-cat --yaml --type new_qname --since 2024-05-01T10:00:00Z --until 2024-05-01T11:00:00Z records.fstrm"},
	},
	Sections: [][2]string{
		{"OUTPUT", `Text (the default), for dnstap: one line per message, byte for byte as dnstap -q writes it:

 12:00:00.123456 CQ 192.0.2.1 UDP 40b "www.example.com." IN A

the time (of the query for a query, of the response for a response; in the local time zone, set TZ=UTC for UTC; --time rfc3339 writes the full date and time in UTC, --time unix seconds since the epoch), the type (CQ is CLIENT_QUERY, CR CLIENT_RESPONSE, RQ, RR resolver, AQ, AR auth, FQ, FR forwarder, TQ, TR tool, UQ, UR update), the address of the other end (the client for client and auth types, the server otherwise), the transport, the size of the DNS message, and its question, or X if the message cannot be decoded. STUB messages are written "[unhandled Message.Type]", as dnstap does.

Text, for tapir records: each record as one line of compact JSON.

--json, for dnstap: one object per line, with the dnstap fields under their names in dnstap.proto (type, identity, version, socket_family, socket_protocol, query_address, query_port, response_address, response_port, query_time, response_time, query_zone) and query_message and response_message decoded: id, size, opcode, rcode, flags (qr aa tc rd ra z ad cd, each true or false), qname, qtype, qclass, answer, authority and additional (each record's name, type, class, ttl and rdata in presentation format) and edns (version, udp_size, do, options; the ECS option with its subnet). Times are RFC 3339 in UTC with nine digits of nanoseconds. A DNS message that cannot be decoded has an error member and the message in base64 (raw).

--json, for tapir records: each record as one line of compact JSON, as with text.

--yaml: the same content as --json, as YAML documents, each beginning with ---.

--count: one number, the messages that matched in all inputs.`},
		{"SIGNALS", `SIGTERM, SIGINT: print what is held (with --count, the count so far) and exit with status 0, or 3 if an input had errors.

SIGUSR1: log the counters (frames read, matched, bad).

When the reader of the output goes away (tapir-cat … | head), tapir-cat stops quietly.`},
	},
	SeeAlso: []string{"tapir-listen(1)", "tapir-anon(1)", "dnstap(8)", "dnstap-read(1)", "jq(1)"},
}

// action prints each input in turn.
func action(c *cli.Context) error {
	o, err := options(c)
	if err != nil {
		return err
	}
	ids, err := tool.Identities(c)
	if err != nil {
		return err
	}
	names := append(c.StringSlice("read"), c.Args().Slice()...)
	if len(names) == 0 {
		names = []string{"-"}
	}
	p := cat.NewPrinter(c.App.Writer, o)

	// With SIGPIPE caught, a write to a closed pipe fails with EPIPE
	// instead of killing the process, so that tapir-cat … | head ends
	// with a status of its own choosing.
	pipe := make(chan os.Signal, 1)
	signal.Notify(pipe, syscall.SIGPIPE)
	defer signal.Stop(pipe)

	ctx, sig, stop := tool.Notify(c.Context)
	defer stop()
	var failed atomic.Int64 // inputs not read whole, each logged
	defer watch(ctx, sig, p, &failed)()

	for _, name := range names {
		err = p.PrintInput(name, ids)
		if fault.Of(err) == fault.Input {
			failed.Add(1)
			err = nil
		}
		if err != nil {
			break
		}
	}
	var we *cat.WriteError
	switch {
	case err == nil:
		err = p.Close()
	case !errors.As(err, &we):
		// A usage error, such as encrypted input without an identity:
		// show what came before it, but no count, which would be short.
		if ferr := p.Flush(); ferr != nil {
			return ferr
		}
		return err
	}
	if err == nil || errors.Is(err, syscall.EPIPE) {
		// EPIPE: the reader has all it wants.
		return inputErrors(failed.Load(), len(names))
	}
	return err
}

// watch answers signals while tapir-cat prints: on SIGTERM or SIGINT it
// prints what is held and exits, from its own goroutine, since the
// printing one may be waiting on a live stream; on SIGUSR1 it logs the
// counters. Call the function it returns to stop it.
func watch(ctx context.Context, sig stage.Signals, p *cat.Printer, failed *atomic.Int64) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				if ok, err := p.Interrupt(); ok {
					code := tool.ExitOK
					if failed.Load() > 0 {
						code = tool.ExitInput
					}
					if err != nil && !errors.Is(err, syscall.EPIPE) {
						slog.Error(err.Error())
						code = tool.ExitFailure
					}
					os.Exit(code)
				}
				return
			case <-sig.Report:
				slog.Info("counters", "frames", p.Frames(), "matched", p.Matched(), "bad_frames", p.Bad())
			case <-done:
				return
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}

// inputErrors is the error tapir-cat ends with when failed of its inputs
// could not be read whole (exit 3). Each was logged as it happened, so a
// single input needs no summary.
func inputErrors(failed int64, inputs int) error {
	switch {
	case failed == 0:
		return nil
	case inputs == 1:
		return fault.New(fault.Input, errors.New(""))
	}
	return fault.Errorf(fault.Input, "%d of %d inputs could not be read completely", failed, inputs)
}
