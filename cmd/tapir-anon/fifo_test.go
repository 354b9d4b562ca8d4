package main

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tapir-edge/tapir/lib/dnstap"
	"github.com/tapir-edge/tapir/lib/fstrm"
)

// The FIFO between two stages, as systemd holds it (ListenFIFO=,
// StandardInput=socket): tapir-anon is stopped with SIGTERM and started
// again four times while a writer streams into the FIFO, and the writer
// restarts once without STOP. Every frame written comes out exactly once
// across the runs, each run's output a whole stream.
func TestFIFORestarts(t *testing.T) {
	dir := t.TempDir()
	key := writeKey(t, dir, strings.Repeat("5a", 32))
	fifo := filepath.Join(dir, "anon.fifo")
	held := mkfifo(t, fifo)

	const n = 20000
	wrote := make(chan error, 1)
	cuts := make(chan cut)
	go func() { wrote <- writeFIFO(fifo, n, cuts) }()

	var outs []string
	var logs []*bytes.Buffer
	run := func(i int, until func(out string) bool) {
		out := filepath.Join(dir, "out"+string(rune('0'+i))+".fstrm")
		cmd, stderr := startOn(t, held, "-k", key, "-w", out)
		for deadline := time.Now().Add(20 * time.Second); !until(out) && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		if i < 4 {
			// SIGTERM while the tool holds half a frame: it must
			// read the rest, and no more.
			c := cut{half: make(chan struct{}), rest: make(chan struct{})}
			select {
			case cuts <- c:
				<-c.half
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				t.Fatalf("run %d: the writer is stuck: the tool reads no more\n%s", i, stderr.String())
			}
			time.Sleep(100 * time.Millisecond)
			cmd.Process.Signal(syscall.SIGTERM)
			time.Sleep(100 * time.Millisecond)
			close(c.rest)
		} else {
			cmd.Process.Signal(syscall.SIGTERM)
		}
		if err := cmd.Wait(); err != nil {
			t.Fatalf("run %d: %v\n%s", i, err, stderr.String())
		}
		outs = append(outs, out)
		logs = append(logs, stderr)
	}
	for i := range 4 {
		began := time.Now()
		run(i, func(string) bool { return time.Since(began) > time.Duration(300+100*i)*time.Millisecond })
	}
	// The last run reads the rest: what the FIFO holds, then STOP.
	began, done := time.Now(), false
	run(4, func(out string) bool {
		if !done {
			select {
			case err := <-wrote:
				if err != nil {
					t.Error(err)
				}
				done = true
			default:
			}
		}
		return done && time.Since(began) > 300*time.Millisecond && len(collect(t, append(outs, out), false)) == n
	})
	seen := collect(t, outs, true)
	for i := range uint64(n) {
		if seen[i] != 1 {
			t.Errorf("frame %d came out %d times", i, seen[i])
		}
	}
	if len(seen) != n {
		t.Errorf("%d distinct frames came out, want %d", len(seen), n)
	}
	all := ""
	for _, l := range logs {
		all += l.String()
	}
	if t.Failed() {
		t.Logf("logs:\n%s", all)
	}
	for _, want := range []string{"continuing a stream begun before this process", "the writer restarted without STOP"} {
		if !strings.Contains(all, want) {
			t.Errorf("no run logged %q", want)
		}
	}
}

// cut asks writeFIFO to write half a frame, say so, and wait for rest
// before it writes the other half.
type cut struct{ half, rest chan struct{} }

// writeFIFO streams n dnstap frames into the FIFO, numbered by their query
// time, in bursts; halfway, it starts a new stream without STOP, as a
// writer that crashed and restarted does. Between bursts it serves cuts.
func writeFIFO(path string, n int, cuts <-chan cut) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	w := fstrm.NewWriter(f, dnstap.ContentType)
	addr := netip.MustParseAddr("192.0.2.1").AsSlice()
	for i := range n {
		if i == n/2 {
			if err := w.Flush(); err != nil {
				return err
			}
			w = fstrm.NewWriter(f, dnstap.ContentType)
		}
		fr := dnstap.Frame{Message: dnstap.Message{Type: dnstap.ClientQuery, QueryAddress: addr, QueryPort: 53}}
		fr.SetQueryTime(time.Unix(int64(i), 0))
		b := fr.AppendMarshal(nil)
		select {
		case c := <-cuts:
			if err := w.Flush(); err != nil {
				return err
			}
			framed := append([]byte{byte(len(b) >> 24), byte(len(b) >> 16), byte(len(b) >> 8), byte(len(b))}, b...)
			if _, err := f.Write(framed[:len(framed)/2]); err != nil {
				return err
			}
			close(c.half)
			<-c.rest
			if _, err := f.Write(framed[len(framed)/2:]); err != nil {
				return err
			}
			continue
		default:
		}
		if err := w.WriteFrame(b); err != nil {
			return err
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

// collect counts the frames of the outputs by query time. Whole, the
// outputs must be whole streams: START, frames, STOP.
func collect(t *testing.T, outs []string, whole bool) map[uint64]int {
	t.Helper()
	seen := map[uint64]int{}
	for _, out := range outs {
		f, err := os.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		r, err := fstrm.NewFileReader(f, fstrm.ReaderOptions{ContentTypes: []string{dnstap.ContentType}})
		for err == nil {
			var b []byte
			if b, err = r.Next(); err == nil {
				var fr dnstap.Frame
				if uerr := fr.Unmarshal(b); uerr != nil {
					t.Fatalf("%s: %v", out, uerr)
				}
				seen[fr.QueryTimeSec]++
			}
		}
		f.Close()
		if whole && !errors.Is(err, io.EOF) {
			t.Errorf("%s: %v", out, err)
		}
	}
	return seen
}
