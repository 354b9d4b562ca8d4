package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tapir-edge/tapir/lib/fstrm"
	"github.com/tapir-edge/tapir/lib/record"
	"github.com/tapir-edge/tapir/lib/testkit/tooltest"
)

// tapir-rpz serve under systemd reads tapir-rpz.socket's FIFO, which
// outlives it: restarted (SIGTERM, then a new run), it joins the stream
// where the last run stopped, with no START, and applies what follows;
// what the last run applied it has from its journal.
func TestFIFORestart(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "rpz.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	held, err := os.OpenFile(fifo, os.O_RDWR, 0) // systemd's end
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	w, err := os.OpenFile(fifo, os.O_WRONLY, 0) // tapir-observe's end
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	fw := fstrm.NewWriter(w, record.ContentType)
	zoneFile := filepath.Join(dir, "rpz.zone")

	serve := func(run int, name string) {
		t.Helper()
		cmd := tooltest.Command("serve", "--listen", fmt.Sprint(tooltest.FreePort(t)), "--state", filepath.Join(dir, "state"), "--zone-file", zoneFile)
		cmd.Stdin = held
		var logs tooltest.Log
		cmd.Stderr = &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		fw.WriteFrame(observation("denylist", name, 3600))
		fw.Flush()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if b, _ := os.ReadFile(zoneFile); strings.Contains(string(b), strings.TrimSuffix(name, ".")) {
				break
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatalf("run %d: %s not in the zone\n%s", run, name, logs.String())
			}
		}
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Fatalf("run %d: %v\n%s", run, err, logs.String())
		}
		if run > 1 && !strings.Contains(logs.String(), "continuing a stream begun before this process") {
			t.Errorf("run %d did not say it joined the stream:\n%s", run, logs.String())
		}
	}
	serve(1, "first.example.test.")
	serve(2, "second.example.test.")
	serve(3, "third.example.test.")
	b, _ := os.ReadFile(zoneFile)
	for _, name := range []string{"first", "second", "third"} {
		if !strings.Contains(string(b), name+".example.test") {
			t.Errorf("%s.example.test. left the zone:\n%s", name, b)
		}
	}
}
