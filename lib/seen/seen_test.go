package seen

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

func open(t testing.TB, o Options) *Set {
	t.Helper()
	s, warnings, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range warnings {
		t.Errorf("warning: %v", w)
	}
	return s
}

func TestSeenRestartForget(t *testing.T) {
	dir := t.TempDir()
	o := Options{Dir: dir, Capacity: 1000}
	s := open(t, o)
	a, b := []byte("a.example."), []byte("b.example.")
	if s.Seen(a, t0) {
		t.Error("a: seen at first sight")
	}
	if !s.Seen(a, t0.Add(time.Second)) {
		t.Error("a: not seen the second time")
	}
	if s.Seen(b, t0.Add(day)) { // in the next slice
		t.Error("b: seen at first sight")
	}
	if !s.Seen(a, t0.Add(2*day)) {
		t.Error("a: forgotten after two days")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"+fileSuffix))
	if len(files) != 3 { // the slices of t0, t0+1d and t0+2d
		t.Errorf("files: %v, want 3", files)
	}

	s = open(t, o)
	if !s.Seen(a, t0.Add(2*day)) || !s.Seen(b, t0.Add(2*day)) {
		t.Error("forgotten across a restart")
	}
	// a was last seen at t0+2d, b at t0+2d too (just now). Thirty days
	// on, both are still remembered; a slice later they are not.
	if !s.Seen(a, t0.Add(32*day-time.Hour)) {
		t.Error("a: forgotten before ForgetAfter")
	}
	if s.Seen(b, t0.Add(34*day)) {
		t.Error("b: remembered after ForgetAfter and a slice")
	}
	if !s.Seen(b, t0.Add(34*day)) {
		t.Error("b: not seen again after coming back")
	}
	st := s.Stats()
	if len(st.Slices) > st.MaxSlices || st.MaxSlices != 31 {
		t.Errorf("%d slices, max %d", len(st.Slices), st.MaxSlices)
	}
	must(t, s.Close())
	// The expired slices' files are gone.
	files, _ = filepath.Glob(filepath.Join(dir, "*"+fileSuffix))
	for _, f := range files {
		if strings.HasPrefix(filepath.Base(f), "202607") && filepath.Base(f) < "20260704" {
			t.Errorf("expired slice file %s left", f)
		}
	}
	s = open(t, o)
	if !s.Seen(a, t0.Add(34*day)) || !s.Seen(b, t0.Add(34*day)) {
		t.Error("forgotten across the second restart")
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestOldMessages: a message older than the latest counts in the current
// slice; the clock does not go back.
func TestOldMessages(t *testing.T) {
	s := open(t, Options{Capacity: 1000})
	s.Seen([]byte("x."), t0.Add(10*day))
	if s.Seen([]byte("y."), t0) || !s.Seen([]byte("y."), t0.Add(10*day)) {
		t.Error("old message not counted in the current slice")
	}
	if n := len(s.Stats().Slices); n != 1 {
		t.Errorf("%d slices, want 1", n)
	}
	// And before 1970, the floor division still gives one slice per day.
	s.Seen([]byte("z."), time.Unix(-1, 0))
}

func TestCorruptFiles(t *testing.T) {
	dir := t.TempDir()
	o := Options{Dir: dir, Capacity: 1000}
	s := open(t, o)
	for i := range 5 {
		s.Seen(fmt.Appendf(nil, "n%d.", i), t0.Add(time.Duration(i)*day))
	}
	must(t, s.Close())
	files, _ := filepath.Glob(filepath.Join(dir, "*"+fileSuffix))
	if len(files) != 5 {
		t.Fatalf("%d files, want 5", len(files))
	}
	damage := []func([]byte) []byte{
		func(b []byte) []byte { return b[:len(b)/2] },                      // truncated
		func(b []byte) []byte { b[100] ^= 1; return b },                    // a flipped bit
		func(b []byte) []byte { return nil },                               // empty
		func(b []byte) []byte { return []byte("not a state file at all") }, // garbage
	}
	for i, f := range damage {
		data, err := os.ReadFile(files[i])
		must(t, err)
		must(t, os.WriteFile(files[i], f(data), 0o600))
	}
	s, warnings, err := Open(o)
	must(t, err)
	if len(warnings) != 4 {
		t.Errorf("%d warnings, want 4", len(warnings))
	}
	for i, w := range warnings {
		t.Logf("%v", w)
		if !strings.Contains(w.Error(), files[i]) {
			t.Errorf("warning %q does not name %s", w, files[i])
		}
	}
	// n4 survived; n0…n3 start again.
	if !s.Seen([]byte("n4."), t0.Add(4*day)) {
		t.Error("n4 lost with the damaged files")
	}
	if s.Seen([]byte("n0."), t0.Add(4*day)) {
		t.Error("n0 seen from a damaged file")
	}
	if ignored, _ := filepath.Glob(filepath.Join(dir, "*.ignored")); len(ignored) != 4 {
		t.Errorf("%d files set aside, want 4", len(ignored))
	}
	// Reopened with other options, the files are set aside too.
	must(t, s.Close())
	_, warnings, err = Open(Options{Dir: dir, Capacity: 2000})
	must(t, err)
	if len(warnings) == 0 || !strings.Contains(warnings[0].Error(), "other options") {
		t.Errorf("other options: warnings %v", warnings)
	}
	// A damaged key: a new key, a warning, and old slices ignored.
	must(t, os.WriteFile(filepath.Join(dir, keyFile), []byte("short"), 0o600))
	_, warnings, err = Open(o)
	must(t, err)
	if len(warnings) == 0 || !strings.Contains(warnings[0].Error(), keyFile) {
		t.Errorf("damaged key: warnings %v", warnings)
	}
}

func TestOptions(t *testing.T) {
	for _, o := range []Options{
		{ForgetAfter: time.Hour, SliceDuration: day},
		{ForgetAfter: 30 * day, SliceDuration: time.Second},
		{FPRate: 0.7},
		{FPRate: -1},
		{Capacity: -1},
	} {
		if _, _, err := Open(o); err == nil {
			t.Errorf("Open(%+v): no error", o)
		}
	}
	s := open(t, Options{})
	st := s.Stats()
	t.Logf("defaults: %d slices of %d names at %.2g each (%.1f bits/name, k=%d): %.1f MB when all are in use",
		st.MaxSlices, st.Capacity, st.SliceFPRate, st.BitsPerName, st.K, float64(st.MaxSlices)*st.BitsPerName*float64(st.Capacity)/8/1e6)
}

// TestBoundedFP fills every slice of a month to capacity with random
// names (5 million in all), checks that the memory does not grow with
// the names and that random names never inserted pass at about the
// configured rate, then overfills a slice and checks that Stats says so.
func TestBoundedFP(t *testing.T) {
	if testing.Short() {
		t.Skip("5 million names")
	}
	const perSlice = 161_300 // × 31 slices ≈ 5 million
	s := open(t, Options{Capacity: perSlice, FPRate: 0.01})
	r := rand.New(rand.NewPCG(3, 4))
	name := make([]byte, 0, 64)
	random := func(tag byte) []byte {
		name = append(name[:0], tag)
		name = binary.BigEndian.AppendUint64(name, r.Uint64())
		return append(name, ".example."...)
	}
	var mem int64
	for d := range 31 {
		now := t0.Add(time.Duration(d) * day)
		for range perSlice {
			s.Seen(random('i'), now)
		}
		if d == 0 {
			mem = s.Stats().MemoryBytes
		}
	}
	st := s.Stats()
	if st.MemoryBytes != 31*mem {
		t.Errorf("memory %d, want 31 × %d", st.MemoryBytes, mem)
	}
	const probes = 200_000
	fp := 0
	for range probes {
		if s.contains(random('p')) {
			fp++
		}
	}
	rate := float64(fp) / probes
	t.Logf("31 slices × %d names: %.1f MB (%.1f bits/name), FP rate measured %.4f, estimated %.4f, design %.4f",
		perSlice, float64(st.MemoryBytes)/1e6, float64(st.MemoryBytes*8)/(31*perSlice), rate, st.FPRate, st.DesignFPRate)
	if rate < 0.005 || rate > 0.015 || st.FPRate > 0.012 {
		t.Errorf("FP rate %.4f (estimated %.4f), want about 0.01", rate, st.FPRate)
	}
	// Another 31 days: the old slices go, the memory stays.
	for d := 31; d < 62; d++ {
		s.Seen(random('j'), t0.Add(time.Duration(d)*day))
	}
	if st := s.Stats(); st.MemoryBytes != 31*mem {
		t.Errorf("memory %d after expiry, want 31 × %d", st.MemoryBytes, mem)
	}
	// Three times the capacity in one slice.
	now := t0.Add(62 * day)
	for range 3 * perSlice {
		s.Seen(random('o'), now)
	}
	st = s.Stats()
	if !st.Slices[0].Overfull || st.Slices[0].FPRate < 10*st.SliceFPRate {
		t.Errorf("overfull slice: %+v", st.Slices[0])
	}
	t.Logf("overfull slice: %+v", st.Slices[0])
}

func TestSeenAllocs(t *testing.T) {
	s := open(t, Options{Capacity: 1000})
	name := []byte("www.example.com.")
	s.Seen(name, t0)
	if n := testing.AllocsPerRun(1000, func() { s.Seen(name, t0) }); n != 0 {
		t.Errorf("%v allocations", n)
	}
}

func BenchmarkSeen(b *testing.B) {
	for _, full := range []int{1, 31} {
		b.Run(fmt.Sprintf("slices=%d", full), func(b *testing.B) {
			s, _, err := Open(Options{Capacity: DefaultCapacity})
			if err != nil {
				b.Fatal(err)
			}
			r := rand.New(rand.NewPCG(5, 6))
			// Fill the slices half way, then look up a mix: names seen
			// today, names seen on an earlier day, new names.
			names := make([][]byte, 1<<16)
			for i := range names {
				names[i] = fmt.Appendf(nil, "h%x.example%d.", r.Uint64(), i%100)
			}
			for d := range full {
				for range DefaultCapacity / 2 {
					s.Seen(fmt.Appendf(nil, "f%x.", r.Uint64()), t0.Add(time.Duration(d)*day))
				}
			}
			now := t0.Add(time.Duration(full-1) * day)
			for i, n := range names {
				if i%3 == 0 {
					s.Seen(n, now)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				s.Seen(names[i&(len(names)-1)], now)
			}
		})
	}
	b.Run("new-names-31-slices", func(b *testing.B) {
		s, _, _ := Open(Options{Capacity: DefaultCapacity})
		var name [16]byte
		for d := range 31 {
			s.Seen([]byte("x."), t0.Add(time.Duration(d)*day))
		}
		now := t0.Add(30 * day)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			binary.BigEndian.PutUint64(name[:], uint64(i))
			s.Seen(name[:], now)
		}
	})
}

func FuzzDecode(f *testing.F) {
	h := header{start: 0, dur: int64(day), nblocks: 1, k: 7, inserted: 3, keyCheck: 42}
	f.Add(encodeSlice(h, make([]uint64, 8)))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, words, err := decodeSlice(data)
		if err != nil {
			return
		}
		if again := encodeSlice(h, words); !bytes.Equal(again, data) {
			t.Errorf("decode then encode changed the file")
		}
	})
}

// TestConcurrent runs Seen from several goroutines while Flush and Stats
// run; go test -race checks it.
func TestConcurrent(t *testing.T) {
	s := open(t, Options{Dir: t.TempDir(), Capacity: 10_000})
	done := make(chan struct{})
	for g := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 5000 {
				s.Seen(fmt.Appendf(nil, "g%d-%d.", g, i%700), t0.Add(time.Duration(i)*time.Minute))
			}
		}()
	}
	for range 5 {
		must(t, s.Flush())
		s.Stats()
	}
	for range 4 {
		<-done
	}
	must(t, s.Close())
}
