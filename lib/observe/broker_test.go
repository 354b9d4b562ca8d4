package observe

// Test helpers adapted from lib/mqttpub/broker_test.go: a CA, client and
// server certificates, and a real mosquitto with TLS and client
// certificates, started by the test.

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
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tapir-edge/tapir/lib/tool/tooltest"
)

type pki struct {
	dir    string
	caCert *x509.Certificate
	caKey  *ecdsa.PrivateKey
	pool   *x509.CertPool
}

func newPKI(t testing.TB) *pki {
	t.Helper()
	key := mustECKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "tapir observe test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	p := &pki{dir: t.TempDir(), caCert: cert, caKey: key, pool: x509.NewCertPool()}
	p.pool.AddCert(cert)
	writePEM(t, filepath.Join(p.dir, "ca.pem"), "CERTIFICATE", der)
	return p
}

func mustECKey(t testing.TB) *ecdsa.PrivateKey {
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

var (
	serial   int64 = 100
	serialMu sync.Mutex
)

// issue makes a certificate for cn, writes it and its key as <name>.pem
// and <name>.key, and returns it for crypto/tls.
func (p *pki) issue(t testing.TB, name, cn string, server bool) tls.Certificate {
	t.Helper()
	key := mustECKey(t)
	serialMu.Lock()
	serial++
	sn := serial
	serialMu.Unlock()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(sn),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
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
	writePEM(t, filepath.Join(p.dir, name+".pem"), "CERTIFICATE", der)
	writePEM(t, filepath.Join(p.dir, name+".key"), "PRIVATE KEY", kder)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// broker is a real mosquitto on a loopback port with TLS and client
// certificates: the certificate's CN is the user name; the ACL lets
// "core" publish under observations/ and "node" read it.
type broker struct {
	t    testing.TB
	bin  string
	conf string
	log  string
	port int
	cmd  *exec.Cmd
}

func startBroker(t testing.TB, p *pki) *broker {
	t.Helper()
	bin := tooltest.Need(t, "mosquitto")
	p.issue(t, "server", "localhost", true)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()

	dir := t.TempDir()
	acl := filepath.Join(dir, "acl")
	aclText := "user core\ntopic write observations/#\n\nuser node\ntopic read observations/#\n"
	if err := os.WriteFile(acl, []byte(aclText), 0o644); err != nil {
		t.Fatal(err)
	}
	b := &broker{t: t, bin: bin, conf: filepath.Join(dir, "mosquitto.conf"), log: filepath.Join(dir, "mosquitto.log"), port: port}
	var conf strings.Builder
	if os.Geteuid() == 0 {
		u, err := user.Current()
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&conf, "user %s\n", u.Username)
	}
	fmt.Fprintf(&conf, `persistence false
log_dest file %s
log_type all
per_listener_settings false
allow_anonymous false
acl_file %s
listener %d 127.0.0.1
cafile %s
certfile %s
keyfile %s
require_certificate true
use_identity_as_username true
`, b.log, acl, port, filepath.Join(p.dir, "ca.pem"), filepath.Join(p.dir, "server.pem"), filepath.Join(p.dir, "server.key"))
	if err := os.WriteFile(b.conf, []byte(conf.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	b.start()
	t.Cleanup(b.stop)
	return b
}

func (b *broker) addr() string { return fmt.Sprintf("127.0.0.1:%d", b.port) }

func (b *broker) start() {
	b.t.Helper()
	cmd := exec.Command(b.bin, "-c", b.conf)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		b.t.Fatal(err)
	}
	b.cmd = cmd
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", b.addr(), time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("mosquitto did not listen on %s: %v\n%s\n%s", b.addr(), err, out.String(), b.logText())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (b *broker) stop() {
	if b.cmd == nil {
		return
	}
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = b.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = b.cmd.Process.Kill()
		<-done
	}
	b.cmd = nil
}

func (b *broker) logText() string {
	text, _ := os.ReadFile(b.log)
	return string(text)
}

// waitLog waits until the broker's log has n occurrences of s.
func (b *broker) waitLog(s string, n int) {
	b.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(b.logText(), s) < n {
		if time.Now().After(deadline) {
			b.t.Fatalf("mosquitto log has not %d × %q:\n%s", n, s, b.logText())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// publish publishes payload on topic with mosquitto_pub (a second MQTT
// implementation), QoS 1, as the user "core".
func (b *broker) publish(p *pki, topic string, payload []byte) {
	b.t.Helper()
	bin := tooltest.Need(b.t, "mosquitto_pub")
	if _, err := os.Stat(filepath.Join(p.dir, "core.pem")); err != nil {
		p.issue(b.t, "core", "core", false)
	}
	cmd := exec.Command(bin, "-h", "127.0.0.1", "-p", fmt.Sprint(b.port), "-V", "mqttv5", "-q", "1",
		"--cafile", filepath.Join(p.dir, "ca.pem"),
		"--cert", filepath.Join(p.dir, "core.pem"), "--key", filepath.Join(p.dir, "core.key"),
		"-i", "core-pub", "-t", topic, "-s")
	cmd.Stdin = bytes.NewReader(payload)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.t.Fatalf("mosquitto_pub: %v\n%s", err, out)
	}
}

func mustP384(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
