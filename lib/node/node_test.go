package node

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/tapir-edge/tapir/lib/keyfile"
)

const name = "edge-17.nodes.test.example"

// authority is a CA that issues the node's certificate and the test
// servers', as the node manager's does.
type authority struct {
	cert *x509.Certificate
	key  crypto.Signer
	pem  []byte
}

func newAuthority(t *testing.T, cn string) *authority {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &authority{cert, key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

var serial = big.NewInt(time.Now().UnixNano())

// issue returns a certificate for cn (a client's) or for 127.0.0.1 (a
// server's), with its key, both PEM.
func (a *authority) issue(t *testing.T, cn string, server bool) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial.Add(serial, big.NewInt(1))
	tmpl := &x509.Certificate{
		SerialNumber: new(big.Int).Set(serial),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		DNSNames:     []string{cn},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, key.Public(), a.key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pkcs8(t, key)
}

func pkcs8(t *testing.T, key any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func write(t *testing.T, path string, b []byte, mode os.FileMode) {
	t.Helper()
	if err := keyfile.Write(path, b, mode); err != nil {
		t.Fatal(err)
	}
}

// enrolled writes a node directory as tapir-enroll does, with a
// certificate from ca.
func enrolled(t *testing.T, ca *authority) *Node {
	t.Helper()
	dir := t.TempDir()
	crt, key := ca.issue(t, name, false)
	write(t, filepath.Join(dir, TLSCertFile), crt, 0o644)
	write(t, filepath.Join(dir, TLSKeyFile), key, 0o600)
	write(t, filepath.Join(dir, CACertFile), ca.pem, 0o644)
	_, dk, _ := ed25519.GenerateKey(rand.Reader)
	write(t, filepath.Join(dir, DataKeyFile), jwk(t, dk), 0o600)
	write(t, filepath.Join(dir, TrustedJWKSFile), []byte(`{"keys":[]}`), 0o644)
	b, _ := json.Marshal(&Node{
		Name: name, NodemanURL: "https://nodeman.test.example", AggrecURL: "https://aggrec.test.example",
		DataKey: DataKeyFile, DataKeyAlg: "EdDSA", TLSKey: TLSKeyFile, TLSCert: TLSCertFile,
		CACert: CACertFile, TrustedJWKS: TrustedJWKSFile, Enrolled: time.Now().UTC().Truncate(time.Second),
	})
	write(t, filepath.Join(dir, File), b, 0o644)
	n, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func jwk(t *testing.T, key any) []byte {
	t.Helper()
	b, err := (&jose.JSONWebKey{Key: key, KeyID: name, Use: "sig"}).MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// refused checks that err names path and says want.
func refused(t *testing.T, what string, err error, path, want string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: accepted", what)
		return
	}
	if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), want) {
		t.Errorf("%s: %q, want the file %s and %q", what, err, path, want)
	}
}

func TestLoad(t *testing.T) {
	n := enrolled(t, newAuthority(t, "ca"))
	if n.Name != name || n.AggrecURL != "https://aggrec.test.example" || n.DataKeyAlg != "EdDSA" {
		t.Errorf("node.json: %+v", n)
	}
	if p := n.Path(n.TLSCert); p != filepath.Join(n.Dir(), "tls.crt") {
		t.Errorf("Path(TLSCert) = %s", p)
	}

	dir := t.TempDir()
	_, err := Load(dir)
	refused(t, "empty directory", err, dir, "not an enrolled node directory (no node.json)")
	write(t, filepath.Join(dir, File), []byte(`{"name":`), 0o644)
	_, err = Load(dir)
	refused(t, "bad node.json", err, filepath.Join(dir, File), "unexpected end of JSON")
}

func TestReadPEMKey(t *testing.T) {
	dir := t.TempDir()
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for what, key := range map[string]crypto.Signer{"Ed25519": edPriv, "P-256": p256} {
		path := filepath.Join(dir, what+".pem")
		write(t, path, pkcs8(t, key), 0o600)
		k, err := ReadPEMKey(path)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if !k.Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(key.Public()) {
			t.Errorf("%s: read another key", what)
		}
	}

	path := filepath.Join(dir, "P-256.pem")
	os.Chmod(path, 0o644)
	_, err := ReadPEMKey(path)
	refused(t, "mode 0644", err, path, "mode 0644")
	if !errors.Is(err, keyfile.ErrExposed) {
		t.Errorf("mode 0644: %v is not ErrExposed", err)
	}

	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := newAuthority(t, "ca").issue(t, name, false)
	sec1, _ := x509.MarshalECPrivateKey(p256)
	for _, tc := range []struct {
		what string
		data []byte
		want string
	}{
		{"not PEM", []byte("not a key\n"), "no PEM block"},
		{"a certificate", cert, `PEM block "CERTIFICATE", want a PKCS #8 PRIVATE KEY`},
		{"SEC 1", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}), `PEM block "EC PRIVATE KEY", want a PKCS #8 PRIVATE KEY`},
		{"RSA", pkcs8(t, rsaKey), "*rsa.PrivateKey: want a private Ed25519 or ECDSA P-256 key"},
		{"P-384", pkcs8(t, p384), "ECDSA key on P-384: want P-256"},
	} {
		path := filepath.Join(dir, "bad.pem")
		write(t, path, tc.data, 0o600)
		_, err := ReadPEMKey(path)
		refused(t, tc.what, err, path, tc.want)
	}
}

func TestReadJWK(t *testing.T) {
	dir := t.TempDir()
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for what, key := range map[string]crypto.Signer{"Ed25519": edPriv, "P-256": p256} {
		path := filepath.Join(dir, what+".jwk")
		write(t, path, jwk(t, key), 0o600)
		k, err := ReadJWK(path)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if k.KeyID != name || !k.Key.(crypto.Signer).Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(key.Public()) {
			t.Errorf("%s: read %+v", what, k)
		}
	}

	path := filepath.Join(dir, "Ed25519.jwk")
	os.Chmod(path, 0o644)
	_, err := ReadJWK(path)
	refused(t, "mode 0644", err, path, "mode 0644")

	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	for _, tc := range []struct {
		what string
		data []byte
		want string
	}{
		{"not JSON", []byte("not a key\n"), "invalid character"},
		{"a public key", jwk(t, edPub), "public key: want a private Ed25519 or ECDSA P-256 key"},
		{"P-384", jwk(t, p384), "ECDSA key on P-384: want P-256"},
		{"a secret", jwk(t, make([]byte, 32)), "[]uint8: want a private Ed25519 or ECDSA P-256 key"},
	} {
		path := filepath.Join(dir, "bad.jwk")
		write(t, path, tc.data, 0o600)
		_, err := ReadJWK(path)
		refused(t, tc.what, err, path, tc.want)
	}
}

// The data key signs, and its public half is the one in the JWK.
func TestDataSigner(t *testing.T) {
	n := enrolled(t, newAuthority(t, "ca"))
	s, err := n.DataSigner()
	if err != nil {
		t.Fatal(err)
	}
	k, _ := ReadJWK(n.Path(n.DataKey))
	msg := []byte("aggregate")
	sig, err := s.Sign(rand.Reader, msg, crypto.Hash(0))
	if err != nil || !ed25519.Verify(k.Public().Key.(ed25519.PublicKey), msg, sig) {
		t.Errorf("signature does not verify: %v", err)
	}
	os.Chmod(n.Path(n.DataKey), 0o640)
	_, err = n.DataSigner()
	refused(t, "mode 0640", err, n.Path(n.DataKey), "mode 0640")
}

func parseLeaf(certPEM []byte) (*x509.Certificate, error) {
	b, _ := pem.Decode(certPEM)
	if b == nil {
		return nil, errors.New("no PEM block")
	}
	return x509.ParseCertificate(b.Bytes)
}
