package hll_test

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math"
	"math/bits"
	"math/rand/v2"
	"testing"

	"github.com/tapir-edge/tapir/lib/hll"
)

func randHashes(seed uint64, n int) []uint64 {
	r := rand.New(rand.NewPCG(seed, 7))
	seen := make(map[uint64]struct{}, n)
	out := make([]uint64, 0, n)
	for len(out) < n {
		h := r.Uint64()
		if _, ok := seen[h]; ok || h == 0 {
			continue
		}
		seen[h] = struct{}{}
		out = append(out, h)
	}
	return out
}

func sketchOf(t testing.TB, st hll.Settings, hs []uint64) *hll.Sketch {
	t.Helper()
	s, err := hll.NewWithSettings(st)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hs {
		s.AddHash(h)
	}
	return s
}

func marshal(t testing.TB, s *hll.Sketch) []byte {
	t.Helper()
	b, err := s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// model computes the registers java-hll's algorithm gives a set of hashes,
// from its description: the low log2m bits choose the register, the rest
// w gives p(w) = 1 + trailing zeros of w, at most 2^regwidth-1; w = 0 is
// ignored.
func model(hs []uint64) []int {
	regs := make([]int, hll.NumRegisters)
	for _, h := range hs {
		w := h >> hll.Log2m
		if w == 0 {
			continue
		}
		p := min(1+bits.TrailingZeros64(w), 15)
		i := int(h % hll.NumRegisters)
		regs[i] = max(regs[i], p)
	}
	return regs
}

func TestHashEDMVectors(t *testing.T) {
	// murmur3 x64 128, seed 0, first half, for reference strings.
	for _, v := range []struct {
		s string
		h uint64
	}{
		{"", 0},
		{"hello", 0xcbd8a7b341bd9b02},
		{"hello, world", 0x342fac623a5ebc8e},
		{"19 Jan 2038 at 3:14:07 AM", 0xb89e5988b737affc},
		{"The quick brown fox jumps over the lazy dog.", 0xcd99481f9ee902c9},
	} {
		if got := hll.HashEDM([]byte(v.s)); got != v.h {
			t.Errorf("HashEDM(%q) = %#x, want %#x", v.s, got, v.h)
		}
	}
}

func TestHashSipVector(t *testing.T) {
	// The SipHash-2-4 paper's test vector: key 00..0f, message 00..0e.
	var key [16]byte
	msg := make([]byte, 15)
	for i := range key {
		key[i] = byte(i)
	}
	for i := range msg {
		msg[i] = byte(i)
	}
	if got := hll.Hash(&key, msg); got != 0xa129ca6149be45e5 {
		t.Errorf("Hash = %#x, want 0xa129ca6149be45e5", got)
	}
	// Another key, another hash.
	key[0] ^= 1
	if hll.Hash(&key, msg) == 0xa129ca6149be45e5 {
		t.Error("Hash ignores the key")
	}
}

// TestHandVectors checks bytes worked out by hand from the spec.
func TestHandVectors(t *testing.T) {
	sparseOnly := hll.Settings{SparseEnabled: true}
	for _, v := range []struct {
		name string
		st   hll.Settings
		hs   []uint64
		want string
	}{
		// EMPTY: version 1 type 1; 0x6A = 011 01010 (regwidth 4, log2m
		// 10); EDM's cutoff byte 0x44 (sparse, cutoff 4 as go-hll writes
		// threshold 20).
		{"empty EDM", hll.EDMSettings, nil, "116a44"},
		// Explicit, ascending as signed: -1 before 1.
		{"explicit", hll.EDMSettings, []uint64{1, math.MaxUint64}, "126a44" + "ffffffffffffffff" + "0000000000000001"},
		// 2097805 = 2^21 + 653: register 653, w = 2^11, p = 12; short-word
		// 653<<4|12 = 0x28dc, 14 bits then 2 padding: a3 70.
		{"sparse one", sparseOnly, []uint64{2097805}, "136a40a370"},
		// Two short-words: (1, 1) from 1<<10|1 and (1023, 15) from a w
		// with 20 trailing zeros (capped at 15): 00000000 0100 01
		// 11111111 11 1111 + 4 padding bits.
		{"sparse two", sparseOnly, []uint64{1<<10 | 1, 1<<30 | 1023}, "136a40" + "0047fff0"},
		// Spec-style cutoff for a power of two threshold: 16 -> 5.
		{"empty spec cutoff", hll.Settings{ExplicitThreshold: 16, SparseEnabled: true, SpecCutoff: true}, nil, "116a45"},
		{"empty auto, no sparse", hll.Settings{ExplicitThreshold: hll.AutoExplicitThreshold}, nil, "116a3f"},
	} {
		s := sketchOf(t, v.st, v.hs)
		if got := hex.EncodeToString(marshal(t, s)); got != v.want {
			t.Errorf("%s: %s, want %s", v.name, got, v.want)
		}
	}
	// FULL: registers 0 = 3 and 1023 = 2.
	s := sketchOf(t, hll.Settings{}, []uint64{4 << 10, 2<<10 | 1023})
	b := marshal(t, s)
	if len(b) != 515 || hex.EncodeToString(b[:4]) != "146a0030" || b[514] != 0x02 {
		t.Errorf("full: % x ... % x", b[:4], b[len(b)-2:])
	}
	for _, x := range b[4:514] {
		if x != 0 {
			t.Fatal("full: unexpected register set")
		}
	}
}

func TestZeroValue(t *testing.T) {
	var z hll.Sketch
	if z.Type() != hll.Empty || z.Cardinality() != 0 {
		t.Fatal("zero value not empty")
	}
	if got := hex.EncodeToString(marshal(t, &z)); got != "116a44" {
		t.Fatalf("zero value encodes as %s", got)
	}
	z.AddHash(5)
	if z.Type() != hll.Explicit || z.Cardinality() != 1 {
		t.Fatal("zero value does not take EDM settings")
	}
	z.AddHash(0)
	if z.Cardinality() != 1 {
		t.Fatal("0 counted")
	}
}

func TestPromotion(t *testing.T) {
	hs := randHashes(1, 2000)
	s := hll.New()
	for i, h := range hs {
		s.AddHash(h)
		s.AddHash(h) // repeats change nothing
		n := i + 1
		switch {
		case n <= hll.DefaultExplicitThreshold:
			if s.Type() != hll.Explicit || s.Cardinality() != uint64(n) {
				t.Fatalf("%d: %v card %d", n, s.Type(), s.Cardinality())
			}
		case n == hll.DefaultExplicitThreshold+1:
			if s.Type() != hll.Sparse {
				t.Fatalf("%d: %v, want SPARSE", n, s.Type())
			}
		}
		// SPARSE exactly while at most 256 registers are non-zero.
		nz := 0
		for _, r := range model(hs[:n]) {
			if r != 0 {
				nz++
			}
		}
		if n > hll.DefaultExplicitThreshold {
			want := hll.Sparse
			if nz > hll.SparseThreshold {
				want = hll.Full
			}
			if s.Type() != want {
				t.Fatalf("%d hashes, %d registers: %v, want %v", n, nz, s.Type(), want)
			}
		}
	}
	// Without the explicit stage and without sparse.
	s = sketchOf(t, hll.Settings{SparseEnabled: true}, hs[:1])
	if s.Type() != hll.Sparse {
		t.Errorf("no explicit: %v", s.Type())
	}
	s = sketchOf(t, hll.Settings{ExplicitThreshold: 4}, hs[:5])
	if s.Type() != hll.Full {
		t.Errorf("no sparse: %v", s.Type())
	}
	s = sketchOf(t, hll.Settings{ExplicitThreshold: hll.AutoExplicitThreshold, SparseEnabled: true}, hs[:64])
	if s.Type() != hll.Explicit {
		t.Errorf("auto, 64: %v", s.Type())
	}
	s.AddHash(hs[64])
	if s.Type() != hll.Sparse {
		t.Errorf("auto, 65: %v", s.Type())
	}
}

func TestSettingsErrors(t *testing.T) {
	for _, st := range []hll.Settings{
		{ExplicitThreshold: -2},
		{ExplicitThreshold: hll.MaxExplicitThreshold + 1},
		{ExplicitThreshold: 20, SpecCutoff: true},
	} {
		if _, err := hll.NewWithSettings(st); !errors.Is(err, hll.ErrSettings) {
			t.Errorf("%+v: %v", st, err)
		}
	}
}

func TestRegistersMatchModel(t *testing.T) {
	for _, n := range []int{30, 200, 5000} {
		hs := randHashes(uint64(n), n)
		// Include hashes with w = 0 and with a very long zero run.
		hs = append(hs, 17, 1<<63|5)
		s := sketchOf(t, hll.EDMSettings, hs)
		want := model(hs)
		for i := range want {
			if got := s.Register(i); int(got) != want[i] {
				t.Fatalf("n %d: register %d = %d, want %d", n, i, got, want[i])
			}
		}
	}
}

func TestAccuracy(t *testing.T) {
	sigma := 1.04 / math.Sqrt(hll.NumRegisters)
	for _, n := range []int{100, 1000, 10000, 100000, 1000000} {
		trials := 5
		if n == 1000000 {
			trials = 2
		}
		if testing.Short() && n > 10000 {
			continue
		}
		for trial := range trials {
			r := rand.New(rand.NewPCG(uint64(n), uint64(trial)))
			s := hll.New()
			for range n {
				// Random 64-bit values are distinct with overwhelming
				// probability (n^2/2^65).
				s.AddHash(r.Uint64())
			}
			got := s.Cardinality()
			rel := (float64(got) - float64(n)) / float64(n)
			t.Logf("n %7d trial %d: %7d (%+.2f%%, %.2f sigma) %v", n, trial, got, 100*rel, rel/sigma, s.Type())
			if math.Abs(rel) > 3*sigma {
				t.Errorf("n %d: estimate %d off by %.2f%%, beyond 3 sigma", n, got, 100*rel)
			}
		}
	}
}

func TestExactInExplicit(t *testing.T) {
	st := hll.Settings{ExplicitThreshold: 256, SparseEnabled: true}
	hs := randHashes(9, 256)
	s := sketchOf(t, st, hs)
	if s.Type() != hll.Explicit || s.Cardinality() != 256 {
		t.Fatalf("%v %d", s.Type(), s.Cardinality())
	}
}

// TestUnion: the union of two sketches is the sketch of the union, byte
// for byte, for every pair of storage types.
func TestUnion(t *testing.T) {
	sizes := []int{0, 1, 15, 20, 21, 100, 180, 400, 3000}
	all := randHashes(42, 8000)
	for _, st := range []hll.Settings{hll.EDMSettings, {ExplicitThreshold: 8}, {SparseEnabled: true}} {
		for _, na := range sizes {
			for _, nb := range sizes {
				// a and b overlap in a third of the smaller.
				ov := min(na, nb) / 3
				a := all[:na]
				b := all[na-ov : na-ov+nb]
				sa, sb := sketchOf(t, st, a), sketchOf(t, st, b)
				union := append(append([]uint64(nil), a...), b...)
				want := marshal(t, sketchOf(t, st, union))
				ta, tb := sa.Type(), sb.Type()
				sa.Union(sb)
				if got := marshal(t, sa); !bytes.Equal(got, want) {
					t.Fatalf("%+v %d(%v) ∪ %d(%v): got %x..., want %x...", st, na, ta, nb, tb, got[:min(8, len(got))], want[:min(8, len(want))])
				}
				sb.Union(sketchOf(t, st, a))
				if sb.Cardinality() != sa.Cardinality() {
					t.Fatalf("%d ∪ %d not commutative", na, nb)
				}
			}
		}
	}
	s := hll.New()
	s.AddHash(3)
	s.Union(s)
	s.Union(nil)
	s.Union(hll.New())
	if s.Cardinality() != 1 {
		t.Fatal("union with self, nil or empty changed the sketch")
	}
}

// TestRoundTrip: every storage type survives MarshalBinary and
// UnmarshalBinary, and the independent spec decoder agrees on contents and
// estimate.
func TestRoundTrip(t *testing.T) {
	all := randHashes(3, 200000)
	seen := map[hll.Type]bool{}
	for _, st := range []hll.Settings{hll.EDMSettings, {ExplicitThreshold: 64, SparseEnabled: true, SpecCutoff: true}, {}} {
		for _, n := range []int{0, 1, 7, 20, 21, 64, 65, 150, 257, 400, 2000, 50000, 200000} {
			hs := all[:n]
			s := sketchOf(t, st, hs)
			seen[s.Type()] = true
			b := marshal(t, s)
			if len(b) != s.EncodedLen() {
				t.Fatalf("EncodedLen %d, wrote %d", s.EncodedLen(), len(b))
			}
			if ab, _ := s.AppendBinary([]byte("x")); !bytes.Equal(ab[1:], b) {
				t.Fatal("AppendBinary differs")
			}
			var r hll.Sketch
			if err := r.UnmarshalBinary(b); err != nil {
				t.Fatalf("n %d %v: %v", n, s.Type(), err)
			}
			if r.Type() != s.Type() || r.Cardinality() != s.Cardinality() || !bytes.Equal(marshal(t, &r), b) {
				t.Fatalf("n %d %v: round trip differs", n, s.Type())
			}

			d, err := specDecode(b)
			if err != nil {
				t.Fatalf("n %d %v: spec decoder: %v", n, s.Type(), err)
			}
			if d.regwidth != 4 || d.log2m != 10 || hll.Type(d.typ) != s.Type() {
				t.Fatalf("spec decoder: %+v", d)
			}
			switch d.typ {
			case 2:
				if len(d.explicit) != n {
					t.Fatalf("spec decoder: %d explicit, want %d", len(d.explicit), n)
				}
				in := map[uint64]bool{}
				for _, h := range hs {
					in[h] = true
				}
				for _, v := range d.explicit {
					if !in[uint64(v)] {
						t.Fatalf("spec decoder: %x not added", v)
					}
				}
			case 3, 4:
				want := model(hs)
				for i, v := range d.regs {
					if v != want[i] || int(r.Register(i)) != want[i] {
						t.Fatalf("n %d: register %d: spec %d, package %d, model %d", n, i, v, r.Register(i), want[i])
					}
				}
			}
			// The estimates agree to rounding; Cardinality rounds up.
			if e := d.estimate(); math.Abs(e-r.Estimate()) > 1e-9*math.Max(1, e) || uint64(math.Ceil(e)) != r.Cardinality() {
				t.Fatalf("n %d %v: spec estimate %v, package %v (%d)", n, s.Type(), e, r.Estimate(), r.Cardinality())
			}
			// Adding to the decoded sketch goes on as in the original.
			r.AddHash(all[len(all)-1])
			s.AddHash(all[len(all)-1])
			if !bytes.Equal(marshal(t, &r), marshal(t, s)) {
				t.Fatalf("n %d: decoded sketch grows differently", n)
			}
		}
	}
	for _, ty := range []hll.Type{hll.Empty, hll.Explicit, hll.Sparse, hll.Full} {
		if !seen[ty] {
			t.Errorf("%v not exercised", ty)
		}
	}
}

func TestUnmarshalLenient(t *testing.T) {
	// Explicit out of order and repeated: sorted, deduplicated.
	b := []byte{0x12, 0x6a, 0x44}
	for _, v := range []uint64{5, 1, 5, math.MaxUint64} {
		b = binary.BigEndian.AppendUint64(b, v)
	}
	var s hll.Sketch
	if err := s.UnmarshalBinary(b); err != nil || s.Cardinality() != 3 {
		t.Fatal(err, s.Cardinality())
	}
	want := "126a44" + "ffffffffffffffff" + "0000000000000001" + "0000000000000005"
	if got := hex.EncodeToString(marshal(t, &s)); got != want {
		t.Fatalf("got %s", got)
	}
	// Sparse out of order, repeated, with a zero value: registers (1,1)
	// (0,2) (1,3) (5,0) -> (0,2) (1,3).
	words := []uint16{1<<4 | 1, 0<<4 | 2, 1<<4 | 3, 5 << 4}
	sp := packWords(words, 14)
	if err := s.UnmarshalBinary(append([]byte{0x13, 0x6a, 0x44}, sp...)); err != nil {
		t.Fatal(err)
	}
	if s.Register(0) != 2 || s.Register(1) != 3 || s.Register(5) != 0 {
		t.Fatal("sparse registers wrong")
	}
	if got, want := marshal(t, &s), append([]byte{0x13, 0x6a, 0x44}, packWords([]uint16{2, 1<<4 | 3}, 14)...); !bytes.Equal(got, want) {
		t.Fatalf("got %x want %x", got, want)
	}
	// Sparse with more than 256 registers comes back FULL.
	words = words[:0]
	for i := range 300 {
		words = append(words, uint16(i)<<4|1)
	}
	if err := s.UnmarshalBinary(append([]byte{0x13, 0x6a, 0x44}, packWords(words, 14)...)); err != nil || s.Type() != hll.Full {
		t.Fatal(err, s.Type())
	}
}

// packWords packs n-bit words big-endian from the top bit, independently of
// the package.
func packWords(ws []uint16, n int) []byte {
	out := make([]byte, (len(ws)*n+7)/8)
	bit := 0
	for _, w := range ws {
		for k := n - 1; k >= 0; k-- {
			if w>>k&1 == 1 {
				out[bit/8] |= 0x80 >> (bit % 8)
			}
			bit++
		}
	}
	return out
}

func TestUnmarshalErrors(t *testing.T) {
	full := make([]byte, 512)
	for _, v := range []struct {
		b   string
		err error
	}{
		{"", hll.ErrLength},
		{"116a", hll.ErrLength},
		{"216a44", hll.ErrVersion},
		{"016a44", hll.ErrVersion},
		{"106a44", hll.ErrType},
		{"156a44", hll.ErrType},
		{"118a44", hll.ErrParams},   // regwidth 5
		{"116b44", hll.ErrParams},   // log2m 11
		{"116ac4", hll.ErrCutoff},   // padding bit
		{"116a53", hll.ErrCutoff},   // explicit cutoff 19
		{"116a4000", hll.ErrLength}, // EMPTY with data
		{"126a4400", hll.ErrLength},
		{"136a4400", hll.ErrLength},
		{"136a44000000", hll.ErrLength},
		{"146a44" + hex.EncodeToString(full[:511]), hll.ErrLength},
		{"146a44" + hex.EncodeToString(full) + "00", hll.ErrLength},
	} {
		b, _ := hex.DecodeString(v.b)
		s := hll.New()
		s.AddHash(1)
		err := s.UnmarshalBinary(b)
		if !errors.Is(err, v.err) {
			t.Errorf("%s: %v, want %v", v.b, err, v.err)
		}
		if s.Cardinality() != 1 {
			t.Errorf("%s: failed UnmarshalBinary changed the sketch", v.b)
		}
	}
	// The other cutoffs are fine: 0, 1..18, 63, with or without sparse.
	for _, c := range []byte{0x00, 0x01, 0x12, 0x3f, 0x40, 0x7f} {
		var s hll.Sketch
		if err := s.UnmarshalBinary([]byte{0x11, 0x6a, c}); err != nil {
			t.Errorf("cutoff %#x: %v", c, err)
		}
	}
}

func TestAddHashAllocs(t *testing.T) {
	hs := randHashes(11, 100000)
	s := sketchOf(t, hll.EDMSettings, hs)
	if s.Type() != hll.Full {
		t.Fatal(s.Type())
	}
	i := 0
	if a := testing.AllocsPerRun(1000, func() { s.AddHash(hs[i%len(hs)] * 3); i++ }); a != 0 {
		t.Errorf("FULL AddHash: %v allocs", a)
	}
	s = sketchOf(t, hll.EDMSettings, hs[:150])
	if s.Type() != hll.Sparse {
		t.Fatal(s.Type())
	}
	if a := testing.AllocsPerRun(1000, func() { s.AddHash(hs[i%150]); i++ }); a != 0 {
		t.Errorf("SPARSE AddHash of known registers: %v allocs", a)
	}
	var key [16]byte
	addr := []byte{192, 0, 2, 1}
	if a := testing.AllocsPerRun(1000, func() { s.AddHash(hll.Hash(&key, addr) ^ hll.HashEDM(addr)) }); a != 0 {
		t.Errorf("hashes: %v allocs", a)
	}
}

// TestMemory logs what a sketch holds in each state.
func TestMemory(t *testing.T) {
	hs := randHashes(13, 100000)
	for _, n := range []int{0, 1, 5, 20, 21, 100, 256, 1000, 100000} {
		s := sketchOf(t, hll.EDMSettings, hs[:n])
		t.Logf("%6d hashes: %-8v %4d bytes in memory, %4d serialised", n, s.Type(), s.MemoryBytes(), s.EncodedLen())
		if s.MemoryBytes() > 64+hll.FullBytes+16 {
			t.Errorf("%d hashes: %d bytes", n, s.MemoryBytes())
		}
	}
}
