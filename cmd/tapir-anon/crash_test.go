package main

import (
	"bytes"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tapir-edge/tapir/lib/dnstap"
	"github.com/tapir-edge/tapir/lib/fstrm"
)

// startOn starts tapir-anon with args, reading in, as systemd starts it
// on its FIFO (StandardInput=socket).
func startOn(t *testing.T, in *os.File, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := command(args...)
	cmd.Stdin = in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, &stderr
}

// mkfifo makes a FIFO and holds it open for reading and writing, as
// systemd does, so that it never ends and no one blocks opening it.
func mkfifo(t *testing.T, path string) *os.File {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	held, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { held.Close() })
	return held
}

func dnstapFrame(i int) []byte {
	fr := dnstap.Frame{Message: dnstap.Message{Type: dnstap.ClientQuery, QueryAddress: netip.MustParseAddr("192.0.2.1").AsSlice(), QueryPort: 53}}
	fr.SetQueryTime(time.Unix(int64(i), 0))
	return fr.AppendMarshal(nil)
}

// syncWriter streams numbered dnstap frames into a FIFO as a stage does,
// with a sync point (STOP, START) every syncEvery frames. Between bursts
// it serves a pause, and a tear: half a frame, then a new writer's START,
// as when a writer is killed mid-frame and restarted.
type syncWriter struct {
	mu    sync.Mutex
	syncs []int // the number of the first frame after each sync point or START
	torn  int   // the frame torn, or -1

	pause chan chan struct{} // the writer acknowledges, and waits for the channel to close
	tear  chan struct{}
}

const syncEvery = 300

func (sw *syncWriter) run(path string, n int) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	w := fstrm.NewWriter(f, dnstap.ContentType)
	for i := 0; i < n; i++ {
		select {
		case resume := <-sw.pause:
			if err := w.Flush(); err != nil {
				return err
			}
			resume <- struct{}{}
			<-resume
		case <-sw.tear:
			if err := w.Flush(); err != nil {
				return err
			}
			b := dnstapFrame(i)
			framed := append([]byte{byte(len(b) >> 24), byte(len(b) >> 16), byte(len(b) >> 8), byte(len(b))}, b...)
			if _, err := f.Write(framed[:len(framed)/2]); err != nil {
				return err
			}
			w = fstrm.NewWriter(f, dnstap.ContentType)
			sw.mu.Lock()
			sw.torn = i
			sw.syncs = append(sw.syncs, i+1)
			sw.mu.Unlock()
			continue
		default:
		}
		if err := w.WriteFrame(dnstapFrame(i)); err != nil {
			return err
		}
		if i%syncEvery == syncEvery-1 {
			w.Sync()
			if err := w.Flush(); err != nil {
				return err
			}
			sw.mu.Lock()
			sw.syncs = append(sw.syncs, i+1)
			sw.mu.Unlock()
		}
		if i%100 == 99 {
			if err := w.Flush(); err != nil {
				return err
			}
			time.Sleep(15 * time.Millisecond)
		}
	}
	return w.Close()
}

// tapir-anon is killed (SIGKILL) while frames flow through its FIFO, and
// the FIFO is left mid-frame, as a dead reader leaves it; then the writer
// dies mid-frame and restarts. The next tapir-anon finds its place again
// at the writer's first sync point after the crash, and at the restarted
// writer's START: every frame from the first on comes out, once, but the
// torn one; it counts and logs what it skipped, and ends cleanly on
// SIGTERM.
func TestFIFOCrash(t *testing.T) {
	dir := t.TempDir()
	key := writeKey(t, dir, strings.Repeat("5a", 32))
	fifo := filepath.Join(dir, "anon.fifo")
	held := mkfifo(t, fifo)

	const n = 12000
	sw := &syncWriter{torn: -1, pause: make(chan chan struct{}), tear: make(chan struct{})}
	wrote := make(chan error, 1)
	go func() { wrote <- sw.run(fifo, n) }()

	start := func(out string) (*exec.Cmd, *bytes.Buffer) { return startOn(t, held, "-k", key, "-w", out) }
	out0, out1 := filepath.Join(dir, "out0.fstrm"), filepath.Join(dir, "out1.fstrm")
	run0, _ := start(out0)
	time.Sleep(700 * time.Millisecond)

	// Crash: with the writer paused at a frame boundary, kill the tool
	// and take 7 bytes from the FIFO, as the dead tool may have taken
	// any part of a frame.
	resume := make(chan struct{})
	sw.pause <- resume
	<-resume
	run0.Process.Kill()
	run0.Wait()
	sw.mu.Lock()
	mark := len(sw.syncs)
	sw.mu.Unlock()
	took := make([]byte, 7)
	held.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	got, _ := io.ReadFull(held, took)
	held.SetReadDeadline(time.Time{})
	close(resume)
	if got < len(took) {
		// The dead tool had emptied the FIFO: take the bytes from
		// what comes next.
		if _, err := io.ReadFull(held, took[got:]); err != nil {
			t.Fatal(err)
		}
	}

	run1, stderr := start(out1)
	time.Sleep(500 * time.Millisecond)
	sw.tear <- struct{}{}
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	sw.mu.Lock()
	if mark >= len(sw.syncs) {
		t.Fatalf("no sync point after the crash: %v", sw.syncs)
	}
	first, torn := sw.syncs[mark], sw.torn
	sw.mu.Unlock()
	complete := func() bool {
		seen := collect(t, []string{out1}, false)
		for i := first; i < n; i++ {
			if i != torn && seen[uint64(i)] == 0 {
				return false
			}
		}
		return true
	}
	for deadline := time.Now().Add(20 * time.Second); !complete() && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
	}
	run1.Process.Signal(syscall.SIGTERM)
	if err := run1.Wait(); err != nil {
		t.Fatalf("after the crash: %v\n%s", err, stderr.String())
	}

	seen := collect(t, []string{out1}, true)
	for i := first; i < n; i++ {
		if want := 1 - b2i(i == torn); seen[uint64(i)] != want {
			t.Errorf("frame %d came out %d times, want %d", i, seen[uint64(i)], want)
		}
	}
	if torn < first {
		t.Errorf("torn frame %d before the first sync point after the crash, %d", torn, first)
	}
	// Before the first sync point: frames of the stream only, once.
	for i, c := range collect(t, []string{out0, out1}, false) {
		if c != 1 || i >= n {
			t.Errorf("frame %d came out %d times", i, c)
		}
	}
	log := stderr.String()
	if strings.Count(log, "framing error: skipped to the next START") < 2 {
		t.Errorf("the restarted tool did not log two resynchronisations:\n%s", log)
	}
	if !strings.Contains(log, "input_skipped_bytes") {
		t.Errorf("no input_skipped_bytes counter in the log:\n%s", log)
	}
	t.Logf("frames from %d of %d required (torn: %d); %d came out after the crash", first, n, torn, len(seen))
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// A tool whose output is a FIFO writes sync points, STOP then START, at
// most once a second while it writes frames, and nothing while idle: the
// stream stays one that any reader reads whole.
func TestFIFOSyncPoints(t *testing.T) {
	dir := t.TempDir()
	key := writeKey(t, dir, strings.Repeat("5a", 32))
	in := mkfifo(t, filepath.Join(dir, "in.fifo"))
	outPath := filepath.Join(dir, "out.fifo")
	out := mkfifo(t, outPath)

	var mu sync.Mutex
	var got []byte
	go func() {
		buf := make([]byte, 64<<10)
		for {
			m, err := out.Read(buf)
			mu.Lock()
			got = append(got, buf[:m]...)
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	cmd := command("-k", key, "-w", outPath)
	cmd.Stdin = in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// 3000 frames over about 3 seconds.
	const n = 3000
	w := fstrm.NewWriter(in, dnstap.ContentType)
	for i := range n {
		w.WriteFrame(dnstapFrame(i))
		if i%50 == 49 {
			w.Flush()
			time.Sleep(50 * time.Millisecond)
		}
	}
	w.Flush()
	syncPoint := append(fstrm.AppendControl(nil, fstrm.Control{Type: fstrm.ControlStop}),
		fstrm.AppendControl(nil, fstrm.Control{Type: fstrm.ControlStart, ContentTypes: []string{dnstap.ContentType}})...)
	frames := func() (int, int) {
		mu.Lock()
		defer mu.Unlock()
		r, err := fstrm.NewFileReader(bytes.NewReader(got), fstrm.ReaderOptions{ContentTypes: []string{dnstap.ContentType}})
		k := 0
		for err == nil {
			if _, err = r.Next(); err == nil {
				k++
			}
		}
		return k, len(got)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if k, _ := frames(); k == n {
			break
		}
	}
	time.Sleep(300 * time.Millisecond) // the last sync point, if one was due
	_, before := frames()
	time.Sleep(1500 * time.Millisecond)
	if _, after := frames(); after != before {
		t.Errorf("the idle output carried %d bytes", after-before)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	time.Sleep(100 * time.Millisecond)
	mu.Lock()
	s := bytes.Clone(got)
	mu.Unlock()
	syncs := bytes.Count(s, syncPoint)
	if syncs < 1 || syncs > 5 {
		t.Errorf("%d sync points in about 3 seconds of output, want 1 to 4 (one a second at most)", syncs)
	}
	r, err := fstrm.NewFileReader(bytes.NewReader(s), fstrm.ReaderOptions{ContentTypes: []string{dnstap.ContentType}})
	if err != nil {
		t.Fatal(err)
	}
	k := 0
	for {
		if _, err = r.Next(); err != nil {
			break
		}
		k++
	}
	if err != io.EOF || k != n {
		t.Errorf("read %d frames, %v; want %d and a whole stream", k, err, n)
	}
	t.Logf("%d sync points", syncs)
}
