package observe

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// testKeys are the core's signing keys in a test, and the trusted set.
type testKeys struct {
	ed    ed25519.PrivateKey // kid "core-ed"
	ec    *ecdsa.PrivateKey  // kid "core-ec"
	other ed25519.PrivateKey // not trusted
	set   *jose.JSONWebKeySet
}

func newTestKeys(t testing.TB) *testKeys {
	t.Helper()
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, other, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ec := mustECKey(t)
	k := &testKeys{ed: ed, ec: ec, other: other}
	k.set = &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: ed.Public(), KeyID: "core-ed", Use: "sig"},
		{Key: &ec.PublicKey, KeyID: "core-ec", Algorithm: "ES256"},
	}}
	// The set as the node reads it: JSON, through go-jose.
	b, err := json.Marshal(k.set)
	if err != nil {
		t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(b, &set); err != nil {
		t.Fatal(err)
	}
	k.set = &set
	return k
}

// joseSign signs payload with go-jose; full selects the JSON
// (flattened) serialisation, else compact.
func joseSign(t testing.TB, alg jose.SignatureAlgorithm, key any, kid string, payload []byte, full bool) []byte {
	t.Helper()
	opts := &jose.SignerOptions{}
	if kid != "" {
		opts = opts.WithHeader(jose.HeaderKey("kid"), kid)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	if full {
		return []byte(jws.FullSerialize())
	}
	c, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return []byte(c)
}

var b64 = base64.RawURLEncoding

// handCompact makes a compact JWS by hand, without go-jose: header JSON,
// payload, and a signature function over the signing input.
func handCompact(header string, payload []byte, sign func(input []byte) []byte) []byte {
	input := b64.EncodeToString([]byte(header)) + "." + b64.EncodeToString(payload)
	return []byte(input + "." + b64.EncodeToString(sign([]byte(input))))
}

func edSigner(k ed25519.PrivateKey) func([]byte) []byte {
	return func(in []byte) []byte { return ed25519.Sign(k, in) }
}

// esSigner signs as ES256 does (RFC 7518 3.4): r and s, 32 bytes each.
func esSigner(k *ecdsa.PrivateKey) func([]byte) []byte {
	return func(in []byte) []byte {
		h := sha256.Sum256(in)
		r, s, err := ecdsa.Sign(rand.Reader, k, h[:])
		if err != nil {
			panic(err)
		}
		out := make([]byte, 64)
		r.FillBytes(out[:32])
		s.FillBytes(out[32:])
		return out
	}
}

// toGeneral turns a flattened JSON JWS into the general serialisation,
// with extra signatures before the original one.
func toGeneral(t testing.TB, flat []byte, extra ...map[string]any) []byte {
	t.Helper()
	var f map[string]any
	if err := json.Unmarshal(flat, &f); err != nil {
		t.Fatal(err)
	}
	sig := map[string]any{"protected": f["protected"], "signature": f["signature"]}
	if h, ok := f["header"]; ok {
		sig["header"] = h
	}
	sigs := []any{}
	for _, e := range extra {
		sigs = append(sigs, e)
	}
	sigs = append(sigs, sig)
	b, err := json.Marshal(map[string]any{"payload": f["payload"], "signatures": sigs})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const testPayload = `{"src_name":"dns-tapir","creator":"observation-encoder","msg_type":"observation","list_type":"doubtlist","added":[{"name":"bad.example.","time_added":"2026-11-27T12:00:00Z","ttl":3600,"tag_mask":17,"extended_tags":[]}],"removed":[],"msg":"","timestamp":"2026-11-27T12:00:01Z","time_str":""}`

func TestVerifyAccepts(t *testing.T) {
	k := newTestKeys(t)
	p := []byte(testPayload)
	cases := []struct {
		name, kid string
		jws       []byte
	}{
		{"EdDSA compact (go-jose)", "core-ed", joseSign(t, jose.EdDSA, k.ed, "core-ed", p, false)},
		{"EdDSA flattened (go-jose)", "core-ed", joseSign(t, jose.EdDSA, k.ed, "core-ed", p, true)},
		{"EdDSA general", "core-ed", toGeneral(t, joseSign(t, jose.EdDSA, k.ed, "core-ed", p, true))},
		{"ES256 compact (go-jose)", "core-ec", joseSign(t, jose.ES256, k.ec, "core-ec", p, false)},
		{"ES256 flattened (go-jose)", "core-ec", joseSign(t, jose.ES256, k.ec, "core-ec", p, true)},
		{"ES256 general", "core-ec", toGeneral(t, joseSign(t, jose.ES256, k.ec, "core-ec", p, true))},
		{"EdDSA compact by hand", "core-ed", handCompact(`{"alg":"EdDSA","kid":"core-ed"}`, p, edSigner(k.ed))},
		{"ES256 compact by hand", "core-ec", handCompact(`{"kid":"core-ec","alg":"ES256"}`, p, esSigner(k.ec))},
		{"general, an untrusted signature first", "core-ed", toGeneral(t, joseSign(t, jose.EdDSA, k.ed, "core-ed", p, true),
			map[string]any{"protected": b64.EncodeToString([]byte(`{"alg":"EdDSA","kid":"stranger"}`)), "signature": b64.EncodeToString(make([]byte, 64))})},
		{"with whitespace around", "core-ed", []byte("\n " + string(joseSign(t, jose.EdDSA, k.ed, "core-ed", p, false)) + "\r\n")},
		// No kid, as the POP does not require one: the trusted key that
		// verifies is found by trying them.
		{"EdDSA, no kid", "core-ed", handCompact(`{"alg":"EdDSA"}`, p, edSigner(k.ed))},
		{"ES256 flattened, no kid", "core-ec", joseSign(t, jose.ES256, k.ec, "", p, true)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, kid, err := Verify(c.jws, k.set)
			if err != nil {
				t.Fatalf("refused: %v\n%s", err, c.jws)
			}
			if kid != c.kid {
				t.Errorf("kid %q, want %q", kid, c.kid)
			}
			if string(got) != testPayload {
				t.Errorf("payload %s", got)
			}
		})
	}
}

// TestVerifyHandFlattened: a flattened JSON JWS made by hand, the kid in
// the unprotected header (allowed: the key it names must still verify).
func TestVerifyHandFlattened(t *testing.T) {
	k := newTestKeys(t)
	prot := b64.EncodeToString([]byte(`{"alg":"EdDSA"}`))
	pl := b64.EncodeToString([]byte(testPayload))
	sig := ed25519.Sign(k.ed, []byte(prot+"."+pl))
	jws := `{"payload":"` + pl + `","protected":"` + prot + `","header":{"kid":"core-ed"},"signature":"` + b64.EncodeToString(sig) + `"}`
	got, kid, err := Verify([]byte(jws), k.set)
	if err != nil || kid != "core-ed" || string(got) != testPayload {
		t.Fatalf("got %q %q %v", got, kid, err)
	}
}

func TestVerifyRefuses(t *testing.T) {
	k := newTestKeys(t)
	p := []byte(testPayload)
	edPub := []byte(k.ed.Public().(ed25519.PublicKey))
	hs := func(secret []byte) func([]byte) []byte {
		return func(in []byte) []byte { m := hmac.New(sha256.New, secret); m.Write(in); return m.Sum(nil) }
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	// A set that also trusts an RSA key and an HMAC secret: still refused.
	wide := &jose.JSONWebKeySet{Keys: append(append([]jose.JSONWebKey{}, k.set.Keys...),
		jose.JSONWebKey{Key: &rsaKey.PublicKey, KeyID: "core-rsa"},
		jose.JSONWebKey{Key: edPub, KeyID: "core-hs"},
	)}
	goodCompact := string(joseSign(t, jose.EdDSA, k.ed, "core-ed", p, false))
	parts := strings.Split(goodCompact, ".")
	tamperedPayload := strings.Replace(testPayload, "bad.example.", "good.example.", 1)
	goodFlat := joseSign(t, jose.ES256, k.ec, "core-ec", p, true)
	var flat map[string]any
	if err := json.Unmarshal(goodFlat, &flat); err != nil {
		t.Fatal(err)
	}
	flat["payload"] = b64.EncodeToString([]byte(tamperedPayload))
	tamperedFlat, _ := json.Marshal(flat)

	cases := []struct {
		name string
		jws  []byte
		keys *jose.JSONWebKeySet
	}{
		{"plain JSON, unsigned", p, k.set},
		{"alg none, empty signature", []byte(b64.EncodeToString([]byte(`{"alg":"none","kid":"core-ed"}`)) + "." + b64.EncodeToString(p) + "."), k.set},
		{"alg none with the kid of a trusted key, flattened", []byte(`{"payload":"` + b64.EncodeToString(p) + `","protected":"` + b64.EncodeToString([]byte(`{"alg":"none","kid":"core-ed"}`)) + `","signature":""}`), k.set},
		{"JSON with no signature", []byte(`{"payload":"` + b64.EncodeToString(p) + `"}`), k.set},
		{"general with no signatures", []byte(`{"payload":"` + b64.EncodeToString(p) + `","signatures":[]}`), k.set},
		{"compact, signature cut off", []byte(parts[0] + "." + parts[1] + "."), k.set},
		{"wrong key: kid core-ed, signed by another key", joseSign(t, jose.EdDSA, k.other, "core-ed", p, false), k.set},
		{"wrong key by hand", handCompact(`{"alg":"EdDSA","kid":"core-ed"}`, p, edSigner(k.other)), k.set},
		{"unknown kid", joseSign(t, jose.EdDSA, k.other, "stranger", p, false), k.set},
		{"unknown kid, signed by a trusted key", joseSign(t, jose.EdDSA, k.ed, "stranger", p, false), k.set},
		{"no kid, signed by an untrusted key", handCompact(`{"alg":"EdDSA"}`, p, edSigner(k.other)), k.set},
		{"no kid, ES256 signed by an untrusted key", joseSign(t, jose.ES256, mustP256(t), "", p, true), k.set},
		{"no kid, HS256 with the public key bytes", handCompact(`{"alg":"HS256"}`, p, hs(edPub)), wide},
		{"HS256, the public key bytes as secret", handCompact(`{"alg":"HS256","kid":"core-ed"}`, p, hs(edPub)), k.set},
		{"HS256, kid of a trusted secret", handCompact(`{"alg":"HS256","kid":"core-hs"}`, p, hs(edPub)), wide},
		{"RS256, trusted RSA key", joseSign(t, jose.RS256, rsaKey, "core-rsa", p, false), wide},
		{"PS256, trusted RSA key", joseSign(t, jose.PS256, rsaKey, "core-rsa", p, true), wide},
		{"ES384", joseSign(t, jose.ES384, mustP384(t), "core-ec", p, false), k.set},
		{"alg ES256, kid of the Ed25519 key", handCompact(`{"alg":"ES256","kid":"core-ed"}`, p, esSigner(k.ec)), k.set},
		{"alg EdDSA, kid of the ECDSA key", handCompact(`{"alg":"EdDSA","kid":"core-ec"}`, p, edSigner(k.ed)), k.set},
		{"tampered payload, compact", []byte(parts[0] + "." + b64.EncodeToString([]byte(tamperedPayload)) + "." + parts[2]), k.set},
		{"tampered payload, flattened", tamperedFlat, k.set},
		{"tampered header, compact", []byte(b64.EncodeToString([]byte(`{"alg":"EdDSA","kid":"core-ed","x":1}`)) + "." + parts[1] + "." + parts[2]), k.set},
		{"unknown critical header", handCompact(`{"alg":"EdDSA","kid":"core-ed","crit":["exp"],"exp":1}`, p, edSigner(k.ed)), k.set},
		{"no trusted keys", []byte(goodCompact), &jose.JSONWebKeySet{}},
		{"nil key set", []byte(goodCompact), nil},
		{"empty", nil, k.set},
		{"garbage", []byte("a.b.c"), k.set},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, kid, err := Verify(c.jws, c.keys)
			if err == nil {
				t.Fatalf("accepted (kid %q): %s", kid, got)
			}
			if !errors.Is(err, ErrVerify) {
				t.Errorf("error does not wrap ErrVerify: %v", err)
			}
			if got != nil || kid != "" {
				t.Errorf("refused, yet returned %q, %q", got, kid)
			}
			t.Log(err)
		})
	}
}

// TestVerifyKeyConstraints: a trusted key whose alg or use says otherwise
// does not verify.
func TestVerifyKeyConstraints(t *testing.T) {
	k := newTestKeys(t)
	jws := joseSign(t, jose.EdDSA, k.ed, "core-ed", []byte(testPayload), false)
	for _, key := range []jose.JSONWebKey{
		{Key: k.ed.Public(), KeyID: "core-ed", Use: "enc"},
		{Key: k.ed.Public(), KeyID: "core-ed", Algorithm: "ES256"},
	} {
		if _, _, err := Verify(jws, &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{key}}); err == nil {
			t.Errorf("accepted with key use %q alg %q", key.Use, key.Algorithm)
		}
	}
	// A private key in the trusted set works as its public half.
	if _, _, err := Verify(jws, &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: k.ed, KeyID: "core-ed"}}}); err != nil {
		t.Error(err)
	}
}
