package node

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"fmt"

	"github.com/go-jose/go-jose/v4"

	"github.com/tapir-edge/tapir/lib/keyfile"
)

// ReadPEMKey reads a private key from a PKCS #8 PEM file: the node's TLS
// key, or a data key given as a file of its own. The key must be Ed25519
// or ECDSA P-256, the two that the core verifies, and the file must not
// be readable by group or others.
func ReadPEMKey(path string) (crypto.Signer, error) {
	b, err := keyfile.Read(path)
	if err != nil {
		return nil, err
	}
	p, _ := pem.Decode(b)
	if p == nil {
		return nil, fmt.Errorf("%s: no PEM block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(p.Bytes)
	if err != nil {
		if p.Type != "PRIVATE KEY" {
			// A certificate, or a key in another format: say
			// which, rather than how its DER failed to parse.
			return nil, fmt.Errorf("%s: PEM block %q, want a PKCS #8 PRIVATE KEY", path, p.Type)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s, err := signer(k)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// ReadJWK reads a private key from a JWK file: the node's data key. The
// key must be Ed25519 or ECDSA P-256, and the file must not be readable
// by group or others.
func ReadJWK(path string) (*jose.JSONWebKey, error) {
	b, err := keyfile.Read(path)
	if err != nil {
		return nil, err
	}
	var k jose.JSONWebKey
	if err := k.UnmarshalJSON(b); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if _, err := signer(k.Key); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &k, nil
}

// DataSigner reads the node's data key, which signs what the node sends
// to the core (aggregates, events).
func (n *Node) DataSigner() (crypto.Signer, error) {
	k, err := ReadJWK(n.Path(n.DataKey))
	if err != nil {
		return nil, err
	}
	return signer(k.Key)
}

// signer admits the private keys whose signatures the core verifies, so
// that another key is refused when it is read rather than at each send.
func signer(k any) (crypto.Signer, error) {
	switch k := k.(type) {
	case ed25519.PrivateKey:
		return k, nil
	case *ecdsa.PrivateKey:
		if k.Curve == elliptic.P256() {
			return k, nil
		}
		return nil, fmt.Errorf("ECDSA key on %s: want P-256", k.Curve.Params().Name)
	}
	return nil, fmt.Errorf("%s: want a private Ed25519 or ECDSA P-256 key", keyKind(k))
}

// keyKind names a key's type for a refusal: a public key where a private
// one belongs is a common mistake with JWK files.
func keyKind(k any) string {
	switch k.(type) {
	case ed25519.PublicKey, *ecdsa.PublicKey:
		return "public key"
	}
	return fmt.Sprintf("key of type %T", k)
}
