package tool

import "testing"

func TestLoopbackAddr(t *testing.T) {
	for in, want := range map[string]string{"6000": "127.0.0.1:6000", ":6000": "127.0.0.1:6000", "0.0.0.0:6000": "0.0.0.0:6000", "[::1]:6000": "[::1]:6000", "localhost:1": "localhost:1"} {
		if got := LoopbackAddr(in); got != want {
			t.Errorf("%q → %q, want %q", in, got, want)
		}
	}
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"65536": 65536, "64KiB": 64 << 10, "64MiB": 64 << 20, "1G": 1 << 30, "2 MB": 2 << 20} {
		if got, err := ParseBytes(in); err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "x", "-1", "1.5M", "99999999999999999999"} {
		if _, err := ParseBytes(bad); err == nil {
			t.Errorf("ParseBytes(%q) accepted", bad)
		}
	}
}

func TestEnvName(t *testing.T) {
	if got := EnvName("on-full"); got != "TAPIR_ON_FULL" {
		t.Errorf("EnvName = %q", got)
	}
}

func TestIndent(t *testing.T) {
	got := indent("one\ntwo\n\nthree\n  verbatim")
	want := "one\n   two\n\n   three\n     verbatim"
	if got != want {
		t.Errorf("indent = %q, want %q", got, want)
	}
}
