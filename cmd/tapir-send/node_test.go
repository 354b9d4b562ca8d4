package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tapir-edge/tapir/lib/enroll"
	"github.com/tapir-edge/tapir/lib/enroll/nodemantest"
	"github.com/tapir-edge/tapir/lib/tool/tooltest"
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
	defer mu.Unlock()
	if len(peers) != 2 || peers[0] != "edge-1" || !strings.Contains(keyids[0], `keyid="edge-1"`) {
		t.Errorf("peers %v, signature inputs %v", peers, keyids)
	}
}
