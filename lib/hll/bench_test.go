package hll_test

import (
	"testing"

	"github.com/tapir-edge/tapir/lib/hll"
)

func benchAdd(b *testing.B, warm int) {
	hs := randHashes(1, 1<<16)
	s := sketchOf(b, hll.EDMSettings, hs[:warm])
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		s.AddHash(hs[i&(1<<16-1)])
	}
}

// BenchmarkAddHash: a FULL sketch, the steady state of a busy domain.
func BenchmarkAddHash(b *testing.B) { benchAdd(b, 1<<16) }

// BenchmarkAddHashSparse: a SPARSE sketch, adding its own hashes again.
func BenchmarkAddHashSparse(b *testing.B) {
	hs := randHashes(1, 150)
	s := sketchOf(b, hll.EDMSettings, hs)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		s.AddHash(hs[i%150])
	}
}

func BenchmarkHashEDM(b *testing.B) {
	addr := []byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}
	b.ReportAllocs()
	for i := range b.N {
		addr[15] = byte(i)
		_ = hll.HashEDM(addr)
	}
}

func BenchmarkHash(b *testing.B) {
	var key [16]byte
	addr := []byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}
	b.ReportAllocs()
	for i := range b.N {
		addr[15] = byte(i)
		_ = hll.Hash(&key, addr)
	}
}

func benchMarshal(b *testing.B, n int, want hll.Type) {
	s := sketchOf(b, hll.EDMSettings, randHashes(2, n))
	if s.Type() != want {
		b.Fatal(s.Type())
	}
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	b.SetBytes(int64(s.EncodedLen()))
	for range b.N {
		buf, _ = s.AppendBinary(buf[:0])
	}
}

func BenchmarkMarshalSparse(b *testing.B) { benchMarshal(b, 200, hll.Sparse) }
func BenchmarkMarshalFull(b *testing.B)   { benchMarshal(b, 100000, hll.Full) }

func BenchmarkMarshalBinaryFull(b *testing.B) {
	s := sketchOf(b, hll.EDMSettings, randHashes(2, 100000))
	b.ReportAllocs()
	for range b.N {
		_, _ = s.MarshalBinary()
	}
}

func BenchmarkUnmarshalSparse(b *testing.B) {
	enc := marshal(b, sketchOf(b, hll.EDMSettings, randHashes(2, 200)))
	var s hll.Sketch
	b.ReportAllocs()
	for range b.N {
		_ = s.UnmarshalBinary(enc)
	}
}

func BenchmarkCardinalityFull(b *testing.B) {
	s := sketchOf(b, hll.EDMSettings, randHashes(2, 100000))
	for range b.N {
		_ = s.Cardinality()
	}
}
