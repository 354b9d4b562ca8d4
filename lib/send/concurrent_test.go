package send

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tapir-edge/tapir/lib/metrics"
	"github.com/tapir-edge/tapir/lib/mqttconn"
	"github.com/tapir-edge/tapir/lib/mqttpub"
	"github.com/tapir-edge/tapir/lib/testkit/mqtttest"
)

// concurrent is flaky, taking several records at once, each slowly: it
// counts how many are in flight.
type concurrent struct {
	flaky
	inFlight, most atomic.Int32
	failOnce       sync.Map // record → failed once already
}

func (c *concurrent) InFlight() int { return 8 }
func (c *concurrent) Deliver(ctx context.Context, rec []byte) error {
	n := c.inFlight.Add(1)
	defer c.inFlight.Add(-1)
	for m := c.most.Load(); n > m && !c.most.CompareAndSwap(m, n); m = c.most.Load() {
	}
	time.Sleep(2 * time.Millisecond) // a round trip
	if strings.Contains(string(rec), "transient") {
		if _, failed := c.failOnce.LoadOrStore(string(rec), true); !failed {
			return &Later{After: time.Millisecond, Err: os.ErrDeadlineExceeded}
		}
	}
	return c.flaky.Deliver(ctx, rec)
}

// With a Concurrent destination several records are in flight at once,
// but never more than InFlight; a refused one goes to rejected/ once; a
// record that fails is retried, and the records that went around it are
// not sent again.
func TestConcurrentDelivery(t *testing.T) {
	dir := t.TempDir()
	d := &concurrent{flaky: flaky{tries: map[string]int{}}}
	q, err := NewQueue(d, dir, 0, metrics.New("tc"), quiet)
	if err != nil {
		t.Fatal(err)
	}
	q.MinBackoff = time.Millisecond
	const n = 200
	for i := range n {
		extra := ""
		switch i {
		case 50:
			extra = `,"refuse":1`
		case 120:
			extra = `,"transient":1`
		}
		q.Put("histogram", rec(i, extra))
	}
	if err := q.Commit(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { q.Run(ctx, quiet); close(done) }()
	waitFor(t, func() bool { return q.Spool.Stats().Items == 0 })
	cancel()
	<-done

	got := d.delivered()
	seen := map[string]int{}
	for _, g := range got {
		seen[g]++
	}
	for i := range n {
		want := 1
		if i == 50 {
			want = 0
		}
		r := string(rec(i, ""))
		if i == 120 {
			r = string(rec(i, `,"transient":1`))
		}
		if seen[r] != want {
			t.Errorf("record %d delivered %d times, want %d", i, seen[r], want)
		}
	}
	if len(got) != n-1 {
		t.Errorf("%d deliveries, want %d: records around the failed one went again", len(got), n-1)
	}
	if m := d.most.Load(); m < 2 || m > 8 {
		t.Errorf("at most %d in flight, want 2..8", m)
	}
	rejected, _ := filepath.Glob(filepath.Join(dir, "rejected", "*"))
	reasons := 0
	for _, r := range rejected {
		if strings.HasSuffix(r, ".reason") {
			reasons++
		}
	}
	if reasons != 1 {
		t.Errorf("rejected/: %v, want the one refused record", rejected)
	}
}

// BenchmarkQueueMQTT delivers new_qname events from the spool to a real
// mosquitto over TLS, each waiting for its PUBACK: one at a time, and
// with the Publisher's sliding window (delivery.Concurrent).
func BenchmarkQueueMQTT(b *testing.B) {
	p := mqtttest.NewPKI(b)
	p.Issue(b, "server", "localhost", true)
	br := mqtttest.Start(b, p.CAFile(), filepath.Join(p.Dir, "server.pem"), filepath.Join(p.Dir, "server.key"))
	cert := p.Issue(b, "node", "edge-bench", false)
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	recs := make([][]byte, 2000)
	for i := range recs {
		recs[i] = fmt.Appendf(nil, `{"type":"new_qname","version":0,"timestamp":"2026-11-27T12:00:00Z","qname":"n%d.example.","qtype":1,"qclass":1,"flags":0}`, i)
	}
	for _, c := range []struct {
		name     string
		inFlight int
	}{{"serial", 1}, {"window", 16}} {
		b.Run(c.name, func(b *testing.B) {
			pub, err := mqttpub.New(context.Background(), mqttpub.Config{
				Conn: mqttconn.Conn{
					Broker:  &url.URL{Scheme: "mqtts", Host: br.Addr()},
					TLS:     &tls.Config{RootCAs: p.Pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
					Timeout: 10 * time.Second, Log: quiet,
				},
				Name: "edge-bench", Key: key, InFlight: c.inFlight,
			})
			if err != nil {
				b.Fatal(err)
			}
			defer pub.Close()
			q, err := NewQueue(pub, b.TempDir(), 0, metrics.New("bench_"+c.name), quiet)
			if err != nil {
				b.Fatal(err)
			}
			for i := 0; i < b.N; i++ {
				q.Put("new_qname", recs[i%len(recs)])
				if i%1000 == 999 {
					q.Commit()
				}
			}
			q.Commit()
			b.ResetTimer()
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { q.Run(ctx, quiet); close(done) }()
			for q.Spool.Stats().Items > 0 {
				time.Sleep(time.Millisecond)
			}
			b.StopTimer()
			cancel()
			<-done
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
