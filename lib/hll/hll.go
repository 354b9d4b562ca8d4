// Package hll is a HyperLogLog distinct counter whose serialised form is the
// Aggregate Knowledge storage specification, schema version 1 (the layout of
// java-hll, postgresql-hll and github.com/segmentio/go-hll), fixed at
// log2m 10 and regwidth 4: the parameters with which the DNS TAPIR edge
// (EDM) counts IPv4 and IPv6 clients per well-known domain, so that the core
// can merge sketches from either edge.
//
// A sketch moves up the storage spec's hierarchy as values arrive: EMPTY;
// EXPLICIT, the sorted set of raw hashes, up to the explicit threshold;
// SPARSE, the non-zero registers as (index, value) pairs, up to 256 of them;
// FULL, all 1024 four-bit registers in 512 bytes. The rules, thresholds and
// the cardinality estimator (linear counting below 5m/2, the 64-bit "large
// range" correction above 2^24/30) are those of java-hll, which go-hll and
// so EDM follow, so a sketch fed the same hashes has the same bytes and the
// same count as EDM's.
//
// The caller hashes: [HashEDM] is the hash EDM uses (murmur3 x64 128, seed
// 0, first 64 bits, over the raw address bytes), [Hash] a keyed SipHash-2-4
// for sketches that need not agree with EDM's.
//
// A Sketch is not safe for concurrent use.
package hll

import (
	"errors"
	"math"
	"math/bits"
	"slices"
	"unsafe"
)

// Fixed parameters of every sketch.
const (
	Log2m        = 10                          // log2 of the number of registers
	Regwidth     = 4                           // bits per register
	NumRegisters = 1 << Log2m                  // 1024
	FullBytes    = NumRegisters * Regwidth / 8 // size of FULL register data: 512

	// SparseThreshold is the largest number of non-zero registers a SPARSE
	// sketch holds; one more promotes it to FULL. It is java-hll's rule,
	// the largest power of two not above m·regwidth/(log2m+regwidth).
	SparseThreshold = 256

	// DefaultExplicitThreshold is EDM's default
	// (histogram-hll-explicit-threshold): a sketch holds up to this many
	// distinct hashes explicitly.
	DefaultExplicitThreshold = 20

	// AutoExplicitThreshold asks for java-hll's "auto" threshold: as many
	// 8-byte hashes as fit in the FULL representation, 64.
	AutoExplicitThreshold = -1

	// MaxExplicitThreshold is the largest explicit threshold the storage
	// spec's cutoff byte can describe (java-hll: expthresh 18).
	MaxExplicitThreshold = 1 << 17

	autoExplicitThreshold = FullBytes / 8

	paramByte  = (Regwidth-1)<<5 | Log2m // 0x6A
	sparseBit  = 1 << 6                  // in the cutoff byte
	cutoffAuto = 63
	maxReg     = 1<<Regwidth - 1 // 15
	// pwMaxMask caps p(w) at maxReg: with the bits from maxReg-1 up set, a
	// substream has at most maxReg-1 trailing zeros.
	pwMaxMask = ^uint64(1<<(maxReg-1) - 1)
	// twoToL is 2^(log2m + maxReg - 1), the size of the hash space the
	// registers can tell apart, for the large range correction.
	twoToL = 1 << (Log2m + maxReg - 1)
)

// Type is a storage type of the storage spec; its value is the type ordinal
// in the low nibble of the version byte.
type Type uint8

// The storage types.
const (
	Undefined Type = iota
	Empty
	Explicit
	Sparse
	Full
)

func (t Type) String() string {
	switch t {
	case Empty:
		return "EMPTY"
	case Explicit:
		return "EXPLICIT"
	case Sparse:
		return "SPARSE"
	case Full:
		return "FULL"
	}
	return "UNDEFINED"
}

// Settings choose how a sketch climbs the hierarchy. They are written into
// the cutoff byte, so they travel with the serialised sketch.
type Settings struct {
	// ExplicitThreshold is how many distinct hashes a sketch keeps
	// explicitly before it becomes probabilistic: 0 for no EXPLICIT stage,
	// AutoExplicitThreshold, or 1 to MaxExplicitThreshold.
	ExplicitThreshold int
	// SparseEnabled lets a sketch pass through SPARSE before FULL.
	SparseEnabled bool
	// SpecCutoff writes ExplicitThreshold into the cutoff byte as the spec
	// and java-hll do, log2(threshold)+1; the threshold must then be a
	// power of two. When false, the cutoff byte is written as go-hll, and
	// so EDM, write it: floor(log2(threshold)), so that EDM's threshold 20
	// gives the cutoff byte 0x44 just as EDM's sketches carry.
	SpecCutoff bool
}

// EDMSettings are EDM's: explicit threshold 20, sparse enabled, cutoff byte
// as go-hll writes it (0x44).
var EDMSettings = Settings{ExplicitThreshold: DefaultExplicitThreshold, SparseEnabled: true}

// Errors from NewWithSettings and UnmarshalBinary.
var (
	ErrSettings = errors.New("hll: invalid settings")
	ErrVersion  = errors.New("hll: unsupported schema version")
	ErrType     = errors.New("hll: invalid storage type")
	ErrParams   = errors.New("hll: unsupported parameters (want log2m 10, regwidth 4)")
	ErrCutoff   = errors.New("hll: invalid cutoff byte")
	ErrLength   = errors.New("hll: data length does not fit the storage type")
)

// Sketch is a HyperLogLog sketch. The zero value is an empty sketch with
// EDMSettings.
type Sketch struct {
	explicit []uint64 // EXPLICIT: distinct hashes, ascending as int64
	sparse   []uint16 // SPARSE: index<<Regwidth | value, ascending, value != 0
	full     *[FullBytes]byte
	// threshold is the explicit threshold in force; 0: none.
	threshold int32
	typ       Type // Undefined stands for Empty in a zero value
	cutoff    byte // the cutoff byte, written back as it came
	set       bool // settings were given; else EDMSettings
}

// New returns an empty sketch with EDMSettings.
func New() *Sketch {
	s := &Sketch{}
	s.init()
	return s
}

// NewWithSettings returns an empty sketch with the given settings.
func NewWithSettings(st Settings) (*Sketch, error) {
	t := st.ExplicitThreshold
	var c byte
	switch {
	case t == 0:
		c = 0
	case t == AutoExplicitThreshold:
		c, t = cutoffAuto, autoExplicitThreshold
	case t < 0 || t > MaxExplicitThreshold:
		return nil, ErrSettings
	case st.SpecCutoff:
		if t&(t-1) != 0 {
			return nil, ErrSettings
		}
		c = byte(bits.Len(uint(t))) // log2(t)+1
	default:
		c = byte(bits.Len(uint(t)) - 1)
	}
	if st.SparseEnabled {
		c |= sparseBit
	}
	return &Sketch{threshold: int32(t), typ: Empty, cutoff: c, set: true}, nil
}

func (s *Sketch) init() {
	if !s.set {
		s.threshold = DefaultExplicitThreshold
		s.cutoff = sparseBit | byte(bits.Len(DefaultExplicitThreshold)-1)
		s.set = true
	}
	if s.typ == Undefined {
		s.typ = Empty
	}
}

func (s *Sketch) sparseEnabled() bool { return s.cutoff&sparseBit != 0 }

// Type is the storage type the sketch is in, and would be serialised as.
func (s *Sketch) Type() Type {
	if s.typ == Undefined {
		return Empty
	}
	return s.typ
}

// MemoryBytes is the memory the sketch holds: the struct and the storage
// behind it (capacity, not length).
func (s *Sketch) MemoryBytes() int {
	n := int(unsafe.Sizeof(*s))
	n += 8*cap(s.explicit) + 2*cap(s.sparse)
	if s.full != nil {
		n += FullBytes
	}
	return n
}

// AddHash adds a hashed value. As in go-hll (and so EDM), the value 0 is
// ignored in every storage type.
func (s *Sketch) AddHash(h uint64) {
	if h == 0 {
		return
	}
	switch s.typ {
	case Explicit:
		s.addExplicit(h)
	case Sparse, Full:
		s.addProbabilistic(h)
	default:
		s.init()
		switch {
		case s.threshold > 0:
			s.typ = Explicit
			s.addExplicit(h)
		case s.sparseEnabled():
			s.typ = Sparse
			s.addProbabilistic(h)
		default:
			s.toFull()
			s.addProbabilistic(h)
		}
	}
}

func cmpInt64(a, b uint64) int {
	switch {
	case int64(a) < int64(b):
		return -1
	case int64(a) > int64(b):
		return 1
	}
	return 0
}

func (s *Sketch) addExplicit(h uint64) {
	i, found := slices.BinarySearchFunc(s.explicit, h, cmpInt64)
	if found {
		return
	}
	if len(s.explicit) >= int(s.threshold) {
		// One more would exceed the threshold: promote, as java-hll does
		// after adding it.
		s.promoteExplicit()
		s.addProbabilistic(h)
		return
	}
	if len(s.explicit) == cap(s.explicit) {
		// Grow by doubling, but never past the threshold.
		n := max(4, 2*cap(s.explicit))
		n = min(n, int(s.threshold))
		e := make([]uint64, len(s.explicit), n)
		copy(e, s.explicit)
		s.explicit = e
	}
	s.explicit = slices.Insert(s.explicit, i, h)
}

// promoteExplicit turns an EXPLICIT sketch into a SPARSE or FULL one with
// the same hashes.
func (s *Sketch) promoteExplicit() {
	e := s.explicit
	s.explicit = nil
	if s.sparseEnabled() {
		s.typ = Sparse
	} else {
		s.toFull()
	}
	for _, h := range e {
		s.addProbabilistic(h)
	}
}

// addProbabilistic sets the register the low Log2m bits of h choose to
// p(w), one more than the number of trailing zeros of the rest w, if that
// is greater.
func (s *Sketch) addProbabilistic(h uint64) {
	w := h >> Log2m
	if w == 0 {
		return // p(0) is undefined; java-hll leaves the register alone
	}
	s.setReg(int(h&(NumRegisters-1)), uint8(1+bits.TrailingZeros64(w|pwMaxMask)))
}

// setReg sets register i to v if v is greater, promoting SPARSE to FULL
// when needed. v must be in 1..15, the sketch SPARSE or FULL.
func (s *Sketch) setReg(i int, v uint8) {
	if s.typ == Sparse {
		key := uint16(i) << Regwidth
		j, _ := slices.BinarySearch(s.sparse, key)
		if j < len(s.sparse) && s.sparse[j]>>Regwidth == uint16(i) {
			if uint8(s.sparse[j]&maxReg) < v {
				s.sparse[j] = key | uint16(v)
			}
			return
		}
		if len(s.sparse) < sparseThreshold {
			if len(s.sparse) == cap(s.sparse) {
				n := min(max(8, 2*cap(s.sparse)), sparseThreshold)
				sp := make([]uint16, len(s.sparse), n)
				copy(sp, s.sparse)
				s.sparse = sp
			}
			s.sparse = slices.Insert(s.sparse, j, key|uint16(v))
			return
		}
		s.toFull()
	}
	b := &s.full[i>>1]
	if i&1 == 0 {
		if *b>>4 < v {
			*b = *b&0x0F | v<<4
		}
	} else if *b&0x0F < v {
		*b = *b&0xF0 | v
	}
}

// toFull makes the sketch FULL, moving any SPARSE registers.
func (s *Sketch) toFull() {
	f := new([FullBytes]byte)
	for _, e := range s.sparse {
		i, v := e>>Regwidth, byte(e&maxReg)
		if i&1 == 0 {
			f[i>>1] |= v << 4
		} else {
			f[i>>1] |= v
		}
	}
	s.sparse = nil
	s.full = f
	s.typ = Full
}

// Register returns the value of register i (0 in EMPTY and EXPLICIT).
func (s *Sketch) Register(i int) uint8 {
	switch s.typ {
	case Sparse:
		j, _ := slices.BinarySearch(s.sparse, uint16(i)<<Regwidth)
		if j < len(s.sparse) && int(s.sparse[j]>>Regwidth) == i {
			return uint8(s.sparse[j] & maxReg)
		}
	case Full:
		b := s.full[i>>1]
		if i&1 == 0 {
			return b >> 4
		}
		return b & 0x0F
	}
	return 0
}

// sparseThreshold is SparseThreshold; java-hll's generated tests use
// another, so the tests may change it.
var sparseThreshold = SparseThreshold

// invPow2[v] is 2^-v.
var invPow2 = func() (t [maxReg + 1]float64) {
	for v := range t {
		t[v] = 1 / float64(uint64(1)<<v)
	}
	return
}()

// alphaMSquared is the HyperLogLog constant, computed as java-hll does.
var alphaMSquared = (0.7213 / (1.0 + 1.079/float64(NumRegisters))) * NumRegisters * NumRegisters

// Estimate is the unrounded cardinality estimate: the number of distinct
// hashes in EMPTY and EXPLICIT, else java-hll's HyperLogLog estimate.
// (Past 2^24 the registers saturate and java-hll's large range correction
// has no value; Estimate then gives the raw estimate.)
func (s *Sketch) Estimate() float64 {
	var sum float64
	var zeros int
	switch s.typ {
	case Explicit:
		return float64(len(s.explicit))
	case Sparse:
		// Sums of 2^-v for v <= 15 over 1024 registers are exact in a
		// float64, so the order of summing does not matter.
		for _, e := range s.sparse {
			sum += invPow2[e&maxReg]
		}
		zeros = NumRegisters - len(s.sparse)
		sum += float64(zeros)
	case Full:
		for _, b := range s.full {
			hi, lo := b>>4, b&0x0F
			sum += invPow2[hi] + invPow2[lo]
			if hi == 0 {
				zeros++
			}
			if lo == 0 {
				zeros++
			}
		}
	default:
		return 0
	}
	e := alphaMSquared / sum
	switch {
	case zeros != 0 && e < NumRegisters*5.0/2:
		return NumRegisters * math.Log(float64(NumRegisters)/float64(zeros))
	case e <= twoToL/30.0 || e >= twoToL:
		return e
	}
	return -twoToL * math.Log(1.0-e/twoToL)
}

// Cardinality is the estimated number of distinct hashes added, rounded up
// as java-hll and go-hll round it: exact in EMPTY and EXPLICIT.
func (s *Sketch) Cardinality() uint64 {
	if s.typ == Explicit {
		return uint64(len(s.explicit))
	}
	return uint64(math.Ceil(s.Estimate()))
}

// Union adds to s every hash o holds (registers take the maximum). s keeps
// its settings. The result is the sketch that the union of the two streams
// of hashes would have given s.
func (s *Sketch) Union(o *Sketch) {
	if o == nil || o == s {
		return
	}
	s.init()
	switch o.typ {
	case Explicit:
		for _, h := range o.explicit {
			s.AddHash(h)
		}
		return
	case Sparse, Full:
	default:
		return
	}
	var pending []uint64
	switch s.typ {
	case Explicit:
		// Take o's registers, then add s's own hashes.
		pending = s.explicit
		s.explicit = nil
		fallthrough
	case Empty:
		if o.typ == Sparse && s.sparseEnabled() {
			s.typ = Sparse
			s.sparse = slices.Clone(o.sparse)
		} else if o.typ == Sparse {
			s.toFull()
			for _, e := range o.sparse {
				s.setReg(int(e>>Regwidth), uint8(e&maxReg))
			}
		} else {
			f := *o.full
			s.full = &f
			s.typ = Full
		}
		for _, h := range pending {
			s.AddHash(h)
		}
	case Sparse, Full:
		if o.typ == Sparse {
			for _, e := range o.sparse {
				s.setReg(int(e>>Regwidth), uint8(e&maxReg))
			}
			return
		}
		if s.typ == Sparse {
			s.toFull()
		}
		for i, b := range o.full {
			t := s.full[i]
			s.full[i] = max(t&0xF0, b&0xF0) | max(t&0x0F, b&0x0F)
		}
	}
}
