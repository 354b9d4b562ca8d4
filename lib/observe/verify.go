package observe

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"errors"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"
)

// MaxMessageSize bounds a signed message: larger ones are refused before
// they are parsed.
const MaxMessageSize = 16 << 20

// Algorithms are the only JWS algorithms Verify accepts. "none", the HMAC
// family (HS*), RSA (RS*, PS*) and every other are refused when the
// message is parsed, before any key is looked at.
var Algorithms = []jose.SignatureAlgorithm{jose.EdDSA, jose.ES256}

// ErrVerify is wrapped by every error of Verify: the message is not a JWS
// signed by a trusted key.
var ErrVerify = errors.New("observation signature not verified")

func verifyErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrVerify, fmt.Sprintf(format, args...))
}

// Verify checks the JWS in raw, in JSON serialisation (flattened or
// general) or compact serialisation, against the trusted keys, and
// returns its payload and the kid of the key that verified it.
//
// A signature counts only if its alg (in the protected header) is EdDSA
// or ES256, it verifies with a trusted key of the type the alg needs
// (Ed25519 for EdDSA, ECDSA P-256 for ES256; a key whose "alg" or "use"
// members say otherwise is not used), and that key is the one its kid
// names, or, without a kid, any of them: the core's signer (as the POP
// reads it) need not name its key, and trying the few trusted keys
// accepts nothing that none of them signed. In the general serialisation,
// one such signature suffices; the others are ignored. The kid returned
// is the verifying key's, which may be "".
func Verify(raw []byte, keys *jose.JSONWebKeySet) (payload []byte, kid string, err error) {
	if keys == nil || len(keys.Keys) == 0 {
		return nil, "", verifyErr("no trusted keys")
	}
	if len(raw) > MaxMessageSize {
		return nil, "", verifyErr("message of %d bytes is larger than %d", len(raw), MaxMessageSize)
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, "", verifyErr("empty message")
	}
	var obj *jose.JSONWebSignature
	if raw[0] == '{' {
		obj, err = jose.ParseSignedJSON(string(raw), Algorithms)
	} else {
		obj, err = jose.ParseSignedCompact(string(raw), Algorithms)
	}
	if err != nil {
		return nil, "", verifyErr("%v", err)
	}
	if len(obj.Signatures) == 0 {
		return nil, "", verifyErr("no signature")
	}
	var reasons []string
	for i, sig := range obj.Signatures {
		alg := jose.SignatureAlgorithm(sig.Protected.Algorithm)
		if alg == "" {
			reasons = append(reasons, fmt.Sprintf("signature %d: no alg in the protected header", i))
			continue
		}
		if string(alg) != sig.Header.Algorithm {
			reasons = append(reasons, fmt.Sprintf("signature %d: alg %q in the protected header, %q in the other", i, alg, sig.Header.Algorithm))
			continue
		}
		k := sig.Header.KeyID
		cands := keys.Keys
		if k != "" {
			cands = keys.Key(k)
			if len(cands) == 0 {
				reasons = append(reasons, fmt.Sprintf("signature %d: kid %q is not a trusted key", i, k))
				continue
			}
		}
		one := *obj
		one.Signatures = obj.Signatures[i : i+1]
		for _, key := range cands {
			pub, err := publicFor(key, alg)
			if err != nil {
				reasons = append(reasons, fmt.Sprintf("signature %d: kid %q: %v", i, k, err))
				continue
			}
			p, err := one.Verify(pub)
			if err != nil {
				reasons = append(reasons, fmt.Sprintf("signature %d: kid %q: %v", i, k, err))
				continue
			}
			return p, key.KeyID, nil
		}
	}
	if len(reasons) == 1 {
		return nil, "", verifyErr("%s", reasons[0])
	}
	return nil, "", verifyErr("%q", reasons)
}

// publicFor returns the public key of a trusted key if it may verify a
// signature of algorithm alg.
func publicFor(key jose.JSONWebKey, alg jose.SignatureAlgorithm) (any, error) {
	if key.Use != "" && key.Use != "sig" {
		return nil, fmt.Errorf("key is for use %q, not sig", key.Use)
	}
	if key.Algorithm != "" && key.Algorithm != string(alg) {
		return nil, fmt.Errorf("key is for alg %s, the signature is %s", key.Algorithm, alg)
	}
	k := key.Key
	if !key.IsPublic() {
		k = key.Public().Key
	}
	switch alg {
	case jose.EdDSA:
		if pk, ok := k.(ed25519.PublicKey); ok && len(pk) == ed25519.PublicKeySize {
			return pk, nil
		}
	case jose.ES256:
		if pk, ok := k.(*ecdsa.PublicKey); ok && pk.Curve == elliptic.P256() {
			return pk, nil
		}
	default:
		return nil, fmt.Errorf("alg %s is not allowed", alg)
	}
	return nil, fmt.Errorf("a %s signature needs %s, the key is %s", alg, wantKey(alg), keyKind(k))
}

func wantKey(alg jose.SignatureAlgorithm) string {
	if alg == jose.EdDSA {
		return "an Ed25519 key"
	}
	return "an ECDSA P-256 key"
}

func keyKind(k any) string {
	switch k := k.(type) {
	case ed25519.PublicKey:
		return "Ed25519"
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case nil:
		return "missing"
	default:
		return fmt.Sprintf("%T", k)
	}
}
