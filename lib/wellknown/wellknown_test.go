package wellknown

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/tapir-edge/tapir/lib/dnswire"
)

// realList is the 99,999-name list that EDM ships, shared by the project.
const realList = "../../../shared/data/well-known-domains.txt"

func requireReal(tb testing.TB) {
	tb.Helper()
	if _, err := os.Stat(realList); err != nil {
		if os.Getenv("TAPIR_REQUIRE_REAL") == "1" {
			tb.Fatalf("real list: %v", err)
		}
		tb.Skipf("real list: %v", err)
	}
}

func parse(t *testing.T, text string) *List {
	t.Helper()
	l, bad, err := Parse("test.txt", strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range bad {
		t.Errorf("bad line: %v", e)
	}
	return l
}

func TestMatchRules(t *testing.T) {
	l := parse(t, `# a comment
example.com.
.example.net.      # every strict subdomain
www.example.net.
.a.example.net.
Upper.Example.ORG
both.test.
.both.test.

x\.y.test.
`)
	if l.Len() != 8 {
		t.Errorf("Len = %d, want 8", l.Len())
	}
	for _, tc := range []struct {
		q, domain     string
		exact, suffix bool
	}{
		{q: "example.com.", domain: "example.com.", exact: true},
		{q: "www.example.com."},
		{q: "com."},
		{q: "example.net."}, // a suffix entry excludes the name itself
		{q: "foo.example.net.", domain: "example.net.", suffix: true},
		{q: "a.b.c.example.net.", domain: "example.net.", suffix: true},
		{q: "www.example.net.", domain: "www.example.net.", exact: true},     // exact beats suffix
		{q: "x.www.example.net.", domain: "example.net.", suffix: true},      // www is exact only
		{q: "a.example.net.", domain: "example.net.", suffix: true},          // .a.example.net. needs a strict subdomain
		{q: "b.a.example.net.", domain: "a.example.net.", suffix: true},      // the longer suffix wins
		{q: "c.b.a.example.net.", domain: "a.example.net.", suffix: true},    //
		{q: "upper.example.org.", domain: "upper.example.org.", exact: true}, // the list is lowercased
		{q: "UPPER.example.org.", domain: "upper.example.org.", exact: true}, // and so is a stray query
		{q: "upper.example.org", domain: "upper.example.org.", exact: true},  // missing dot
		{q: "both.test.", domain: "both.test.", exact: true},
		{q: "x.both.test.", domain: "both.test.", suffix: true},
		{q: `x\.y.test.`, domain: `x\.y.test.`, exact: true},
		{q: "y.test."},
		{q: `a\.example.net.`}, // "\." is not a boundary: one label "a.example" under net.
		{q: `foo.a\.example.net.`},
		{q: `foo.a\\.example.net.`, domain: "example.net.", suffix: true}, // but "\\." is
		{q: "."},
		{q: ""},
	} {
		m := l.Match([]byte(tc.q))
		want := Match{Domain: tc.domain, Exact: tc.exact, Suffix: tc.suffix, OK: tc.exact || tc.suffix, Index: m.Index}
		if m != want {
			t.Errorf("Match(%q) = %+v, want %+v", tc.q, m, want)
			continue
		}
		if m.OK {
			entry := l.Entry(m.Index)
			if strings.TrimPrefix(entry, ".") != m.Domain || (entry[0] == '.') != m.Suffix {
				t.Errorf("Match(%q): Entry(%d) = %q for %+v", tc.q, m.Index, entry, m)
			}
		}
		bits := map[bool]uint64{true: StatusExact, false: StatusSuffix}[tc.exact]
		if !m.OK {
			bits = 0
		}
		if m.StatusBits() != bits {
			t.Errorf("Match(%q).StatusBits() = %d, want %d", tc.q, m.StatusBits(), bits)
		}
	}
	var nilList *List
	if m := nilList.Match([]byte("example.com.")); m.OK || nilList.Len() != 0 {
		t.Errorf("nil list matched: %+v", m)
	}
}

// TestEntriesMatchDnswire checks that entries written in any valid
// presentation form compare equal to the name as dnswire.Question writes
// it from the wire.
func TestEntriesMatchDnswire(t *testing.T) {
	for _, tc := range []struct {
		entry string
		wire  []string // labels
	}{
		{`A\066C.test.`, []string{"abc", "test"}},
		{`\097.test`, []string{"a", "test"}},
		{`semi\;colon.test.`, []string{"semi;colon", "test"}},
		{`quote'.test.`, []string{"quote'", "test"}},
		{`sp\032ace.test.`, []string{"sp ace", "test"}},
		{`nul\000.test.`, []string{"nul\x00", "test"}},
		{`hi\200.test.`, []string{"hi\xc8", "test"}},
		{`_dmarc.example.com.`, []string{"_dmarc", "example", "com"}},
		{`*.wild.test.`, []string{"*", "wild", "test"}},
		{`dot\.in.test.`, []string{"dot.in", "test"}},
		{`back\\slash.test.`, []string{`back\slash`, "test"}},
	} {
		l := parse(t, tc.entry)
		msg := []byte{0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0}
		for _, lab := range tc.wire {
			msg = append(msg, byte(len(lab)))
			msg = append(msg, lab...)
		}
		msg = append(msg, 0, 0, 1, 0, 1)
		q, _, _, err := dnswire.Question(msg, make([]byte, 0, dnswire.MaxNameLen))
		if err != nil {
			t.Fatalf("%q: %v", tc.entry, err)
		}
		if m := l.Match(q); !m.Exact {
			t.Errorf("entry %q (stored %q) does not match query %q", tc.entry, l.Entry(0), q)
		}
	}
}

func TestBadLines(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.txt")
	b := filepath.Join(dir, "b.txt")
	long63 := strings.Repeat("a", 63)
	long64 := strings.Repeat("a", 64)
	name256 := strings.Repeat(long63+".", 4) // 4*64+1 = 257 octets
	must(t, os.WriteFile(a, []byte("good.test.\n"+
		"bad..test.\n"+ // 2
		long63+".test.\n"+
		long64+".test.\n"+ // 4
		name256+"\n"+ // 5
		"space in.test.\n"+ // 6
		"r\xc3\xa4ksmörgås.se.\n"+ // 7
		"semi;colon.test.\n"+ // 8
		`bad\99.test.`+"\n"+ // 9
		`bad\256.test.`+"\n"+ // 10
		"..\n"+ // 11
		"..x.test.\n"+ // 12
		strings.Repeat("x", 5000)+"\n"+ // 13
		"trailing\\\n"+ // 14
		"last.test."), 0o644)) // no final newline
	must(t, os.WriteFile(b, []byte("\xef\xbb\xbfother.test. # comment\r\n\r\n   \n\tbad(.test.\n.sub.test.\n"), 0o644))
	l, bad, err := Load(a, b)
	if err != nil {
		t.Fatal(err)
	}
	wantLines := []string{a + ":2:", a + ":4:", a + ":5:", a + ":6:", a + ":7:", a + ":8:", a + ":9:", a + ":10:", a + ":11:", a + ":12:", a + ":13:", a + ":14:", b + ":4:"}
	if len(bad) != len(wantLines) {
		t.Errorf("%d bad lines, want %d:", len(bad), len(wantLines))
	}
	for i, e := range bad {
		t.Logf("%v", e)
		var le *LineError
		if !errors.As(e, &le) {
			t.Errorf("%v is not a *LineError", e)
		}
		if i < len(wantLines) && !strings.HasPrefix(e.Error(), wantLines[i]) {
			t.Errorf("bad[%d] = %v, want prefix %s", i, e, wantLines[i])
		}
	}
	for _, q := range []string{"good.test.", long63 + ".test.", "last.test.", "other.test.", "x.sub.test."} {
		if !l.Match([]byte(q)).OK {
			t.Errorf("%q not matched: good lines lost", q)
		}
	}
	if l.Len() != 5 {
		t.Errorf("Len = %d, want 5", l.Len())
	}
	if _, _, err := Load(filepath.Join(dir, "missing.txt")); err == nil || !strings.Contains(err.Error(), "missing.txt") {
		t.Errorf("missing file: err = %v", err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestLabels(t *testing.T) {
	for _, tc := range []struct {
		name string
		want [10]string
	}{
		{".", [10]string{}},
		{"", [10]string{}},
		{"com.", [10]string{"com"}},
		{"www.example.com.", [10]string{"com", "example", "www"}},
		{".example.net.", [10]string{"net", "example"}},
		{`a\.b.example.com.`, [10]string{"com", "example", `a\.b`}},
		{"l9.l8.l7.l6.l5.l4.l3.l2.l1.l0.", [10]string{"l0", "l1", "l2", "l3", "l4", "l5", "l6", "l7", "l8", "l9"}},
		// As EDM's TestSetHistogramLabelsOverLimit: label9 holds the
		// overflow in reversed order.
		{"l12.l11.l10.l9.l8.l7.l6.l5.l4.l3.l2.l1.l0.", [10]string{"l0", "l1", "l2", "l3", "l4", "l5", "l6", "l7", "l8", "l9.l10.l11.l12"}},
		{"l10.l9.l8.l7.l6.l5.l4.l3.l2.l1.l0", [10]string{"l0", "l1", "l2", "l3", "l4", "l5", "l6", "l7", "l8", "l9.l10"}},
	} {
		if got := Labels(tc.name); got != tc.want {
			t.Errorf("Labels(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func loadReal(tb testing.TB) *List {
	tb.Helper()
	requireReal(tb)
	l, bad, err := Load(realList)
	if err != nil {
		tb.Fatal(err)
	}
	if len(bad) > 0 {
		tb.Fatalf("%d bad lines in the real list, first %v", len(bad), bad[0])
	}
	return l
}

func TestRealList(t *testing.T) {
	l := loadReal(t)
	if l.Len() != 99999 {
		t.Errorf("Len = %d, want 99999", l.Len())
	}
	for _, q := range []string{"0.gravatar.com.", "1.bp.blogspot.com.", "01net.it.", "007.com."} {
		if m := l.Match([]byte(q)); !m.Exact || m.Domain != q {
			t.Errorf("Match(%q) = %+v, want exact", q, m)
		}
	}
	for _, q := range []string{"gravatar.invalid.", "www.0.gravatar.com.", "tapir-not-a-member.example.", "com."} {
		if m := l.Match([]byte(q)); m.OK {
			t.Errorf("Match(%q) = %+v, want none", q, m)
		}
	}
	// Every line of the file matches itself.
	f, err := os.Open(realList)
	must(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		if m := l.Match(sc.Bytes()); !m.Exact || m.Domain != sc.Text() {
			t.Fatalf("line %d %q: %+v", n+1, sc.Text(), m)
		}
		n++
	}
	must(t, sc.Err())
}

// queries returns a realistic mix of query names: names of the list,
// random subdomains of them, and random names that are not members.
func queries(tb testing.TB, l *List, n int) [][]byte {
	r := rand.New(rand.NewPCG(1, 2))
	qs := make([][]byte, n)
	for i := range qs {
		e := strings.TrimPrefix(l.Entry(r.IntN(l.Len())), ".")
		switch i % 4 {
		case 0, 1: // a member
			qs[i] = []byte(e)
		case 2: // a subdomain
			qs[i] = fmt.Appendf(nil, "r%x.cdn.%s", r.Uint32(), e)
		default: // not a member
			qs[i] = fmt.Appendf(nil, "x%x.example%d.test.", r.Uint64(), r.IntN(1000))
		}
	}
	return qs
}

func BenchmarkMatch(b *testing.B) {
	l := loadReal(b)
	benchMatch(b, l)
}

// BenchmarkMatchSuffix runs the same mix with a suffix entry added for
// every tenth name, so that misses walk the parents.
func BenchmarkMatchSuffix(b *testing.B) {
	requireReal(b)
	data, err := os.ReadFile(realList)
	if err != nil {
		b.Fatal(err)
	}
	var sb strings.Builder
	sb.Write(data)
	for i, name := range strings.Split(string(data), "\n") {
		if i%10 == 0 && name != "" {
			sb.WriteString("." + name + "\n")
		}
	}
	l, _, err := Parse("x", strings.NewReader(sb.String()))
	if err != nil {
		b.Fatal(err)
	}
	benchMatch(b, l)
}

func benchMatch(b *testing.B, l *List) {
	qs := queries(b, l, 1<<16)
	b.ReportAllocs()
	b.ResetTimer()
	hits := 0
	for i := 0; b.Loop(); i++ {
		if l.Match(qs[i&(len(qs)-1)]).OK {
			hits++
		}
	}
	b.ReportMetric(float64(hits)/float64(b.N), "hits/op")
}

// TestMemory reports the heap that a loaded real list holds.
func TestMemory(t *testing.T) {
	requireReal(t)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	l := loadReal(t)
	runtime.GC()
	runtime.ReadMemStats(&after)
	t.Logf("%d names: %.1f MB heap (%.0f bytes/name)", l.Len(), float64(after.HeapAlloc-before.HeapAlloc)/1e6, float64(after.HeapAlloc-before.HeapAlloc)/float64(l.Len()))
	runtime.KeepAlive(l)
}

func TestMatchAllocs(t *testing.T) {
	l := parse(t, "example.com.\n.example.net.\n")
	for _, q := range []string{"example.com.", "a.b.example.net.", "nothing.test.", "UPPER.example.net"} {
		qb := []byte(q)
		if n := testing.AllocsPerRun(100, func() { l.Match(qb) }); n != 0 {
			t.Errorf("Match(%q): %v allocations", q, n)
		}
	}
}

// BenchmarkLoad reads the real list: the allocations of the loader, which
// canonicalises every line.
func BenchmarkLoad(b *testing.B) {
	requireReal(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, bad, err := Load(realList); err != nil || len(bad) > 0 {
			b.Fatal(err, bad)
		}
	}
}
