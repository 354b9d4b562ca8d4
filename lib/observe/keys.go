package observe

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"

	jose "github.com/go-jose/go-jose/v4"
)

// ParseKeys parses a JWK set (the node's trusted-jwks.json, as the node
// manager sent it). A key that go-jose cannot parse is left out, with a
// warning to log (nil: slog.Default()), rather than failing the whole
// set; a key without a kid verifies signatures without one. A set with
// no usable key is an error.
func ParseKeys(b []byte, log *slog.Logger) (*jose.JSONWebKeySet, error) {
	if log == nil {
		log = slog.Default()
	}
	var raw struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("trusted keys: %w", err)
	}
	set := &jose.JSONWebKeySet{}
	for i, r := range raw.Keys {
		var k jose.JSONWebKey
		if err := json.Unmarshal(r, &k); err != nil {
			log.Warn("trusted key left out", "index", i, "err", err)
			continue
		}
		set.Keys = append(set.Keys, k)
	}
	if len(set.Keys) == 0 {
		return nil, fmt.Errorf("trusted keys: none usable (of %d)", len(raw.Keys))
	}
	return set, nil
}

// LoadKeys reads and parses a JWK set file: see ParseKeys.
func LoadKeys(path string, log *slog.Logger) (*jose.JSONWebKeySet, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	set, err := ParseKeys(b, log)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return set, nil
}
