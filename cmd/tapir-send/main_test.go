package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tapir-edge/tapir/cmd/tool/docs"
	"github.com/tapir-edge/tapir/lib/fstrm"
	"github.com/tapir-edge/tapir/lib/record"
	"github.com/tapir-edge/tapir/lib/testkit/tooltest"
)

func TestDocs(t *testing.T) { docs.Test(t, app(), manual) }

func TestMain(m *testing.M) { tooltest.Main(m, main) }

// node is a test node: a CA, the receiver's and the node's certificates,
// and the node's data key, in files.
type node struct {
	dir                              string
	ca, srv                          tls.Certificate
	caFile, dataKey, tlsCert, tlsKey string
	pub                              ed25519.PublicKey
}

func certificate(t *testing.T, cn string, ca *tls.Certificate) tls.Certificate {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{cn},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	parent, signer := tmpl, any(key)
	if ca == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid, tmpl.KeyUsage = true, true, x509.KeyUsageCertSign
	} else {
		parent, signer = ca.Leaf, ca.PrivateKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func newNode(t *testing.T) *node {
	n := &node{dir: t.TempDir()}
	n.ca = certificate(t, "test CA", nil)
	n.srv = certificate(t, "127.0.0.1", &n.ca)
	cl := certificate(t, "edge-1", &n.ca)
	n.caFile, n.dataKey = filepath.Join(n.dir, "ca.pem"), filepath.Join(n.dir, "data.key")
	n.tlsCert, n.tlsKey = filepath.Join(n.dir, "tls.crt"), filepath.Join(n.dir, "tls.key")
	writePEM(t, n.caFile, "CERTIFICATE", n.ca.Certificate[0])
	writePEM(t, n.tlsCert, "CERTIFICATE", cl.Certificate[0])
	kd, _ := x509.MarshalPKCS8PrivateKey(cl.PrivateKey)
	writePEM(t, n.tlsKey, "PRIVATE KEY", kd)
	pub, priv, _ := ed25519.GenerateKey(nil)
	n.pub = pub
	dk, _ := x509.MarshalPKCS8PrivateKey(priv)
	writePEM(t, n.dataKey, "PRIVATE KEY", dk)
	return n
}

// receiver is an aggregate receiver that answers each interval's
// attempts from a script, and records what it accepted.
type receiver struct {
	mu       sync.Mutex
	script   map[string][]int // interval → statuses for its attempts; then 201
	attempts map[string]int
	accepted map[string]int
	hang     chan struct{} // when set, requests wait on it
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if rc.hang != nil {
		<-rc.hang
	}
	body, _ := io.ReadAll(r.Body)
	sum := sha256.Sum256(body)
	if r.Header.Get("Content-Digest") != "sha-256=:"+base64.StdEncoding.EncodeToString(sum[:])+":" || !strings.Contains(r.Header.Get("Signature-Input"), `keyid="edge-1"`) || len(r.TLS.PeerCertificates) == 0 {
		http.Error(w, "bad request", 400)
		return
	}
	iv := r.Header.Get("Aggregate-Interval")
	rc.mu.Lock()
	defer rc.mu.Unlock()
	code := 201
	if s := rc.script[iv]; rc.attempts[iv] < len(s) {
		code = s[rc.attempts[iv]]
	}
	rc.attempts[iv]++
	switch code {
	case 201:
		rc.accepted[iv]++
		w.Header().Set("Location", "/api/v1/aggregates/"+iv)
	case 429:
		w.Header().Set("Retry-After", "1")
	}
	w.WriteHeader(code)
}

func (rc *receiver) count() (accepted map[string]int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	m := map[string]int{}
	for k, v := range rc.accepted {
		m[k] = v
	}
	return m
}

func serve(t *testing.T, n *node, addr string, h http.Handler) *http.Server {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(n.ca.Leaf)
	srv := &http.Server{Handler: h, TLSConfig: &tls.Config{Certificates: []tls.Certificate{n.srv}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert}}
	go srv.ServeTLS(l, "", "")
	t.Cleanup(func() { srv.Close() })
	return srv
}

// records writes n histogram records, one a minute from 12:00.
func records(t *testing.T, dir string, n int) string {
	path := filepath.Join(dir, "records.fstrm")
	f, _ := os.Create(path)
	defer f.Close()
	w := fstrm.NewWriter(f, record.ContentType)
	for i := range n {
		w.WriteFrame(fmt.Appendf(nil, `{"type":"histogram","start":"2026-11-27T12:%02d:00Z","duration":60,"rows":[{"label0":"com","label1":"example","a_count":%d,"edm_status_bits":1}]}`, i, i+1))
	}
	w.WriteFrame([]byte(`{"type":"new_qname","version":0,"qname":"x.example."}`)) // not for the receiver
	w.Close()
	return path
}

func interval(i int) string { return fmt.Sprintf("2026-11-27T12:%02d:00Z/PT1M", i) }

func args(n *node, addr, spool, in string) []string {
	return []string{"--to", "https://" + addr + "/", "--spool", spool, "--name", "edge-1", "--data-key", n.dataKey,
		"--tls-cert", n.tlsCert, "--tls-key", n.tlsKey, "--ca-file", n.caFile, "-r", in, "--drain", "30s"}
}

// Faults: the receiver is down at first, then answers 500, 429 and 401 to
// some intervals. Every record is delivered, the 401 one is in rejected/
// with its reason, and --status says so.
func TestFaults(t *testing.T) {
	n := newNode(t)
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close() // down until the server starts below
	spool := filepath.Join(n.dir, "spool")
	in := records(t, n.dir, 5)
	rc := &receiver{script: map[string][]int{interval(1): {500, 500}, interval(2): {429}, interval(3): {401}}, attempts: map[string]int{}, accepted: map[string]int{}}
	cmd := tooltest.Command(args(n, addr, spool, in)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	serve(t, n, addr, rc)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	got := rc.count()
	for i := range 5 {
		want := 1
		if i == 3 {
			want = 0
		}
		if got[interval(i)] != want {
			t.Errorf("%s accepted %d times, want %d", interval(i), got[interval(i)], want)
		}
	}
	reasons, _ := filepath.Glob(filepath.Join(spool, "*", "rejected", "*.reason"))
	if len(reasons) != 1 {
		t.Fatalf("rejected: %v", reasons)
	}
	if b, _ := os.ReadFile(reasons[0]); !strings.Contains(string(b), "401") {
		t.Errorf("reason %q", b)
	}
	st := tooltest.Command("--spool", spool, "--status")
	out, err := st.Output()
	if err != nil || !strings.Contains(string(out), "0 records") || !strings.Contains(string(out), "1 rejected") {
		t.Errorf("--status: %v\n%s", err, out)
	}
}

// Killed with SIGKILL while the receiver hangs, then started again: every
// record is delivered at least once, none lost.
func TestKillRestart(t *testing.T) {
	n := newNode(t)
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	spool := filepath.Join(n.dir, "spool")
	in := records(t, n.dir, 4)
	hung := &receiver{hang: make(chan struct{}), script: map[string][]int{}, attempts: map[string]int{}, accepted: map[string]int{}}
	srv := serve(t, n, addr, hung)
	cmd := tooltest.Command(args(n, addr, spool, in)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // spooled, and stuck on the first request
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	close(hung.hang)
	srv.Close()

	rc := &receiver{script: map[string][]int{}, attempts: map[string]int{}, accepted: map[string]int{}}
	serve(t, n, addr, rc)
	// The input is empty now: what is delivered comes from the spool.
	empty := filepath.Join(n.dir, "empty.fstrm")
	f, _ := os.Create(empty)
	w := fstrm.NewWriter(f, record.ContentType)
	w.Close()
	f.Close()
	again := tooltest.Command(args(n, addr, spool, empty)...)
	if out, err := again.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	got := rc.count()
	for i := range 4 {
		if got[interval(i)]+hung.count()[interval(i)] < 1 {
			t.Errorf("%s lost", interval(i))
		}
	}
}
