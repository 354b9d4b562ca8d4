// Package mqtttest runs a real mosquitto on a loopback port for tests:
// TLS, client certificates required, the certificate's CN as the user,
// and a test CA (PKI) to make the certificates.
package mqtttest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tapir-edge/tapir/lib/testkit/tooltest"
)

// PKI is a test CA whose certificates land in Dir.
type PKI struct {
	Dir    string
	Pool   *x509.CertPool // the CA, for clients' RootCAs
	caCert *x509.Certificate
	caKey  *ecdsa.PrivateKey
}

var serial atomic.Int64

// NewPKI makes a CA, written to Dir/ca.pem.
func NewPKI(t testing.TB) *PKI {
	t.Helper()
	key := ecKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial.Add(1)), Subject: pkix.Name{CommonName: "tapir test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	p := &PKI{Dir: t.TempDir(), caCert: cert, caKey: key, Pool: x509.NewCertPool()}
	p.Pool.AddCert(cert)
	writePEM(t, p.CAFile(), "CERTIFICATE", der)
	return p
}

// CAFile is the CA certificate's PEM file.
func (p *PKI) CAFile() string { return filepath.Join(p.Dir, "ca.pem") }

// Issue makes a certificate for cn (a server's for 127.0.0.1 and
// localhost, or a client's), writes it and its key as Dir/NAME.pem and
// Dir/NAME.key, and returns it for crypto/tls.
func (p *PKI) Issue(t testing.TB, name, cn string, server bool) tls.Certificate {
	t.Helper()
	key := ecKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial.Add(1)), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		tmpl.DNSNames = []string{"localhost"}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.caCert, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(p.Dir, name+".pem"), "CERTIFICATE", der)
	writePEM(t, filepath.Join(p.Dir, name+".key"), "PRIVATE KEY", kder)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func ecKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func writePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// Broker is a running mosquitto, which a test may stop and start again
// on the same port.
type Broker struct {
	Port int
	t    testing.TB
	bin  string
	conf string
	log  string
	cmd  *exec.Cmd
}

// Addr is the broker's host:port.
func (b *Broker) Addr() string { return fmt.Sprintf("127.0.0.1:%d", b.Port) }

// Start starts mosquitto with the server certificate and key (PEM files)
// and the CA file that client certificates must chain to, and waits until
// it listens. It stops when the test ends. The test is skipped, or fails
// under TAPIR_REQUIRE_REAL=1, when mosquitto is not installed.
func Start(t testing.TB, caFile, certFile, keyFile string) *Broker {
	t.Helper()
	return start(t, caFile, certFile, keyFile, "")
}

// StartACL starts mosquitto with a server certificate issued by p, and the
// access control list acl (mosquitto's acl_file text: "user NAME", "topic
// read|write FILTER").
func StartACL(t testing.TB, p *PKI, acl string) *Broker {
	t.Helper()
	p.Issue(t, "server", "localhost", true)
	return start(t, p.CAFile(), filepath.Join(p.Dir, "server.pem"), filepath.Join(p.Dir, "server.key"), acl)
}

func start(t testing.TB, caFile, certFile, keyFile, acl string) *Broker {
	t.Helper()
	bin := tooltest.Need(t, "mosquitto")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	b := &Broker{Port: l.Addr().(*net.TCPAddr).Port, t: t, bin: bin, conf: filepath.Join(dir, "mosquitto.conf"), log: filepath.Join(dir, "mosquitto.log")}
	l.Close()
	var conf bytes.Buffer
	if os.Geteuid() == 0 {
		// mosquitto will not keep root; name the user it already is.
		u, err := user.Current()
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&conf, "user %s\n", u.Username)
	}
	fmt.Fprintf(&conf, "persistence false\nlog_dest file %s\nlog_type all\nper_listener_settings false\nallow_anonymous false\n", b.log)
	if acl != "" {
		aclFile := filepath.Join(dir, "acl")
		if err := os.WriteFile(aclFile, []byte(acl), 0o644); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&conf, "acl_file %s\n", aclFile)
	}
	fmt.Fprintf(&conf, "listener %d 127.0.0.1\ncafile %s\ncertfile %s\nkeyfile %s\nrequire_certificate true\nuse_identity_as_username true\n",
		b.Port, caFile, certFile, keyFile)
	if err := os.WriteFile(b.conf, conf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	b.Start()
	t.Cleanup(b.Stop)
	return b
}

// Start starts the broker (again) and waits until it listens.
func (b *Broker) Start() {
	b.t.Helper()
	cmd := exec.Command(b.bin, "-c", b.conf)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		b.t.Fatal(err)
	}
	b.cmd = cmd
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", b.Addr(), time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("mosquitto did not listen on %s: %v\n%s\n%s", b.Addr(), err, out.String(), b.Log())
		}
	}
}

// Stop stops the broker; it is harmless to call twice.
func (b *Broker) Stop() {
	if b.cmd == nil {
		return
	}
	b.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { b.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		b.cmd.Process.Kill()
		<-done
	}
	b.cmd = nil
}

// Log is the broker's log so far.
func (b *Broker) Log() string {
	text, _ := os.ReadFile(b.log)
	return string(text)
}
