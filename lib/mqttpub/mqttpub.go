// Package mqttpub publishes new_qname records to the DNS TAPIR core's MQTT
// broker the way the DNS TAPIR edge (EDM) does: MQTT 5, TLS with the
// node's client certificate, topic events/up/<node name>/new_qname, and as
// payload a JWS in JSON serialisation over the record's JSON, with the
// node name as kid. A Publisher is a delivery.Destination: Deliver returns only
// after the broker acknowledged the message (PUBACK, QoS 1), so the spool
// keeps each record until the broker holds it.
//
// Where it differs from EDM, on purpose: EDM publishes with QoS 0 and keeps
// its own file queue; tapir-send has a spool and needs the broker's
// acknowledgement, so the default QoS is 1. EDM's client ID is
// "<name>-edm"; ours defaults to "<name>-tapir", so both can run on one
// node without taking over each other's session.
package mqttpub

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/cryptosigner"

	"github.com/tapir-edge/tapir/lib/delivery"
	"github.com/tapir-edge/tapir/lib/mqttconn"
	"github.com/tapir-edge/tapir/lib/record"
)

// Config configures a Publisher.
type Config struct {
	// Conn sets up the connection. Its Timeout also bounds one
	// Deliver: waiting for a connection, then for the broker's
	// acknowledgement. Its ClientID defaults to "<Name>-tapir".
	mqttconn.Conn
	// Topic to publish on; default "events/up/<Name>/new_qname".
	Topic string
	// Name is the node name: the JWS kid, and part of the default topic.
	Name string
	// Key signs the events: Ed25519 (alg EdDSA, as EDM does) or ECDSA
	// P-256 (alg ES256). Any crypto.Signer with such a public key works.
	Key crypto.Signer
	// QoS of the publications: 1 (default) or 2; 0 is refused, as it
	// gives no acknowledgement to keep the spool honest.
	QoS byte
	// InFlight is how many publications a send.Queue may have waiting
	// for their acknowledgements at once (delivery.Concurrent); default
	// 16. The broker's Receive Maximum still bounds what is sent: paho
	// holds the rest back. Events may then reach the broker out of
	// order; each carries its own timestamp.
	InFlight int
}

// Publisher publishes new_qname records as signed MQTT events. It
// implements delivery.Destination. Deliver may be called from several
// goroutines at once.
type Publisher struct {
	cfg    Config
	conn   mqttconn.Conn // cfg's connection settings, checked
	signer jose.Signer
	cm     *autopaho.ConnectionManager
}

// PUBACK reason codes (MQTT 5, 3.4.2.1) that say "not now" rather than
// "never": the message may be accepted on a later try.
const (
	rcPacketIDInUse     = 0x91
	rcQuotaExceeded     = 0x97
	rcServerUnavailable = 0x88 // not a PUBACK code in the spec; brokers may still send it
	rcServerBusy        = 0x89 // likewise
)

// New checks cfg, and starts connecting to the broker in the background,
// reconnecting whenever the connection drops, until ctx ends or Close is
// called. It does not wait for the connection: a broker that is away makes
// Deliver fail (and the spool retry), not New.
func New(ctx context.Context, cfg Config) (*Publisher, error) {
	if cfg.Name == "" || strings.ContainsAny(cfg.Name, "/+#\x00") {
		return nil, fmt.Errorf("mqttpub: bad node name %q", cfg.Name)
	}
	if cfg.Topic == "" {
		cfg.Topic = "events/up/" + cfg.Name + "/new_qname"
	}
	if strings.ContainsAny(cfg.Topic, "+#\x00") {
		return nil, fmt.Errorf("mqttpub: topic %q contains a wildcard", cfg.Topic)
	}
	if cfg.ClientID == "" {
		cfg.ClientID = cfg.Name + "-tapir"
	}
	if cfg.InFlight <= 0 {
		cfg.InFlight = 16
	}
	switch cfg.QoS {
	case 0:
		cfg.QoS = 1
	case 1, 2:
	default:
		return nil, fmt.Errorf("mqttpub: QoS %d: want 1 or 2", cfg.QoS)
	}
	if err := cfg.Conn.Check(); err != nil {
		return nil, fmt.Errorf("mqttpub: %w", err)
	}
	conn := cfg.Conn
	signer, err := NewSigner(cfg.Key, cfg.Name)
	if err != nil {
		return nil, err
	}
	ac := conn.ClientConfig()
	// The spool holds what is not acknowledged, so no session outlives a
	// connection: a publication in flight when the connection drops
	// fails at once and is retried by the spool.
	ac.CleanStartOnInitialConnection = true
	ac.SessionExpiryInterval = 0
	log := conn.Logger()
	ac.OnConnectionUp = func(*autopaho.ConnectionManager, *paho.Connack) {
		log.Info("mqtt connection up", "client_id", conn.ClientID)
	}
	cm, err := autopaho.NewConnection(ctx, ac)
	if err != nil {
		return nil, fmt.Errorf("mqttpub: %w", err)
	}
	return &Publisher{cfg: cfg, conn: conn, signer: signer, cm: cm}, nil
}

// NewSigner returns a JWS signer for key with kid in the protected header:
// alg EdDSA for an Ed25519 key, ES256 for an ECDSA P-256 key.
func NewSigner(key crypto.Signer, kid string) (jose.Signer, error) {
	if key == nil {
		return nil, errors.New("mqttpub: no signing key")
	}
	var alg jose.SignatureAlgorithm
	switch pub := key.Public().(type) {
	case ed25519.PublicKey:
		alg = jose.EdDSA
	case *ecdsa.PublicKey:
		if pub.Curve != elliptic.P256() {
			return nil, fmt.Errorf("mqttpub: ECDSA key on %s: want P-256", pub.Curve.Params().Name)
		}
		alg = jose.ES256
	default:
		return nil, fmt.Errorf("mqttpub: signing key of type %T: want Ed25519 or ECDSA P-256", pub)
	}
	var k any
	switch key := key.(type) {
	case ed25519.PrivateKey, *ecdsa.PrivateKey:
		k = key // go-jose signs these itself
	default:
		k = cryptosigner.Opaque(key) // a key held elsewhere (HSM, agent)
	}
	opts := (&jose.SignerOptions{}).WithHeader(jose.HeaderKey("kid"), kid)
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: k}, opts)
	if err != nil {
		return nil, fmt.Errorf("mqttpub: %w", err)
	}
	return s, nil
}

// Name implements delivery.Destination.
func (p *Publisher) Name() string { return "mqtt-" + p.conn.Broker.Host }

// Topic returns the topic events are published on.
func (p *Publisher) Topic() string { return p.cfg.Topic }

// InFlight implements delivery.Concurrent: Deliver is safe for
// concurrent use.
func (p *Publisher) InFlight() int { return p.cfg.InFlight }

// Wants implements delivery.Destination: new_qname records only.
func (p *Publisher) Wants(typ string) bool { return typ == record.TypeNewQname }

// Sign returns the JWS, in JSON serialisation, of a record: the payload
// is the record's JSON, compacted.
func (p *Publisher) Sign(rec []byte) ([]byte, error) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, rec); err != nil {
		return nil, &delivery.Refusal{Reason: fmt.Sprintf("not a JSON record: %v", err)}
	}
	typ, err := record.Type(buf.Bytes())
	if err != nil {
		return nil, &delivery.Refusal{Reason: fmt.Sprintf("not a record: %v", err)}
	}
	if !p.Wants(typ) {
		return nil, &delivery.Refusal{Reason: fmt.Sprintf("record of type %q is not published over MQTT", typ)}
	}
	jws, err := p.signer.Sign(buf.Bytes())
	if err != nil {
		return nil, fmt.Errorf("mqttpub: sign: %w", err)
	}
	return []byte(jws.FullSerialize()), nil
}

// Deliver implements delivery.Destination: it signs the record and publishes
// it, and returns nil once the broker acknowledged it. A broker that is
// not connected within Timeout, or a connection lost before the
// acknowledgement, gives an error worth a retry; a broker that refuses
// the message for good (a PUBACK reason code of 0x80 or more, other than
// quota exceeded and the like) gives a *delivery.Refusal.
func (p *Publisher) Deliver(ctx context.Context, rec []byte) error {
	payload, err := p.Sign(rec)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, p.conn.Timeout)
	defer cancel()
	if err := p.cm.AwaitConnection(ctx); err != nil {
		return fmt.Errorf("mqtt broker %s not connected: %w", p.conn.Broker.Host, err)
	}
	pr, err := p.cm.Publish(ctx, &paho.Publish{QoS: p.cfg.QoS, Topic: p.cfg.Topic, Payload: payload})
	if pr != nil && pr.ReasonCode >= 0x80 {
		reason := fmt.Sprintf("broker %s refused the publication on %s: reason code 0x%02x", p.conn.Broker.Host, p.cfg.Topic, pr.ReasonCode)
		if pr.Properties != nil && pr.Properties.ReasonString != "" {
			reason += " (" + pr.Properties.ReasonString + ")"
		}
		switch pr.ReasonCode {
		case rcQuotaExceeded, rcPacketIDInUse, rcServerUnavailable, rcServerBusy:
			return errors.New(reason)
		}
		return &delivery.Refusal{Reason: reason}
	}
	if err != nil {
		return fmt.Errorf("mqtt publish to %s: %w", p.conn.Broker.Host, err)
	}
	return nil
}

// Close disconnects cleanly (an MQTT DISCONNECT, then the connection is
// closed) and stops reconnecting. It waits at most Timeout.
func (p *Publisher) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), p.conn.Timeout)
	defer cancel()
	return p.cm.Disconnect(ctx)
}
