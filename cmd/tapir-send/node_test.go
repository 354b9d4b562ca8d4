package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tapir-edge/tapir/lib/enroll"
	"github.com/tapir-edge/tapir/lib/fstrm"
	"github.com/tapir-edge/tapir/lib/record"
	"github.com/tapir-edge/tapir/lib/testkit/nodemantest"
	"github.com/tapir-edge/tapir/lib/testkit/tooltest"
)

// From a credentials file to delivered aggregates: tapir-enroll's node
// directory is all tapir-send needs (--node): its name signs, its
// certificate, issued by the node manager's CA, opens the receiver's
// mutual TLS.
func TestEnrolledNode(t *testing.T) {
	nm := nodemantest.New(t)
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	nm.AggrecURL = "https://" + l.Addr().String() + "/"
	dir := t.TempDir()
	cred, nmCA := filepath.Join(dir, "cred.json"), filepath.Join(dir, "nodeman-ca.pem")
	os.WriteFile(cred, nm.AddNode("edge-1", "oct"), 0o600)
	os.WriteFile(nmCA, nm.CAPEM(), 0o644)
	nodeDir := filepath.Join(dir, "node")
	if err := enroll.Enroll(context.Background(), enroll.Options{Dir: nodeDir, Credentials: cred, NodemanCA: nmCA, DataKeyType: enroll.KeyEd25519}); err != nil {
		t.Fatal(err)
	}

	n := newNode(t) // for the receiver's own certificate and CA file
	pool := x509.NewCertPool()
	pool.AddCert(nm.Root)
	var mu sync.Mutex
	var peers, keyids []string
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			peers = append(peers, r.TLS.PeerCertificates[0].Subject.CommonName)
			keyids = append(keyids, r.Header.Get("Signature-Input"))
			mu.Unlock()
			w.WriteHeader(201)
		}),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{n.srv}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert},
	}
	go srv.ServeTLS(l, "", "")
	defer srv.Close()

	// --to aggrec: the receiver the node manager named.
	cmd := tooltest.Command("--node", nodeDir, "--to", "aggrec", "--ca-file", n.caFile,
		"--spool", filepath.Join(dir, "spool"), "-r", records(t, dir, 2))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	mu.Lock()
	if len(peers) != 2 || peers[0] != "edge-1" || !strings.Contains(keyids[0], `keyid="edge-1"`) {
		t.Errorf("peers %v, signature inputs %v", peers, keyids)
	}
	mu.Unlock()

	// The node's ca.crt is trusted too, as by tapir-observe: with
	// the receiver's CA in the node manager's bundle, no --ca-file.
	caCrt := filepath.Join(nodeDir, "ca.crt")
	b, _ := os.ReadFile(caCrt)
	os.WriteFile(caCrt, append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: n.ca.Certificate[0]})...), 0o644)
	cmd = tooltest.Command("--node", nodeDir, "--to", "aggrec", "--spool", filepath.Join(dir, "spool2"), "-r", records(t, dir, 2))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(peers) != 4 || peers[3] != "edge-1" {
		t.Errorf("without --ca-file, trusting the node's ca.crt: peers %v", peers)
	}
}

// A renewal while tapir-send runs: the next connection presents the new
// certificate, and the expiry gauge moves to it, with no restart.
func TestRenewalWhileRunning(t *testing.T) {
	nm := nodemantest.New(t)
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	nm.AggrecURL = "https://" + l.Addr().String() + "/"
	dir := t.TempDir()
	cred, nmCA := filepath.Join(dir, "cred.json"), filepath.Join(dir, "nodeman-ca.pem")
	os.WriteFile(cred, nm.AddNode("edge-1", "oct"), 0o600)
	os.WriteFile(nmCA, nm.CAPEM(), 0o644)
	nodeDir := filepath.Join(dir, "node")
	opts := enroll.Options{Dir: nodeDir, Credentials: cred, NodemanCA: nmCA, DataKeyType: enroll.KeyEd25519, Lifetime: time.Hour}
	if err := enroll.Enroll(context.Background(), opts); err != nil {
		t.Fatal(err)
	}

	n := newNode(t)
	pool := x509.NewCertPool()
	pool.AddCert(nm.Root)
	serials := make(chan string, 10)
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			serials <- r.TLS.PeerCertificates[0].SerialNumber.String()
			// A new connection for each upload, so that each shows the
			// certificate tapir-send would present then.
			w.Header().Set("Connection", "close")
			w.WriteHeader(201)
		}),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{n.srv}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert},
	}
	go srv.ServeTLS(l, "", "")
	defer srv.Close()

	port := tooltest.FreePort(t)
	cmd := tooltest.Command("--node", nodeDir, "--to", "aggrec", "--ca-file", n.caFile,
		"--spool", filepath.Join(dir, "spool"), "--metrics", fmt.Sprint(port))
	in, _ := cmd.StdinPipe()
	tooltest.Start(t, "tapir-send", cmd)
	w := fstrm.NewWriter(in, record.ContentType)
	send := func(i int) string {
		t.Helper()
		w.WriteFrame(fmt.Appendf(nil, `{"type":"histogram","start":"2026-11-27T12:%02d:00Z","duration":60,"rows":[{"label0":"com","label1":"example","a_count":1}]}`, i))
		w.Flush()
		select {
		case s := <-serials:
			return s
		case <-time.After(20 * time.Second):
			t.Fatal("no upload")
			return ""
		}
	}
	expiry := func() float64 {
		t.Helper()
		v, err := tooltest.Scrape(fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Fatal(err)
		}
		f, err := strconv.ParseFloat(v["tapir_send_certificate_expiry_timestamp_seconds"], 64)
		if err != nil {
			t.Fatalf("no expiry gauge: %v", v)
		}
		return f
	}
	leaf := func() *x509.Certificate {
		t.Helper()
		b, _ := os.ReadFile(filepath.Join(nodeDir, "tls.crt"))
		blk, _ := pem.Decode(b)
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	first := leaf()
	if s := send(0); s != first.SerialNumber.String() {
		t.Fatalf("first upload with serial %s, want %s", s, first.SerialNumber)
	}
	if got := expiry(); got != float64(first.NotAfter.Unix()) {
		t.Errorf("expiry gauge %v, want %v", got, first.NotAfter.Unix())
	}
	time.Sleep(1100 * time.Millisecond) // a later NotAfter, to the second
	opts.Lifetime = 2 * time.Hour
	if err := enroll.Renew(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	second := leaf()
	if second.SerialNumber.Cmp(first.SerialNumber) == 0 {
		t.Fatal("the renewal kept the serial")
	}
	if s := send(1); s != second.SerialNumber.String() {
		t.Fatalf("after renewal, upload with serial %s, want the new %s", s, second.SerialNumber)
	}
	if got := expiry(); got != float64(second.NotAfter.Unix()) {
		t.Errorf("expiry gauge %v after renewal, want %v", got, second.NotAfter.Unix())
	}
}
