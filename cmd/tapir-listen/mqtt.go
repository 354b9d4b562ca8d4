package main

import (
	"fmt"
	"log/slog"

	"github.com/urfave/cli/v2"

	"github.com/tapir-edge/tapir/cmd/tool"
	"github.com/tapir-edge/tapir/lib/observe"
	"github.com/tapir-edge/tapir/lib/record"
)

// mqttFlags are those of tapir-listen --mqtt, which tapir-observe has
// taken over; they stay for one release, so that command lines and units
// written for it go on working.
var mqttFlags = []cli.Flag{
	&cli.StringFlag{Name: "mqtt", Usage: "instead of dnstap, receive the core's signed observations from `URL` (mqtts://broker/TOPIC): deprecated, use tapir-observe --broker", Category: mqttCategory},
	&cli.StringFlag{Name: "node", Usage: "the node directory `DIR` of --mqtt: deprecated, use tapir-observe --node", Category: mqttCategory, TakesFile: true},
	&cli.StringFlag{Name: "trusted-jwks", Usage: "verify the observations of --mqtt with the keys in `FILE`: deprecated, use tapir-observe --trusted-jwks", Category: mqttCategory, TakesFile: true},
	&cli.BoolFlag{Name: "insecure", Usage: "allow --mqtt mqtt:// without TLS (tests only): deprecated, use tapir-observe --insecure", Category: mqttCategory},
}

const mqttCategory = "Observations (deprecated: use tapir-observe)"

// mqttAction is tapir-listen --mqtt: what tapir-observe does, under the
// old flags.
func mqttAction(c *cli.Context) error {
	slog.Warn("--mqtt is deprecated: use tapir-observe")
	if c.String("node") == "" {
		return tool.Usagef("--mqtt needs --node DIR (tapir-enroll's node directory)")
	}
	broker, topic, err := observe.ParseURL(c.String("mqtt"), c.Bool("insecure"))
	if err != nil {
		return fmt.Errorf("--mqtt %w", err)
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
