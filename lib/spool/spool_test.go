package spool

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func open(t *testing.T, dir string, max int64) *Spool {
	t.Helper()
	s, warnings, err := Open(dir, max)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range warnings {
		t.Log(w)
	}
	return s
}

// Items come out oldest first, stay until acknowledged, and survive a
// reopen, which is what a restart after a crash does.
func TestOrderAndRestart(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, 0)
	for i := range 5 {
		s.Put(fmt.Appendf(nil, "item %d", i))
	}
	seq, data, err := s.Oldest()
	if err != nil || string(data) != "item 0" {
		t.Fatalf("oldest %q, %v", data, err)
	}
	if _, again, _ := s.Oldest(); !bytes.Equal(again, data) {
		t.Fatal("Oldest removed the item without Ack")
	}
	s.Ack(seq)

	s = open(t, dir, 0) // restart
	var got []string
	for {
		seq, data, err := s.Oldest()
		if errors.Is(err, ErrEmpty) {
			break
		}
		got = append(got, string(data))
		s.Ack(seq)
	}
	if strings.Join(got, ",") != "item 1,item 2,item 3,item 4" {
		t.Errorf("after restart: %v", got)
	}
	// New items after a restart sort after the old ones.
	s.Put([]byte("new"))
	if _, d, _ := s.Oldest(); string(d) != "new" {
		t.Errorf("oldest %q", d)
	}
}

// A torn write (the temporary file of a crash mid-Put) is removed and
// reported, and the whole items are kept.
func TestTornTail(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, 0)
	s.Put([]byte("whole"))
	os.WriteFile(filepath.Join(dir, tmpPre+"123"), []byte("half an ite"), 0o600)
	s, warnings, err := Open(dir, 0)
	if err != nil || len(warnings) != 1 || !strings.Contains(warnings[0].Error(), "torn") {
		t.Fatalf("warnings %v, %v", warnings, err)
	}
	if st := s.Stats(); st.Items != 1 {
		t.Errorf("%d items, want 1", st.Items)
	}
	if _, err := os.Stat(filepath.Join(dir, tmpPre+"123")); !os.IsNotExist(err) {
		t.Error("torn file left")
	}
}

// When full, the oldest items go, and are counted; the newest stays.
func TestBound(t *testing.T) {
	s := open(t, t.TempDir(), 100)
	total := 0
	for i := range 10 {
		_, d, err := s.Put(bytes.Repeat([]byte{byte('a' + i)}, 30))
		if err != nil {
			t.Fatal(err)
		}
		total += d
	}
	st := s.Stats()
	if st.Bytes > 100 || st.Items != 3 || total != 7 || st.Dropped != 7 {
		t.Errorf("stats %+v, dropped %d", st, total)
	}
	if _, d, _ := s.Oldest(); d[0] != 'h' {
		t.Errorf("oldest kept is %q, want the 8th", d[0])
	}
}

func TestReject(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, 0)
	seq, _, _ := s.Put([]byte("refused"))
	if err := s.Reject(seq, "401 Unauthorized: bad signature"); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.Items != 0 || st.Rejected != 1 {
		t.Errorf("stats %+v", st)
	}
	reason, err := os.ReadFile(filepath.Join(dir, Rejected, fmt.Sprintf("%020d.reason", seq)))
	if err != nil || !strings.Contains(string(reason), "401") {
		t.Errorf("reason %q, %v", reason, err)
	}
}

func BenchmarkPut(b *testing.B) {
	s, _, _ := Open(b.TempDir(), 0)
	data := bytes.Repeat([]byte("x"), 1024)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		seq, _, err := s.Put(data)
		if err != nil {
			b.Fatal(err)
		}
		s.Ack(seq)
	}
}
