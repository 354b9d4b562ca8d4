package keyfile

import (
	"github.com/tapir-edge/tapir/lib/fault"

	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadRefusesExposed(t *testing.T) {
	p := filepath.Join(t.TempDir(), "key")
	if err := Write(p, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := Read(p); err != nil || string(b) != "secret" {
		t.Fatalf("Read = %q, %v", b, err)
	}
	for _, mode := range []os.FileMode{0o640, 0o604, 0o620} {
		os.Chmod(p, mode)
		_, err := Read(p)
		if !errors.Is(err, ErrExposed) || fault.Of(err) != fault.Config || !strings.Contains(err.Error(), p) {
			t.Errorf("mode %04o: error %v, want ErrExposed naming the file", mode, err)
		}
	}
}

func TestWriteAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	for _, s := range []string{"one", "two"} {
		if err := Write(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("stat: %v, %v", fi, err)
	}
	if b, _ := os.ReadFile(p); string(b) != "two" {
		t.Errorf("contents %q", b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("temporary files left: %v", ents)
	}
}
