package main

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tapir-edge/tapir/lib/testkit/mqtttest"

	"github.com/tapir-edge/tapir/lib/enroll"
	"github.com/tapir-edge/tapir/lib/fstrm"
	"github.com/tapir-edge/tapir/lib/record"
	"github.com/tapir-edge/tapir/lib/testkit/nodemantest"
	"github.com/tapir-edge/tapir/lib/testkit/tooltest"
)

// compactJWS signs payload by hand (RFC 7515 compact serialisation).
func compactJWS(key ed25519.PrivateKey, kid string, payload []byte) string {
	enc := base64.RawURLEncoding.EncodeToString
	h := enc([]byte(fmt.Sprintf(`{"alg":"EdDSA","kid":%q}`, kid)))
	p := enc(payload)
	return h + "." + p + "." + enc(ed25519.Sign(key, []byte(h+"."+p)))
}

// tapir-listen --mqtt, with a node enrolled at a test node manager, takes
// the core's signed observations from a real mosquitto: the good ones
// become observation records, the forged one does not.
func TestMQTTObservations(t *testing.T) {
	pub := tooltest.Need(t, "mosquitto_pub")
	dir := t.TempDir()

	// The core's signing key, trusted by the node through enrollment.
	corePub, corePriv, _ := ed25519.GenerateKey(nil)
	nm := nodemantest.New(t)
	nm.TrustedJWKS = map[string]any{"keys": []any{map[string]any{"kty": "OKP", "crv": "Ed25519", "kid": "core-1", "x": base64.RawURLEncoding.EncodeToString(corePub)}}}
	cred, nmCA := filepath.Join(dir, "cred.json"), filepath.Join(dir, "nodeman-ca.pem")
	os.WriteFile(cred, nm.AddNode("edge-1", "oct"), 0o600)
	os.WriteFile(nmCA, nm.CAPEM(), 0o644)
	node := filepath.Join(dir, "node")
	if err := enroll.Enroll(context.Background(), enroll.Options{Dir: node, Credentials: cred, NodemanCA: nmCA, DataKeyType: enroll.KeyEd25519}); err != nil {
		t.Fatal(err)
	}

	// mosquitto: its own certificate from the node manager's CA too
	// (issued here), client certificates required.
	ca := filepath.Join(dir, "root.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: nm.Root.Raw}), 0o644)
	srv := cert(t, "127.0.0.1", nil)
	srvCert, srvKey, srvCA := filepath.Join(dir, "srv.crt"), filepath.Join(dir, "srv.key"), filepath.Join(dir, "srv-ca.pem")
	os.WriteFile(srvCert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate[0]}), 0o644)
	kd, _ := x509.MarshalPKCS8PrivateKey(srv.PrivateKey)
	os.WriteFile(srvKey, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}), 0o600)
	os.WriteFile(srvCA, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate[0]}), 0o644)
	port := mqtttest.Start(t, ca, srvCert, srvKey).Port

	out := filepath.Join(dir, "observations.fstrm")
	t.Setenv("SSL_CERT_FILE", srvCA) // tapir-listen trusts the broker's certificate through it
	p := run(t, "--mqtt", fmt.Sprintf("mqtts://127.0.0.1:%d/observations/down/edge-1", port), "--node", node, "-w", out)
	waitFile(t, out)
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(p.stderr.String(), "msg=subscribed"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("tapir-listen did not subscribe:\n%s", p.stderr)
		}
	}

	msg := func(name string) []byte {
		return fmt.Appendf(nil, `{"src_name":"dns-tapir","creator":"test","msg_type":"observation","list_type":"doubtlist","added":[{"name":%q,"time_added":"2026-11-27T12:00:00Z","ttl":3600,"tag_mask":16}],"removed":[],"timestamp":"2026-11-27T12:00:00Z"}`, name)
	}
	_, forger, _ := ed25519.GenerateKey(nil)
	for _, m := range []string{
		compactJWS(corePriv, "core-1", msg("bad.example.")),
		compactJWS(forger, "core-1", msg("forged.example.")),
		compactJWS(corePriv, "core-1", msg("worse.example.")),
	} {
		c := exec.Command(pub, "-h", "127.0.0.1", "-p", fmt.Sprint(port), "-V", "mqttv5", "-q", "1", "--cafile", srvCA,
			"--cert", filepath.Join(node, "tls.crt"), "--key", filepath.Join(node, "tls.key"), "-i", "publisher",
			"-t", "observations/down/edge-1", "-m", m)
		if o, err := c.CombinedOutput(); err != nil {
			t.Fatalf("mosquitto_pub: %v\n%s", err, o)
		}
	}
	var got []string
	for deadline := time.Now().Add(10 * time.Second); len(got) < 2 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		got = observed(t, out)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	<-p.done
	got = observed(t, out)
	if strings.Join(got, " ") != "bad.example. worse.example." {
		t.Errorf("observations %v, want the two signed by the core", got)
	}
	if !strings.Contains(p.stderr.String(), "observations_refused_signature=1") {
		t.Errorf("the forged message was not counted:\n%s", p.stderr)
	}
}

func observed(t *testing.T, path string) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	r, err := fstrm.NewFileReader(f, fstrm.ReaderOptions{ContentTypes: []string{record.ContentType}})
	if err != nil {
		return nil
	}
	var names []string
	for {
		b, err := r.Next()
		if err != nil {
			return names
		}
		var rec struct {
			Type  string
			Added []struct{ Name string }
		}
		json.Unmarshal(b, &rec)
		if rec.Type == "observation" && len(rec.Added) == 1 {
			names = append(names, rec.Added[0].Name)
		}
	}
}
