package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tapir-edge/tapir/lib/testkit/tooltest"

	"filippo.io/age"

	"github.com/tapir-edge/tapir/cmd/tool"
	"github.com/tapir-edge/tapir/cmd/tool/docs"
	"github.com/tapir-edge/tapir/lib/cat"
	"github.com/tapir-edge/tapir/lib/dnstap"
	"github.com/tapir-edge/tapir/lib/fstrm"
	"github.com/tapir-edge/tapir/lib/stream"
	"github.com/tapir-edge/tapir/lib/testkit/cattest"
)

// TestMain lets the tests run this binary as tapir-cat.
func TestMain(m *testing.M) { tooltest.Main(m, main) }

// TestDocs checks man/tapir-cat.1 and the completions; with
// TAPIR_UPDATE_DOCS=1 it writes them.
func TestDocs(t *testing.T) { docs.Test(t, app(), manual) }

const violationsDir = "../../testdata/dns-violations"

// command returns tapir-cat with args, with TZ=UTC.
func command(args ...string) *exec.Cmd {
	cmd := tooltest.Command(args...)
	cmd.Env = append(cmd.Env, "TZ=UTC")
	return cmd
}

// run runs tapir-cat and returns its output and exit code.
func run(t *testing.T, stdin []byte, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := command(args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatal(err)
	}
	return o.String(), e.String(), cmd.ProcessState.ExitCode()
}

// needProgram returns the path of a real program, or skips the test if
// it is not installed (fails with TAPIR_REQUIRE_REAL=1).
func needProgram(t testing.TB, name string) string {
	t.Helper()
	return tooltest.Need(t, name)
}

func violationFiles(t *testing.T) []string {
	files, _ := filepath.Glob(filepath.Join(violationsDir, "*.dnstap"))
	if len(files) == 0 {
		t.Fatalf("no captures in %s", violationsDir)
	}
	return files
}

func dnstapQ(t *testing.T, files ...string) string {
	t.Helper()
	bin := needProgram(t, "dnstap")
	var all strings.Builder
	for _, f := range files {
		cmd := exec.Command(bin, "-r", f, "-q")
		cmd.Env = append(os.Environ(), "TZ=UTC")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("dnstap -r %s -q: %v", f, err)
		}
		all.Write(out)
	}
	return all.String()
}

// TestDnstapQ runs tapir-cat on all the captures at once, as positional
// arguments and as -r, and compares with dnstap -q on each in turn.
func TestDnstapQ(t *testing.T) {
	files := violationFiles(t)
	want := dnstapQ(t, files...)
	out, stderr, code := run(t, nil, files...)
	if code != 0 || stderr != "" {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if out != want {
		t.Errorf("tapir-cat:\n%s\ndnstap -q:\n%s", out, want)
	}
	var args []string
	for _, f := range files[1:] {
		args = append(args, "-r", f)
	}
	// -r files come first, then arguments.
	out, _, _ = run(t, nil, append(args, files[0])...)
	if want := dnstapQ(t, append(files[1:], files[0])...); out != want {
		t.Errorf("with -r:\n%s\nwant:\n%s", out, want)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if out, _, _ := run(t, data); out != dnstapQ(t, files[0]) {
		t.Errorf("from stdin:\n%s", out)
	}
}

// cut writes a copy of a capture cut in the middle of its second frame,
// and returns its path and the offset of that frame.
func cut(t *testing.T, src string) (string, int64) {
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	r, err := fstrm.NewFileReader(bytes.NewReader(data), fstrm.ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	off := r.Offset()
	f2, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Join(t.TempDir(), "cut.dnstap")
	if err := os.WriteFile(name, data[:off+4+int64(len(f2))/2], 0o644); err != nil {
		t.Fatal(err)
	}
	return name, off
}

func TestTruncated(t *testing.T) {
	files := violationFiles(t)
	bad, off := cut(t, files[0])
	good := files[1]
	first, _, _ := strings.Cut(dnstapQ(t, files[0]), "\n")
	want := first + "\n" + dnstapQ(t, good)

	out, stderr, code := run(t, nil, bad, good)
	if code != tool.ExitInput {
		t.Errorf("exit %d, want %d", code, tool.ExitInput)
	}
	if out != want {
		t.Errorf("output:\n%s\nwant the first frame of the cut file, then the other file:\n%s", out, want)
	}
	if s := fmt.Sprintf("%s: frame 2 at byte %d: truncated", bad, off); !strings.Contains(stderr, s) {
		t.Errorf("stderr lacks %q:\n%s", s, stderr)
	}
	if n := strings.Count(stderr, "\n"); n > 2 {
		t.Errorf("%d lines on stderr for one error:\n%s", n, stderr)
	}

	out, _, code = run(t, nil, "--count", bad, good)
	if code != tool.ExitInput || out != strconv.Itoa(strings.Count(want, "\n"))+"\n" {
		t.Errorf("--count: %q, exit %d", out, code)
	}
}

// TestMissingStop: a stream that ends between frames without STOP (a
// capture still being written) is read whole, with a warning.
func TestMissingStop(t *testing.T) {
	data, err := os.ReadFile(violationFiles(t)[0])
	if err != nil {
		t.Fatal(err)
	}
	noStop := data[:len(data)-12] // STOP: escape, length, type
	out, stderr, code := run(t, noStop)
	if code != 0 || strings.Count(out, "\n") != 2 || !strings.Contains(stderr, "without STOP") {
		t.Errorf("exit %d, output %q, stderr %q", code, out, stderr)
	}
}

func TestEncodedInput(t *testing.T) {
	file := violationFiles(t)[0]
	plain, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	want := dnstapQ(t, file)
	dir := t.TempDir()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	idFile := filepath.Join(dir, "key.txt")
	if err := os.WriteFile(idFile, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	encode := func(o stream.WriterOptions) string {
		var b bytes.Buffer
		w, err := stream.NewWriter(&b, o)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(plain)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		f, err := os.CreateTemp(dir, "in")
		if err != nil {
			t.Fatal(err)
		}
		f.Write(b.Bytes())
		f.Close()
		return f.Name()
	}
	inputs := map[string]string{
		"zstd":      encode(stream.WriterOptions{Zstd: true}),
		"age":       encode(stream.WriterOptions{Recipients: []age.Recipient{id.Recipient()}}),
		"age(zstd)": encode(stream.WriterOptions{Zstd: true, Recipients: []age.Recipient{id.Recipient()}}),
	}
	if zstd, err := exec.LookPath("zstd"); err == nil {
		out := filepath.Join(dir, "real.zst")
		if b, err := exec.Command(zstd, "-q", "-o", out, file).CombinedOutput(); err != nil {
			t.Fatalf("zstd: %v: %s", err, b)
		}
		inputs["zstd(1)"] = out
	}
	if ageBin, err := exec.LookPath("age"); err == nil {
		out := filepath.Join(dir, "real.age")
		if b, err := exec.Command(ageBin, "-r", id.Recipient().String(), "-o", out, file).CombinedOutput(); err != nil {
			t.Fatalf("age: %v: %s", err, b)
		}
		inputs["age(1)"] = out
	}
	for name, in := range inputs {
		out, stderr, code := run(t, nil, "-i", idFile, in)
		if code != 0 || out != want {
			t.Errorf("%s: exit %d, output\n%s\nwant\n%s\n%s", name, code, out, want, stderr)
		}
	}

	// Without the identity, or with one that others can read: usage
	// errors that say what to do.
	out, stderr, code := run(t, nil, file, inputs["age"])
	if code != tool.ExitUsage || !strings.Contains(stderr, "--identity") {
		t.Errorf("no identity: exit %d, %s", code, stderr)
	}
	if out != want {
		t.Errorf("the input before the one without identity was not printed:\n%s", out)
	}
	if err := os.Chmod(idFile, 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, code = run(t, nil, "-i", idFile, inputs["age"])
	if code != tool.ExitUsage || !strings.Contains(stderr, idFile) {
		t.Errorf("identity of mode 0644: exit %d, %s", code, stderr)
	}
}

func TestWrongContentType(t *testing.T) {
	in := filepath.Join(t.TempDir(), "other.fstrm")
	os.WriteFile(in, cattest.Stream("protobuf:other.Thing", []byte("x")), 0o644)
	_, stderr, code := run(t, nil, in)
	if code != tool.ExitInput {
		t.Errorf("exit %d", code)
	}
	for _, s := range []string{in, "protobuf:other.Thing", dnstap.ContentType, cat.RecordType} {
		if !strings.Contains(stderr, s) {
			t.Errorf("stderr lacks %q: %s", s, stderr)
		}
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{
		{"--json", "--yaml"},
		{"--count", "--json"},
		{"--time", "iso"},
		{"--json", "--time", "unix"},
		{"--rcode", "NXDOMAN"},
		{"--client", "192.0.2.0/33"},
		{"--type", "CLIENT_QUERYY"},
		{"--qname", "a..b"},
		{"--since", "yesterday"},
		{"--since", "2024-05-02", "--until", "2024-05-01"},
		{"--bogus"},
	} {
		_, stderr, code := run(t, nil, args...)
		if code != tool.ExitUsage || stderr == "" {
			t.Errorf("%q: exit %d, stderr %q", args, code, stderr)
		}
	}
	if _, _, code := run(t, nil, "/nonexistent"); code != tool.ExitInput {
		t.Errorf("missing file: exit %d", code)
	}
}

// TestFlagsAndEnv checks that the flags reach the filters, and that the
// environment sets them too.
func TestFlagsAndEnv(t *testing.T) {
	data := cattest.Stream(dnstap.ContentType, func() [][]byte {
		var f [][]byte
		for _, m := range cattest.Traffic(600, time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)) {
			f = append(f, m.Frame())
		}
		return f
	}()...)
	count := func(env []string, args ...string) string {
		cmd := command(append([]string{"-c"}, args...)...)
		cmd.Env = append(cmd.Env, env...)
		cmd.Stdin = bytes.NewReader(data)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%q: %v", args, err)
		}
		return strings.TrimSpace(string(out))
	}
	// By construction (cattest.TrafficMessage): names cycle through six
	// zones, one in six under nosuch.example.org, all answered NXDOMAIN.
	for _, c := range []struct {
		env  []string
		args []string
		want string
	}{
		{nil, nil, "600"},
		{nil, []string{"--type", "CR"}, "300"},
		{nil, []string{"-t", "CQ,CR"}, "600"},
		{nil, []string{"--qname", "nosuch.example.org"}, "100"},
		{nil, []string{"--rcode", "NXDOMAIN"}, "100"},
		{nil, []string{"--qname", "example.org", "--type", "CQ"}, "100"},
		{nil, []string{"--client", "10.0.0.0/8"}, "480"},
		{nil, []string{"--client", "10.0.1.0/24"}, "205"},
		{nil, []string{"--since", "2024-05-01T00:00:00.5Z"}, "100"},
		{nil, []string{"--until", "2024-05-01T00:00:00.010Z"}, "10"},
		{[]string{"TAPIR_TYPE=CQ"}, nil, "300"},
		{[]string{"TAPIR_QNAME=nosuch.example.org"}, nil, "100"},
	} {
		if got := count(c.env, c.args...); got != c.want {
			t.Errorf("%v %q: %s, want %s", c.env, c.args, got, c.want)
		}
	}
}

// TestHead: when the reader of the output goes away, tapir-cat stops
// quietly, with status 0.
func TestHead(t *testing.T) {
	in := filepath.Join(t.TempDir(), "big.fstrm")
	f, err := os.Create(in)
	if err != nil {
		t.Fatal(err)
	}
	if err := cattest.WriteTraffic(f, 50000, time.Now()); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, args := range [][]string{{in}, {"--json", in}} {
		cmd := command(args...)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err != nil || line == "" {
			t.Errorf("first line: %q, %v", line, err)
		}
		stdout.Close()
		err = cmd.Wait()
		if code := cmd.ProcessState.ExitCode(); code != 0 || stderr.Len() > 0 {
			t.Errorf("%q: %v, exit %d, stderr %q", args, err, code, stderr.String())
		}
	}
}

// TestSignal: on SIGTERM or SIGINT while waiting on a live stream,
// tapir-cat prints what it holds and exits 0.
func TestSignal(t *testing.T) {
	msgs := cattest.Traffic(10, time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC))
	for _, c := range []struct {
		sig  syscall.Signal
		args []string
		want func(out string) bool
	}{
		{syscall.SIGTERM, nil, func(out string) bool { return strings.Count(out, "\n") == len(msgs) }},
		{syscall.SIGINT, []string{"--count"}, func(out string) bool { return out == "10\n" }},
	} {
		cmd := command(c.args...)
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdin = pr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		pr.Close()
		w := fstrm.NewWriter(pw, dnstap.ContentType)
		for _, m := range msgs {
			w.WriteFrame(m.Frame())
		}
		w.Flush()
		outc := make(chan string)
		printed := make(chan struct{})
		go func() {
			r := bufio.NewReader(stdout)
			var b strings.Builder
			if c.args == nil {
				// The lines come before the signal, since tapir-cat
				// flushes when it waits for input: once they are
				// here, it is waiting, its signal handlers set.
				for range msgs {
					line, _ := r.ReadString('\n')
					b.WriteString(line)
				}
			}
			close(printed)
			rest, _ := io.ReadAll(r)
			outc <- b.String() + string(rest)
		}()
		if c.args == nil {
			select {
			case <-printed:
			case <-time.After(10 * time.Second):
			}
		} else {
			// Nothing shows that tapir-cat --count is waiting: give it
			// time to start, more when built with the race detector,
			// which starts slowly on a busy machine.
			wait := 300 * time.Millisecond
			if raceEnabled {
				wait = 3 * time.Second
			}
			time.Sleep(wait)
		}
		cmd.Process.Signal(c.sig)
		var out string
		select {
		case out = <-outc:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("%v: tapir-cat did not end", c.sig)
		}
		cmd.Wait()
		pw.Close()
		if code := cmd.ProcessState.ExitCode(); code != 0 || !c.want(out) {
			t.Errorf("%v %q: exit %d, output %q, stderr %q", c.sig, c.args, code, out, stderr.String())
		}
	}
}

// TestFlushWhileWaiting: lines of a live stream appear while tapir-cat
// waits for more, not when its buffer fills.
func TestFlushWhileWaiting(t *testing.T) {
	cmd := command()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Close()
	cmd.Stdin = pr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	pr.Close()
	w := fstrm.NewWriter(pw, dnstap.ContentType)
	w.WriteFrame(cattest.TrafficMessage(0, time.Now()).Frame())
	w.Flush()
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(stdout).ReadString('\n')
		line <- s
	}()
	select {
	case s := <-line:
		if !strings.Contains(s, " CQ ") {
			t.Errorf("line %q", s)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no line while the stream is open")
	}
}

// TestFstrmCapture sends frames with lib/fstrm.Dial to the reference
// capture tool, fstrm_capture, and reads its file.
func TestFstrmCapture(t *testing.T) {
	bin := needProgram(t, "fstrm_capture")
	dir := t.TempDir()
	sock, file := filepath.Join(dir, "dnstap.sock"), filepath.Join(dir, "capture.fstrm")
	capture := exec.Command(bin, "-t", dnstap.ContentType, "-u", sock, "-w", file)
	var capErr bytes.Buffer
	capture.Stdout, capture.Stderr = &capErr, &capErr
	if err := capture.Start(); err != nil {
		t.Fatal(err)
	}
	defer capture.Process.Kill()
	var conn net.Conn
	var err error
	for start := time.Now(); time.Since(start) < 5*time.Second; time.Sleep(20 * time.Millisecond) {
		if conn, err = net.Dial("unix", sock); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("fstrm_capture does not listen: %v\n%s", err, capErr.String())
	}
	const n = 1000
	w, err := fstrm.Dial(conn, dnstap.ContentType, fstrm.WriterOptions{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		if err := w.WriteFrame(cattest.TrafficMessage(i, start).Frame()); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil { // STOP, then FINISH from fstrm_capture
		t.Fatal(err)
	}
	conn.Close()
	capture.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- capture.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("fstrm_capture did not stop:\n%s", capErr.String())
	}

	out, stderr, code := run(t, nil, "--json", file)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != n {
		t.Fatalf("%d messages in fstrm_capture's file, want %d\n%s", len(lines), n, stderr)
	}
	for i, l := range lines {
		var o struct {
			Type string
			QM   *struct{ ID int } `json:"query_message"`
			RM   *struct{ ID int } `json:"response_message"`
		}
		if err := json.Unmarshal([]byte(l), &o); err != nil {
			t.Fatal(err)
		}
		m := o.QM
		if m == nil {
			m = o.RM
		}
		if want := cattest.TrafficMessage(i, start); m == nil || m.ID != int(want.ID) || o.Type != want.Type.String() {
			t.Fatalf("message %d: %s", i, l)
		}
	}
}

// TestReaders checks that BIND's dnstap-read and the dnstap tool read a
// file that lib/fstrm.NewWriter wrote, holding real frames.
func TestReaders(t *testing.T) {
	read := needProgram(t, "dnstap-read")
	dnstapBin := needProgram(t, "dnstap")
	// The real frames, and what dnstap-read prints for them (it skips
	// one it cannot read, the response without a question of
	// DVE-2017-0005).
	var frames [][]byte
	var wantRead strings.Builder
	for _, f := range violationFiles(t) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		r, err := fstrm.NewFileReader(bytes.NewReader(data), fstrm.ReaderOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for {
			b, err := r.Next()
			if err != nil {
				break
			}
			frames = append(frames, bytes.Clone(b))
		}
		out, err := exec.Command(read, f).Output()
		if err != nil {
			t.Fatalf("dnstap-read %s: %v", f, err)
		}
		wantRead.Write(out)
	}
	real := len(frames)
	start := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	for i := range 100 {
		frames = append(frames, cattest.TrafficMessage(i, start).Frame())
	}
	file := filepath.Join(t.TempDir(), "joined.fstrm")
	if err := os.WriteFile(file, cattest.Stream(dnstap.ContentType, frames...), 0o644); err != nil {
		t.Fatal(err)
	}

	out, err := exec.Command(read, file).CombinedOutput()
	if err != nil {
		t.Fatalf("dnstap-read: %v\n%s", err, out)
	}
	got, synthetic, ok := strings.Cut(string(out), wantRead.String())
	if !ok || got != "" {
		t.Errorf("dnstap-read does not print for the real frames what it prints for their files:\n%s", out)
	}
	if n := strings.Count(synthetic, "\n"); n != 100 {
		t.Errorf("dnstap-read printed %d lines for 100 synthetic frames:\n%s", n, synthetic)
	}
	for _, s := range []string{" CQ 10.0.0.2:", "h2.mail.example.org/IN/A", " CR ", "h3.cdn.example.net/IN/MX"} {
		if !strings.Contains(synthetic, s) {
			t.Errorf("dnstap-read output lacks %q:\n%s", s, synthetic)
		}
	}

	cmd := exec.Command(dnstapBin, "-r", file, "-q")
	cmd.Env = append(os.Environ(), "TZ=UTC")
	want, err := cmd.Output()
	if err != nil {
		t.Fatalf("dnstap: %v", err)
	}
	if n := strings.Count(string(want), "\n"); n != len(frames) {
		t.Errorf("dnstap -q printed %d lines for %d frames (%d real)", n, len(frames), real)
	}
	if mine, _, _ := run(t, nil, file); mine != string(want) {
		t.Errorf("tapir-cat and dnstap -q differ on the joined file")
	}
}

// TestCountSpeed checks that --count without filters is at least five
// times as fast as dnstap -q | wc -l.
func TestCountSpeed(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("slow, or timing a binary built with -race")
	}
	bin := needProgram(t, "dnstap")
	const n = 200000
	file := filepath.Join(t.TempDir(), "speed.fstrm")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := cattest.WriteTraffic(f, n, time.Now()); err != nil {
		t.Fatal(err)
	}
	f.Close()

	t0 := time.Now()
	cmd := exec.Command("sh", "-c", `"$0" -r "$1" -q | wc -l`, bin, file)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	base := time.Since(t0)
	if strings.TrimSpace(string(out)) != strconv.Itoa(n) {
		t.Fatalf("dnstap -q | wc -l: %s", out)
	}
	t0 = time.Now()
	mine, _, code := run(t, nil, "--count", file)
	took := time.Since(t0)
	if code != 0 || mine != strconv.Itoa(n)+"\n" {
		t.Fatalf("--count: %q, exit %d", mine, code)
	}
	t.Logf("%d frames: dnstap -q | wc -l %v, tapir-cat --count %v (%.0fx)", n, base, took, float64(base)/float64(took))
	if took*5 > base {
		t.Errorf("tapir-cat --count took %v, more than a fifth of dnstap's %v", took, base)
	}
}

// --match-rpz counts, per rule, the messages a zone would have matched:
// a name, or the strict subdomains of a "*." wildcard.
func TestMatchRPZ(t *testing.T) {
	dir := t.TempDir()
	zone := filepath.Join(dir, "rpz.zone")
	os.WriteFile(zone, []byte("$ORIGIN rpz.tapir.\n$TTL 60\n@ SOA localhost. h.localhost. 1 1 1 1 1\n@ NS localhost.\ngoogleapis.com CNAME .\n*.gstatic.com CNAME .\n"), 0o644)
	const sample = "../../testdata/sample.dnstap.zst"
	out, _, code := run(t, nil, "--match-rpz", zone, "--type", "CR", sample)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	text, _, _ := run(t, nil, "--type", "CR", sample)
	var exact, sub int
	for _, line := range strings.Split(text, "\n") {
		switch {
		case strings.Contains(line, ` "googleapis.com."`):
			exact++
		case strings.Contains(line, `.gstatic.com."`):
			sub++
		}
	}
	want := fmt.Sprintf("%d\t*.gstatic.com.\n%d\tgoogleapis.com.\n%d\ttotal, 2 rules matched\n", sub, exact, sub+exact)
	if sub <= exact {
		want = fmt.Sprintf("%d\tgoogleapis.com.\n%d\t*.gstatic.com.\n%d\ttotal, 2 rules matched\n", exact, sub, sub+exact)
	}
	if out != want || exact == 0 || sub == 0 {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
}
