package pseudo

import "fmt"

// Default prefix lengths that truncation keeps: an IPv4 /24 and an IPv6
// /48, the customary network of one site.
const (
	DefaultV4Bits = 24
	DefaultV6Bits = 48
)

// Truncate keeps the first bits of an address and zeroes the rest. It
// needs no key and cannot be reversed: every address of a kept prefix gets
// the same output, which is that prefix in clear. What it shows is the
// network, not the client; what it hides depends on how many clients share
// the prefix, one or thousands.
type Truncate struct {
	v4, v6 [16]byte // masks, IPv4's in the first 4 bytes
	bits4  int
	bits6  int
}

// NewTruncate returns the truncation that keeps v4Bits (0 to 32) of an
// IPv4 address and v6Bits (0 to 128) of an IPv6 address. An IPv4-mapped
// address is truncated as the IPv4 address it holds.
func NewTruncate(v4Bits, v6Bits int) (*Truncate, error) {
	if v4Bits < 0 || v4Bits > 32 {
		return nil, fmt.Errorf("pseudo: truncate: IPv4 prefix length %d, want 0 to 32", v4Bits)
	}
	if v6Bits < 0 || v6Bits > 128 {
		return nil, fmt.Errorf("pseudo: truncate: IPv6 prefix length %d, want 0 to 128", v6Bits)
	}
	t := &Truncate{bits4: v4Bits, bits6: v6Bits}
	leading(v4Bits).store(t.v4[:])
	leading(v6Bits).store(t.v6[:])
	return t, nil
}

// Name implements [Method].
func (t *Truncate) Name() string { return NameTruncate }

// Bits returns the prefix lengths kept.
func (t *Truncate) Bits() (v4Bits, v6Bits int) { return t.bits4, t.bits6 }

// Map implements [Method].
func (t *Truncate) Map(dst, addr []byte) ([]byte, error) {
	var mask []byte
	switch {
	case len(addr) == 4:
		mask = t.v4[:4]
	case len(addr) == 16 && isMapped(addr):
		dst = append(dst, v4Mapped[:]...)
		addr, mask = addr[12:], t.v4[:4]
	case len(addr) == 16:
		mask = t.v6[:]
	default:
		return dst, AddressLengthError(len(addr))
	}
	dst, out := grow(dst, len(addr))
	for i := range out {
		out[i] = addr[i] & mask[i]
	}
	return dst, nil
}
