// Command tapir-observe receives the DNS TAPIR core's signed observations
// over MQTT and writes the verified ones as records, for tapir-rpz.
package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/tapir-edge/tapir/cmd/tool"
	"github.com/tapir-edge/tapir/lib/observe"
	"github.com/tapir-edge/tapir/lib/record"
)

//go:generate go run -tags docs .

func main() { tool.Main(app(), manual) }

func app() *cli.App {
	return &cli.App{
		Name:      "tapir-observe",
		Usage:     "receive the core's signed observations onto one stream",
		UsageText: "tapir-observe --broker mqtts://HOST[:PORT]/TOPIC --node DIR [-w FILE] [options]",
		Description: `tapir-observe receives the DNS TAPIR core's observations for this node:
it subscribes to the node's topic at the core's MQTT broker (--broker)
with the node's certificate (--node), in a persistent MQTT 5 session, so
that what the core sends while tapir-observe is away arrives when it is
back. It verifies each message's JWS against the node's trusted keys (the
key its kid names or, without a kid, any of them; EdDSA and ES256 only;
compact and JSON serialisations), and writes each verified one at once as
an observation record (content type json:tapir.Record), on stdout or in a
file, for tapir-rpz. A message that fails is counted and logged, never
written.

The broker keeps the session under the client ID NODE-tapir-listen (NODE
the node's name), the one of tapir-listen --mqtt, which tapir-observe
replaces: what was sent to it is delivered here. A broker that refuses
the subscription (the node may not read the topic) ends tapir-observe
with exit status 4.`,
		Flags: append(append([]cli.Flag{
			&cli.StringFlag{Name: "broker", Aliases: []string{"mqtt"}, Usage: "the core's MQTT broker and the node's topic, as `URL` mqtts://HOST[:PORT]/TOPIC (port 8883 by default)", Category: "Core"},
			&cli.StringFlag{Name: "node", Usage: "the node directory `DIR` tapir-enroll wrote: name, TLS certificate and key, CA, trusted keys", Category: "Core", TakesFile: true},
			&cli.StringFlag{Name: "trusted-jwks", Usage: "verify observations with the keys in `FILE` instead of the node's trusted-jwks.json", Category: "Core", TakesFile: true},
			&cli.BoolFlag{Name: "insecure", Usage: "allow mqtt:// without TLS (tests only)", Category: "Core"},
		}, tool.OutputFlags()...), tool.MetricsFlag),
		Action: action,
	}
}

var manual = tool.Manual{
	Examples: []tool.Example{
		{Text: "Turn the observations for node edge-1 into a zone for the resolver:",
			Command: "tapir-observe --broker mqtts://broker.example/observations/down/edge-1 --node /var/lib/tapir/node | tapir-rpz serve --listen 127.0.0.1:5353 --notify 127.0.0.1:53 --state /var/lib/tapir/rpz"},
		{Text: "Watch what the core sends:",
			Command: "tapir-observe --broker mqtts://broker.example/observations/down/edge-1 --node /var/lib/tapir/node | tapir-cat --json"},
	},
	Sections: [][2]string{
		{"COUNTERS", `Logged on SIGUSR1 and at exit, served with --metrics as tapir_observe_*: observations_received (messages), observations (records written), observations_refused by reason (signature, message), and certificate_start_timestamp_seconds and certificate_expiry_timestamp_seconds of the client certificate in use (tapir-enroll renews it; the next connection takes the new one).`},
		{"SIGNALS", `SIGTERM, SIGINT: stop taking messages, disconnect (what the broker has not had acknowledged stays in the session for the next run), write STOP, exit 0.

SIGHUP: read the trusted keys again (keeping the old ones if the file does not load); end the stream in the -w file and start a new one in a file opened anew at that path (for logrotate); if the file was not moved away, the new stream is appended to it.

SIGUSR1: log the counters.`},
	},
	SeeAlso: []string{"tapir-record(5)", "tapir(7)"},
}

func action(c *cli.Context) error {
	if c.String("broker") == "" {
		return tool.Usagef("give the broker and topic with --broker mqtts://HOST[:PORT]/TOPIC")
	}
	if c.String("node") == "" {
		return tool.Usagef("give the node directory with --node DIR (tapir-enroll's)")
	}
	broker, topic, err := observe.ParseURL(c.String("broker"), c.Bool("insecure"))
	if err != nil {
		return fmt.Errorf("--broker %w", err)
	}
	o, err := observe.Open(observe.Options{Broker: broker, Topic: topic, Node: c.String("node"), TrustedJWKS: c.String("trusted-jwks")})
	if err != nil {
		return err
	}
	out, err := tool.CreateOutput(c, record.ContentType)
	if err != nil {
		return err
	}
	ctx, sig, stop := tool.Notify(c.Context)
	defer stop()
	if err := tool.ServeMetrics(ctx, c, o.Metrics()); err != nil {
		return err
	}
	return o.Run(ctx, sig, out)
}
