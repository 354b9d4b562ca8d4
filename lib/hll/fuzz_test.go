package hll_test

import (
	"bytes"
	"math"
	"testing"

	"github.com/tapir-edge/tapir/lib/hll"
)

// FuzzUnmarshal: UnmarshalBinary never panics; what it accepts re-encodes
// to bytes that decode to the same sketch, which the spec decoder reads
// with the same registers and estimate.
func FuzzUnmarshal(f *testing.F) {
	for _, n := range []int{0, 3, 21, 300, 5000} {
		s := sketchOf(f, hll.EDMSettings, randHashes(uint64(n), n))
		f.Add(marshal(f, s))
	}
	f.Add([]byte{0x13, 0x6a, 0x44, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		var s hll.Sketch
		if err := s.UnmarshalBinary(b); err != nil {
			return
		}
		enc := marshal(t, &s)
		var r hll.Sketch
		if err := r.UnmarshalBinary(enc); err != nil {
			t.Fatalf("re-encoding %x does not decode: %v", enc, err)
		}
		if enc2 := marshal(t, &r); !bytes.Equal(enc, enc2) {
			t.Fatalf("re-encoding unstable: %x, %x", enc, enc2)
		}
		if s.Cardinality() != r.Cardinality() {
			t.Fatal("cardinality changed")
		}
		d, err := specDecode(enc)
		if err != nil {
			t.Fatalf("spec decoder rejects %x: %v", enc, err)
		}
		if d.typ >= 3 {
			for i, v := range d.regs {
				if int(r.Register(i)) != v {
					t.Fatalf("register %d: %d, spec %d", i, r.Register(i), v)
				}
			}
		}
		if e := d.estimate(); !math.IsNaN(e) && e < 1<<24 && !approxEqual(e, r.Estimate()) {
			t.Fatalf("estimate %v, spec %v", r.Estimate(), e)
		}
		s.AddHash(12345)
		s.Union(&r)
	})
}

func approxEqual(a, b float64) bool {
	d := a - b
	if d < 0 {
		d = -d
	}
	return d <= 1e-9*max(1, a)
}
