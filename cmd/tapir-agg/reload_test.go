package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/tapir-edge/tapir/lib/dnstap"
	"github.com/tapir-edge/tapir/lib/fstrm"
	"github.com/tapir-edge/tapir/lib/testkit/tooltest"
)

// SIGHUP reloads the well-known list without stopping: messages after the
// reload are matched against the new list.
func TestReloadList(t *testing.T) {
	dir := t.TempDir()
	list, out := filepath.Join(dir, "wk.txt"), filepath.Join(dir, "out.fstrm")
	os.WriteFile(list, []byte("old.example.\n"), 0o644)
	cmd := command("--well-known", list, "--interval", "1m", "--late", "1s", "-w", out)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr tooltest.Log // read while tapir-agg writes it
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	w := fstrm.NewWriter(stdin, dnstap.ContentType)
	send := func(name string, at time.Time) {
		q := new(dns.Msg).SetQuestion(name, dns.TypeA)
		b, _ := new(dns.Msg).SetReply(q).Pack()
		var f dnstap.Frame
		f.Type, f.QueryAddress, f.ResponseMessage = dnstap.ClientResponse, []byte{192, 0, 2, 1}, b
		f.SetResponseTime(at)
		w.WriteFrame(f.AppendMarshal(nil))
		w.Flush()
	}
	t0 := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	send("old.example.", t0)
	send("new.example.", t0)
	waitFor := func(s string) {
		for deadline := time.Now().Add(10 * time.Second); !strings.Contains(stderr.String(), s); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no %q in the log:\n%s", s, stderr.String())
			}
		}
	}
	waitFor("list loaded")
	time.Sleep(200 * time.Millisecond) // the two frames are read
	os.WriteFile(list, []byte("new.example.\n"), 0o644)
	cmd.Process.Signal(syscall.SIGHUP)
	for deadline := time.Now().Add(10 * time.Second); strings.Count(stderr.String(), "list loaded") < 2; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no reload in the log:\n%s", stderr.String())
		}
	}
	send("old.example.", t0.Add(2*time.Minute))
	send("new.example.", t0.Add(2*time.Minute))
	w.Close()
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	var rows [][]string
	var news []string
	for _, r := range readRecords(t, out) {
		switch r["type"] {
		case "histogram":
			var names []string
			for _, x := range r["rows"].([]any) {
				row := x.(map[string]any)
				names = append(names, row["label1"].(string))
			}
			rows = append(rows, names)
		case "new_qname":
			news = append(news, r["qname"].(string))
		}
	}
	// Before: old is well known, new is new. After: the other way round;
	// old.example. was never remembered as seen, being well known, so it
	// is new now. (The reload also reopened -w: the records from before
	// it are still in the file, in a first stream.)
	if len(rows) != 2 || strings.Join(rows[0], ",") != "old" || strings.Join(rows[1], ",") != "new" {
		t.Errorf("histogram rows %v, want [[old] [new]]", rows)
	}
	if strings.Join(news, ",") != "new.example.,old.example." {
		t.Errorf("new names %v", news)
	}
}
