package enroll

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/tapir-edge/tapir/lib/keyfile"
	"github.com/tapir-edge/tapir/lib/node"
)

func writeJSON(path string, v any, mode os.FileMode) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return keyfile.Write(path, append(b, '\n'), mode)
}

// parseCerts parses a PEM bundle.
func parseCerts(s string) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := []byte(s)
	for {
		var p *pem.Block
		p, rest = pem.Decode(rest)
		if p == nil {
			break
		}
		if p.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(p.Bytes)
		if err != nil {
			return nil, err
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM certificate")
	}
	return certs, nil
}

// checkCert checks that the first certificate of bundle is for key and
// name and chains, through the others, to a certificate of caPEM.
func checkCert(bundle, caPEM string, key crypto.Signer, name string, now time.Time) (*x509.Certificate, error) {
	certs, err := parseCerts(bundle)
	if err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	leaf := certs[0]
	type eq interface{ Equal(crypto.PublicKey) bool }
	if pk, ok := leaf.PublicKey.(eq); !ok || !pk.Equal(key.Public()) {
		return nil, errors.New("certificate is not for the TLS key")
	}
	cas, err := parseCerts(caPEM)
	if err != nil {
		return nil, fmt.Errorf("CA certificate: %w", err)
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	for _, c := range cas {
		roots.AddCert(c)
	}
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{
		DNSName: name, Roots: roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	}); err != nil {
		return nil, fmt.Errorf("certificate does not verify: %w", err)
	}
	return leaf, nil
}

func readCert(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	certs, err := parseCerts(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return certs[0], nil
}

// RenewAt is when a certificate is due for renewal: when two thirds of
// its lifetime have passed.
func RenewAt(c *x509.Certificate) time.Time {
	life := c.NotAfter.Sub(c.NotBefore)
	return c.NotBefore.Add(life * 2 / 3)
}

// finishSwap completes or undoes a certificate swap that a renewal left
// half done: the new certificate and key are written as .new files, then
// the key is renamed, then the certificate.
func finishSwap(dir string) error {
	crtNew := filepath.Join(dir, node.TLSCertFile+".new")
	keyNew := filepath.Join(dir, node.TLSKeyFile+".new")
	if !fileExists(crtNew) {
		if fileExists(keyNew) {
			return os.Remove(keyNew)
		}
		return nil
	}
	keyPath := keyNew
	if !fileExists(keyNew) {
		keyPath = filepath.Join(dir, node.TLSKeyFile)
	}
	key, kerr := node.ReadPEMKey(keyPath)
	cert, cerr := readCert(crtNew)
	type eq interface{ Equal(crypto.PublicKey) bool }
	if kerr == nil && cerr == nil {
		if pk, ok := cert.PublicKey.(eq); ok && pk.Equal(key.Public()) {
			if keyPath == keyNew {
				if err := os.Rename(keyNew, filepath.Join(dir, node.TLSKeyFile)); err != nil {
					return err
				}
			}
			return os.Rename(crtNew, filepath.Join(dir, node.TLSCertFile))
		}
	}
	os.Remove(keyNew)
	return os.Remove(crtNew)
}

func sameFile(path string, data []byte) bool {
	b, err := os.ReadFile(path)
	return err == nil && bytes.Equal(b, data)
}
