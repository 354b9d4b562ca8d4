package tooltest

import (
	"bytes"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"
)

// A Log collects what a process writes, safe to read while it runs.
type Log struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// Bytes is a copy of what was written so far.
func (l *Log) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.b.Bytes())
}

func (l *Log) String() string { return string(l.Bytes()) }

// Start starts cmd, a program the test runs (the tool itself, from
// Command, or a resolver), with its standard error, and its standard
// output unless the test takes it, in the returned Log. When the test
// ends the program is stopped (Stop), and its Log shown if the test
// failed, under name.
func Start(t testing.TB, name string, cmd *exec.Cmd) *Log {
	t.Helper()
	log := new(Log)
	cmd.Stderr = log
	if cmd.Stdout == nil {
		cmd.Stdout = log
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() {
		Stop(cmd)
		if t.Failed() {
			t.Logf("%s:\n%s", name, log.String())
		}
	})
	return log
}

// Stop ends a started program as systemd does: SIGTERM, then SIGKILL if
// it has not exited within 5 seconds. Its output is waited for at most a
// second more.
func Stop(cmd *exec.Cmd) {
	cmd.WaitDelay = time.Second
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}
