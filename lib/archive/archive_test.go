package archive

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/tapir-edge/tapir/lib/fstrm"
	"github.com/tapir-edge/tapir/lib/keyfile"
	"github.com/tapir-edge/tapir/lib/stream"
	"github.com/tapir-edge/tapir/lib/testkit/cattest"
	"github.com/tapir-edge/tapir/lib/testkit/tooltest"
)

const dnstapCT = "protobuf:dnstap.Dnstap"

// clock is a fake clock that tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time)     { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// frame i of the test stream: a real dnstap message, so that tapir-cat
// can count it.
func frame(i int) []byte {
	return cattest.TrafficMessage(i, time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)).Frame()
}

// newIdentity makes an age identity file (mode 0600) with filippo.io/age.
func newIdentity(t testing.TB) (string, *age.X25519Identity) {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "identity.txt")
	if err := keyfile.Write(path, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, id
}

// files lists the directory, sorted by name.
func files(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// readFrames reads a file with lib/stream and lib/fstrm and returns its
// frames, and the error that ended it (nil at a clean STOP).
func readFrames(t *testing.T, path string, ids []age.Identity) ([][]byte, error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sr, err := stream.NewReader(f, ids)
	if err != nil {
		return nil, err
	}
	defer sr.Close()
	fr, err := fstrm.NewFileReader(sr, fstrm.ReaderOptions{ContentTypes: []string{dnstapCT}})
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for {
		p, err := fr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, bytes.Clone(p))
	}
}

// checkFrames checks that got are frames from, from+1, ….
func checkFrames(t *testing.T, got [][]byte, from int) {
	t.Helper()
	for i, p := range got {
		if !bytes.Equal(p, frame(from+i)) {
			t.Fatalf("frame %d is not frame %d of the input", i, from+i)
		}
	}
}

func TestRotateByTime(t *testing.T) {
	dir := t.TempDir()
	clk := &clock{t: time.Date(2026, 11, 27, 11, 59, 58, 0, time.UTC)}
	w, err := Open(Config{Dir: dir, ContentType: dnstapCT, Rotate: time.Hour, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if got := files(t, dir); len(got) != 0 {
		t.Fatalf("Open created files: %v", got)
	}
	n := 0
	write := func(k int) {
		for range k {
			if err := w.WriteFrame(frame(n)); err != nil {
				t.Fatal(err)
			}
			n++
		}
	}
	write(3) // 11:59:58, interval 11:00
	if got, want := filepath.Base(w.Current()), "dnstap-20261127T110000Z.fstrm"; got != want {
		t.Fatalf("current file %s, want %s", got, want)
	}
	if got := files(t, dir); !slices.Equal(got, []string{".tmp-dnstap-20261127T110000Z.fstrm"}) {
		t.Fatalf("while writing: %v", got)
	}
	clk.Add(2 * time.Second) // 12:00:00 exactly: a new interval
	write(4)
	clk.Add(59*time.Minute + 59*time.Second) // 12:59:59
	write(1)
	clk.Add(time.Second) // 13:00:00, no frames: a periodic Flush completes the 12:00 file
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := files(t, dir); !slices.Equal(got, []string{"dnstap-20261127T110000Z.fstrm", "dnstap-20261127T120000Z.fstrm"}) {
		t.Fatalf("after the 13:00 flush: %v", got)
	}
	clk.Add(2*time.Hour + 30*time.Minute) // 15:30, after an idle 14:00
	write(2)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteFrame(frame(0)); !errors.Is(err, ErrClosed) {
		t.Fatalf("write after Close: %v", err)
	}
	want := []string{"dnstap-20261127T110000Z.fstrm", "dnstap-20261127T120000Z.fstrm", "dnstap-20261127T150000Z.fstrm"}
	if got := files(t, dir); !slices.Equal(got, want) {
		t.Fatalf("files %v, want %v", got, want)
	}
	from := 0
	for i, count := range []int{3, 5, 2} {
		path := filepath.Join(dir, want[i])
		got, err := readFrames(t, path, nil)
		if err != nil {
			t.Fatalf("%s: %v", want[i], err)
		}
		if len(got) != count {
			t.Fatalf("%s: %d frames, want %d", want[i], len(got), count)
		}
		checkFrames(t, got, from)
		from += count
		fi, _ := os.Stat(path)
		if fi.Mode().Perm() != 0o640 {
			t.Errorf("%s: mode %v, want 0640", want[i], fi.Mode())
		}
	}
	if s := w.Stats(); s.Frames != 10 || s.Files != 3 {
		t.Errorf("stats %+v", s)
	}
}

func TestRotateBySize(t *testing.T) {
	dir := t.TempDir()
	idPath, id := newIdentity(t)
	clk := &clock{t: time.Date(2026, 11, 27, 12, 34, 56, 0, time.UTC)}
	const maxSize = 100 << 10
	w, err := Open(Config{Dir: dir, ContentType: dnstapCT, Rotate: time.Hour, MaxSize: maxSize,
		Zstd: true, Recipients: []age.Recipient{id.Recipient()}, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	const n = 30000
	for i := range n {
		if err := w.WriteFrame(frame(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	names := files(t, dir)
	if len(names) < 3 {
		t.Fatalf("%d files, want a size rotation: %v", len(names), names)
	}
	// In the order written: the first has no suffix, then -2, -3…
	ids, err := stream.ReadIdentities([]string{idPath})
	if err != nil {
		t.Fatal(err)
	}
	from := 0
	for k := range names {
		name := "dnstap-20261127T120000Z.fstrm.zst.age"
		if k > 0 {
			name = "dnstap-20261127T120000Z-" + strconv.Itoa(k+1) + ".fstrm.zst.age"
		}
		path := filepath.Join(dir, name)
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatalf("file %d: %v (have %v)", k+1, err, names)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600", name, fi.Mode())
		}
		// The documented bound: what the encoders hold past MaxSize.
		if fi.Size() > maxSize+256<<10 {
			t.Errorf("%s: %d bytes, far past MaxSize %d", name, fi.Size(), maxSize)
		}
		if k < len(names)-1 && fi.Size() < maxSize {
			t.Errorf("%s: %d bytes, rotated before MaxSize %d", name, fi.Size(), maxSize)
		}
		got, err := readFrames(t, path, ids)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		checkFrames(t, got, from)
		from += len(got)
	}
	if from != n {
		t.Fatalf("read %d frames, wrote %d", from, n)
	}
}

func TestNames(t *testing.T) {
	_, id := newIdentity(t)
	at := time.Date(2026, 11, 27, 12, 34, 56, 789, time.UTC)
	for _, tc := range []struct {
		c    Config
		want string
	}{
		{Config{ContentType: dnstapCT, Rotate: time.Hour, Zstd: true, Recipients: []age.Recipient{id.Recipient()}}, "dnstap-20261127T120000Z.fstrm.zst.age"},
		{Config{ContentType: "json:tapir.Record", Rotate: time.Hour, Zstd: true}, "records-20261127T120000Z.fstrm.zst"},
		{Config{ContentType: "json:tapir.Record", Rotate: 15 * time.Minute, Recipients: []age.Recipient{id.Recipient()}}, "records-20261127T123000Z.fstrm.age"},
		{Config{ContentType: dnstapCT, Rotate: 24 * time.Hour}, "dnstap-20261127T000000Z.fstrm"},
		{Config{ContentType: dnstapCT}, "dnstap-20261127T123456Z.fstrm"}, // no time rotation: the opening time
		{Config{ContentType: "text:other", Prefix: "other"}, "other-20261127T123456Z.fstrm"},
	} {
		dir := t.TempDir()
		tc.c.Dir = dir
		// A local zone: names are in UTC whatever the clock's zone.
		tc.c.Now = func() time.Time { return at.In(time.FixedZone("X", 5*3600+1800)) }
		w, err := Open(tc.c)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.WriteFrame([]byte("x")); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if got := files(t, dir); !slices.Equal(got, []string{tc.want}) {
			t.Errorf("%+v: files %v, want %s", tc.c, got, tc.want)
		}
	}
	// A second writer in the same interval does not overwrite the first.
	dir := t.TempDir()
	for range 2 {
		w, err := Open(Config{Dir: dir, ContentType: dnstapCT, Rotate: time.Hour, Now: func() time.Time { return at }})
		if err != nil {
			t.Fatal(err)
		}
		w.WriteFrame(frame(0))
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := files(t, dir), []string{"dnstap-20261127T120000Z-2.fstrm", "dnstap-20261127T120000Z.fstrm"}; !slices.Equal(got, want) {
		t.Errorf("two runs in one interval: %v, want %v", got, want)
	}
	// Closing a writer that wrote nothing makes no file.
	w, err := Open(Config{Dir: t.TempDir(), ContentType: dnstapCT})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []Config{
		{ContentType: "text:other"},                       // no prefix for it
		{ContentType: dnstapCT, Prefix: "../x"},           // not a name
		{ContentType: dnstapCT, Rotate: time.Millisecond}, // below the names' resolution
		{ContentType: dnstapCT, KeepBytes: -1},            // negative
		{ContentType: ""},                                 // no content type
	} {
		c.Dir = t.TempDir()
		if _, err := Open(c); err == nil {
			t.Errorf("Open(%+v) succeeded", c)
		}
	}
}

func TestRetention(t *testing.T) {
	dir := t.TempDir()
	clk := &clock{t: time.Date(2026, 11, 20, 0, 30, 0, 0, time.UTC)}
	c := Config{Dir: dir, ContentType: dnstapCT, Rotate: time.Hour, Now: clk.Now}
	w, err := Open(c)
	if err != nil {
		t.Fatal(err)
	}
	// Ten hourly files, each of 100 frames, the last complete at 10:00.
	for h := range 10 {
		for i := range 100 {
			if err := w.WriteFrame(frame(h*100 + i)); err != nil {
				t.Fatal(err)
			}
		}
		clk.Add(time.Hour)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	archive := files(t, dir)
	if len(archive) != 10 {
		t.Fatalf("%d files: %v", len(archive), archive)
	}
	// File h was completed at (h+1):00 of the fake clock.
	var size int64
	for h, name := range archive {
		mt := time.Date(2026, 11, 20, h+1, 0, 0, 0, time.UTC)
		if err := os.Chtimes(filepath.Join(dir, name), mt, mt); err != nil {
			t.Fatal(err)
		}
		fi, _ := os.Stat(filepath.Join(dir, name))
		size = fi.Size()
	}
	// Files retention must leave alone, all old: a partial file, another
	// prefix's file, a foreign file, a subdirectory of a matching name.
	old := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	others := []string{"dnstap-20261101T000000Z.fstrm.zst.age.partial", "records-20261101T000000Z.fstrm", "notes.txt", "dnstap-20261101T000000Z.fstrm.bak"}
	for _, name := range others {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, bytes.Repeat([]byte("x"), 1<<20), 0o640); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, old, old)
	}
	if err := os.Mkdir(filepath.Join(dir, "dnstap-20261101T010000Z.fstrm"), 0o750); err != nil {
		t.Fatal(err)
	}
	others = append(others, "dnstap-20261101T010000Z.fstrm")
	// A file of the same archive with other encodings counts.
	extra := "dnstap-20261101T020000Z.fstrm.zst"
	os.WriteFile(filepath.Join(dir, extra), []byte("old"), 0o640)
	os.Chtimes(filepath.Join(dir, extra), old, old)

	// At Open, by age: at 10:00, keep 4h: files completed at 7:00 or
	// later stay (7, 8, 9, 10: the last four).
	clk.Set(time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC))
	c.KeepAge = 3*time.Hour + time.Minute
	w, err = Open(c)
	if err != nil {
		t.Fatal(err)
	}
	want := append(slices.Clone(others), archive[6:]...)
	slices.Sort(want)
	if got := files(t, dir); !slices.Equal(got, want) {
		t.Fatalf("after KeepAge: %v, want %v", got, want)
	}
	if s := w.Stats(); s.Removed != 7 {
		t.Errorf("stats after KeepAge: %+v", s)
	}
	w.Close()

	// At each rotation, by size: room for two and a half files keeps the
	// newest two, the file just completed included.
	c.KeepAge = 0
	c.KeepBytes = 2*size + size/2
	w, err = Open(c)
	if err != nil {
		t.Fatal(err)
	}
	want = append(slices.Clone(others), archive[8:]...)
	slices.Sort(want)
	if got := files(t, dir); !slices.Equal(got, want) {
		t.Fatalf("after KeepBytes at Open: %v, want %v", got, want)
	}
	for i := range 100 {
		w.WriteFrame(frame(i))
	}
	clk.Add(time.Hour)
	w.WriteFrame(frame(100)) // rotates: the 10:00 file is complete
	want = append(slices.Clone(others), archive[9], "dnstap-20261120T100000Z.fstrm")
	slices.Sort(want)
	got := files(t, dir)
	got = slices.DeleteFunc(got, func(s string) bool { return strings.HasPrefix(s, ".tmp-") })
	if !slices.Equal(got, want) {
		t.Fatalf("after KeepBytes at rotation: %v, want %v", got, want)
	}
	w.Close()
}

// abandon leaves w as a crash would: the temporary file not completed.
func (w *Writer) abandon() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.f.Close()
	w.f = nil
	w.closed = true
}

func TestCrashLeftovers(t *testing.T) {
	dir := t.TempDir()
	idPath, id := newIdentity(t)
	ids, err := stream.ReadIdentities([]string{idPath})
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Date(2026, 11, 27, 12, 34, 56, 0, time.UTC)}
	c := Config{Dir: dir, ContentType: dnstapCT, Rotate: time.Hour, Zstd: true, Recipients: []age.Recipient{id.Recipient()}, Now: clk.Now}
	w, err := Open(c)
	if err != nil {
		t.Fatal(err)
	}
	const n = 5000
	for i := range n {
		if err := w.WriteFrame(frame(i)); err != nil {
			t.Fatal(err)
		}
		if i%1000 == 999 {
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	w.abandon()
	// An empty leftover (a crash before the first write) and another
	// archive's leftover.
	os.WriteFile(filepath.Join(dir, ".tmp-dnstap-20261127T110000Z.fstrm.zst.age"), nil, 0o600)
	os.WriteFile(filepath.Join(dir, ".tmp-records-20261127T110000Z.fstrm"), []byte("x"), 0o600)

	c.KeepAge, c.KeepBytes = time.Nanosecond, 1 // retention must spare the partial file
	w, err = Open(c)
	if err != nil {
		t.Fatal(err)
	}
	warns := w.Warnings()
	if len(warns) != 2 || !strings.Contains(strings.Join(warns, "\n"), "dnstap-20261127T120000Z.fstrm.zst.age.partial") {
		t.Fatalf("warnings: %q", warns)
	}
	partial := filepath.Join(dir, "dnstap-20261127T120000Z.fstrm.zst.age.partial")
	want := []string{".tmp-records-20261127T110000Z.fstrm", filepath.Base(partial)}
	if got := files(t, dir); !slices.Equal(got, want) {
		t.Fatalf("after recovery: %v, want %v", got, want)
	}
	// Its frames up to the tear read back, in order, and the tear is
	// reported.
	got, err := readFrames(t, partial, ids)
	if err == nil {
		t.Fatal("a torn file read to its end without error")
	}
	if len(got) < 1000 || len(got) >= n {
		t.Fatalf("read %d of %d frames from the torn file (%v)", len(got), n, err)
	}
	checkFrames(t, got, 0)
	t.Logf("partial file: %d of %d frames readable, then: %v", len(got), n, err)

	// tapir-cat reads it too, and reports the truncation with status 3.
	cat := buildTapirCat(t)
	cmd := exec.Command(cat, "--count", "--identity", idPath, partial)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("tapir-cat on the partial file: %v, want exit status 3; stderr: %s", err, stderr.String())
	}
	if c := strings.TrimSpace(stdout.String()); c != strconv.Itoa(len(got)) {
		t.Errorf("tapir-cat counted %q, want %d", c, len(got))
	}
	t.Logf("tapir-cat: %s", strings.TrimSpace(stderr.String()))

	// The next file of the interval does not take the partial file's name.
	w.WriteFrame(frame(0))
	if got, want := filepath.Base(w.Current()), "dnstap-20261127T120000Z-2.fstrm.zst.age"; got != want {
		t.Fatalf("next file %s, want %s", got, want)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// KeepBytes 1 removed that complete file at once, not the partial one.
	if got := files(t, dir); !slices.Equal(got, want) {
		t.Fatalf("after retention: %v, want %v", got, want)
	}
}

var tapirCat struct {
	once sync.Once
	path string
	err  error
	out  []byte
}

// buildTapirCat builds the real tapir-cat once for the package's tests.
func buildTapirCat(t *testing.T) string {
	t.Helper()
	tapirCat.once.Do(func() {
		dir, err := os.MkdirTemp("", "archive-test-bin")
		if err != nil {
			tapirCat.err = err
			return
		}
		tapirCat.path = filepath.Join(dir, "tapir-cat")
		cmd := exec.Command("go", "build", "-o", dir, "../../cmd/tapir-cat")
		tapirCat.out, tapirCat.err = cmd.CombinedOutput()
	})
	if tapirCat.err != nil {
		t.Fatalf("build tapir-cat: %v\n%s", tapirCat.err, tapirCat.out)
	}
	return tapirCat.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if tapirCat.path != "" {
		os.RemoveAll(filepath.Dir(tapirCat.path))
	}
	os.Exit(code)
}

// parseStream reads a Frame Streams file without lib/fstrm, from the
// specification: START with the content type, data frames, STOP.
func parseStream(b []byte, ct string) ([][]byte, error) {
	u32 := func() (uint32, error) {
		if len(b) < 4 {
			return 0, io.ErrUnexpectedEOF
		}
		v := binary.BigEndian.Uint32(b)
		b = b[4:]
		return v, nil
	}
	control := func() (uint32, []byte, error) {
		n, err := u32()
		if err != nil || len(b) < int(n) || n < 4 {
			return 0, nil, fmt.Errorf("bad control frame")
		}
		body := b[:n]
		b = b[n:]
		return binary.BigEndian.Uint32(body), body[4:], nil
	}
	if esc, err := u32(); err != nil || esc != 0 {
		return nil, fmt.Errorf("no escape before START")
	}
	typ, fields, err := control()
	if err != nil || typ != 2 { // START
		return nil, fmt.Errorf("no START: %v", err)
	}
	// One field: CONTENT_TYPE (1), its length, the type.
	if len(fields) != 8+len(ct) || binary.BigEndian.Uint32(fields) != 1 || string(fields[8:]) != ct {
		return nil, fmt.Errorf("START fields %q, want content type %q", fields, ct)
	}
	var out [][]byte
	for {
		n, err := u32()
		if err != nil {
			return out, fmt.Errorf("no STOP")
		}
		if n == 0 {
			typ, _, err := control()
			if err != nil || typ != 3 { // STOP
				return out, fmt.Errorf("control frame %d, want STOP", typ)
			}
			if len(b) != 0 {
				return out, fmt.Errorf("%d bytes after STOP", len(b))
			}
			return out, nil
		}
		if len(b) < int(n) {
			return out, io.ErrUnexpectedEOF
		}
		out = append(out, b[:n])
		b = b[n:]
	}
}

// TestArchiveRealTools: the archive opens with the real age and zstd, and
// tapir-cat reads it directly.
func TestArchiveRealTools(t *testing.T) {
	ageBin := tooltest.Need(t, "age")
	keygen := tooltest.Need(t, "age-keygen")
	zstdBin := tooltest.Need(t, "zstd")
	cat := buildTapirCat(t)

	tmp := t.TempDir()
	idPath := filepath.Join(tmp, "identity.txt")
	if out, err := exec.Command(keygen, "-o", idPath).CombinedOutput(); err != nil {
		t.Fatalf("age-keygen: %v\n%s", err, out)
	}
	if err := os.Chmod(idPath, 0o600); err != nil {
		t.Fatal(err)
	}
	ids, err := stream.ReadIdentities([]string{idPath})
	if err != nil {
		t.Fatal(err)
	}
	// The writer has only the recipient, never the identity.
	rcpt := ids[0].(*age.X25519Identity).Recipient().String()
	recipients, err := stream.ParseRecipients([]string{rcpt}, nil)
	if err != nil {
		t.Fatal(err)
	}

	dir := filepath.Join(tmp, "archive")
	clk := &clock{t: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)}
	w, err := Open(Config{Dir: dir, ContentType: dnstapCT, Rotate: time.Hour, MaxSize: 64 << 10,
		Zstd: true, Recipients: recipients, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	// 2 hours, 20000 frames an hour: two intervals, each several files.
	const perHour = 20000
	for i := range 2 * perHour {
		if i == perHour {
			clk.Add(time.Hour)
		}
		if err := w.WriteFrame(frame(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	names := files(t, dir)
	// Order of writing: by interval, then sequence.
	slices.SortFunc(names, func(a, b string) int {
		key := func(s string) string {
			s = strings.TrimSuffix(s, ".fstrm.zst.age")
			if len(s) == len("dnstap-20261127T120000Z") {
				s += "-1"
			}
			i := strings.LastIndexByte(s, '-')
			seq, _ := strconv.Atoi(s[i+1:])
			return fmt.Sprintf("%s-%06d", s[:i], seq)
		}
		return strings.Compare(key(a), key(b))
	})
	var n12, n13 int
	for _, name := range names {
		switch {
		case strings.HasPrefix(name, "dnstap-20261127T120000Z") && strings.HasSuffix(name, ".fstrm.zst.age"):
			n12++
		case strings.HasPrefix(name, "dnstap-20261127T130000Z") && strings.HasSuffix(name, ".fstrm.zst.age"):
			n13++
		default:
			t.Fatalf("unexpected file %s", name)
		}
	}
	if n12 < 2 || n13 < 2 {
		t.Fatalf("files %v: want several in each interval", names)
	}

	total := 0
	for _, name := range names {
		path := filepath.Join(dir, name)
		// age -d -i IDENTITY, then zstd -d: the real tools.
		dec, err := exec.Command(ageBin, "-d", "-i", idPath, path).Output()
		if err != nil {
			t.Fatalf("age -d %s: %v", name, stderrOf(err))
		}
		if !bytes.HasPrefix(dec, []byte{0x28, 0xb5, 0x2f, 0xfd}) {
			t.Fatalf("%s: decrypted bytes are not zstd", name)
		}
		zc := exec.Command(zstdBin, "-d", "-c")
		zc.Stdin = bytes.NewReader(dec)
		plain, err := zc.Output()
		if err != nil {
			t.Fatalf("zstd -d %s: %v", name, stderrOf(err))
		}
		got, err := parseStream(plain, dnstapCT)
		if err != nil {
			t.Fatalf("%s: after %d frames: %v", name, len(got), err)
		}
		for i, p := range got {
			if !bytes.Equal(p, frame(total+i)) {
				t.Fatalf("%s: frame %d is not frame %d of the input", name, i, total+i)
			}
		}
		total += len(got)

		// tapir-cat reads the file itself.
		out, err := exec.Command(cat, "--count", "--identity", idPath, path).Output()
		if err != nil {
			t.Fatalf("tapir-cat %s: %v", name, stderrOf(err))
		}
		if c := strings.TrimSpace(string(out)); c != strconv.Itoa(len(got)) {
			t.Fatalf("tapir-cat --count %s: %q, want %d", name, c, len(got))
		}
	}
	if total != 2*perHour {
		t.Fatalf("read back %d frames, wrote %d", total, 2*perHour)
	}
	// All files at once, as an analyst would.
	out, err := exec.Command(cat, append([]string{"--count", "--identity", idPath}, prefixAll(dir, names)...)...).Output()
	if err != nil {
		t.Fatalf("tapir-cat on all files: %v", stderrOf(err))
	}
	if c := strings.TrimSpace(string(out)); c != strconv.Itoa(2*perHour) {
		t.Fatalf("tapir-cat --count on all files: %q, want %d", c, 2*perHour)
	}
	t.Logf("%d files, %d frames, read back with age, zstd and tapir-cat", len(names), total)
}

func prefixAll(dir string, names []string) []string {
	var out []string
	for _, n := range names {
		out = append(out, filepath.Join(dir, n))
	}
	return out
}

func stderrOf(err error) error {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return fmt.Errorf("%w: %s", err, ee.Stderr)
	}
	return err
}

// BenchmarkWriter measures frames per second through the writer with zstd
// and age, rotating by size. The frames are 2^17 distinct dnstap messages
// (about 15 MB, beyond the zstd window), so that compression does not
// just find the last loop again.
func BenchmarkWriter(b *testing.B) {
	_, id := newIdentity(b)
	frames := make([][]byte, 1<<17)
	var size int
	for i := range frames {
		frames[i] = frame(i)
		size += len(frames[i])
	}
	w, err := Open(Config{Dir: b.TempDir(), ContentType: dnstapCT, Rotate: time.Hour, MaxSize: 64 << 20,
		Zstd: true, Recipients: []age.Recipient{id.Recipient()}})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(size / len(frames)))
	start := time.Now()
	for i := 0; b.Loop(); i++ {
		if err := w.WriteFrame(frames[i%len(frames)]); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "frames/s")
	b.ReportMetric(float64(w.Stats().Bytes)/float64(int64(b.N)*int64(size/len(frames))), "ratio")
}
