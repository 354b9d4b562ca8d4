package tooltest

import "testing"

// A program that is not installed skips the test, or fails it under
// TAPIR_REQUIRE_REAL=1, as CI runs.
func TestNeedMissing(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	saved := sbinDirs
	sbinDirs = nil
	t.Cleanup(func() { sbinDirs = saved })

	t.Setenv("TAPIR_REQUIRE_REAL", "")
	r := Record(t, func(tb testing.TB) { Need(tb, "unbound") })
	if !r.WasSkipped || r.WasFailed {
		t.Errorf("without unbound: skipped %v, failed %v, want a skip: %q", r.WasSkipped, r.WasFailed, r.Msgs)
	}

	t.Setenv("TAPIR_REQUIRE_REAL", "1")
	r = Record(t, func(tb testing.TB) { Need(tb, "unbound") })
	if r.WasSkipped || !r.WasFailed {
		t.Errorf("without unbound and TAPIR_REQUIRE_REAL=1: skipped %v, failed %v, want a failure: %q",
			r.WasSkipped, r.WasFailed, r.Msgs)
	}
}

// A program in /usr/sbin is found without it in PATH.
func TestNeedSbin(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	if p := Need(t, "unbound"); p != "/usr/sbin/unbound" {
		t.Errorf("unbound at %q", p)
	}
}
