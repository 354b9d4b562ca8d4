package observe

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/tapir-edge/tapir/lib/fstrm"
	"github.com/tapir-edge/tapir/lib/mqttconn"
	"github.com/tapir-edge/tapir/lib/record"
)

// msg returns a core message adding name, as JSON.
func msg(name string, list string) []byte {
	return fmt.Appendf(nil, `{"src_name":"dns-tapir","creator":"test","msg_type":"observation","list_type":%q,"added":[{"name":%q,"time_added":"2026-11-27T12:00:00Z","ttl":3600,"tag_mask":2}],"removed":[],"timestamp":"2026-11-27T12:00:01Z"}`, list, name)
}

func wantRecord(t testing.TB, payload []byte) string {
	t.Helper()
	m, err := Decode(payload)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := m.Record()
	if err != nil {
		t.Fatal(err)
	}
	return string(rec)
}

// run is one run of a Subscriber in a test.
type run struct {
	sub    *Subscriber
	cancel context.CancelFunc
	done   chan error
	recs   chan string
}

func startSubscriber(t *testing.T, b *broker, p *pki, keys *jose.JSONWebKeySet, clientID string, out func([]byte) error) *run {
	t.Helper()
	u, err := url.Parse("mqtts://" + b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	cert := p.Issue(t, "node", "node", false)
	r := &run{done: make(chan error, 1), recs: make(chan string, 100)}
	if out == nil {
		out = func(rec []byte) error { r.recs <- string(rec); return nil }
	}
	r.sub, err = NewSubscriber(Config{
		Conn: mqttconn.Conn{
			Broker:       u,
			TLS:          &tls.Config{RootCAs: p.Pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
			ClientID:     clientID,
			Log:          slog.New(slog.NewTextHandler(testWriter{t}, nil)),
			ReconnectMin: 100 * time.Millisecond,
		},
		Topics: []string{"observations/#"},
		Keys:   keys,
	}, out)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- r.sub.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-r.done })
	return r
}

func (r *run) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		return err
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return")
		return nil
	}
}

// expect reads exactly want from the subscriber, in order, then checks
// that nothing more arrives for a while.
func (r *run) expect(t *testing.T, want ...string) {
	t.Helper()
	for i, w := range want {
		select {
		case got := <-r.recs:
			if got != w {
				t.Fatalf("record %d\n got %s\nwant %s", i, got, w)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("record %d did not arrive: want %s", i, w)
		}
	}
	select {
	case got := <-r.recs:
		t.Fatalf("unexpected record %s", got)
	case <-time.After(500 * time.Millisecond):
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// TestSubscribeMosquitto: with a real mosquitto (TLS, client
// certificates), the subscriber emits exactly the good messages as
// observation records; messages published while it is stopped arrive
// when it comes back with the same client ID; a message out could not
// take is not acknowledged and arrives again on the next run.
func TestSubscribeMosquitto(t *testing.T) {
	p := newPKI(t)
	b := startBroker(t, p)
	k := newTestKeys(t)
	const id = "node-observe-test"
	topic := "observations/down/dns-tapir"

	r := startSubscriber(t, b, p, k.set, id, nil)
	waitLog(t, b, "Sending SUBACK to "+id, 1)

	good1, good2, good3 := msg("one.example.", "doubtlist"), msg("two.example.", "denylist"), msg("three.example.", "allowlist")
	publish(t, b, p, topic, joseSign(t, jose.EdDSA, k.ed, "core-ed", good1, false))
	publish(t, b, p, topic, joseSign(t, jose.EdDSA, k.other, "core-ed", msg("wrongkey.example.", "denylist"), false))
	publish(t, b, p, topic, msg("unsigned.example.", "denylist"))
	publish(t, b, p, topic, joseSign(t, jose.ES256, k.ec, "core-ec", good2, true))
	publish(t, b, p, topic, joseSign(t, jose.EdDSA, k.ed, "core-ed", msg("badlist.example.", "greenlist"), false))
	publish(t, b, p, topic, handCompact(`{"alg":"HS256","kid":"core-ed"}`, msg("hs.example.", "denylist"), func(in []byte) []byte { return in[:32] }))
	publish(t, b, p, topic, toGeneral(t, joseSign(t, jose.EdDSA, k.ed, "core-ed", good3, true)))
	r.expect(t, wantRecord(t, good1), wantRecord(t, good2), wantRecord(t, good3))
	if st, want := r.sub.Stats(), (Stats{Received: 7, Emitted: 3, BadSignature: 3, BadMessage: 1}); st != want {
		t.Errorf("stats %+v, want %+v", st, want)
	}
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}

	// Away: the broker keeps these in the session.
	away1, away2 := msg("away1.example.", "denylist"), msg("away2.example.", "doubtlist")
	publish(t, b, p, topic, joseSign(t, jose.ES256, k.ec, "core-ec", away1, false))
	publish(t, b, p, topic, joseSign(t, jose.EdDSA, k.other, "core-ed", msg("away-bad.example.", "denylist"), false))
	publish(t, b, p, topic, joseSign(t, jose.EdDSA, k.ed, "core-ed", away2, true))

	r = startSubscriber(t, b, p, k.set, id, nil)
	r.expect(t, wantRecord(t, away1), wantRecord(t, away2))
	if st, want := r.sub.Stats(), (Stats{Received: 3, Emitted: 2, BadSignature: 1}); st != want {
		t.Errorf("stats after the restart %+v, want %+v", st, want)
	}
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}

	// out fails: Run ends with the error, and the message is not
	// acknowledged, so the next run gets it again.
	again := msg("again.example.", "denylist")
	publish(t, b, p, topic, joseSign(t, jose.EdDSA, k.ed, "core-ed", again, false))
	boom := errors.New("stdout closed")
	r = startSubscriber(t, b, p, k.set, id, func([]byte) error { return boom })
	select {
	case err := <-r.done:
		r.done <- err
		if !errors.Is(err, boom) {
			t.Fatalf("Run returned %v, want %v", err, boom)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not end when out failed")
	}
	if st := r.sub.Stats(); st.Emitted != 0 || st.Received != 1 {
		t.Errorf("stats of the failed run %+v", st)
	}

	// The next run writes to a Frame Streams stream, as tapir-listen does.
	var stream bytes.Buffer
	w := fstrm.NewWriter(&stream, record.ContentType)
	// The output may be called before startSubscriber returns: it must
	// not read r, which the assignment below writes.
	recs := make(chan string, 100)
	r = startSubscriber(t, b, p, k.set, id, func(rec []byte) error {
		err := w.WriteFrame(rec)
		recs <- string(rec)
		return err
	})
	r.recs = recs
	r.expect(t, wantRecord(t, again))
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rd, err := fstrm.NewReader(struct {
		io.Reader
		io.Writer
	}{&stream, io.Discard}, fstrm.ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rd.ContentType() != record.ContentType {
		t.Errorf("content type %q", rd.ContentType())
	}
	frame, err := rd.Next()
	if err != nil || string(frame) != wantRecord(t, again) {
		t.Errorf("frame %q, %v", frame, err)
	}
	if frame, err := rd.Next(); err != io.EOF {
		t.Errorf("after the record: %q, %v", frame, err)
	}
	if os.Getenv("TAPIR_OBSERVE_LOG") != "" {
		t.Log(b.Log())
	}
}

func TestNewSubscriberConfig(t *testing.T) {
	k := newTestKeys(t)
	u, _ := url.Parse("mqtts://broker.example")
	good := Config{Conn: mqttconn.Conn{Broker: u, ClientID: "c"}, Topics: []string{"t"}, Keys: k.set}
	out := func([]byte) error { return nil }
	s, err := NewSubscriber(good, out)
	if err != nil {
		t.Fatal(err)
	}
	if s.conn.Broker.Host != "broker.example:8883" {
		t.Errorf("broker %s", s.conn.Broker)
	}
	bad := map[string]func(c *Config){
		"no broker":   func(c *Config) { c.Broker = nil },
		"http":        func(c *Config) { c.Broker = &url.URL{Scheme: "http", Host: "x"} },
		"no host":     func(c *Config) { c.Broker = &url.URL{Scheme: "mqtts"} },
		"no id":       func(c *Config) { c.ClientID = "" },
		"no topics":   func(c *Config) { c.Topics = nil },
		"empty topic": func(c *Config) { c.Topics = []string{""} },
		"no keys":     func(c *Config) { c.Keys = &jose.JSONWebKeySet{} },
	}
	for name, f := range bad {
		c := good
		f(&c)
		if _, err := NewSubscriber(c, out); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := NewSubscriber(good, nil); err == nil {
		t.Error("nil out accepted")
	}
}
