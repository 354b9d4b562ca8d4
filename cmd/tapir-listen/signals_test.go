package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tapir-edge/tapir/lib/testkit/tooltest"

	"github.com/tapir-edge/tapir/lib/dnstap"
	"github.com/tapir-edge/tapir/lib/fstrm"
)

// send plays a resolver: it sends n CLIENT_QUERY frames on c.
func send(t *testing.T, c net.Conn, identity string, n int) {
	t.Helper()
	defer c.Close()
	w, err := fstrm.Dial(c, "protobuf:dnstap.Dnstap", fstrm.WriterOptions{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var f dnstap.Frame
	f.Identity = []byte(identity)
	f.Type = dnstap.ClientQuery
	f.QueryAddress = []byte{192, 0, 2, 1}
	f.QueryMessage = []byte{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'w', 'w', 'w', 0, 0, 1, 0, 1}
	b := f.AppendMarshal(nil)
	for range n {
		if err := w.WriteFrame(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// dialUnix connects to the socket at path. The file is there from bind,
// a moment before the listener listens: until then, a connection is
// refused, and dialUnix tries again.
func dialUnix(t *testing.T, path string) net.Conn {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		c, err := net.Dial("unix", path)
		if err == nil {
			return c
		}
		if !errors.Is(err, syscall.ECONNREFUSED) || time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
}

// SIGHUP ends the stream in the file (STOP) and starts a new one at the
// same path, as logrotate expects; SIGUSR1 logs the counters.
func TestReopen(t *testing.T) {
	dir := t.TempDir()
	sock, out := filepath.Join(dir, "s"), filepath.Join(dir, "out.fstrm")
	p := run(t, "-u", sock, "-w", out)
	waitFile(t, sock)
	send(t, dialUnix(t, sock), "a", 10)
	waitFrames(t, out, 10)
	if err := os.Rename(out, out+".1"); err != nil {
		t.Fatal(err)
	}
	p.cmd.Process.Signal(syscall.SIGHUP)
	waitFile(t, out)
	send(t, dialUnix(t, sock), "b", 7)
	waitFrames(t, out, 7)
	p.cmd.Process.Signal(syscall.SIGUSR1)
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(p.stderr.String(), "msg=counters"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no counters logged on SIGUSR1")
		}
	}
	p.stop(t)
	if got := readFrames(t, out+".1", true); len(got) != 10 { // complete, with STOP
		t.Errorf("rotated file: %d frames, want 10", len(got))
	}
	if got := readFrames(t, out, true); len(got) != 7 {
		t.Errorf("new file: %d frames, want 7", len(got))
	}
	if !regexp.MustCompile(`counters at exit.* frames=17`).MatchString(p.stderr.String()) {
		t.Errorf("exit counters do not say 17 frames:\n%s", p.stderr)
	}
}

// cert makes a certificate signed by ca (self-signed when ca is nil).
func cert(t *testing.T, name string, ca *tls.Certificate) tls.Certificate {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		DNSNames:     []string{name},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	parent, signer := tmpl, any(key)
	if ca == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
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

func writePEM(t *testing.T, path string, mode os.FileMode, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode); err != nil {
		t.Fatal(err)
	}
}

// TLS with client-certificate verification: a resolver with a certificate
// from the CA gets through, one without is refused, and a key file that
// others can read is refused at start-up.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	ca := cert(t, "test CA", nil)
	server := cert(t, "listener", &ca)
	client := cert(t, "resolver", &ca)
	caFile, certFile, keyFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writePEM(t, caFile, 0o644, "CERTIFICATE", ca.Certificate[0])
	writePEM(t, certFile, 0o644, "CERTIFICATE", server.Certificate[0])
	kd, _ := x509.MarshalPKCS8PrivateKey(server.PrivateKey)
	writePEM(t, keyFile, 0o644, "PRIVATE KEY", kd)

	addr, out := freePort(t), filepath.Join(dir, "out.fstrm")
	args := []string{"--tls", addr, "--tls-cert", certFile, "--tls-key", keyFile, "--tls-client-ca", caFile, "-w", out}
	bad := run(t, args...)
	if err := <-bad.done; err == nil || bad.cmd.ProcessState.ExitCode() != 2 || !strings.Contains(bad.stderr.String(), "mode 0644") {
		t.Fatalf("exposed key: exit %v, stderr %s", err, bad.stderr)
	}
	os.Chmod(keyFile, 0o600)
	p := run(t, args...)
	pool := x509.NewCertPool()
	pool.AddCert(ca.Leaf)
	var c net.Conn
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var err error
		c, err = tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "listener", Certificates: []tls.Certificate{client}})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
	send(t, c, "tls-resolver", 5)
	waitFrames(t, out, 5)

	anon, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "listener"})
	if err == nil {
		// TLS 1.3 reports the refusal on the first read.
		anon.Write([]byte{0, 0, 0, 0})
		_, err = io.ReadAll(anon)
	}
	if err == nil {
		t.Error("a resolver without a client certificate got through")
	}
	p.stop(t)
	if got := readFrames(t, out, true); len(got) != 5 || got[0].identity != "tls-resolver" {
		t.Errorf("frames %v", got)
	}
}

// Socket activation: systemd passes listening sockets (here through
// systemd-socket-activate, which does what systemd does): the unix socket
// of tapir-listen.socket, and a TCP one, as an operator adds with
// ListenStream=ADDR:PORT for a resolver on another machine.
func TestSystemdActivation(t *testing.T) {
	activate := tooltest.Need(t, "systemd-socket-activate")
	dir := t.TempDir()
	sock, out := filepath.Join(dir, "activated.sock"), filepath.Join(dir, "out.fstrm")
	tcp := freePort(t)
	cmd := exec.Command(activate, "-l", sock, "-l", tcp, "--fdname=dnstap:remote", "-E", "TAPIR_TEST_MAIN=1", os.Args[0], "-w", out, "--metrics", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "TAPIR_TEST_MAIN=1")
	stderr := new(tooltest.Log) // read while the tool writes it
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitFile(t, sock)
	// systemd-socket-activate starts the program on the first connection.
	send(t, dialUnix(t, sock), "activated", 3)
	waitFrames(t, out, 3)
	remote, err := net.Dial("tcp", tcp)
	if err != nil {
		t.Fatal(err)
	}
	send(t, remote, "remote-resolver", 2)
	waitFrames(t, out, 5)

	m := regexp.MustCompile(`serving metrics.* addr=(\S+)`).FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("no metrics address logged:\n%s", stderr)
	}
	resp, err := http.Get("http://" + m[1] + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"tapir_listen_frames_total 5", "tapir_listen_connections_total 2", `tapir_listen_dropped_frames_total{reason="full"} 0`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, stderr)
	}
	for _, on := range []string{"on=systemd:dnstap", "on=systemd:remote"} {
		if !strings.Contains(stderr.String(), on) {
			t.Errorf("the activated socket was not named (%s):\n%s", on, stderr)
		}
	}
	if got := readFrames(t, out, true); len(got) != 5 || got[3].identity != "remote-resolver" {
		t.Errorf("frames %v", got)
	}
}

// Usage errors exit 2 with a message; a binary stream is not written to a
// terminal (not testable without one), and nothing to listen on is an error.
func TestUsage(t *testing.T) {
	for _, args := range [][]string{
		{"-w", "/dev/null"},
		{"-u", "/tmp/x.sock", "--on-full", "maybe", "-w", "/dev/null"},
		{"-u", "/tmp/x.sock", "--types", "CLIENT_NONSENSE", "-w", "/dev/null"},
		{"--tls", "127.0.0.1:0", "-w", "/dev/null"},
	} {
		p := run(t, args...)
		<-p.done
		if code := p.cmd.ProcessState.ExitCode(); code != 2 {
			t.Errorf("%q: exit %d, want 2\n%s", args, code, p.stderr)
		}
	}
}
