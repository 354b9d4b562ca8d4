package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/tapir-edge/tapir/lib/testkit/mqtttest"

	"github.com/miekg/dns"

	"github.com/tapir-edge/tapir/deploy/resolvers"
	"github.com/tapir-edge/tapir/lib/enroll"
	"github.com/tapir-edge/tapir/lib/testkit/nodemantest"
	"github.com/tapir-edge/tapir/lib/testkit/tooltest"
	"github.com/tapir-edge/tapir/lib/testkit/unboundtest"
)

// The whole policy path: the core signs an observation (with a key the
// test made and the node trusts through enrollment) and publishes it on a
// real mosquitto; tapir-observe verifies it and pipes it to
// tapir-rpz serve; a real Unbound, told by NOTIFY, blocks the name.
func TestObservationToResolver(t *testing.T) {
	pub := tooltest.Need(t, "mosquitto_pub")
	dir := t.TempDir()

	corePub, corePriv, _ := ed25519.GenerateKey(nil)
	nm := nodemantest.New(t)
	nm.TrustedJWKS = map[string]any{"keys": []any{map[string]any{"kty": "OKP", "crv": "Ed25519", "kid": "core-1", "x": base64.RawURLEncoding.EncodeToString(corePub)}}}
	cred, nmCA := write(t, dir, "cred.json", string(nm.AddNode("edge-1", "oct"))), write(t, dir, "nm-ca.pem", string(nm.CAPEM()))
	os.Chmod(cred, 0o600)
	node := filepath.Join(dir, "node")
	if err := enroll.Enroll(context.Background(), enroll.Options{Dir: node, Credentials: cred, NodemanCA: nmCA, DataKeyType: enroll.KeyEd25519}); err != nil {
		t.Fatal(err)
	}

	// The broker's certificate, self-signed; client certificates from the
	// node manager's CA.
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	kd, _ := x509.MarshalPKCS8PrivateKey(key)
	srvCert := write(t, dir, "srv.crt", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	srvKey := write(t, dir, "srv.key", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd})))
	root := write(t, dir, "root.pem", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: nm.Root.Raw})))
	mport := mqtttest.Start(t, root, srvCert, srvKey).Port

	rport := tooltest.FreePort(t)
	ub := unboundtest.Start(t, unboundtest.Config{Zone: zone, ZoneName: "example.test.",
		Extra: resolvers.Fill("unbound-rpz.conf", resolvers.Vars{PrimaryPort: fmt.Sprint(rport)})})

	listenBin := filepath.Join(dir, "tapir-observe")
	if out, err := exec.Command("go", "build", "-o", listenBin, "../tapir-observe").CombinedOutput(); err != nil {
		t.Fatalf("build tapir-observe: %v\n%s", err, out)
	}
	listen := exec.Command(listenBin, "--broker", fmt.Sprintf("mqtts://127.0.0.1:%d/observations/down/edge-1", mport), "--node", node)
	listen.Env = append(os.Environ(), "SSL_CERT_FILE="+srvCert)
	serve := tooltest.Command("serve", "--listen", fmt.Sprintf("127.0.0.1:%d", rport), "--notify", ub.Addr, "--state", filepath.Join(dir, "state"))
	var logs [2]tooltest.Log
	listen.Stderr, serve.Stderr = &logs[0], &logs[1]
	serve.Stdin, _ = listen.StdoutPipe()
	for _, c := range []*exec.Cmd{serve, listen} {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		listen.Process.Signal(syscall.SIGTERM)
		serve.Process.Signal(syscall.SIGTERM)
		listen.Wait()
		serve.Wait()
		if t.Failed() {
			t.Logf("tapir-observe:\n%s\ntapir-rpz:\n%s", logs[0].String(), logs[1].String())
		}
	}()
	for deadline := time.Now().Add(20 * time.Second); !bytes.Contains(logs[0].Bytes(), []byte("msg=subscribed")); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("tapir-observe did not subscribe")
		}
	}
	waitRcode(t, ub, "later.example.test.", dns.RcodeSuccess)

	enc := base64.RawURLEncoding.EncodeToString
	payload := observation("denylist", "later.example.test.", 3600)
	h := enc([]byte(`{"alg":"EdDSA","kid":"core-1"}`))
	jws := h + "." + enc(payload) + "." + enc(ed25519.Sign(corePriv, []byte(h+"."+enc(payload))))
	p := exec.Command(pub, "-h", "127.0.0.1", "-p", fmt.Sprint(mport), "-V", "mqttv5", "-q", "1", "--cafile", srvCert,
		"--cert", filepath.Join(node, "tls.crt"), "--key", filepath.Join(node, "tls.key"), "-i", "core", "-t", "observations/down/edge-1", "-m", jws)
	if out, err := p.CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_pub: %v\n%s", err, out)
	}
	waitRcode(t, ub, "later.example.test.", dns.RcodeNameError)
}
