package clientcert

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pair makes a self-signed client certificate named cn, valid for life.
func pair(t *testing.T, cn string, life time.Duration) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Truncate(time.Second)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    now.Add(-time.Minute),
		NotAfter:     now.Add(life),
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	k, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: k})
}

// replace writes a file the way tapir-enroll does: a new file renamed
// over the old one.
func replace(t *testing.T, name string, b []byte) {
	t.Helper()
	tmp := name + ".new"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, name); err != nil {
		t.Fatal(err)
	}
}

func TestRenewal(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	c1, k1 := pair(t, "first", time.Hour)
	replace(t, certFile, c1)
	replace(t, keyFile, k1)
	var logs bytes.Buffer
	s, err := Load(certFile, keyFile, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if cn := s.Leaf().Subject.CommonName; cn != "first" {
		t.Fatalf("in use: %s", cn)
	}
	if want := float64(time.Now().Add(time.Hour).Truncate(time.Second).Unix()); s.Expiry() != want {
		t.Errorf("Expiry %v, want %v", s.Expiry(), want)
	}

	// Halfway through a renewal the key is new and the certificate old:
	// the pair in use stays, with a warning.
	c2, k2 := pair(t, "second", 2*time.Hour)
	replace(t, keyFile, k2)
	if cn := s.Leaf().Subject.CommonName; cn != "first" {
		t.Fatalf("after the key alone changed, in use: %s", cn)
	}
	if !strings.Contains(logs.String(), "kept the client certificate in use") {
		t.Errorf("no warning for the mismatched pair:\n%s", logs.String())
	}
	replace(t, certFile, c2)
	if cn := s.Leaf().Subject.CommonName; cn != "second" {
		t.Fatalf("after the renewal, in use: %s", cn)
	}
	if !strings.Contains(logs.String(), "took the renewed client certificate") {
		t.Errorf("the renewal was not logged:\n%s", logs.String())
	}
}

func TestRefused(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	c, k := pair(t, "x", time.Hour)
	replace(t, certFile, c)
	replace(t, keyFile, k)
	if err := os.Chmod(keyFile, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(certFile, keyFile, slog.Default()); err == nil {
		t.Error("a key readable by others was taken")
	}
	os.Chmod(keyFile, 0o600)
	_, other := pair(t, "y", time.Hour)
	replace(t, keyFile, other)
	if _, err := Load(certFile, keyFile, slog.Default()); err == nil || !strings.Contains(err.Error(), "tls.crt") {
		t.Errorf("mismatched pair: %v", err)
	}
	if _, err := Load(filepath.Join(dir, "missing"), keyFile, slog.Default()); err == nil {
		t.Error("a missing certificate was taken")
	}
}

// A server that asks for client certificates sees the renewed one on the
// next connection, from the same tls.Config.
func TestHandshake(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	c1, k1 := pair(t, "first", time.Hour)
	replace(t, certFile, c1)
	replace(t, keyFile, k1)
	s, err := Load(certFile, keyFile, slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)))
	if err != nil {
		t.Fatal(err)
	}
	sc, sk := pair(t, "server", time.Hour)
	serverPair, err := tls.X509KeyPair(sc, sk)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{serverPair}, ClientAuth: tls.RequireAnyClientCert})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	seen := make(chan string, 2)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			tc := conn.(*tls.Conn)
			if err := tc.Handshake(); err == nil {
				seen <- tc.ConnectionState().PeerCertificates[0].Subject.CommonName
			} else {
				seen <- "error: " + err.Error()
			}
			tc.Close()
		}
	}()
	client := &tls.Config{GetClientCertificate: s.GetClientCertificate, InsecureSkipVerify: true}
	dial := func() string {
		conn, err := tls.Dial("tcp", ln.Addr().String(), client)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.Handshake()
		select {
		case cn := <-seen:
			return cn
		case <-time.After(5 * time.Second):
			t.Fatal("no handshake")
			return ""
		}
	}
	if cn := dial(); cn != "first" {
		t.Fatalf("server saw %q", cn)
	}
	c2, k2 := pair(t, "second", time.Hour)
	replace(t, keyFile, k2)
	replace(t, certFile, c2)
	if cn := dial(); cn != "second" {
		t.Fatalf("after renewal, server saw %q", cn)
	}
}
