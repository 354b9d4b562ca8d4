// Command tapir-anon pseudonymises and minimises dnstap, so that no raw
// client address leaves the edge.
package main

import (
	"runtime"

	"github.com/urfave/cli/v2"

	"github.com/tapir-edge/tapir/cmd/tool"
	"github.com/tapir-edge/tapir/lib/anon"
	"github.com/tapir-edge/tapir/lib/dnstap"
	"github.com/tapir-edge/tapir/lib/pseudo"
	"github.com/tapir-edge/tapir/lib/stage"
)

//go:generate go run -tags docs .

func main() { tool.Main(app(), manual) }

func app() *cli.App {
	return &cli.App{
		Name:      "tapir-anon",
		Usage:     "pseudonymise client addresses and minimise dnstap",
		UsageText: "tapir-anon --key-file FILE [-r FILE]... [-w FILE] [options]",
		Description: `tapir-anon reads a dnstap stream, replaces every client address with a
pseudonym, removes what else identifies a client, and writes a dnstap
stream that dnstap -r and dnstap-read still read. It is where DNS TAPIR's
promise is kept: raw telemetry with customers' addresses never leaves the
operator.

Both addresses of every message (query_address and response_address) are
replaced by their pseudonyms under --method; an address that is neither 4
nor 16 bytes is dropped, never copied. By default tapir-anon also removes
the EDNS Client Subnet option (it carries the client's subnet) and EDNS
cookies (a per-client token) from query and response messages, zeroes the
ports (behind carrier-grade NAT, address and port name a subscriber),
drops identity, version and extra (or sets them with --set-identity and
--set-version), and drops fields of dnstap it does not interpret, such as
policy, which can hold the client address an RPZ rule matched. Each step
has a --keep flag. A DNS message that does not parse is dropped from its
frame, since it cannot be shown to be free of a client subnet; a frame that
is not dnstap is dropped. Both are counted and logged with their frame
number.

The key is read from --key-file, which must not be readable by group or
others: 32 bytes (16 for ipcrypt-deterministic and ipcrypt-nd), raw, hex
or base64; or, with --kdf argon2id, a passphrase from which the key is
derived as the DNS TAPIR edge (EDM) derives it, so an operator who moves
from EDM keeps the same pseudonyms. There is no default key: a missing or
malformed key is an error at start (exit 2). SIGHUP re-reads the key file
(and reopens -w); a key that fails to load leaves the old one in use.

With --rotate daily or weekly, each period's key is derived from the
master key (HKDF-SHA256), so that pseudonyms of two periods cannot be
linked; the period is that of each message's own timestamp, so a replay
gives the same output, and it is written in each frame's extra field
("tapir-anon cryptopan period 2026-W48").`,
		Flags: append(append(append([]cli.Flag{
			&cli.StringFlag{Name: "method", Aliases: []string{"m"}, Value: "cryptopan", Usage: "pseudonymisation `METHOD`: cryptopan, ipcrypt-pfx, ipcrypt-deterministic, ipcrypt-nd, ipcrypt-ndx or truncate", Category: "Pseudonyms"},
			&cli.StringFlag{Name: "key-file", Aliases: []string{"k"}, Usage: "read the key from `FILE` (mode 0600)", Category: "Pseudonyms", TakesFile: true},
			&cli.StringFlag{Name: "kdf", Value: "none", Usage: "key file holds the key (none) or a passphrase to derive it from with `KDF` argon2id", Category: "Pseudonyms"},
			&cli.StringFlag{Name: "salt", Value: "edm-kdf-salt-val", Usage: "argon2id `SALT` (EDM's default)", Category: "Pseudonyms"},
			&cli.StringFlag{Name: "rotate", Value: "never", Usage: "derive a new key every `PERIOD`: never, daily or weekly", Category: "Pseudonyms"},
			&cli.IntFlag{Name: "cache-size", Value: 1 << 18, Usage: "remember the pseudonyms of `N` addresses (about 64 bytes each; 0: none)", Category: "Pseudonyms"},
			&cli.IntFlag{Name: "v4-prefix", Value: 24, Usage: "truncate: keep `BITS` of IPv4 addresses", Category: "Pseudonyms"},
			&cli.IntFlag{Name: "v6-prefix", Value: 48, Usage: "truncate: keep `BITS` of IPv6 addresses", Category: "Pseudonyms"},

			&cli.BoolFlag{Name: "keep-ecs", Usage: "keep EDNS Client Subnet options", Category: "Minimisation"},
			&cli.BoolFlag{Name: "keep-cookies", Usage: "keep EDNS cookies", Category: "Minimisation"},
			&cli.BoolFlag{Name: "keep-ports", Usage: "keep query and response ports", Category: "Minimisation"},
			&cli.BoolFlag{Name: "keep-identity", Usage: "keep the resolver's identity", Category: "Minimisation"},
			&cli.StringFlag{Name: "set-identity", Usage: "set the identity to `NAME`", Category: "Minimisation"},
			&cli.BoolFlag{Name: "keep-version", Usage: "keep the resolver's version", Category: "Minimisation"},
			&cli.StringFlag{Name: "set-version", Usage: "set the version to `STRING`", Category: "Minimisation"},
			&cli.BoolFlag{Name: "keep-extra", Usage: "keep the extra field", Category: "Minimisation"},
			&cli.BoolFlag{Name: "keep-unknown", Usage: "keep dnstap fields tapir-anon does not interpret (policy, http_protocol)", Category: "Minimisation"},
			&cli.StringFlag{Name: "keep-messages", Value: "both", Usage: "keep `WHICH` DNS messages: both, query, response or none", Category: "Minimisation"},

			&cli.IntFlag{Name: "workers", Value: runtime.GOMAXPROCS(0), DefaultText: "number of CPUs", Usage: "rewrite on `N` goroutines (output order is kept)"},
		}, tool.InputFlags()...), tool.OutputFlags()...), tool.MetricsFlag),
		Action: action,
	}
}

// action is tapir-anon: it reads the flags and the key, and rewrites the
// input to the output until the input ends or SIGTERM.
func action(c *cli.Context) error {
	o, err := options(c)
	if err != nil {
		return err
	}
	a, err := anon.Open(o)
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
	ctx, sig, stop := tool.Notify(c.Context)
	defer stop()
	if err := tool.ServeMetrics(ctx, c, a.Metrics()); err != nil {
		return err
	}
	return a.Run(ctx, stage.Config{Inputs: tool.Inputs(c), Identities: ids, Signals: sig}, out)
}

// options reads the flags into anon.Options.
func options(c *cli.Context) (anon.Options, error) {
	o := anon.Options{
		Config: anon.Config{
			KeepECS:     c.Bool("keep-ecs"),
			KeepCookies: c.Bool("keep-cookies"),
			KeepPorts:   c.Bool("keep-ports"),
			KeepUnknown: c.Bool("keep-unknown"),
			Identity:    field(c, "identity"),
			Version:     field(c, "version"),
			Extra:       anon.Field{Keep: c.Bool("keep-extra")},
		},
		Key:     anon.KeyFile{Method: c.String("method"), Path: c.String("key-file"), KDF: c.String("kdf"), Salt: c.String("salt")},
		Pseudo:  pseudo.Options{CacheSize: c.Int("cache-size"), V4Bits: c.Int("v4-prefix"), V6Bits: c.Int("v6-prefix")},
		Workers: c.Int("workers"),
	}
	var err error
	if o.Messages, err = anon.ParseMessages(c.String("keep-messages")); err != nil {
		return o, tool.Usagef("--keep-messages %v", err)
	}
	if o.Rotation, err = anon.ParseRotation(c.String("rotate")); err != nil {
		return o, tool.Usagef("--rotate: %v", err)
	}
	return o, nil
}

// field reads --keep-NAME and --set-NAME.
func field(c *cli.Context, name string) anon.Field {
	f := anon.Field{Keep: c.Bool("keep-" + name)}
	if c.IsSet("set-" + name) {
		f.Value = []byte(c.String("set-" + name))
	}
	return f
}

var manual = tool.Manual{
	Examples: []tool.Example{
		{Text: "Make a key:",
			Command: "(umask 077; head -c 32 /dev/urandom > /etc/tapir/anon.key)"},
		{Text: "Pseudonymise what the resolvers send:",
			Command: "tapir-listen -u /run/tapir/dnstap.sock | tapir-anon -k /etc/tapir/anon.key | tapir-agg"},
		{Text: "Keep the pseudonyms of an existing EDM installation (its passphrase in a file):",
			Command: "tapir-anon -k /etc/tapir/edm-passphrase --kdf argon2id -r capture.fstrm -w anon.fstrm"},
		{Text: "Check that no address of 198.51.100.0/24 is left:",
			Command: "tapir-cat --client 198.51.100.0/24 --count anon.fstrm"},
	},
	Sections: [][2]string{
		{"METHODS", `What someone who holds the output, but not the key, can and cannot learn:

cryptopan: Crypto-PAn (Xu, Fan, Ammar, Moon, 2002), prefix-preserving: two addresses that share their first n bits have pseudonyms that share their first n bits, and no more. The output shows the structure of the client population (which clients are in the same /24 or /48) and lets the same client be followed over time, but not who it is. Addresses known to the attacker can, with enough of them, reveal parts of others in the same prefix (a known weakness of every prefix-preserving scheme). The default, and compatible with the DNS TAPIR edge (EDM).

ipcrypt-pfx: prefix-preserving like cryptopan, from the IETF ipcrypt draft, with IPv4 and IPv6 kept apart. The same properties.

ipcrypt-deterministic: each address encrypted as a whole (AES-128): the same client always has the same pseudonym, but pseudonyms show nothing of prefixes. Pseudonyms are 16 bytes, so IPv4 clients appear as IPv6.

ipcrypt-nd, ipcrypt-ndx: encrypted with a fresh random tweak each time: the output does not even show that two messages came from the same client. The key holder can still decrypt. The fields hold 24 and 32 bytes, which are not addresses; dnstap readers print them as unknown.

truncate: keeps the first --v4-prefix and --v6-prefix bits and zeroes the rest: no key, no secret; clients in one prefix become one.

With any method the key holder can reverse the pseudonyms (all but truncate). Keep the key on the edge.`},
		{"KEYS", `Key files must have mode 0600 or stricter, or tapir-anon refuses them, naming the file and its mode. The key is never logged. Make one with: head -c 32 /dev/urandom > FILE. With --rotate, the master key never touches a frame: each period's key is HKDF-SHA256(master, "tapir-anon period " + period), so disclosing one period's key reveals nothing of another's.`},
		tool.FIFOs,
		{"SIGNALS", `SIGTERM, SIGINT: stop reading at a frame boundary (see FIFOS), write what has been read, then STOP, exit 0.

SIGHUP: re-read the key file and reopen the -w file (a new stream, appended if the file was not moved away).

SIGUSR1: log the counters.`},
	},
	SeeAlso: []string{"tapir-listen(1)", "tapir-agg(1)", "tapir-cat(1)"},
}
