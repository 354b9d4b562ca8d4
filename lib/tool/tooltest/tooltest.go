// Package tooltest helps a tool's tests run the tool itself: the test
// binary doubles as the tool, so tests exercise the real program, flags,
// signals and exit codes, without a separate build.
package tooltest

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
)

const envMain = "TAPIR_TEST_MAIN"

// Main is a tool's TestMain: it runs the tool's main when the test binary
// was started by Command, and the tests otherwise.
func Main(m *testing.M, main func()) {
	if os.Getenv(envMain) == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// Command returns a command that runs the tool with args.
func Command(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), envMain+"=1")
	return cmd
}

// Need returns the path of a real program a test uses, such as unbound or
// dnstap. When it is missing the test is skipped, or fails if the
// environment says TAPIR_REQUIRE_REAL=1, as CI does, so that a missing
// install never hides as a skip.
func Need(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("TAPIR_REQUIRE_REAL") == "1" {
			t.Fatalf("%s is not installed, and TAPIR_REQUIRE_REAL=1", name)
		}
		t.Skipf("%s is not installed", name)
	}
	return p
}

// VerifyUnits checks systemd unit files of lib/systemd with
// systemd-analyze verify, as installed: every ExecStart's
// /usr/local/bin/tapir-TOOL points at this test binary and MANPATH at
// man/, since verify checks both. root is the repository root, relative to
// the test. It returns the units' text (after the substitution) by name,
// for further checks.
func VerifyUnits(t *testing.T, root string, names ...string) map[string]string {
	t.Helper()
	analyze := Need(t, "systemd-analyze")
	dir := t.TempDir()
	man1 := filepath.Join(dir, "man", "man1")
	if err := os.MkdirAll(man1, 0o755); err != nil {
		t.Fatal(err)
	}
	pages, _ := filepath.Glob(filepath.Join(root, "man", "*.1"))
	for _, page := range pages {
		abs, _ := filepath.Abs(page)
		if err := os.Symlink(abs, filepath.Join(man1, filepath.Base(page))); err != nil {
			t.Fatal(err)
		}
	}
	tools := regexp.MustCompile(`/usr/local/bin/tapir-[a-z]+`)
	texts := map[string]string{}
	var paths []string
	for _, name := range names {
		b, err := os.ReadFile(filepath.Join(root, "lib", "systemd", name))
		if err != nil {
			t.Fatal(err)
		}
		s := tools.ReplaceAllLiteralString(string(b), os.Args[0])
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		texts[name] = s
		paths = append(paths, p)
	}
	cmd := exec.Command(analyze, append([]string{"verify"}, paths...)...)
	cmd.Env = append(os.Environ(), "MANPATH="+filepath.Join(dir, "man"))
	if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify %v: %v\n%s", names, err, out)
	}
	return texts
}
