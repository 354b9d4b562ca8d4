package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tapir-edge/tapir/lib/tool/tooltest"
)

// The unit files in lib/systemd pass systemd-analyze verify. The test points
// ExecStart at this binary and MANPATH at man/, since verify checks both.
func TestUnitFiles(t *testing.T) {
	analyze := tooltest.Need(t, "systemd-analyze")
	dir := t.TempDir()
	man1 := filepath.Join(dir, "man", "man1")
	os.MkdirAll(man1, 0o755)
	page, _ := filepath.Abs("../../man/tapir-listen.1")
	if err := os.Symlink(page, filepath.Join(man1, "tapir-listen.1")); err != nil {
		t.Fatal(err)
	}
	var units []string
	for _, name := range []string{"tapir-listen.socket", "tapir-listen.service"} {
		b, err := os.ReadFile(filepath.Join("../../lib/systemd", name))
		if err != nil {
			t.Fatal(err)
		}
		s := strings.ReplaceAll(string(b), "/usr/local/bin/tapir-listen", os.Args[0])
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(s), 0o644)
		units = append(units, p)
	}
	cmd := exec.Command(analyze, append([]string{"verify"}, units...)...)
	cmd.Env = append(os.Environ(), "MANPATH="+filepath.Join(dir, "man"))
	out, err := cmd.CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
