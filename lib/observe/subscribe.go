package observe

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/tapir-edge/tapir/lib/fault"
	"github.com/tapir-edge/tapir/lib/mqttconn"
)

// Config configures a Subscriber.
type Config struct {
	// Conn sets up the connection. Its Timeout also bounds the clean
	// disconnect; its Log hears of refused messages too. Its ClientID
	// identifies the MQTT session and must stay the same across
	// restarts: the broker keeps the session, and the messages that
	// arrive while the subscriber is away, under this ID.
	mqttconn.Conn
	// Topics to subscribe to (filters may have wildcards).
	Topics []string
	// Keys are the trusted keys: a message counts only if its JWS
	// verifies with one of them (see Verify). SetKeys replaces them.
	Keys *jose.JSONWebKeySet
	// SessionExpiry is how long the broker keeps the session while the
	// subscriber is away; default 7 days.
	SessionExpiry time.Duration
}

// Stats are a Subscriber's counters.
type Stats struct {
	Received     uint64 // messages from the broker
	Emitted      uint64 // records passed to out, which returned nil
	BadSignature uint64 // refused: the JWS did not verify with a trusted key
	BadMessage   uint64 // refused: verified, but not a valid message
}

// Subscriber receives the core's observations: a persistent MQTT 5
// session (clean start off, a long session expiry, QoS 1 subscriptions),
// so the broker keeps what arrives while it is away. Each message is
// verified and decoded; a good one is passed to out as an observation
// record, and acknowledged to the broker only after out returned nil. A
// message that fails is counted, logged and acknowledged (the broker
// would only send it again), never passed to out.
type Subscriber struct {
	cfg  Config
	conn mqttconn.Conn // cfg's connection settings, checked
	out  func(record []byte) error
	keys atomic.Pointer[jose.JSONWebKeySet]
	log  *slog.Logger

	received, emitted, badSig, badMsg atomic.Uint64

	mu     sync.Mutex // held while a message is handled
	closed bool       // no more messages to out
	outErr error      // out failed, or a subscription was refused: Run ends with this error
	failed chan struct{}
}

// NewSubscriber checks cfg and returns a Subscriber; Run connects.
func NewSubscriber(cfg Config, out func(record []byte) error) (*Subscriber, error) {
	if cfg.ClientID == "" {
		return nil, errors.New("observe: no MQTT client ID (the session is kept under it)")
	}
	if len(cfg.Topics) == 0 {
		return nil, errors.New("observe: no topics to subscribe to")
	}
	for _, t := range cfg.Topics {
		if t == "" || strings.ContainsRune(t, 0) {
			return nil, fmt.Errorf("observe: bad topic %q", t)
		}
	}
	if cfg.Keys == nil || len(cfg.Keys.Keys) == 0 {
		return nil, errors.New("observe: no trusted keys")
	}
	if out == nil {
		return nil, errors.New("observe: no output")
	}
	if cfg.SessionExpiry <= 0 {
		cfg.SessionExpiry = 7 * 24 * time.Hour
	}
	if err := cfg.Conn.Check(); err != nil {
		return nil, fmt.Errorf("observe: %w", err)
	}
	conn := cfg.Conn
	s := &Subscriber{cfg: cfg, conn: conn, out: out, log: conn.Logger(), failed: make(chan struct{})}
	s.keys.Store(cfg.Keys)
	return s, nil
}

// SetKeys replaces the trusted keys (on SIGHUP, say); messages handled
// from then on are verified with them.
func (s *Subscriber) SetKeys(keys *jose.JSONWebKeySet) { s.keys.Store(keys) }

// Stats returns the counters so far.
func (s *Subscriber) Stats() Stats {
	return Stats{
		Received:     s.received.Load(),
		Emitted:      s.emitted.Load(),
		BadSignature: s.badSig.Load(),
		BadMessage:   s.badMsg.Load(),
	}
}

// Run connects, reconnecting whenever the connection drops, and handles
// messages until ctx ends (then it disconnects cleanly and returns nil),
// out returns an error (then it disconnects, leaving that message and
// any after it unacknowledged in the session, for the next run, and
// returns the error), or the broker refuses a subscription (a
// *RefusedError, of kind fault.Refused). When Run returns, out is no
// longer called.
func (s *Subscriber) Run(ctx context.Context) error {
	cfg := s.cfg
	subs := make([]paho.SubscribeOptions, len(cfg.Topics))
	for i, t := range cfg.Topics {
		// RetainHandling 1: retained messages only when the
		// subscription is new, not again on every reconnect.
		subs[i] = paho.SubscribeOptions{Topic: t, QoS: 1, RetainHandling: 1}
	}
	connCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	ac := s.conn.ClientConfig()
	ac.CleanStartOnInitialConnection = false
	ac.SessionExpiryInterval = uint32(min(cfg.SessionExpiry/time.Second, 0xfffffffe))
	ac.OnConnectionUp = func(cm *autopaho.ConnectionManager, ca *paho.Connack) {
		s.log.Info("mqtt connection up", "client_id", cfg.ClientID, "session_present", ca.SessionPresent)
		sctx, scancel := context.WithTimeout(connCtx, s.conn.Timeout)
		defer scancel()
		sa, err := cm.Subscribe(sctx, &paho.Subscribe{Subscriptions: subs})
		if err != nil {
			s.log.Error("mqtt subscribe failed", "topics", cfg.Topics, "err", err)
			return
		}
		for i, rc := range sa.Reasons {
			if rc >= 0x80 && i < len(subs) {
				s.fail(fault.New(fault.Refused, &RefusedError{Topic: subs[i].Topic, ReasonCode: rc}))
				return
			}
		}
		s.log.Info("subscribed", "topics", cfg.Topics)
	}
	ac.EnableManualAcknowledgment = true
	ac.OnPublishReceived = []func(paho.PublishReceived) (bool, error){s.handle}
	cm, err := autopaho.NewConnection(connCtx, ac)
	if err != nil {
		return fmt.Errorf("observe: %w", err)
	}
	select {
	case <-ctx.Done():
	case <-s.failed:
	}
	// No more messages to out; wait for the one being handled.
	s.mu.Lock()
	s.closed = true
	outErr := s.outErr
	s.mu.Unlock()
	// The acknowledgements go out in batches (every 50ms): give the
	// last ones time to leave before the DISCONNECT.
	time.Sleep(150 * time.Millisecond)
	dctx, dcancel := context.WithTimeout(context.Background(), s.conn.Timeout)
	defer dcancel()
	if err := cm.Disconnect(dctx); err != nil && !errors.Is(err, autopaho.ConnectionDownError) {
		s.log.Warn("mqtt disconnect", "err", err)
	}
	cancel()
	<-cm.Done()
	if outErr != nil {
		return outErr
	}
	return nil
}

// RefusedError is the error of Run when the broker refused a
// subscription (a SUBACK reason code of 0x80 or more): the node may not
// read that topic.
type RefusedError struct {
	Topic      string
	ReasonCode byte
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("observe: the broker refused the subscription to %q: reason code 0x%02x", e.Topic, e.ReasonCode)
}

// fail ends Run with err.
func (s *Subscriber) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failLocked(err)
}

func (s *Subscriber) failLocked(err error) {
	if s.outErr != nil {
		return
	}
	s.outErr = err
	s.closed = true
	close(s.failed)
}

// handle is called by paho for each message, one at a time, in order.
func (s *Subscriber) handle(pr paho.PublishReceived) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return true, nil // not acknowledged: the broker sends it again next time
	}
	s.received.Add(1)
	p := pr.Packet
	ack := func() {
		if err := pr.Client.Ack(p); err != nil {
			s.log.Warn("mqtt ack", "topic", p.Topic, "err", err)
		}
	}
	payload, kid, err := Verify(p.Payload, s.keys.Load())
	if err != nil {
		s.badSig.Add(1)
		s.log.Warn("observation refused: bad signature", "topic", p.Topic, "err", err)
		ack()
		return true, nil
	}
	m, err := Decode(payload)
	if err != nil {
		s.badMsg.Add(1)
		s.log.Warn("observation refused: bad message", "topic", p.Topic, "kid", kid, "err", err)
		ack()
		return true, nil
	}
	rec, err := m.Record()
	if err != nil {
		s.badMsg.Add(1)
		s.log.Warn("observation refused: cannot make a record", "topic", p.Topic, "kid", kid, "err", err)
		ack()
		return true, nil
	}
	if err := s.out(rec); err != nil {
		s.failLocked(fmt.Errorf("observe: output: %w", err))
		return true, nil
	}
	s.emitted.Add(1)
	ack()
	return true, nil
}
