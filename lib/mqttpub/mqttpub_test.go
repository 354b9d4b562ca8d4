package mqttpub

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tapir-edge/tapir/lib/delivery"
	"github.com/tapir-edge/tapir/lib/mqttconn"
	"github.com/tapir-edge/tapir/lib/record"
)

const node = "edge-test-1"

var _ delivery.Concurrent = (*Publisher)(nil)

func newQname(t testing.TB, i int) []byte {
	t.Helper()
	b, err := json.Marshal(record.NewQname{
		Type: record.TypeNewQname, Version: 0,
		Timestamp: time.Date(2026, 5, 28, 12, 34, 0, 0, time.UTC),
		Qname:     fmt.Sprintf("name%d.example.se.", i), Qtype: 1, Qclass: 1, Flags: 0x8180,
		Initiator: "client", Rdlength: 16,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// verifyJWS checks a JWS in flattened JSON serialisation by hand, from
// RFC 7515 (not with go-jose, which signed it): the signing input is
// base64url(protected) "." base64url(payload). It returns the protected
// header and the payload.
func verifyJWS(t testing.TB, jws string, pub crypto.PublicKey) (map[string]any, []byte) {
	t.Helper()
	var m struct {
		Protected string `json:"protected"`
		Payload   string `json:"payload"`
		Signature string `json:"signature"`
	}
	if err := json.Unmarshal([]byte(jws), &m); err != nil {
		t.Fatalf("JWS is not JSON: %v: %s", err, jws)
	}
	dec := base64.RawURLEncoding
	hb, err := dec.DecodeString(m.Protected)
	if err != nil {
		t.Fatalf("protected: %v", err)
	}
	var hdr map[string]any
	if err := json.Unmarshal(hb, &hdr); err != nil {
		t.Fatalf("protected header: %v", err)
	}
	payload, err := dec.DecodeString(m.Payload)
	if err != nil {
		t.Fatalf("payload: %v", err)
	}
	sig, err := dec.DecodeString(m.Signature)
	if err != nil {
		t.Fatalf("signature: %v", err)
	}
	input := []byte(m.Protected + "." + m.Payload)
	switch pub := pub.(type) {
	case ed25519.PublicKey:
		if hdr["alg"] != "EdDSA" {
			t.Errorf("alg = %v, want EdDSA", hdr["alg"])
		}
		if !ed25519.Verify(pub, input, sig) {
			t.Fatalf("Ed25519 signature does not verify: %s", jws)
		}
	case *ecdsa.PublicKey:
		if hdr["alg"] != "ES256" {
			t.Errorf("alg = %v, want ES256", hdr["alg"])
		}
		if len(sig) != 64 {
			t.Fatalf("ES256 signature of %d bytes, want 64 (r||s)", len(sig))
		}
		h := sha256.Sum256(input)
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		if !ecdsa.Verify(pub, h[:], r, s) {
			t.Fatalf("ES256 signature does not verify: %s", jws)
		}
	default:
		t.Fatalf("key type %T", pub)
	}
	if hdr["kid"] != node {
		t.Errorf("kid = %v, want %q", hdr["kid"], node)
	}
	return hdr, payload
}

func compact(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// publisher connects to b as the node, with the node's certificate.
func publisher(t testing.TB, p *pki, b *broker, key crypto.Signer, mod func(*Config)) *Publisher {
	t.Helper()
	cert := p.Issue(t, "node", node, false)
	cfg := Config{
		Conn: mqttconn.Conn{
			Broker:       &url.URL{Scheme: "mqtts", Host: b.Addr()},
			TLS:          &tls.Config{RootCAs: p.Pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
			Timeout:      5 * time.Second,
			ReconnectMin: 50 * time.Millisecond,
			ReconnectMax: 500 * time.Millisecond,
			Log:          quietLog(),
		},
		Name: node,
		Key:  key,
	}
	if mod != nil {
		mod(&cfg)
	}
	pub, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pub.Close() })
	return pub
}

func TestPublishToMosquitto(t *testing.T) {
	p := newPKI(t)
	b := startBroker(t, p, node)
	sub := subscribe(t, p, b, "events/up/#")
	pubKey, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub := publisher(t, p, b, key, nil)
	if got, want := pub.Topic(), "events/up/"+node+"/new_qname"; got != want {
		t.Errorf("topic %q, want %q", got, want)
	}

	const n = 20
	ctx := context.Background()
	for i := range n {
		rec := newQname(t, i)
		if i == 3 { // whitespace in the record does not reach the payload
			rec = append([]byte(" "), append(rec, '\n')...)
		}
		if err := pub.Deliver(ctx, rec); err != nil {
			t.Fatalf("Deliver %d: %v", i, err)
		}
	}
	for i := range n {
		topic, jws := sub.next(t)
		if topic != "events/up/"+node+"/new_qname" {
			t.Errorf("topic %q", topic)
		}
		_, payload := verifyJWS(t, jws, pubKey)
		if want := compact(t, newQname(t, i)); !bytes.Equal(payload, want) {
			t.Errorf("event %d: payload\n%s\nwant\n%s", i, payload, want)
		}
		var got record.NewQname
		if err := json.Unmarshal(payload, &got); err != nil || got.Qname != fmt.Sprintf("name%d.example.se.", i) {
			t.Errorf("event %d: %+v, %v", i, got, err)
		}
	}

	if err := pub.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// A clean disconnect, not a dropped socket.
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(b.Log(), "Client "+node+"-tapir disconnected") {
		if time.Now().After(deadline) {
			t.Fatalf("mosquitto did not log a clean disconnect:\n%s", b.Log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A crypto.Signer that is not a Go private key (an HSM, an agent): the
// ES256 signature is converted from ASN.1 to r||s.
type opaqueSigner struct{ k *ecdsa.PrivateKey }

func (o opaqueSigner) Public() crypto.PublicKey { return o.k.Public() }
func (o opaqueSigner) Sign(r io.Reader, d []byte, opts crypto.SignerOpts) ([]byte, error) {
	return o.k.Sign(r, d, opts)
}

func TestPublishES256(t *testing.T) {
	p := newPKI(t)
	b := startBroker(t, p, node)
	sub := subscribe(t, p, b, "events/up/"+node+"/new_qname")
	key := mustKey(t)
	for _, signer := range []crypto.Signer{key, opaqueSigner{key}} {
		pub := publisher(t, p, b, signer, nil)
		if err := pub.Deliver(context.Background(), newQname(t, 7)); err != nil {
			t.Fatalf("%T: Deliver: %v", signer, err)
		}
		_, jws := sub.next(t)
		_, payload := verifyJWS(t, jws, &key.PublicKey)
		if !bytes.Equal(payload, newQname(t, 7)) {
			t.Errorf("payload %s", payload)
		}
		_ = pub.Close()
	}
}

func TestBrokerRefusesTopic(t *testing.T) {
	// The ACL lets the node publish only under events/up/<node>/:
	// mosquitto answers 0x87 (not authorised) in the PUBACK, which is a
	// final no, for the rejected/ folder.
	p := newPKI(t)
	b := startBroker(t, p, node)
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	pub := publisher(t, p, b, key, func(c *Config) { c.Topic = "events/up/someone-else/new_qname" })
	err := pub.Deliver(context.Background(), newQname(t, 1))
	var refusal *delivery.Refusal
	if !errors.As(err, &refusal) {
		t.Fatalf("Deliver to a forbidden topic: %v (%T), want a *delivery.Refusal", err, err)
	}
	if !strings.Contains(refusal.Reason, "0x87") {
		t.Errorf("reason %q does not give the code 0x87", refusal.Reason)
	}
	// The connection survives: the next one on the right topic goes.
	good := publisher(t, p, b, key, func(c *Config) { c.ClientID = "second" })
	if err := good.Deliver(context.Background(), newQname(t, 2)); err != nil {
		t.Fatal(err)
	}
}

func TestBrokerStoppedAndRestarted(t *testing.T) {
	p := newPKI(t)
	b := startBroker(t, p, node)
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	pub := publisher(t, p, b, key, func(c *Config) { c.Timeout = time.Second })
	ctx := context.Background()
	if err := pub.Deliver(ctx, newQname(t, 0)); err != nil {
		t.Fatal(err)
	}

	b.Stop()
	start := time.Now()
	for i := range 3 {
		err := pub.Deliver(ctx, newQname(t, 1))
		if err == nil {
			t.Fatalf("Deliver %d with the broker stopped succeeded", i)
		}
		var refusal *delivery.Refusal
		if errors.As(err, &refusal) {
			t.Fatalf("broker down gave a refusal (%v); want an error worth a retry", err)
		}
		t.Logf("broker down: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("3 failing Delivers took %v with a 1s timeout", d)
	}

	b.Start()
	deadline := time.Now().Add(20 * time.Second)
	tries := 0
	for {
		tries++
		err := pub.Deliver(ctx, newQname(t, 2))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no reconnect 20s after the broker restarted: %v", err)
		}
	}
	t.Logf("delivered %d tries after the restart", tries)
	// And it stays up.
	for i := range 5 {
		if err := pub.Deliver(ctx, newQname(t, 10+i)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestNotPublished(t *testing.T) {
	// Records that are not new_qname, or not JSON, are refused before
	// any connection is needed.
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	pub, err := New(context.Background(), Config{
		Conn: mqttconn.Conn{Broker: &url.URL{Scheme: "mqtt", Host: "127.0.0.1:1"}, Log: quietLog(), Timeout: 200 * time.Millisecond},
		Name: node, Key: key,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	if !pub.Wants(record.TypeNewQname) || pub.Wants(record.TypeHistogram) || pub.Wants(record.TypeObservation) {
		t.Error("Wants: new_qname only")
	}
	for _, rec := range []string{`{"type":"histogram","rows":[]}`, `not json`, `{"qname":"x."}`} {
		var refusal *delivery.Refusal
		if err := pub.Deliver(context.Background(), []byte(rec)); !errors.As(err, &refusal) {
			t.Errorf("Deliver(%s) = %v, want a refusal", rec, err)
		}
	}
	// A good record with no broker: an error to retry, after Timeout.
	err = pub.Deliver(context.Background(), newQname(t, 0))
	var refusal *delivery.Refusal
	if err == nil || errors.As(err, &refusal) {
		t.Errorf("Deliver with no broker = %v, want a retryable error", err)
	}
}

func TestConfig(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	u := &url.URL{Scheme: "mqtts", Host: "broker.example"}
	bad := []Config{
		{Name: node, Key: key},
		{Conn: mqttconn.Conn{Broker: &url.URL{Scheme: "https", Host: "x"}}, Name: node, Key: key},
		{Conn: mqttconn.Conn{Broker: u}, Key: key},
		{Conn: mqttconn.Conn{Broker: u}, Name: "a/b", Key: key},
		{Conn: mqttconn.Conn{Broker: u}, Name: node},
		{Conn: mqttconn.Conn{Broker: u}, Name: node, Key: key, QoS: 3},
		{Conn: mqttconn.Conn{Broker: u}, Name: node, Key: key, Topic: "events/up/#"},
	}
	for i, c := range bad {
		if p, err := New(context.Background(), c); err == nil {
			p.Close()
			t.Errorf("config %d: no error", i)
		}
	}
	p, err := New(context.Background(), Config{Conn: mqttconn.Conn{Broker: u, Log: quietLog()}, Name: node, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.conn.Broker.Host != "broker.example:8883" || p.cfg.QoS != 1 || p.conn.ClientID != node+"-tapir" {
		t.Errorf("defaults: %+v", p.cfg)
	}
	if p.Name() != "mqtt-broker.example:8883" {
		t.Errorf("Name %q", p.Name())
	}
}

func TestSignerConcurrent(t *testing.T) {
	pubKey, key, _ := ed25519.GenerateKey(rand.Reader)
	p, err := New(context.Background(), Config{Conn: mqttconn.Conn{Broker: &url.URL{Scheme: "mqtt", Host: "127.0.0.1:1"}, Log: quietLog()}, Name: node, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				rec := newQname(t, g*1000+i)
				jws, err := p.Sign(rec)
				if err != nil {
					t.Error(err)
					return
				}
				if _, payload := verifyJWS(t, string(jws), pubKey); !bytes.Equal(payload, rec) {
					t.Error("payload differs")
				}
			}
		})
	}
	wg.Wait()
}

// BenchmarkDeliver measures signed events a second to a real mosquitto
// over TLS, each waiting for its PUBACK: one at a time (as send.Queue
// delivers), and from several goroutines at once.
func BenchmarkDeliver(b *testing.B) {
	p := newPKI(b)
	br := startBroker(b, p, node)
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	pub := publisher(b, p, br, key, nil)
	recs := make([][]byte, 1024)
	for i := range recs {
		recs[i] = newQname(b, i)
	}
	ctx := context.Background()
	if err := pub.Deliver(ctx, recs[0]); err != nil {
		b.Fatal(err)
	}
	b.Run("serial", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if err := pub.Deliver(ctx, recs[i%len(recs)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("parallel", func(b *testing.B) {
		b.SetParallelism(8)
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if err := pub.Deliver(ctx, recs[i%len(recs)]); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("sign-only", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if _, err := pub.Sign(recs[i%len(recs)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
}
