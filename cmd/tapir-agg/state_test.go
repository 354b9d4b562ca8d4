package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tapir-edge/tapir/lib/dnstap"
	"github.com/tapir-edge/tapir/lib/fstrm"
)

// shifted writes a copy of a capture with every time moved by d.
func shifted(t *testing.T, capture string, d time.Duration) string {
	t.Helper()
	in, err := os.Open(capture)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	r, err := fstrm.NewFileReader(in, fstrm.ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "shifted.fstrm")
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	w := fstrm.NewWriter(out, dnstap.ContentType)
	var f dnstap.Frame
	for {
		b, err := r.Next()
		if err != nil {
			break
		}
		if err := f.Unmarshal(b); err != nil {
			t.Fatal(err)
		}
		f.QueryTimeSec += uint64(d / time.Second)
		f.ResponseTimeSec += uint64(d / time.Second)
		w.WriteFrame(f.AppendMarshal(nil))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func newNames(recs []map[string]any) []string {
	var ns []string
	for _, r := range recs {
		if r["type"] == "new_qname" {
			ns = append(ns, r["qname"].(string))
		}
	}
	return ns
}

// Run, stop, run again with the same --state: no name is announced twice;
// after --forget-after, it is.
func TestRestart(t *testing.T) {
	const capture, list = "testdata/capture.fstrm", "testdata/wk.txt"
	state := t.TempDir()
	args := []string{"--well-known", list, "--state", state, "--forget-after", "48h"}
	first, _ := runAgg(t, append(args, "-r", capture)...)
	n := newNames(first)
	if len(n) < 100 {
		t.Fatalf("only %d new names in the first run", len(n))
	}
	// The same traffic an hour later, after a restart: nothing new.
	again, _ := runAgg(t, append(args, "-r", shifted(t, capture, time.Hour))...)
	if got := newNames(again); len(got) != 0 {
		t.Errorf("%d names announced again after a restart: %.200v", len(got), got)
	}
	if fi, err := os.Stat(filepath.Join(state, "client-hash.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("client hash key: %v, %v", fi, err)
	}
	// Four days later, past --forget-after: all of them again.
	later, _ := runAgg(t, append(args, "-r", shifted(t, capture, 96*time.Hour))...)
	if got := newNames(later); len(got) != len(n) {
		t.Errorf("%d names announced after --forget-after, want %d", len(got), len(n))
	}
}
