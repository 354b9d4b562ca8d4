package rpz

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tapir-edge/tapir/lib/fault"
	"github.com/tapir-edge/tapir/lib/fstrm"
	"github.com/tapir-edge/tapir/lib/record"
	"github.com/tapir-edge/tapir/lib/stage"
)

// stream writes records to a file as a stream of them.
func stream(t *testing.T, recs ...[]byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "in.fstrm")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := fstrm.NewWriter(f, record.ContentType)
	for _, r := range recs {
		w.WriteFrame(r)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return path
}

// Read applies observations, lets other records pass by, and counts and
// logs, with its place, an observation it refuses.
func TestRead(t *testing.T) {
	var logs bytes.Buffer
	now := time.Now()
	p := processor(t, t.TempDir(), &logs, now)
	in := stream(t, []byte(`{"type":"histogram","rows":[]}`), obs("bad.example.test", now, 3600),
		[]byte(`{"type":"observation","added":[{"name":"no ttl"}]}`))
	if err := p.Read(context.Background(), stage.Config{Inputs: []string{in}}); err != nil {
		t.Fatal(err)
	}
	if got := names(p); got != "bad.example.test. " {
		t.Errorf("zone: %q", got)
	}
	if p.Observed.Load() != 1 || p.Refused.Load() != 1 {
		t.Errorf("observed %d, refused %d", p.Observed.Load(), p.Refused.Load())
	}
	if !strings.Contains(logs.String(), "observation refused") || !strings.Contains(logs.String(), "frame=3") {
		t.Errorf("log:\n%s", logs.String())
	}
}

// serve goes on serving when its input ends: the zone file is written
// after the input's last observation, and Run ends with ctx.
func TestServeAfterInput(t *testing.T) {
	var logs bytes.Buffer
	dir := t.TempDir()
	now := time.Now()
	p := processor(t, filepath.Join(dir, "state"), &logs, now)
	zoneFile := filepath.Join(dir, "rpz.zone")
	s, err := NewServer(p, ServeOptions{Listen: "127.0.0.1:0", ZoneFile: zoneFile})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- s.Run(ctx, stage.Config{Inputs: []string{stream(t, obs("late.example.test", now, 3600))}})
	}()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if b, _ := os.ReadFile(zoneFile); bytes.Contains(b, []byte("late.example.test")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("zone file not written:\n%s", logs.String())
		}
	}
	select {
	case err := <-done:
		t.Fatalf("Run ended with its input: %v", err)
	default:
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A DNS server that cannot serve ends Run with its error, once the input
// (a FIFO, here idle) stopped, without waiting for it to give up.
func TestServeFails(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "in.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	held, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	var logs bytes.Buffer
	p := processor(t, dir, &logs, time.Now())
	s, err := NewServer(p, ServeOptions{Listen: l.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = s.Run(context.Background(), stage.Config{Inputs: []string{fifo}})
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("Run: %v", err)
	}
	if d := time.Since(start); d > stage.StopWait/2 {
		t.Errorf("Run took %v", d)
	}
}

// Bad transfer prefixes and exposed TSIG secrets are configuration
// errors.
func TestNewServerConfig(t *testing.T) {
	var logs bytes.Buffer
	dir := t.TempDir()
	p := processor(t, dir, &logs, time.Now())
	secret := filepath.Join(dir, "tsig")
	os.WriteFile(secret, []byte("c2VjcmV0\n"), 0o644)
	for _, o := range []ServeOptions{{AllowTransfer: []string{"192.0.2.0/24", "nowhere"}}, {TSIGName: "k", TSIGSecretFile: secret}} {
		if _, err := NewServer(p, o); fault.Of(err) != fault.Config {
			t.Errorf("%+v: %v", o, err)
		}
	}
}
