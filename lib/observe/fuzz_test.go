package observe

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/json"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// FuzzDecode: Decode never panics; what it accepts makes a record that
// is valid JSON of type observation and decodes again to the same.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(testPayload))
	f.Add([]byte(`{"src_name":"s","msg_type":"intel-update","list_type":"greylist","removed":[{"name":"a."}]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := Decode(in)
		if err != nil {
			return
		}
		rec, err := m.Record()
		if err != nil {
			t.Fatalf("accepted %q, but no record: %v", in, err)
		}
		var o Observation
		if err := json.Unmarshal(rec, &o); err != nil {
			t.Fatalf("record %s: %v", rec, err)
		}
		if o.Type != "observation" || o.SrcName != m.SrcName || len(o.Added) != len(m.Added) || len(o.Removed) != len(m.Removed) {
			t.Fatalf("record %s from %+v", rec, m)
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		err = enc.Encode(&o)
		if rec2 := bytes.TrimSuffix(buf.Bytes(), []byte("\n")); err != nil || !bytes.Equal(rec, rec2) {
			t.Fatalf("record not stable:\n%s\n%s", rec, rec2)
		}
	})
}

// fuzzKeys are fixed keys, so that the fuzz corpus stays meaningful.
func fuzzKeys() (ed25519.PrivateKey, *ecdsa.PrivateKey, *jose.JSONWebKeySet) {
	ed := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	ec, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), bytes.Repeat([]byte{9}, 32))
	if err != nil {
		panic(err)
	}
	set := &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: ed.Public(), KeyID: "core-ed"},
		{Key: &ec.PublicKey, KeyID: "core-ec"},
	}}
	return ed, ec, set
}

// FuzzVerify: Verify never panics, and what it accepts names a trusted
// kid and carries the payload of the JWS.
func FuzzVerify(f *testing.F) {
	ed, ec, set := fuzzKeys()
	p := []byte(testPayload)
	f.Add(joseSign(f, jose.EdDSA, ed, "core-ed", p, false))
	f.Add(joseSign(f, jose.EdDSA, ed, "core-ed", p, true))
	f.Add(toGeneral(f, joseSign(f, jose.ES256, ec, "core-ec", p, true)))
	f.Add(handCompact(`{"alg":"none","kid":"core-ed"}`, p, func([]byte) []byte { return nil }))
	f.Fuzz(func(t *testing.T, in []byte) {
		payload, kid, err := Verify(in, set)
		if err != nil {
			if payload != nil || kid != "" {
				t.Fatalf("refused, yet returned %q %q", payload, kid)
			}
			return
		}
		if kid != "core-ed" && kid != "core-ec" {
			t.Fatalf("accepted with kid %q", kid)
		}
	})
}
