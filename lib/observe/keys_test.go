package observe

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

func TestLoadKeys(t *testing.T) {
	k := newTestKeys(t)
	good, err := json.Marshal(k.set)
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(good, &set); err != nil {
		t.Fatal(err)
	}
	// A key of an unknown type is left out, one without kid kept; the
	// others still verify.
	set.Keys = append(set.Keys, json.RawMessage(`{"kty":"XYZ","kid":"odd"}`), json.RawMessage(`{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}`))
	b, _ := json.Marshal(set)
	path := filepath.Join(t.TempDir(), "trusted-jwks.json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	keys, err := LoadKeys(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys.Keys) != 3 {
		t.Fatalf("%d keys", len(keys.Keys))
	}
	if _, kid, err := Verify(joseSign(t, jose.ES256, k.ec, "core-ec", []byte(testPayload), false), keys); err != nil || kid != "core-ec" {
		t.Fatal(kid, err)
	}
	for _, bad := range []string{`{"keys":[]}`, `{}`, `[`, `{"keys":[{"kty":"XYZ","kid":"a"}]}`} {
		if _, err := ParseKeys([]byte(bad), nil); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
	if _, err := LoadKeys(filepath.Join(t.TempDir(), "none.json"), nil); err == nil {
		t.Error("a missing file accepted")
	}
}
