// Package tooltest helps a tool's tests run the tool itself: the test
// binary doubles as the tool, so tests exercise the real program, flags,
// signals and exit codes, without a separate build.
package tooltest

import (
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
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
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range sbinDirs {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	if os.Getenv("TAPIR_REQUIRE_REAL") == "1" {
		t.Fatalf("%s is not installed, and TAPIR_REQUIRE_REAL=1", name)
	}
	t.Skipf("%s is not installed", name)
	return ""
}

// sbinDirs are searched when a program is not in PATH: Debian installs
// the resolvers (unbound, named, kresd, pdns_recursor) in /usr/sbin,
// which is not in every user's PATH.
var sbinDirs = []string{"/usr/sbin", "/usr/local/sbin", "/sbin"}

// FreePort returns a port on 127.0.0.1 that is free for both TCP and UDP
// at the moment, for a server the test starts (DNS servers take both).
func FreePort(t testing.TB) int {
	t.Helper()
	port, err := LoopbackPort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// LoopbackPort is FreePort, returning the error.
func LoopbackPort() (int, error) {
	var err error
	for range 20 {
		var l net.Listener
		l, err = net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			continue
		}
		port := l.Addr().(*net.TCPAddr).Port
		var p net.PacketConn
		p, err = net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		l.Close()
		if err != nil {
			continue
		}
		p.Close()
		return port, nil
	}
	return 0, err
}

// VerifyUnits checks systemd unit files of deploy/systemd with
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
		b, err := os.ReadFile(filepath.Join(root, "deploy", "systemd", name))
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

// Scrape reads a tool's --metrics page at addr (host:port) into a map
// from each sample (name and labels, as printed) to its value, as
// printed.
func Scrape(addr string) (map[string]string, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	v := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if k, val, ok := strings.Cut(l, " "); ok && !strings.HasPrefix(l, "#") {
			v[k] = val
		}
	}
	return v, nil
}
