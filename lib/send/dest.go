package send

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/tapir-edge/tapir/lib/aggrec"
	"github.com/tapir-edge/tapir/lib/archive"
	"github.com/tapir-edge/tapir/lib/fault"
	"github.com/tapir-edge/tapir/lib/mqttconn"
	"github.com/tapir-edge/tapir/lib/mqttpub"
)

// streamDest takes the whole stream, frame by frame: archives and relays.
type streamDest interface {
	WriteFrame(p []byte) error
	Flush() error
	Close() error
}

// relayDest is a Relay as a streamDest: it never fails, it drops.
type relayDest struct {
	*Relay
	drain time.Duration
}

func (r relayDest) WriteFrame(p []byte) error { r.Relay.WriteFrame(p); return nil }
func (r relayDest) Flush() error              { return nil }
func (r relayDest) Close() error              { r.Relay.Close(r.drain); return nil }

// open adds the destination that to names: a relay or an archive to the
// stream destinations, else a core destination, with its spool, to the
// queues.
func (t *Tool) open(ctx context.Context, to string) error {
	if network, addr, ok := relayAddr(to); ok {
		t.streams = append(t.streams, relayDest{NewRelay(network, addr, t.ct, t.o.RelayBuffer, t.m, t.log), t.o.Drain})
		return nil
	}
	if strings.HasPrefix(to, "file:") {
		w, err := t.openArchive(to)
		if err != nil {
			return err
		}
		t.streams = append(t.streams, w)
		return nil
	}
	if t.o.Dnstap {
		return fault.Errorf(fault.Config, "--to %s takes records, not dnstap; only archives and relays take --dnstap", to)
	}
	d, err := t.destination(ctx, to)
	if err != nil {
		return err
	}
	q, err := NewQueue(d, filepath.Join(t.o.Spool, safeName(d.Name())), t.o.SpoolMax, t.m, t.log)
	if err != nil {
		return err
	}
	t.queues = append(t.queues, q)
	return nil
}

// openArchive opens a file:///DIR destination: the stream, compressed and
// encrypted as Options.Archive says, in files rotated by time and size.
func (t *Tool) openArchive(to string) (*archive.Writer, error) {
	u, err := url.Parse(to)
	if err != nil || u.Path == "" || u.Host != "" {
		return nil, fault.Errorf(fault.Config, "--to %q: want file:///DIRECTORY", to)
	}
	if len(t.o.Archive.Recipients) == 0 {
		t.log.Warn("archive not encrypted: give --recipient so that only the analysts can read it", "to", to)
	}
	if err := os.MkdirAll(u.Path, 0o750); err != nil {
		return nil, err
	}
	c := t.o.Archive
	c.Dir, c.ContentType, c.Logger = u.Path, t.ct, t.log
	w, err := archive.Open(c)
	if err != nil {
		return nil, fault.Errorf(fault.Config, "--to %s: %v", to, err)
	}
	for _, warning := range w.Warnings() {
		t.log.Warn("archive", "to", to, "warning", warning)
	}
	return w, nil
}

// relayAddr reads unix:PATH and tcp:HOST:PORT.
func relayAddr(to string) (network, addr string, ok bool) {
	for _, n := range []string{"unix", "tcp"} {
		if rest, found := strings.CutPrefix(to, n+":"); found && !strings.HasPrefix(rest, "//") {
			return n, rest, true
		}
	}
	return "", "", false
}

var unsafe = regexp.MustCompile(`[^A-Za-z0-9._-]`)

// safeName makes a destination's name a folder name.
func safeName(s string) string { return unsafe.ReplaceAllString(s, "_") }

// destination makes the core destination that to names: a URL, or
// aggrec or broker for the one the node manager named at enrollment.
func (t *Tool) destination(ctx context.Context, to string) (Destination, error) {
	if to == "aggrec" || to == "broker" {
		// Resolved once: what node.json names must be a URL.
		u, err := t.o.Credentials.coreURL(to)
		if err != nil {
			return nil, err
		}
		to = u
	}
	u, err := url.Parse(to)
	if err != nil {
		return nil, fault.Errorf(fault.Config, "--to %q: %v", to, err)
	}
	// The core's two receivers, each wanting its secure scheme, the
	// node's credentials and its client certificate.
	secure, ok := map[string]string{"https": "", "http": "https", "mqtts": "", "mqtt": "mqtts"}[u.Scheme]
	if !ok {
		return nil, fault.Errorf(fault.Config, "--to %q: unknown destination (https://…, aggrec, mqtts://…, file:///…, unix:…, tcp:…)", to)
	}
	if secure != "" && !t.o.Insecure {
		who := map[string]string{"https": "the aggregate receiver", "mqtts": "the broker"}[secure]
		return nil, fault.Errorf(fault.Config, "--to %s: %s needs %s (--insecure for tests)", to, who, secure)
	}
	name, key, err := t.o.signer()
	if err != nil {
		return nil, err
	}
	tc, err := t.clientTLS()
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(u.Scheme, "http") {
		hc := &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: tc, Proxy: http.ProxyFromEnvironment}}
		return &Aggrec{Client: &aggrec.Client{BaseURL: u, Name: name, Key: key, HTTP: hc, UserAgent: "tapir-send"}, Log: t.log}, nil
	}
	p, err := mqttpub.New(ctx, mqttpub.Config{Conn: mqttconn.Conn{Broker: u, TLS: tc, Log: t.log}, Name: name, Key: key, Topic: t.o.MQTTTopic})
	if err != nil {
		return nil, fault.Errorf(fault.Config, "--to %s: %v", to, err)
	}
	return p, nil
}

// clientTLS is the one client TLS configuration of every core
// destination, made when the first needs it; it follows renewals of the
// certificate by itself (lib/clientcert).
func (t *Tool) clientTLS() (*tls.Config, error) {
	if t.tc != nil {
		return t.tc, nil
	}
	tc, cert, err := t.o.tlsConfig(t.log)
	if err != nil {
		return nil, err
	}
	if cert != nil {
		t.m.Gauge("certificate_start_timestamp_seconds", "When the client certificate in use became valid (Unix time).", cert.Start)
		t.m.Gauge("certificate_expiry_timestamp_seconds", "When the client certificate in use expires (Unix time).", cert.Expiry)
	}
	t.tc = tc
	return tc, nil
}
