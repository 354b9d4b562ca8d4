// Command dnstapgen generates synthetic dnstap traffic, the same for the
// same seed: client queries and responses of a resolver with a skewed mix
// of IPv4 and IPv6 clients, Zipf-like name popularity with a share of new
// names, realistic query types, rcodes, answers and EDNS options.
//
// It writes a unidirectional Frame Streams stream to a file or stdout, or
// acts as one or more resolvers sending to a dnstap receiver over a unix
// socket or TCP, with the bidirectional handshake, as fast as it can or at
// a given rate. It packs a pool of DNS messages in advance and reuses its
// buffers, so that it is never the bottleneck of a receiver's benchmark.
//
// The sample capture of the quick start, testdata/sample.dnstap.zst, was
// made with:
//
//	dnstapgen -n 20000 --seed 1 --clients 200 --names 2000 --zstd -w testdata/sample.dnstap.zst
package main

import (
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/tapir-edge/tapir/cmd/tool"
)

func main() { tool.Main(app(), manual) }

func app() *cli.App {
	a := newApp()
	for _, f := range a.Flags {
		setEnv(f)
	}
	return a
}

// setEnv makes a flag readable from DNSTAPGEN_<FLAG>, rather than from
// the TAPIR_<FLAG> that the pipeline tools read (tool.Setup fills in only
// flags that have none), so that the settings of the tools in an
// operator's environment (TAPIR_UNIX, TAPIR_WRITE, ...) do not steer the
// generator.
func setEnv(f cli.Flag) {
	env := []string{"DNSTAPGEN_" + strings.ToUpper(strings.ReplaceAll(f.Names()[0], "-", "_"))}
	switch f := f.(type) {
	case *cli.StringFlag:
		f.EnvVars = env
	case *cli.StringSliceFlag:
		f.EnvVars = env
	case *cli.BoolFlag:
		f.EnvVars = env
	case *cli.IntFlag:
		f.EnvVars = env
	case *cli.Int64Flag:
		f.EnvVars = env
	case *cli.Uint64Flag:
		f.EnvVars = env
	case *cli.Float64Flag:
		f.EnvVars = env
	case *cli.DurationFlag:
		f.EnvVars = env
	}
}

func newApp() *cli.App {
	d := DefaultMix
	return &cli.App{
		Name:      "dnstapgen",
		Usage:     "generate synthetic dnstap traffic",
		UsageText: "dnstapgen [-n COUNT] [-w FILE | -U SOCKET | -T HOST:PORT] [options]",
		Description: `dnstapgen makes COUNT dnstap frames of simulated resolver traffic,
deterministic for a given --seed and set of options: CLIENT_QUERY and
CLIENT_RESPONSE messages (or the --types asked for) of --clients clients
from the documentation ranges (192.0.2.0/24, 198.51.100.0/24,
203.0.113.0/24, 2001:db8::/32), a few of which send most queries, for
--names names of Zipf-like popularity plus a share of never repeated new
names. Query types: A 60%, AAAA 25%, HTTPS 5%, PTR 3%, TXT 2%, MX 1.5%,
NS, SOA, SRV 1% each, SVCB and DS. Simulated time starts at --start and
advances by --qps queries a second.

By default the frames go to stdout or the -w file as a Frame Streams
stream of content type protobuf:dnstap.Dnstap. With -U or -T, dnstapgen
connects to a dnstap receiver as --connections resolvers, each with its
own stream, identity (IDENTITY-1, IDENTITY-2, ...) and share of COUNT,
and sends as fast as it can, or --rate frames a second in all. At the end
it logs the frames sent and the rate achieved (from the first connection
to the receiver's FINISH) on stderr.`,
		Flags: append([]cli.Flag{
			&cli.Int64Flag{Name: "count", Aliases: []string{"n"}, Value: 10000, Usage: "make `COUNT` frames in all"},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "random `SEED`: the same seed and options make the same frames"},
			&cli.StringSliceFlag{Name: "types", Aliases: []string{"t"}, Usage: "make messages of these `TYPES`, for each query in this order (CLIENT_QUERY, CLIENT_RESPONSE, or CQ, CR; comma-separated; default both)"},
			&cli.StringFlag{Name: "identity", Value: "dnstapgen", Usage: "server identity `NAME` in every frame"},
			&cli.StringFlag{Name: "server-version", Value: "dnstapgen", Usage: "server version `STRING` in every frame"},
			&cli.StringFlag{Name: "start", Value: "2024-06-01T12:00:00Z", Usage: "simulated `TIME` (RFC 3339) of the first query"},
			&cli.Float64Flag{Name: "qps", Value: 1000, Usage: "simulated `QUERIES` a second, over all connections"},

			&cli.IntFlag{Name: "clients", Value: d.Clients, Usage: "`NUMBER` of distinct clients", Category: "Traffic"},
			&cli.Float64Flag{Name: "ipv6-clients", Value: d.IPv6Clients, Usage: "`SHARE` of clients with IPv6 addresses", Category: "Traffic"},
			&cli.IntFlag{Name: "names", Value: d.Names, Usage: "`NUMBER` of names in the popularity list", Category: "Traffic"},
			&cli.Float64Flag{Name: "new-names", Value: d.NewNames, Usage: "`SHARE` of queries for a name never seen before", Category: "Traffic"},
			&cli.Float64Flag{Name: "tcp-queries", Value: d.TCP, Usage: "`SHARE` of queries over TCP", Category: "Traffic"},
			&cli.Float64Flag{Name: "nxdomain", Value: d.NXDomain, Usage: "`SHARE` of NXDOMAIN responses", Category: "Traffic"},
			&cli.Float64Flag{Name: "servfail", Value: d.ServFail, Usage: "`SHARE` of SERVFAIL responses", Category: "Traffic"},
			&cli.Float64Flag{Name: "refused", Value: d.Refused, Usage: "`SHARE` of REFUSED responses", Category: "Traffic"},
			&cli.Float64Flag{Name: "edns", Value: d.EDNS, Usage: "`SHARE` of queries with EDNS (an OPT record)", Category: "Traffic"},
			&cli.Float64Flag{Name: "ecs", Value: d.ECS, Usage: "`SHARE` of EDNS queries with a client subnet option", Category: "Traffic"},
			&cli.IntFlag{Name: "pool", Value: d.Pool, Usage: "`NUMBER` of distinct query and response pairs packed in advance", Category: "Traffic"},

			&cli.StringFlag{Name: "unix", Aliases: []string{"U"}, Usage: "send to the dnstap receiver on unix socket `PATH`", Category: "Resolver", TakesFile: true},
			&cli.StringFlag{Name: "tcp", Aliases: []string{"T"}, Usage: "send to the dnstap receiver at TCP `HOST:PORT`", Category: "Resolver"},
			&cli.IntFlag{Name: "connections", Aliases: []string{"c"}, Value: 1, Usage: "send over `K` connections at once, as K resolvers", Category: "Resolver"},
			&cli.Float64Flag{Name: "rate", Value: 0, Usage: "send at most `FRAMES` a second in all (0: as fast as possible)", Category: "Resolver"},
			&cli.DurationFlag{Name: "timeout", Value: defaultTimeout, Usage: "wait this `LONG` for a connection and the receiver's handshake", Category: "Resolver"},
		}, tool.OutputFlags()...),
		Action: run,
	}
}

var manual = tool.Manual{
	Examples: []tool.Example{
		{Text: "A day's worth of a small resolver's client responses, compressed:",
			Command: "dnstapgen -n 1000000 --qps 12 -t CLIENT_RESPONSE --zstd -w day.dnstap.zst"},
		{Text: "Load tapir-listen as four resolvers, as fast as possible:",
			Command: "dnstapgen -U /tmp/dnstap.sock -n 5000000 -c 4"},
		{Text: "Send 50,000 frames a second for a minute over TCP:",
			Command: "dnstapgen -T 127.0.0.1:6000 -n 3000000 --rate 50000"},
	},
	SeeAlso: []string{"tapir-listen(1)", "tapir-cat(1)"},
}
