package anon

import (
	"bytes"
	"encoding/hex"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tapir-edge/tapir/lib/fault"
	"github.com/tapir-edge/tapir/lib/pseudo"
)

func TestKeyFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	hexKey := write("hex", hex.EncodeToString(testKey)+"\n", 0o600)
	key, err := KeyFile{Method: pseudo.NameCryptoPAn, Path: hexKey}.Read()
	if err != nil || !bytes.Equal(key, testKey) {
		t.Fatalf("hex key: %x, %v", key, err)
	}
	pass := write("pass", "correct horse\n", 0o600)
	key, err = KeyFile{Path: pass, KDF: "argon2id", Salt: "salt-of-edm-1234"}.Read()
	if want := pseudo.DeriveKey([]byte("correct horse"), []byte("salt-of-edm-1234")); err != nil || !bytes.Equal(key, want) {
		t.Fatalf("argon2id: %x, %v; want %x, the newline left out", key, err, want)
	}
	for _, tc := range []struct {
		k    KeyFile
		want string
	}{
		{KeyFile{Method: "cryptopan"}, "needs --key-file"},
		{KeyFile{Path: filepath.Join(dir, "missing")}, "missing"},
		{KeyFile{Path: write("exposed", hex.EncodeToString(testKey), 0o644)}, "mode 0644"},
		{KeyFile{Path: write("short", "abcd", 0o600)}, "short"},
		{KeyFile{Path: write("empty", "\n", 0o600), KDF: "argon2id"}, "empty passphrase"},
		{KeyFile{Path: hexKey, KDF: "scrypt"}, "scrypt"},
	} {
		key, err := tc.k.Read()
		if fault.Of(err) != fault.Config || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want a configuration error with %q", tc.k, err, tc.want)
		}
		if key != nil || (err != nil && strings.Contains(err.Error(), hex.EncodeToString(testKey))) {
			t.Errorf("%+v: key returned or shown", tc.k)
		}
	}
}

// SIGHUP with a bad key file keeps the old key; with a good one, the new
// key is used.
func TestReloadKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key")
	os.WriteFile(path, []byte(hex.EncodeToString(testKey)), 0o600)
	a, err := Open(Options{Key: KeyFile{Method: pseudo.NameCryptoPAn, Path: path}, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	old := a.o.Keys.current()
	os.WriteFile(path, []byte("not a key"), 0o600)
	a.reloadKey()
	if a.o.Keys.current() != old {
		t.Fatal("a bad key replaced the old one")
	}
	os.WriteFile(path, bytes.Repeat([]byte{1}, 32), 0o600)
	a.reloadKey()
	if ks := a.o.Keys.current(); ks == old || !bytes.Equal(ks.master, bytes.Repeat([]byte{1}, 32)) {
		t.Fatal("the new key is not in use")
	}
}
