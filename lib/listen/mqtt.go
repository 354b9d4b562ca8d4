package listen

import (
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"sync"

	"github.com/urfave/cli/v2"

	"github.com/tapir-edge/tapir/cmd/tool"
	"github.com/tapir-edge/tapir/lib/metrics"
	"github.com/tapir-edge/tapir/lib/node"
	"github.com/tapir-edge/tapir/lib/observe"
	"github.com/tapir-edge/tapir/lib/record"
)

// mqttAction is tapir-listen --mqtt: it subscribes to the core's
// observations with the node's credentials and writes each one whose
// signature verifies as an observation record. The session is persistent
// (the same client ID across restarts), so what the core sends while
// tapir-listen is away arrives when it is back.
func mqttAction(c *cli.Context) error {
	log := slog.Default()
	if c.String("node") == "" {
		return tool.Usagef("--mqtt needs --node DIR (tapir-enroll's node directory)")
	}
	n, err := node.Load(c.String("node"))
	if err != nil {
		return tool.Usagef("--node: %v", err)
	}
	u, err := url.Parse(c.String("mqtt"))
	if err != nil || u.Host == "" {
		return tool.Usagef("--mqtt %q: want mqtts://BROKER/TOPIC", c.String("mqtt"))
	}
	topic := strings.TrimPrefix(u.Path, "/")
	if topic == "" {
		return tool.Usagef("--mqtt %s: give the topic as the URL's path (mqtts://broker/TOPIC)", c.String("mqtt"))
	}
	if u.Scheme == "mqtt" && !c.Bool("insecure") {
		return tool.Usagef("--mqtt %s: the broker needs mqtts (--insecure for tests)", c.String("mqtt"))
	}
	u.Path = ""
	tc, cert, err := n.ClientTLS(log)
	if err != nil {
		return tool.Usagef("--node: %v", err)
	}
	jwks := n.Path(n.TrustedJWKS)
	if p := c.String("trusted-jwks"); p != "" {
		jwks = p
	}
	keys, err := observe.LoadKeys(jwks, log)
	if err != nil {
		return tool.Usagef("trusted keys: %v", err)
	}
	out, err := tool.CreateOutput(c, record.ContentType)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	write := func(rec []byte) error {
		mu.Lock()
		defer mu.Unlock()
		if err := out.WriteFrame(rec); err != nil {
			return err
		}
		return out.Flush()
	}
	sub, err := observe.NewSubscriber(observe.Config{Broker: u, TLS: tc, ClientID: n.Name + "-tapir-listen", Topics: []string{topic}, Keys: keys, Log: log}, write)
	if err != nil {
		return tool.Usagef("--mqtt: %v", err)
	}
	m := metrics.New("tapir_listen")
	stat := func(f func(observe.Stats) uint64) func() float64 {
		return func() float64 { return float64(f(sub.Stats())) }
	}
	m.Gauge("certificate_start_timestamp_seconds", "When the client certificate in use became valid (Unix time).", cert.Start)
	m.Gauge("certificate_expiry_timestamp_seconds", "When the client certificate in use expires (Unix time).", cert.Expiry)
	m.CounterFunc("observations_received", "MQTT messages received.", stat(func(s observe.Stats) uint64 { return s.Received }))
	m.CounterFunc("observations", "Observation records written.", stat(func(s observe.Stats) uint64 { return s.Emitted }))
	m.CounterFunc("observations_refused", "Messages refused, by reason.", stat(func(s observe.Stats) uint64 { return s.BadSignature }), "reason", "signature")
	m.CounterFunc("observations_refused", "Messages refused, by reason.", stat(func(s observe.Stats) uint64 { return s.BadMessage }), "reason", "message")
	ctx, sig, stop := tool.Notify(c.Context)
	defer stop()
	if err := tool.ServeMetrics(ctx, c, m); err != nil {
		return err
	}
	go func() {
		for {
			select {
			case <-sig.Reload:
				if k, err := observe.LoadKeys(jwks, log); err != nil {
					log.Error("reload trusted keys: keeping the old ones", "err", err)
				} else {
					sub.SetKeys(k)
				}
				mu.Lock()
				if err := out.Reopen(); err != nil {
					log.Error("reopen output", "err", err)
				}
				mu.Unlock()
			case <-sig.Report:
				m.Log(log, "counters")
			case <-ctx.Done():
				return
			}
		}
	}()
	err = sub.Run(ctx)
	mu.Lock()
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	mu.Unlock()
	m.Log(log, "counters at exit")
	var refused *observe.RefusedError
	if err != nil && errors.As(err, &refused) {
		return &tool.Error{Code: tool.ExitRefused, Err: err}
	}
	return err
}
