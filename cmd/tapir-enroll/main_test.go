package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tapir-edge/tapir/cmd/tool/docs"
	"github.com/tapir-edge/tapir/lib/testkit/tooltest"

	"github.com/tapir-edge/tapir/lib/testkit/nodemantest"
)

func TestDocs(t *testing.T) { docs.Test(t, app(), manual) }

// The test binary doubles as tapir-enroll.
func TestMain(m *testing.M) {
	if os.Getenv("TAPIR_TEST_MAIN") == "1" {
		main()
	}
	os.Exit(m.Run())
}

func run(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "TAPIR_TEST_MAIN=1")
	out, _ := cmd.CombinedOutput()
	if strings.Contains(string(out), "goroutine ") || strings.Contains(string(out), "panic") {
		t.Errorf("%q: stack trace:\n%s", args, out)
	}
	return string(out), cmd.ProcessState.ExitCode()
}

const name = "edge-3.nodes.test.example"

// From credentials to status, as an operator runs it, and the exit codes
// that scripts rely on.
func TestCommandLine(t *testing.T) {
	srv := nodemantest.New(t)
	dir := t.TempDir()
	ca := filepath.Join(dir, "nodeman-ca.pem")
	os.WriteFile(ca, srv.CAPEM(), 0o644)
	cred := filepath.Join(dir, "cred.json")
	os.WriteFile(cred, srv.AddNode(name, "oct"), 0o600)
	node := filepath.Join(dir, "node")

	// The node manager's TLS certificate is not trusted without --nodeman-ca.
	if out, code := run(t, "enroll", "-c", cred, "-n", node); code != 5 {
		t.Fatalf("untrusted TLS: exit %d\n%s", code, out)
	}
	if out, code := run(t, "enroll", "-c", cred, "-n", node, "--nodeman-ca", ca, "--dry-run"); code != 0 || !strings.Contains(out, "/enroll") {
		t.Fatalf("dry run: exit %d\n%s", code, out)
	}
	// Options before the command work too.
	if out, code := run(t, "--node", node, "--nodeman-ca", ca, "enroll", "-c", cred); code != 0 {
		t.Fatalf("enroll: exit %d\n%s", code, out)
	}
	if out, code := run(t, "enroll", "-c", cred, "-n", node, "--nodeman-ca", ca); code != 0 || !strings.Contains(out, "nothing to do") {
		t.Fatalf("again: exit %d\n%s", code, out)
	}
	out, code := run(t, "status", "-n", node, "--json")
	var s map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &s) != nil || s["name"] != name || s["state"] != "valid" {
		t.Fatalf("status: exit %d\n%s", code, out)
	}
	if out, code := run(t, "renew", "-n", node, "--nodeman-ca", ca); code != 0 || !strings.Contains(out, "renewed") {
		t.Fatalf("renew: exit %d\n%s", code, out)
	}
	t.Setenv("TAPIR_NODEMAN_CA", ca)
	if out, code := run(t, "renew", "-n", node, "--if-needed"); code != 0 || !strings.Contains(out, "not due") {
		t.Fatalf("renew --if-needed: exit %d\n%s", code, out)
	}

	// Unknown node: 404, exit 4.
	other := filepath.Join(dir, "other.json")
	os.WriteFile(other, []byte(strings.ReplaceAll(string(srv.AddNode("y.nodes.test.example", "oct")), "y.nodes", "z.nodes")), 0o600)
	if out, code := run(t, "enroll", "-c", other, "-n", filepath.Join(dir, "n2")); code != 4 || !strings.Contains(out, "404") {
		t.Errorf("unknown node: exit %d\n%s", code, out)
	}
	// Server down: exit 5.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	down := filepath.Join(dir, "down.json")
	os.WriteFile(down, []byte(strings.ReplaceAll(string(srv.AddNode("w.nodes.test.example", "oct")), srv.URL, "https://"+addr)), 0o600)
	if out, code := run(t, "enroll", "-c", down, "-n", filepath.Join(dir, "n3")); code != 5 {
		t.Errorf("server down: exit %d\n%s", code, out)
	}
	// Usage errors: exit 2.
	if out, code := run(t, "enroll", "-n", node+"-x"); code != 2 {
		t.Errorf("no credentials: exit %d\n%s", code, out)
	}
	if out, code := run(t, "status", "-n", filepath.Join(dir, "none")); code != 2 {
		t.Errorf("status of nothing: exit %d\n%s", code, out)
	}
	for _, args := range [][]string{{}, {"frobnicate"}, {"status", "-n", node, "extra"}, {"renew", "-n", node, "extra"}} {
		if out, code := run(t, args...); code != 2 || !strings.Contains(out, "See 'tapir-enroll --help'") {
			t.Errorf("%q: exit %d\n%s", args, code, out)
		}
	}
}

// The unit files pass systemd-analyze verify. The test points ExecStart at
// this binary and MANPATH at man/, since verify checks both.
func TestUnitFiles(t *testing.T) {
	units := tooltest.VerifyUnits(t, "../..", "tapir-enroll-renew.timer", "tapir-enroll-renew.service")
	for name, wants := range map[string][]string{
		"tapir-enroll-renew.timer":   {"OnCalendar=hourly", "Persistent=true", "RandomizedDelaySec="},
		"tapir-enroll-renew.service": {"Type=oneshot", " renew ", "--if-needed"},
	} {
		for _, want := range wants {
			if !strings.Contains(units[name], want) {
				t.Errorf("%s lacks %q", name, want)
			}
		}
	}
}

// Killed (SIGKILL) while it waits for the node manager's answer:
// the keys are on disk with mode 0600, nothing is half-written, and the
// next run recovers the enrollment.
func TestKilledWhileEnrolling(t *testing.T) {
	srv := nodemantest.New(t)
	srv.Hold, srv.Enrolling = make(chan struct{}), make(chan struct{}, 1)
	dir := t.TempDir()
	ca := filepath.Join(dir, "nodeman-ca.pem")
	os.WriteFile(ca, srv.CAPEM(), 0o644)
	cred := filepath.Join(dir, "cred.json")
	os.WriteFile(cred, srv.AddNode(name, "oct"), 0o600)
	node := filepath.Join(dir, "node")

	cmd := exec.Command(os.Args[0], "enroll", "-c", cred, "-n", node, "--nodeman-ca", ca)
	cmd.Env = append(os.Environ(), "TAPIR_TEST_MAIN=1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-srv.Enrolling:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("no enroll request")
	}
	cmd.Process.Kill()
	cmd.Wait()
	close(srv.Hold)

	ents, _ := os.ReadDir(node)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
		fi, _ := e.Info()
		if m := fi.Mode().Perm(); m != 0o600 {
			t.Errorf("%s: mode %04o", e.Name(), m)
		}
	}
	if strings.Join(names, " ") != "data-key.jwk tls.key" {
		t.Errorf("after the kill the node directory holds %q, want the two keys", names)
	}
	if out, code := run(t, "enroll", "-c", cred, "-n", node, "--nodeman-ca", ca); code != 0 || !strings.Contains(out, "recovering") {
		t.Fatalf("after the kill: exit %d\n%s", code, out)
	}
	if out, code := run(t, "status", "-n", node); code != 0 {
		t.Fatalf("status: exit %d\n%s", code, out)
	}
}

// status exits 6 when renewal is due and 7 once the certificate has
// expired, for monitoring scripts; 0 while it is valid.
func TestStatusExitCodes(t *testing.T) {
	srv := nodemantest.New(t)
	dir := t.TempDir()
	ca := filepath.Join(dir, "nodeman-ca.pem")
	os.WriteFile(ca, srv.CAPEM(), 0o644)
	cred := filepath.Join(dir, "cred.json")
	os.WriteFile(cred, srv.AddNode(name, "oct"), 0o600)
	node := filepath.Join(dir, "node")
	if out, code := run(t, "enroll", "-c", cred, "-n", node, "--nodeman-ca", ca); code != 0 {
		t.Fatalf("enroll: exit %d\n%s", code, out)
	}
	now := time.Now()
	for _, tc := range []struct {
		from, to time.Time
		code     int
		want     string
	}{
		{now.Add(-time.Minute), now.Add(time.Hour), 0, "state:        valid"},
		{now.Add(-2 * time.Hour), now.Add(30 * time.Minute), 6, "renewal is due"},
		{now.Add(-2 * time.Hour), now.Add(-time.Minute), 7, "expired at"},
	} {
		writeCert(t, filepath.Join(node, "tls.crt"), tc.from, tc.to)
		if out, code := run(t, "status", "-n", node); code != tc.code || !strings.Contains(out, tc.want) || !strings.Contains(out, "node:         "+name+" ("+node+")") {
			t.Errorf("certificate valid %v to %v: exit %d, want %d and %q\n%s", tc.from, tc.to, code, tc.code, tc.want, out)
		}
	}
}

// writeCert writes a self-signed certificate valid from from to to:
// status reads the dates, and checks no signature.
func writeCert(t *testing.T, path string, from, to time.Time) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(from.Unix()), Subject: pkix.Name{CommonName: name}, NotBefore: from, NotAfter: to}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
}
