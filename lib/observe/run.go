package observe

import (
	"context"
	"log/slog"
	"net/url"
	"strings"
	"sync"

	"github.com/tapir-edge/tapir/lib/clientcert"
	"github.com/tapir-edge/tapir/lib/fault"
	"github.com/tapir-edge/tapir/lib/metrics"
	"github.com/tapir-edge/tapir/lib/mqttconn"
	"github.com/tapir-edge/tapir/lib/node"
	"github.com/tapir-edge/tapir/lib/stage"
	"github.com/tapir-edge/tapir/lib/stream"
)

// ParseURL reads where the observations come from, given as one URL:
// mqtts://BROKER[:PORT]/TOPIC, or mqtt:// (no TLS) if insecure. Its
// errors (of kind fault.Config) begin with the URL, for the caller to put
// the flag's name before.
func ParseURL(s string, insecure bool) (broker *url.URL, topic string, err error) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return nil, "", fault.Errorf(fault.Config, "%q: want mqtts://BROKER/TOPIC", s)
	}
	topic = strings.TrimPrefix(u.Path, "/")
	if topic == "" {
		return nil, "", fault.Errorf(fault.Config, "%s: give the topic as the URL's path (mqtts://broker/TOPIC)", s)
	}
	u.Path = ""
	if _, err := mqttconn.Broker(u); err != nil {
		return nil, "", fault.Errorf(fault.Config, "%s: %w", s, err)
	}
	if mqttconn.Plain(u) && !insecure {
		return nil, "", fault.Errorf(fault.Config, "%s: the broker needs mqtts (--insecure for tests)", s)
	}
	return u, topic, nil
}

// Options are what tapir-observe is told.
type Options struct {
	Broker *url.URL // the broker, as ParseURL returns it
	Topic  string   // the topic of this node's observations
	// Node is the node directory that tapir-enroll wrote: the node's
	// name, its TLS client certificate, and the keys it trusts.
	Node string
	// TrustedJWKS, if set, is the file of trusted keys to use instead
	// of the node's.
	TrustedJWKS string
	Log         *slog.Logger // slog.Default() if nil
}

// Tool is tapir-observe: a Subscriber with the node's credentials, its
// counters, and the output it writes the verified observations to.
type Tool struct {
	log  *slog.Logger
	jwks string // the trusted keys' file, read again on SIGHUP
	sub  *Subscriber
	m    *metrics.Set

	mu  sync.Mutex // the subscriber writes, and SIGHUP reopens
	out *stream.Output
}

// Open reads the node directory and the trusted keys and sets up the
// subscription. Its errors are configuration errors (fault.Config).
func Open(o Options) (*Tool, error) {
	t := &Tool{log: o.Log}
	if t.log == nil {
		t.log = slog.Default()
	}
	n, err := node.Load(o.Node)
	if err != nil {
		return nil, fault.Errorf(fault.Config, "--node: %w", err)
	}
	tc, cert, err := n.ClientTLS(t.log)
	if err != nil {
		return nil, fault.Errorf(fault.Config, "--node: %w", err)
	}
	t.jwks = n.Path(n.TrustedJWKS)
	if o.TrustedJWKS != "" {
		t.jwks = o.TrustedJWKS
	}
	keys, err := LoadKeys(t.jwks, t.log)
	if err != nil {
		return nil, fault.Errorf(fault.Config, "trusted keys: %w", err)
	}
	// The session is kept under this client ID: tapir-observe goes on
	// with the one tapir-listen --mqtt had, and with its observations.
	id := n.Name + "-tapir-listen"
	t.sub, err = NewSubscriber(Config{Conn: mqttconn.Conn{Broker: o.Broker, TLS: tc, ClientID: id, Log: t.log}, Topics: []string{o.Topic}, Keys: keys}, t.write)
	if err != nil {
		return nil, fault.New(fault.Config, err)
	}
	t.counters(cert)
	return t, nil
}

// Metrics are the counters of tapir-observe, to serve.
func (t *Tool) Metrics() *metrics.Set { return t.m }

// counters registers the metrics: the subscriber's counters, and the
// validity of the client certificate, for an alert before it expires.
func (t *Tool) counters(cert *clientcert.Source) {
	t.m = metrics.New("tapir_observe")
	stat := func(f func(Stats) uint64) func() float64 {
		return func() float64 { return float64(f(t.sub.Stats())) }
	}
	t.m.Gauge("certificate_start_timestamp_seconds", "When the client certificate in use became valid (Unix time).", cert.Start)
	t.m.Gauge("certificate_expiry_timestamp_seconds", "When the client certificate in use expires (Unix time).", cert.Expiry)
	t.m.CounterFunc("observations_received", "MQTT messages received.", stat(func(s Stats) uint64 { return s.Received }))
	t.m.CounterFunc("observations", "Observation records written.", stat(func(s Stats) uint64 { return s.Emitted }))
	t.m.CounterFunc("observations_refused", "Messages refused, by reason.", stat(func(s Stats) uint64 { return s.BadSignature }), "reason", "signature")
	t.m.CounterFunc("observations_refused", "Messages refused, by reason.", stat(func(s Stats) uint64 { return s.BadMessage }), "reason", "message")
}

// Run writes each verified observation to out as a record, at once,
// until ctx ends, then closes out. It answers sig: Reload reads the
// trusted keys again and reopens out, Report logs the counters. A
// subscription the broker refuses ends it with an error of kind
// fault.Refused.
func (t *Tool) Run(ctx context.Context, sig stage.Signals, out *stream.Output) error {
	t.mu.Lock()
	t.out = out
	t.mu.Unlock()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- t.sub.Run(ctx)
		cancel()
	}()
	// With no inputs, stage.Run only answers the signals until ctx ends.
	stage.Run(ctx, stage.Config{Signals: sig, OnReload: t.reload, Metrics: t.m, Log: t.log})
	err := <-done
	t.mu.Lock()
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	t.mu.Unlock()
	t.m.Log(t.log, "counters at exit")
	return err
}

// write is the subscriber's output. Observations are few and each may
// block names at once: each goes out whole, not held in a buffer.
func (t *Tool) write(rec []byte) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.out.WriteFrame(rec); err != nil {
		return err
	}
	return t.out.Flush()
}

// reload is SIGHUP: trusted keys that do not load leave the old ones in
// use.
func (t *Tool) reload() {
	if k, err := LoadKeys(t.jwks, t.log); err != nil {
		t.log.Error("reload trusted keys: keeping the old ones", "err", err)
	} else {
		t.sub.SetKeys(k)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if err := t.out.Reopen(); err != nil {
		t.log.Error("reopen output", "err", err)
	}
}
