package hll_test

// An independent reading of the storage spec (hll-storage-spec STORAGE.md,
// schema version 1), bit by bit, sharing no code with the package: it
// decodes what MarshalBinary writes so the tests can check registers,
// hashes and the cardinality estimate against the package's.

import (
	"fmt"
	"math"
	"sort"
)

type specHLL struct {
	typ           int // 1 EMPTY, 2 EXPLICIT, 3 SPARSE, 4 FULL
	regwidth      int
	log2m         int
	sparseEnabled bool
	explicitCut   int
	explicit      []int64 // EXPLICIT contents, in stored order
	regs          []int   // SPARSE and FULL: every register
}

// bitAt is bit i of b, counting from the high bit of b[0].
func bitAt(b []byte, i int) int {
	return int(b[i/8]>>(7-i%8)) & 1
}

// readWord reads an n-bit big-endian word starting at bit i.
func readWord(b []byte, i, n int) uint64 {
	var w uint64
	for k := 0; k < n; k++ {
		w = w<<1 | uint64(bitAt(b, i+k))
	}
	return w
}

func specDecode(b []byte) (*specHLL, error) {
	if len(b) < 3 {
		return nil, fmt.Errorf("short")
	}
	if b[0]>>4 != 1 {
		return nil, fmt.Errorf("version %d", b[0]>>4)
	}
	h := &specHLL{
		typ:           int(b[0] & 0xF),
		regwidth:      int(readWord(b[1:2], 0, 3)) + 1,
		log2m:         int(readWord(b[1:2], 3, 5)),
		sparseEnabled: bitAt(b[2:3], 1) == 1,
		explicitCut:   int(readWord(b[2:3], 2, 6)),
	}
	if bitAt(b[2:3], 0) != 0 {
		return nil, fmt.Errorf("cutoff padding bit set")
	}
	data := b[3:]
	m := 1 << h.log2m
	switch h.typ {
	case 1:
		if len(data) != 0 {
			return nil, fmt.Errorf("EMPTY with data")
		}
	case 2:
		if len(data)%8 != 0 {
			return nil, fmt.Errorf("EXPLICIT length %d", len(data))
		}
		for i := 0; i < len(data)/8; i++ {
			h.explicit = append(h.explicit, int64(readWord(data, 64*i, 64)))
		}
		if !sort.SliceIsSorted(h.explicit, func(i, j int) bool { return h.explicit[i] < h.explicit[j] }) {
			return nil, fmt.Errorf("EXPLICIT not ascending")
		}
		for i := 1; i < len(h.explicit); i++ {
			if h.explicit[i] == h.explicit[i-1] {
				return nil, fmt.Errorf("EXPLICIT repeats a value")
			}
		}
	case 3:
		wl := h.log2m + h.regwidth
		n := len(data) * 8 / wl
		if (n*wl+7)/8 != len(data) {
			return nil, fmt.Errorf("SPARSE length %d", len(data))
		}
		h.regs = make([]int, m)
		last := -1
		for k := 0; k < n; k++ {
			idx := int(readWord(data, k*wl, h.log2m))
			val := int(readWord(data, k*wl+h.log2m, h.regwidth))
			if idx <= last {
				return nil, fmt.Errorf("SPARSE index %d not ascending", idx)
			}
			last = idx
			h.regs[idx] = val
		}
		for i := n * wl; i < len(data)*8; i++ {
			if bitAt(data, i) != 0 {
				return nil, fmt.Errorf("SPARSE padding not zero")
			}
		}
	case 4:
		if len(data)*8 != (m*h.regwidth+7)/8*8 {
			return nil, fmt.Errorf("FULL length %d", len(data))
		}
		h.regs = make([]int, m)
		for i := range h.regs {
			h.regs[i] = int(readWord(data, i*h.regwidth, h.regwidth))
		}
	default:
		return nil, fmt.Errorf("type %d", h.typ)
	}
	return h, nil
}

// estimate is the HyperLogLog estimate as the HLL paper and java-hll's
// documentation describe it, written out plainly.
func (h *specHLL) estimate() float64 {
	switch h.typ {
	case 1:
		return 0
	case 2:
		return float64(len(h.explicit))
	}
	m := float64(len(h.regs))
	z, v := 0.0, 0
	for _, r := range h.regs {
		z += math.Pow(2, -float64(r))
		if r == 0 {
			v++
		}
	}
	alpha := 0.7213 / (1 + 1.079/m)
	e := alpha * m * m / z
	twoL := math.Pow(2, float64(h.log2m+(1<<h.regwidth)-2))
	if e < 2.5*m && v > 0 {
		return m * math.Log(m/float64(v))
	}
	if e <= twoL/30 {
		return e
	}
	return -twoL * math.Log(1-e/twoL)
}
