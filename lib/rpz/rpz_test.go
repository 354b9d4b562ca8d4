package rpz

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tapir-edge/tapir/lib/policy"
	"github.com/tapir-edge/tapir/lib/rpzzone"
)

func processor(t *testing.T, state string, logs *bytes.Buffer, now time.Time) *Processor {
	t.Helper()
	zone, err := rpzzone.Open(state, rpzzone.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := &Processor{Engine: policy.New(nil), Zone: zone, Log: slog.New(slog.NewTextHandler(logs, nil)),
		Journal: JournalPath(state), Compact: true}
	if err := p.Start(now); err != nil {
		t.Fatal(err)
	}
	return p
}

func obs(name string, added time.Time, ttl int) []byte {
	return fmt.Appendf(nil, `{"type":"observation","src_name":"dns-tapir","msg_type":"observation","list_type":"denylist","added":[{"name":%q,"time_added":%q,"ttl":%d,"tag_mask":16}],"removed":[]}`,
		name, added.Format(time.RFC3339), ttl)
}

func names(p *Processor) string {
	var b strings.Builder
	for _, r := range p.Zone.Rules() {
		fmt.Fprintf(&b, "%s ", r.Name)
	}
	return b.String()
}

// The core renews the same names again and again: the journal is
// compacted while serving and at start, and a restart serves the same
// zone, whose names still expire when they should.
func TestJournalCompacted(t *testing.T) {
	state := t.TempDir()
	var logs bytes.Buffer
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	p := processor(t, state, &logs, now)
	for i := range 8000 {
		now = now.Add(time.Second)
		// Ten names renewed for an hour, one name that lives 30 s.
		if err := p.Observe(obs(fmt.Sprintf("n%d.example.test", i%10), now, 3600), now); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Observe(obs("short.example.test", now, 30), now); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "observation journal compacted") {
		t.Fatalf("never compacted:\n%s", logs.String())
	}
	fi, err := os.Stat(p.Journal)
	if err != nil {
		t.Fatal(err)
	}
	// 8,001 lines of ~220 bytes were appended; far less is kept.
	if fi.Size() > 2<<20+4096 {
		t.Errorf("journal %d bytes", fi.Size())
	}
	want := names(p)
	if !strings.Contains(want, "short.example.test.") || !strings.Contains(want, "n9.example.test.") {
		t.Fatalf("zone: %s", want)
	}

	// A restart: replayed, compacted to one line of eleven names.
	logs.Reset()
	q := processor(t, state, &logs, now)
	if got := names(q); got != want {
		t.Errorf("after restart: %s, want %s", got, want)
	}
	b, _ := os.ReadFile(filepath.Join(state, "observations.jsonl"))
	if n := bytes.Count(b, []byte("\n")); n != 1 || bytes.Count(b, []byte(`"name"`)) != 11 {
		t.Errorf("compacted journal, %d lines:\n%s", n, b)
	}
	if err := q.Expire(now.Add(31 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := names(q); strings.Contains(got, "short.") || !strings.Contains(got, "n0.example.test.") {
		t.Errorf("31 s later: %s", got)
	}
	if err := q.Expire(now.Add(3601 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := names(q); got != "" {
		t.Errorf("an hour later: %s", got)
	}
	// And the journal is private.
	if fi, _ := os.Stat(q.Journal); fi.Mode().Perm() != 0o600 {
		t.Errorf("journal mode %v", fi.Mode())
	}
}
