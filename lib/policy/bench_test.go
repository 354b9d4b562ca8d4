package policy

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/tapir-edge/tapir/lib/blocklist"
)

func bigList(n int) []blocklist.Entry {
	es := make([]blocklist.Entry, n)
	for i := range es {
		es[i] = blocklist.Entry{Name: fmt.Sprintf("host%d.d%d.example.", i, i%1000), Line: i + 1}
	}
	return es
}

func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkDecisions1M builds the decisions for 1,000,000 denylist names:
// the engine's load of the list, then the sorted decision set that the
// zone is written from. It reports the heap the engine keeps (engine-MB)
// and its bytes per name.
func BenchmarkDecisions1M(b *testing.B) {
	const n = 1_000_000
	es := bigList(n)
	p := DefaultPolicy()
	b.ResetTimer()
	for range b.N {
		before := heapInUse()
		e := New(p)
		ch := e.SetList(Deny, "deny.txt", es)
		d := e.Decisions()
		if len(ch) != n || len(d) != n {
			b.Fatalf("%d changes, %d decisions", len(ch), len(d))
		}
		ch, d = nil, nil
		b.StopTimer()
		used := heapInUse() - before
		b.ReportMetric(float64(used)/(1<<20), "engine-MB")
		b.ReportMetric(float64(used)/n, "B/name")
		runtime.KeepAlive(e)
		b.StartTimer()
	}
}

// BenchmarkApply10k applies 10,000 observed names, in batches of 100, to
// an engine that holds 1,000,000 denylist names.
func BenchmarkApply10k(b *testing.B) {
	e := New(nil)
	e.SetList(Deny, "deny.txt", bigList(1_000_000))
	now := time.Now()
	b.ResetTimer()
	for i := range b.N {
		for j := range 100 {
			o := Observation{SrcName: "core", ListType: Deny}
			for k := range 100 {
				o.Added = append(o.Added, Added{Name: fmt.Sprintf("obs%d-%d-%d.example.", i, j, k), TimeAdded: now, TTL: 3600})
			}
			if ch := e.Apply(o, now); len(ch) != 100 {
				b.Fatalf("%d changes", len(ch))
			}
		}
	}
}
