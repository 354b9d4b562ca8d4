package send

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tapir-edge/tapir/lib/aggrec"
	"github.com/tapir-edge/tapir/lib/metrics"
)

var quiet = slog.New(slog.DiscardHandler)

// flaky fails each record's first failures attempts, refuses records
// that say "refuse", and remembers what it took.
type flaky struct {
	mu       sync.Mutex
	failures int
	tries    map[string]int
	got      []string
}

func (f *flaky) Name() string          { return "flaky" }
func (f *flaky) Wants(typ string) bool { return typ == "histogram" }
func (f *flaky) Deliver(_ context.Context, rec []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := string(rec)
	if strings.Contains(s, "refuse") {
		return &Refusal{Reason: "test refusal"}
	}
	f.tries[s]++
	if f.tries[s] <= f.failures {
		return errors.New("down")
	}
	f.got = append(f.got, s)
	return nil
}

func (f *flaky) delivered() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.got...)
}

func rec(i int, extra string) []byte {
	return fmt.Appendf(nil, `{"type":"histogram","n":%d%s}`, i, extra)
}

// Every record is delivered once the destination comes back, in order;
// refused ones go to rejected/; what a stopped sender left is delivered by
// the next one.
func TestDeliverRetryRejectRestart(t *testing.T) {
	dir := t.TempDir()
	d := &flaky{failures: 2, tries: map[string]int{}}
	q, err := NewQueue(d, dir, 0, metrics.New("t1"), quiet)
	if err != nil {
		t.Fatal(err)
	}
	q.MinBackoff, q.MaxBackoff = time.Millisecond, 4*time.Millisecond
	for i := range 5 {
		extra := ""
		if i == 2 {
			extra = `,"refuse":true`
		}
		q.Put("histogram", rec(i, extra))
		q.Commit() // an item each, so that the restart below is exact
	}
	q.Put("new_qname", []byte(`{"type":"new_qname"}`)) // not wanted: not spooled
	q.Commit()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { q.Run(ctx, quiet); close(done) }()
	waitFor(t, func() bool { return len(d.delivered()) == 2 })
	cancel()
	<-done

	// A new sender on the same spool: the rest goes, nothing twice.
	q2, _ := NewQueue(d, dir, 0, metrics.New("t2"), quiet)
	q2.MinBackoff, q2.MaxBackoff = time.Millisecond, 4*time.Millisecond
	ctx, cancel = context.WithCancel(context.Background())
	done2 := make(chan struct{})
	defer func() { cancel(); <-done2 }()
	go func() { q2.Run(ctx, quiet); close(done2) }()
	waitFor(t, func() bool { return len(d.delivered()) == 4 })
	got := d.delivered()
	for i, want := range []int{0, 1, 3, 4} {
		if got[i] != string(rec(want, "")) {
			t.Errorf("delivery %d: %s", i, got[i])
		}
	}
	waitFor(t, func() bool { return q2.Spool.Stats().Items == 0 })
	if st := q2.Spool.Stats(); st.Rejected != 1 {
		t.Errorf("rejected %d, want 1", st.Rejected)
	}
	reasons, _ := filepath.Glob(filepath.Join(dir, "rejected", "*.reason"))
	if b, _ := os.ReadFile(reasons[0]); !strings.Contains(string(b), "test refusal") {
		t.Errorf("reason %q", b)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
	}
}

// The aggregate receiver destination: 500 and 429 are retried (429 after
// its Retry-After), 201 delivers, 401 rejects; the digest is right.
func TestAggrec(t *testing.T) {
	var mu sync.Mutex
	statuses := []int{500, 429, 201, 401}
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		sum := sha256.Sum256(body)
		if want := "sha-256=:" + base64.StdEncoding.EncodeToString(sum[:]) + ":"; r.Header.Get("Content-Digest") != want {
			t.Errorf("digest %q, want %q", r.Header.Get("Content-Digest"), want)
		}
		mu.Lock()
		code := statuses[0]
		statuses = statuses[1:]
		seen = append(seen, r.Header.Get("Aggregate-Interval"))
		mu.Unlock()
		if code == 429 {
			w.Header().Set("Retry-After", "1")
		}
		if code == 201 {
			w.Header().Set("Location", "/api/v1/aggregates/1")
		}
		w.WriteHeader(code)
	}))
	defer srv.Close()
	_, key, _ := ed25519.GenerateKey(nil)
	base, _ := url.Parse(srv.URL)
	d := &Aggrec{Client: &aggrec.Client{BaseURL: base, Name: "edge-1", Key: key}, Log: quiet}
	dir := t.TempDir()
	q, err := NewQueue(d, dir, 0, metrics.New("t3"), quiet)
	if err != nil {
		t.Fatal(err)
	}
	q.MinBackoff, q.MaxBackoff = time.Millisecond, 4*time.Millisecond
	h := `{"type":"histogram","start":"2026-11-27T12:00:00Z","duration":60,"rows":[{"label0":"com","label1":"example","a_count":3,"edm_status_bits":1}]}`
	q.Put("histogram", []byte(h))
	q.Put("histogram", []byte(strings.Replace(h, "12:00", "12:01", 1)))
	q.Commit()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	defer func() { cancel(); <-done }() // before the temporary directory goes
	start := time.Now()
	go func() { q.Run(ctx, quiet); close(done) }()
	waitFor(t, func() bool { st := q.Spool.Stats(); return st.Items == 0 && st.Rejected == 1 })
	if time.Since(start) < time.Second {
		t.Error("429's Retry-After was not honoured")
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(seen, " ") != "2026-11-27T12:00:00Z/PT1M 2026-11-27T12:00:00Z/PT1M 2026-11-27T12:00:00Z/PT1M 2026-11-27T12:01:00Z/PT1M" {
		t.Errorf("attempts %v", seen)
	}
}

// Records committed together are one item: delivered in order, and after a
// restart mid-item delivered again from its start (at least once).
func TestBatchAtLeastOnce(t *testing.T) {
	dir := t.TempDir()
	d := &flaky{tries: map[string]int{}}
	q, _ := NewQueue(d, dir, 0, metrics.New("t4"), quiet)
	for i := range 100 {
		q.Put("histogram", rec(i, ""))
	}
	if err := q.Commit(); err != nil {
		t.Fatal(err)
	}
	if st := q.Spool.Stats(); st.Items != 1 {
		t.Fatalf("%d items for one commit", st.Items)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { q.Run(ctx, quiet); close(done) }()
	waitFor(t, func() bool { return q.Spool.Stats().Items == 0 })
	cancel()
	<-done
	got := d.delivered()
	if len(got) != 100 || got[0] != string(rec(0, "")) || got[99] != string(rec(99, "")) {
		t.Errorf("delivered %d, first %s", len(got), got[0])
	}
}

// Records a second into the spool, committed in batches of 256 as a burst
// arrives, beside one record per commit.
func BenchmarkSpool(b *testing.B) {
	for _, batch := range []int{1, 256} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			q, _ := NewQueue(&flaky{tries: map[string]int{}}, b.TempDir(), 0, metrics.New(fmt.Sprintf("b%d", batch)), quiet)
			r := []byte(`{"type":"histogram","start":"2026-11-27T12:00:00Z","qname":"a-new-name.example.","qtype":1,"qclass":1,"flags":33152}`)
			n := 0
			for b.Loop() {
				q.Put("histogram", r)
				if n++; n%batch == 0 {
					if err := q.Commit(); err != nil {
						b.Fatal(err)
					}
				}
			}
			q.Commit()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
