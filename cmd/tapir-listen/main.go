// Command tapir-listen receives dnstap from resolvers and writes it as one
// Frame Streams stream.
package main

import (
	"os"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/tapir-edge/tapir/cmd/tool"
	"github.com/tapir-edge/tapir/deploy/resolvers"
	"github.com/tapir-edge/tapir/lib/dnstap"
	"github.com/tapir-edge/tapir/lib/listen"
)

//go:generate go run -tags docs .

func main() { tool.Main(app(), manual) }

func app() *cli.App {
	return &cli.App{
		Name:      "tapir-listen",
		Usage:     "receive dnstap from resolvers onto one stream",
		UsageText: "tapir-listen [-u PATH]... [-l ADDR]... [--tls ADDR]... [-w FILE] [options]",
		Description: `tapir-listen accepts dnstap connections from any number of resolvers
(Unbound, BIND, Knot Resolver, PowerDNS Recursor) on unix sockets, TCP,
TLS, and sockets passed by systemd (socket activation), and writes every
frame it receives to one Frame Streams stream of content type
protobuf:dnstap.Dnstap, on stdout or in a file. Read the stream with
tapir-cat, dnstap -r or dnstap-read.

Each resolver has its own connection: one that restarts reconnects without
disturbing the others, and one that sends garbage, or stalls in the
handshake or inside a frame for longer than --timeout, is cut off with a
log line that names it.

tapir-listen never makes a resolver wait: frames go to a buffer of
--buffer bytes, and when the output falls behind and the buffer is full,
frames are dropped and counted (unless --on-full block). Counters
(connections, frames, bytes, drops, errors) are logged on SIGUSR1 and at
exit, and served with --metrics.

TCP and TLS addresses without a host bind to loopback (127.0.0.1).

--mqtt (the core's observations) is deprecated: use tapir-observe, which it runs.`,
		Flags: append(append(append([]cli.Flag{
			&cli.StringSliceFlag{Name: "unix", Aliases: []string{"u"}, Usage: "listen on the unix socket `PATH` (repeatable); a stale socket file is replaced, a live one is not", Category: "Listeners", TakesFile: true},
			&cli.StringFlag{Name: "socket-mode", Value: "0660", Usage: "permissions of unix sockets, in `OCTAL`", Category: "Listeners"},
			&cli.StringFlag{Name: "socket-group", Usage: "group of unix sockets, `NAME` or number (the resolver's group)", Category: "Listeners"},
			&cli.StringSliceFlag{Name: "listen", Aliases: []string{"l"}, Usage: "listen on TCP `ADDR` (host:port; a bare port binds loopback; repeatable)", Category: "Listeners"},
			&cli.StringSliceFlag{Name: "tls", Usage: "listen on TCP `ADDR` with TLS (repeatable; needs --tls-cert and --tls-key)", Category: "Listeners"},
			&cli.StringFlag{Name: "tls-cert", Usage: "server certificate chain `FILE` (PEM)", Category: "Listeners", TakesFile: true},
			&cli.StringFlag{Name: "tls-key", Usage: "server private key `FILE` (PEM, mode 0600)", Category: "Listeners", TakesFile: true},
			&cli.StringFlag{Name: "tls-client-ca", Usage: "require client certificates signed by a CA in `FILE` (PEM)", Category: "Listeners", TakesFile: true},
			&cli.DurationFlag{Name: "timeout", Value: listen.DefaultTimeout, Usage: "cut off a resolver stalled for `DURATION` in the handshake or a frame", Category: "Listeners"},
			&cli.StringFlag{Name: "max-frame-size", Value: "256KiB", Usage: "largest frame accepted, in `BYTES` (suffixes KiB, MiB)", Category: "Listeners"},

			&cli.StringSliceFlag{Name: "types", Aliases: []string{"t"}, Usage: "keep only messages of these `TYPES` (e.g. CLIENT_RESPONSE or CR; comma-separated, repeatable)", Category: "Filters"},
			&cli.StringFlag{Name: "set-identity", Usage: "replace the identity in every frame with `NAME`", Category: "Filters"},

			&cli.StringFlag{Name: "buffer", Value: "64MiB", Usage: "`BYTES` of frames held while the output is slow", Category: "Output"},
			&cli.StringFlag{Name: "on-full", Value: "drop", Usage: "`ACTION` when the buffer is full: drop (discard frames, and count them) or block (make the resolvers wait)", Category: "Output"},
		}, tool.OutputFlags()...), tool.MetricsFlag), mqttFlags...),
		Action: action,
	}
}

var manual = tool.Manual{
	Examples: []tool.Example{
		{Text: "Take dnstap from Unbound (dnstap-socket-path: /run/tapir/dnstap.sock) into a compressed file:",
			Command: "tapir-listen -u /run/tapir/dnstap.sock --socket-group unbound -w /var/lib/tapir/dnstap.fstrm --zstd"},
		{Text: "Take client responses from two resolvers over TCP and pipe them on:",
			Command: "tapir-listen -l 127.0.0.1:6000 -l 192.0.2.53:6000 -t CLIENT_RESPONSE | tapir-anon | tapir-agg"},
		{Text: "Watch what a resolver sends:",
			Command: "tapir-listen -u /tmp/dnstap.sock | tapir-cat"},
	},
	Sections: [][2]string{
		{"RESOLVERS", resolvers.Section(`tapir-listen.socket listens on /run/tapir/dnstap.sock, mode 0660, group unbound. For another resolver, give the socket its group (systemctl edit tapir-listen.socket, SocketGroup=): bind for BIND, knot-resolver for Knot Resolver, pdns for PowerDNS Recursor, _dnsdist for dnsdist. Where AppArmor confines the resolver (Debian's and Ubuntu's profiles for Unbound and BIND), allow the socket: add the line "/run/tapir/dnstap.sock rw," to /etc/apparmor.d/local/usr.sbin.unbound (or usr.sbin.named) and reload the profile with apparmor_parser -r (the tests run without AppArmor). These files are installed in /usr/share/doc/tapir-toolkit/resolvers; the tests start each resolver with them.`, resolvers.Dnstap)},
		{"SIGNALS", `SIGTERM, SIGINT: stop accepting, read what connected resolvers have already sent (for up to a second), write every buffered frame and STOP, exit 0.

SIGHUP: end the stream in the -w file and start a new one in a file opened anew at that path (for logrotate); if the file was not moved away, the new stream is appended to it.

SIGUSR1: log the counters.`},
	},
	SeeAlso: []string{"tapir-cat(1)", "tapir-anon(1)", "dnstap(8)", "unbound.conf(5)"},
}

func action(c *cli.Context) error {
	if c.IsSet("mqtt") {
		return mqttAction(c)
	}
	cfg, err := config(c)
	if err != nil {
		return err
	}
	if cfg.Listeners, err = listeners(c); err != nil {
		return err
	}
	out, err := tool.CreateOutput(c, dnstap.ContentType)
	if err != nil {
		return err
	}
	s := listen.New(cfg, out)
	ctx, sig, stop := tool.Notify(c.Context)
	defer stop()
	if err := tool.ServeMetrics(ctx, c, s.Metrics()); err != nil {
		return err
	}
	return s.Run(ctx, sig)
}

// config reads the flags of what arrives and of the output.
func config(c *cli.Context) (listen.Config, error) {
	cfg := listen.Config{Timeout: c.Duration("timeout")}
	switch c.String("on-full") {
	case "drop":
	case "block":
		cfg.Block = true
	default:
		return cfg, tool.Usagef("--on-full %q: want drop or block", c.String("on-full"))
	}
	var err error
	if cfg.Buffer, err = tool.ParseBytes(c.String("buffer")); err != nil {
		return cfg, tool.Usagef("--buffer: %v", err)
	}
	mfs, err := tool.ParseBytes(c.String("max-frame-size"))
	if err != nil || mfs < 1024 || mfs > 64<<20 {
		return cfg, tool.Usagef("--max-frame-size %q: want a size from 1KiB to 64MiB", c.String("max-frame-size"))
	}
	cfg.MaxFrameSize = int(mfs)
	for _, arg := range c.StringSlice("types") {
		for _, name := range strings.Split(arg, ",") {
			t, err := dnstap.ParseMessageType(strings.TrimSpace(name))
			if err != nil {
				return cfg, tool.Usagef("--types: %v", err)
			}
			cfg.Types = append(cfg.Types, t)
		}
	}
	if c.IsSet("set-identity") {
		cfg.Identity = []byte(c.String("set-identity"))
	}
	return cfg, nil
}

// listeners reads the flags of the listeners, and takes the sockets
// systemd passed.
func listeners(c *cli.Context) ([]listen.Listener, error) {
	mode, err := strconv.ParseUint(c.String("socket-mode"), 8, 32)
	if err != nil || mode > 0o777 {
		return nil, tool.Usagef("--socket-mode %q: want octal permissions such as 0660", c.String("socket-mode"))
	}
	var ls []listen.Listener
	for _, p := range c.StringSlice("unix") {
		ls = append(ls, listen.Listener{Network: "unix", Addr: p, Mode: os.FileMode(mode), Group: c.String("socket-group")})
	}
	for _, a := range c.StringSlice("listen") {
		ls = append(ls, listen.Listener{Network: "tcp", Addr: tool.LoopbackAddr(a)})
	}
	if addrs := c.StringSlice("tls"); len(addrs) > 0 {
		if c.String("tls-cert") == "" || c.String("tls-key") == "" {
			return nil, tool.Usagef("--tls needs --tls-cert and --tls-key")
		}
		tc, err := listen.ServerTLS(c.String("tls-cert"), c.String("tls-key"), c.String("tls-client-ca"))
		if err != nil {
			return nil, err
		}
		for _, a := range addrs {
			ls = append(ls, listen.Listener{Network: "tls", Addr: tool.LoopbackAddr(a), TLS: tc})
		}
	}
	sd, err := listen.Systemd()
	if err != nil {
		return nil, tool.Usagef("socket activation: %v", err)
	}
	ls = append(ls, sd...)
	if len(ls) == 0 {
		return nil, tool.Usagef("nothing to listen on: give -u PATH, -l ADDR or --tls ADDR, or start from a systemd socket")
	}
	return ls, nil
}
