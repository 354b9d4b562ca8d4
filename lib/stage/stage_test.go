package stage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tapir-edge/tapir/lib/fault"
	"github.com/tapir-edge/tapir/lib/fstrm"
	"github.com/tapir-edge/tapir/lib/metrics"
	"github.com/tapir-edge/tapir/lib/record"
)

// rec is the i-th test record.
func rec(i int) []byte { return fmt.Appendf(nil, `{"type":"stats","n":%d}`, i) }

// writeFile writes a stream of n records to a file.
func writeFile(t *testing.T, n int) string {
	t.Helper()
	var b bytes.Buffer
	w := fstrm.NewWriter(&b, record.ContentType)
	for i := range n {
		w.WriteFrame(rec(i))
	}
	w.Close()
	p := filepath.Join(t.TempDir(), "in.fstrm")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// collect is a Handle that keeps every frame and its number.
type collect struct {
	frames []string
	nums   []int64
	inputs map[string]int
}

func (c *collect) handle(b *Batch) error {
	if c.inputs == nil {
		c.inputs = map[string]int{}
	}
	for n, f := range b.All() {
		c.frames = append(c.frames, string(f))
		c.nums = append(c.nums, n)
		c.inputs[b.Input]++
	}
	b.Release()
	return nil
}

func TestFiles(t *testing.T) {
	a, b := writeFile(t, 1000), writeFile(t, 3)
	var c collect
	err := Run(context.Background(), Config{Inputs: []string{a, b}, ContentType: record.ContentType, Handle: c.handle})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.frames) != 1003 || c.inputs[a] != 1000 || c.inputs[b] != 3 {
		t.Fatalf("%d frames, by input %v", len(c.frames), c.inputs)
	}
	for i := range 1000 {
		if c.frames[i] != string(rec(i)) || c.nums[i] != int64(i+1) {
			t.Fatalf("frame %d: %s, number %d", i, c.frames[i], c.nums[i])
		}
	}
	if c.frames[1002] != string(rec(2)) || c.nums[1002] != 3 {
		t.Errorf("last frame %s, number %d: numbers start again in each input", c.frames[1002], c.nums[1002])
	}
}

// A corrupt input is reported once the good ones are handled, with the
// frames before the damage handled too.
func TestCorruptInput(t *testing.T) {
	good := writeFile(t, 10)
	b, _ := os.ReadFile(writeFile(t, 50))
	bad := filepath.Join(t.TempDir(), "bad.fstrm")
	os.WriteFile(bad, b[:len(b)/2], 0o644)
	var c collect
	err := Run(context.Background(), Config{Inputs: []string{bad, good}, ContentType: record.ContentType, Handle: c.handle,
		Log: slog.New(slog.DiscardHandler)})
	if fault.Of(err) != fault.Input || !strings.Contains(err.Error(), bad) {
		t.Fatalf("err %v (kind %v), want an input error naming %s", err, fault.Of(err), bad)
	}
	if c.inputs[good] != 10 || c.inputs[bad] < 20 || c.inputs[bad] >= 50 {
		t.Errorf("frames by input: %v", c.inputs)
	}
}

func TestWrongContentType(t *testing.T) {
	in := writeFile(t, 1)
	err := Run(context.Background(), Config{Inputs: []string{in}, ContentType: "protobuf:dnstap.Dnstap", Handle: func(*Batch) error { return nil },
		Log: slog.New(slog.DiscardHandler)})
	if fault.Of(err) != fault.Input || !strings.Contains(err.Error(), record.ContentType) {
		t.Errorf("err %v, want an input error naming the content type", err)
	}
}

func TestHandleError(t *testing.T) {
	in := writeFile(t, 100)
	boom := errors.New("boom")
	err := Run(context.Background(), Config{Inputs: []string{in}, ContentType: record.ContentType, Handle: func(*Batch) error { return boom }})
	if err != boom {
		t.Errorf("err %v, want the handler's", err)
	}
}

// fifo makes a FIFO and opens its writing end, as systemd holds one open
// between the stages.
func fifo(t *testing.T) (string, *os.File) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return p, w
}

// On a live FIFO every frame is handed on as soon as it is written, and
// when ctx ends Run stops at the frame boundary, having handled every
// frame it took: the rest is left in the FIFO for the next run.
func TestFIFOStop(t *testing.T) {
	p, w := fifo(t)
	fw := fstrm.NewWriter(w, record.ContentType)
	for i := range 5 {
		fw.WriteFrame(rec(i))
	}
	fw.Flush()
	ctx, cancel := context.WithCancel(context.Background())
	var handled atomic.Int64
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{Inputs: []string{p}, ContentType: record.ContentType, Handle: func(b *Batch) error {
			handled.Add(int64(b.Len()))
			b.Release()
			return nil
		}})
	}()
	deadline := time.Now().Add(10 * time.Second)
	for handled.Load() < 5 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if handled.Load() != 5 {
		t.Fatalf("%d frames handled of 5 written, the writer still there", handled.Load())
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(StopWait):
		t.Fatal("Run did not stop")
	}
	// What is written now is there for the next reader, from a frame
	// boundary: it joins without START.
	for i := 5; i < 8; i++ {
		fw.WriteFrame(rec(i))
	}
	fw.Flush()
	var c collect
	ctx2, cancel2 := context.WithCancel(context.Background())
	done2 := make(chan error, 1)
	go func() {
		done2 <- Run(ctx2, Config{Inputs: []string{p}, ContentType: record.ContentType, Log: slog.New(slog.DiscardHandler), Handle: func(b *Batch) error {
			err := c.handle(b)
			if len(c.frames) == 3 {
				cancel2()
			}
			return err
		}})
	}()
	select {
	case err := <-done2:
		if err != nil || len(c.frames) != 3 || c.frames[0] != string(rec(5)) {
			t.Errorf("next run: %v, frames %q", err, c.frames)
		}
	case <-time.After(StopWait):
		t.Fatal("next run did not stop")
	}
}

// Ticks, SIGHUP and SIGUSR1 are served on Run's goroutine, with no input
// as well as between batches; the counters are logged on SIGUSR1.
func TestTicksAndSignals(t *testing.T) {
	reload, report := make(chan os.Signal, 1), make(chan os.Signal, 1)
	var logs bytes.Buffer
	m := metrics.New("tapir_test")
	m.Counter("things", "Things.").Add(3)
	var ticks, reloads, reports int
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err := Run(ctx, Config{
		Tick: time.Millisecond,
		OnTick: func() error {
			ticks++
			switch ticks {
			case 1:
				reload <- syscall.SIGHUP
			case 2:
				report <- syscall.SIGUSR1
			case 50:
				cancel()
			}
			return nil
		},
		Signals:  Signals{Reload: reload, Report: report},
		OnReload: func() { reloads++ },
		OnReport: func() { reports++ },
		Metrics:  m,
		Log:      slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil || reloads != 1 || reports != 1 || ticks < 50 {
		t.Errorf("err %v, %d reloads, %d reports, %d ticks", err, reloads, reports, ticks)
	}
	if !strings.Contains(logs.String(), "msg=counters") || !strings.Contains(logs.String(), "things=3") {
		t.Errorf("counters not logged: %s", logs.String())
	}

	stop := errors.New("stop")
	if err := Run(context.Background(), Config{Tick: time.Millisecond, OnTick: func() error { return stop }}); err != stop {
		t.Errorf("OnTick's error: got %v", err)
	}
}
