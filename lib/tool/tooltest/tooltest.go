// Package tooltest helps a tool's tests run the tool itself: the test
// binary doubles as the tool, so tests exercise the real program, flags,
// signals and exit codes, without a separate build.
package tooltest

import (
	"os"
	"os/exec"
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
