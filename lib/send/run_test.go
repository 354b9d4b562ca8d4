package send

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tapir-edge/tapir/lib/fault"
	"github.com/tapir-edge/tapir/lib/fstrm"
	"github.com/tapir-edge/tapir/lib/node"
	"github.com/tapir-edge/tapir/lib/record"
	"github.com/tapir-edge/tapir/lib/stage"
)

// dataKey writes an Ed25519 data key and returns its file.
func dataKey(t *testing.T) string {
	_, priv, _ := ed25519.GenerateKey(nil)
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	path := filepath.Join(t.TempDir(), "data.key")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// histograms writes n histogram records to w, one a minute from 12:00.
func histograms(w *fstrm.Writer, n int) {
	for i := range n {
		w.WriteFrame(fmt.Appendf(nil, `{"type":"histogram","start":"2026-11-27T12:%02d:00Z","duration":60,"rows":[{"label0":"com","label1":"example","a_count":1}]}`, i))
	}
}

// A destination given wrong is a configuration error, with the message
// of tapir-send before lib/send took it over.
func TestOpenErrors(t *testing.T) {
	nodeDir := t.TempDir()
	// A node manager that names a name: resolved once, not again.
	os.WriteFile(filepath.Join(nodeDir, node.File), []byte(`{"name":"edge-1","aggrec_url":"aggrec"}`), 0o644)
	key := dataKey(t)
	for _, c := range []struct {
		o    Options
		want string
	}{
		{Options{To: []string{"https://aggrec.example/"}, Dnstap: true}, "--to https://aggrec.example/ takes records, not dnstap"},
		{Options{To: []string{"aggrec"}}, "--to aggrec needs --node DIR"},
		{Options{To: []string{"broker"}, Credentials: Credentials{Node: nodeDir}}, "--to broker: the node manager named none in " + nodeDir},
		{Options{To: []string{"aggrec"}, Credentials: Credentials{Node: nodeDir}}, `--to "aggrec": unknown destination`},
		{Options{To: []string{"ftp://aggrec.example/"}}, `--to "ftp://aggrec.example/": unknown destination`},
		{Options{To: []string{"http://aggrec.example/"}}, "the aggregate receiver needs https (--insecure for tests)"},
		{Options{To: []string{"mqtt://broker.example/"}}, "the broker needs mqtts (--insecure for tests)"},
		{Options{To: []string{"https://aggrec.example/"}}, "give the node's data key with --data-key FILE"},
		{Options{To: []string{"https://aggrec.example/"}, Credentials: Credentials{DataKey: key}}, "give the node's --name, or its directory with --node"},
		{Options{To: []string{"https://aggrec.example/"}, Credentials: Credentials{DataKey: key, Name: "edge-1", TLSCert: "/nonexistent"}}, "--tls-cert/--tls-key: "},
		{Options{To: []string{"file://host/archive"}}, `--to "file://host/archive": want file:///DIRECTORY`},
	} {
		c.o.Spool, c.o.Log = t.TempDir(), quiet
		_, err := Open(context.Background(), c.o)
		if err == nil || !strings.Contains(err.Error(), c.want) || fault.Of(err) != fault.Config {
			t.Errorf("%v: got %v (%v), want %q, a configuration error", c.o.To, err, fault.Of(err), c.want)
		}
	}
}

// receiver is an aggregate receiver answering status to every upload,
// counting them.
func receiver(t *testing.T, status int) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// Run to the end of the input: every record delivered (the drain waits
// for it), a frame that is not a record counted and skipped.
func TestRun(t *testing.T) {
	srv, uploads := receiver(t, 201)
	dir := t.TempDir()
	in := filepath.Join(dir, "in.fstrm")
	f, _ := os.Create(in)
	w := fstrm.NewWriter(f, record.ContentType)
	histograms(w, 3)
	w.WriteFrame([]byte("not json"))
	w.WriteFrame([]byte(`{"type":"new_qname","qname":"a.example."}`)) // not for the receiver
	w.Close()
	f.Close()
	o := Options{To: []string{srv.URL + "/"}, Spool: filepath.Join(dir, "spool"), Drain: 30 * time.Second, Insecure: true,
		Credentials: Credentials{Name: "edge-1", DataKey: dataKey(t)}, Log: quiet}
	tl, err := Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if err := tl.Run(context.Background(), stage.Config{Inputs: []string{in}}); err != nil {
		t.Fatal(err)
	}
	if uploads.Load() != 3 || tl.waiting() != 0 {
		t.Errorf("%d uploads, %d records left", uploads.Load(), tl.waiting())
	}
	if v := tl.Metrics().Values(); v["bad_records"] != 1 {
		t.Errorf("bad_records %v", v["bad_records"])
	}
}

// Stopped while the input is a live FIFO and the receiver fails: Run
// stops at once, without the drain, and leaves the records in the spool.
func TestRunStopped(t *testing.T) {
	srv, uploads := receiver(t, 503)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	go func() {
		f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		defer f.Close()
		w := fstrm.NewWriter(f, record.ContentType)
		histograms(w, 3)
		w.Flush()
		time.Sleep(10 * time.Second) // a live writer, still there
	}()
	o := Options{To: []string{srv.URL + "/"}, Spool: filepath.Join(dir, "spool"), Drain: time.Minute, Insecure: true,
		Credentials: Credentials{Name: "edge-1", DataKey: dataKey(t)}, Log: quiet}
	tl, err := Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tl.Run(ctx, stage.Config{Inputs: []string{fifo}}) }()
	for deadline := time.Now().Add(10 * time.Second); uploads.Load() == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no upload")
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop")
	}
	if tl.waiting() == 0 {
		t.Error("the spool is empty: the records went nowhere")
	}
}
