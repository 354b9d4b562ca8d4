package enroll

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/go-jose/go-jose/v4"

	"github.com/tapir-edge/tapir/lib/fault"
	"github.com/tapir-edge/tapir/lib/keyfile"
)

// Credentials are what the node manager hands an operator out of band to
// enroll one node: the NodeBootstrapInformation of the node manager.
type Credentials struct {
	Name       string          `json:"name"`
	Key        json.RawMessage `json:"key"`
	NodemanURL string          `json:"nodeman_url,omitempty"`

	key jose.JSONWebKey
	alg jose.SignatureAlgorithm
}

// ReadCredentials reads and checks a credentials file. It must not be
// readable by group or others.
func ReadCredentials(path string) (*Credentials, error) {
	b, err := keyfile.Read(path)
	if err != nil {
		return nil, fault.Errorf(fault.Config, "credentials: %w", err)
	}
	return ParseCredentials(b)
}

// ParseCredentials parses the JSON of a credentials file.
func ParseCredentials(b []byte) (*Credentials, error) {
	var c Credentials
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fault.Errorf(fault.Config, "credentials: not the JSON the node manager issues: %w", err)
	}
	if !validName(c.Name) {
		return nil, fault.Errorf(fault.Config, "credentials: missing or invalid node name %q", c.Name)
	}
	if len(c.Key) == 0 {
		return nil, fault.Errorf(fault.Config, "credentials: no enrollment key")
	}
	if err := c.key.UnmarshalJSON(c.Key); err != nil {
		return nil, fault.Errorf(fault.Config, "credentials: enrollment key: %w", err)
	}
	alg, err := enrollmentAlg(&c.key)
	if err != nil {
		return nil, fault.Errorf(fault.Config, "credentials: enrollment key: %w", err)
	}
	c.alg = alg
	return &c, nil
}

// enrollmentAlg is the JWS algorithm for an enrollment key: its "alg" if
// it has one, else the one its type implies (as the node manager's client
// does: oct HS256, OKP EdDSA, EC P-256 ES256).
func enrollmentAlg(k *jose.JSONWebKey) (jose.SignatureAlgorithm, error) {
	switch key := k.Key.(type) {
	case []byte:
		switch a := jose.SignatureAlgorithm(k.Algorithm); a {
		case "", jose.HS256:
			if len(key) < 32 {
				return "", fmt.Errorf("oct key of %d bytes, want at least 32", len(key))
			}
			return jose.HS256, nil
		case jose.HS384, jose.HS512:
			return a, nil
		default:
			return "", fmt.Errorf("oct key with alg %q", a)
		}
	case ed25519.PrivateKey:
		return jose.EdDSA, nil
	case *ecdsa.PrivateKey:
		if key.Curve == elliptic.P256() {
			return jose.ES256, nil
		}
		return "", errors.New("EC key on a curve other than P-256")
	default:
		return "", fmt.Errorf("a private %s key is needed (oct, OKP Ed25519 or EC P-256)", keyType(k))
	}
}

func keyType(k *jose.JSONWebKey) string {
	switch k.Key.(type) {
	case ed25519.PublicKey, *ecdsa.PublicKey:
		return "public"
	}
	return fmt.Sprintf("%T", k.Key)
}

// validName accepts what the node manager's DOMAIN_NAME_PATTERN accepts,
// less the trailing dot: the name goes into a URL path and a certificate.
func validName(name string) bool {
	if name == "" || len(name) > 255 || strings.HasSuffix(name, ".") {
		return false
	}
	for _, l := range strings.Split(name, ".") {
		if l == "" || len(l) > 63 {
			return false
		}
		for _, r := range l {
			if !(r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
				return false
			}
		}
	}
	return !strings.HasPrefix(name, "-") && !strings.HasSuffix(name, "-")
}

// Data key types.
const (
	KeyEd25519 = "ed25519"
	KeyP256    = "p256"
)

// NewDataKey generates the node's data key, the key that signs what the
// node sends to the core: Ed25519 (EdDSA) or ECDSA P-256 (ES256), the two
// that the aggregate receiver verifies. Its key ID is the node name.
func NewDataKey(kind, name string) (*jose.JSONWebKey, error) {
	k := &jose.JSONWebKey{KeyID: name, Use: "sig"}
	switch kind {
	case KeyEd25519, "":
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		k.Key, k.Algorithm = priv, string(jose.EdDSA)
	case KeyP256:
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		k.Key, k.Algorithm = priv, string(jose.ES256)
	default:
		return nil, fault.Errorf(fault.Config, "--data-key-type %q: want %s or %s", kind, KeyEd25519, KeyP256)
	}
	return k, nil
}

// dataAlg is the JWS algorithm of a data key.
func dataAlg(k *jose.JSONWebKey) (jose.SignatureAlgorithm, error) {
	switch key := k.Key.(type) {
	case ed25519.PrivateKey:
		return jose.EdDSA, nil
	case *ecdsa.PrivateKey:
		if key.Curve == elliptic.P256() {
			return jose.ES256, nil
		}
	}
	return "", fmt.Errorf("data key: want a private Ed25519 or P-256 key, have %T", k.Key)
}

func marshalKey(k *jose.JSONWebKey) ([]byte, error) {
	b, err := k.MarshalJSON()
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// NewTLSKey generates a TLS client key: ECDSA P-256.
func NewTLSKey() (*ecdsa.PrivateKey, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

func marshalTLSKey(k crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// CSR returns the PEM certificate signing request the node manager
// accepts: subject exactly CN=name, one extension, a SAN with the DNS
// name name.
func CSR(key crypto.Signer, name string) (string, error) {
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject:  pkix.Name{CommonName: name},
		DNSNames: []string{name},
	}, key)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})), nil
}

// fileExists reports whether path exists; other errors count as existing,
// so that they surface when the file is read.
func fileExists(path string) bool {
	_, err := os.Lstat(path)
	return !errors.Is(err, os.ErrNotExist)
}
