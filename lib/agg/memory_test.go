package agg

import (
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"
)

// What a million well-known domains in one interval cost, each asked by
// three clients: run with TAPIR_MEMORY=1 (it takes a few seconds and a
// few hundred MB).
func TestMillionRowsMemory(t *testing.T) {
	if os.Getenv("TAPIR_MEMORY") != "1" {
		t.Skip("set TAPIR_MEMORY=1 to measure")
	}
	const n = 1000000
	wk := mapMatcher{}
	var frames [][]byte
	for i := range n {
		name := fmt.Sprintf("d%07d.example.", i)
		wk[name] = true
		for c := range 3 {
			frames = append(frames, msg{at: t0.Add(time.Duration(i) * time.Microsecond), client: []byte{10, byte(c), byte(i >> 8), byte(i)}, name: name, qtype: 1}.frame(t))
		}
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	cfg := config()
	cfg.Interval = time.Hour
	cfg.MaxDomains = 2 * n
	var out []byte
	a := New(cfg, wk, mapSeen{}, func(b []byte) error {
		out = b
		return nil
	})
	for _, f := range frames {
		a.Add(f)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	rows := a.Stats.Matched / 3
	t.Logf("%d rows in one interval: %.0f MB of heap, %.0f bytes a row", rows, float64(after.HeapAlloc-before.HeapAlloc)/1e6, float64(after.HeapAlloc-before.HeapAlloc)/float64(rows))
	if err := a.Flush(); err != nil {
		t.Fatal(err)
	}
	var end runtime.MemStats
	runtime.ReadMemStats(&end)
	t.Logf("the histogram record: %.0f MB of JSON; heap obtained from the OS at the end: %.0f MB (before: %.0f MB)", float64(len(out))/1e6, float64(end.HeapSys)/1e6, float64(before.HeapSys)/1e6)
	runtime.KeepAlive(a)
}
