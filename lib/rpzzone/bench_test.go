package rpzzone

import (
	"io"
	"runtime"
	"strconv"
	"testing"
)

// bigChanges returns n rules to add, a mix of exact and suffix rules.
func bigChanges(n int, prefix string) []Change {
	cs := make([]Change, n)
	for i := range cs {
		r := &Rule{Name: prefix + strconv.Itoa(i) + ".example.com.", Suffix: i%4 == 0, Action: Action(i % 3)}
		cs[i] = add(r)
	}
	return cs
}

// BenchmarkBuildWrite1M builds a zone of 1,000,000 rules in one Apply (in
// a state directory: serial, journal entry and snapshot written) and
// writes it as a zone file.
func BenchmarkBuildWrite1M(b *testing.B) {
	cs := bigChanges(1_000_000, "n")
	b.ReportAllocs()
	for b.Loop() {
		dir := b.TempDir()
		z, err := Open(dir, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := z.Apply(cs); err != nil {
			b.Fatal(err)
		}
		if err := z.WriteFile(dir + "/rpz.zone"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteTo1M writes a zone of 1,000,000 rules to io.Discard.
// It reports the live heap of the zone (rules and the journal entry that
// added them) as heap-MB.
func BenchmarkWriteTo1M(b *testing.B) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	z, _ := Open("", Options{})
	if _, err := z.Apply(bigChanges(1_000_000, "n")); err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	heapMB := float64(after.HeapAlloc-before.HeapAlloc) / (1 << 20)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := z.WriteTo(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(heapMB, "heap-MB") // after b.Loop, which resets metrics
}

// BenchmarkIXFR10k transfers 10,000 changes (one serial of 10,000 added
// rules on top of a zone of 100,000) over TCP with miekg/dns's client.
func BenchmarkIXFR10k(b *testing.B) {
	z, _ := Open("", Options{})
	if _, err := z.Apply(bigChanges(100_000, "base")); err != nil {
		b.Fatal(err)
	}
	from := z.Serial()
	if _, err := z.Apply(bigChanges(10_000, "new")); err != nil {
		b.Fatal(err)
	}
	addr := serve(b, &Server{Zone: z})
	b.ReportAllocs()
	for b.Loop() {
		rrs, err := xfr(addr, z.Origin(), true, from, "", "")
		if err != nil {
			b.Fatal(err)
		}
		if len(rrs) != 10_000+4 {
			b.Fatalf("%d records", len(rrs))
		}
	}
}
