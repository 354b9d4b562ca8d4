// Package pseudo pseudonymises IP addresses so that no raw client address
// needs to leave the operator: tapir-anon runs every address of a dnstap
// stream through a [Method].
//
// The methods, by name:
//
//   - "cryptopan": Crypto-PAn (Xu, Fan, Ammar, Moon 2002), prefix-preserving,
//     compatible with DNS TAPIR's EDM so an operator keeps its pseudonyms.
//   - "ipcrypt-pfx": prefix-preserving encryption of draft-denis-ipcrypt, a
//     stronger successor of Crypto-PAn (a PRF made of two AES keys).
//   - "ipcrypt-deterministic": one AES-128 block; scrambles all structure.
//   - "ipcrypt-nd" and "ipcrypt-ndx": non-deterministic encryption of
//     draft-denis-ipcrypt; the same address gives a new output every time.
//   - "truncate": keeps a prefix and zeroes the rest; no key, not reversible.
//
// Addresses are raw network-order bytes, as in dnstap's query_address and
// response_address: 4 bytes for IPv4, 16 for IPv6. A 16-byte IPv4-mapped
// address (::ffff:a.b.c.d, as a dual-stack resolver reports IPv4 clients) is
// pseudonymised as the IPv4 address a.b.c.d, so one client gets one
// pseudonym whichever socket family the resolver used; the result keeps the
// input's length, so a mapped input gives a mapped output (except where a
// method's output is not an address of the input's length, see each method).
//
// What an attacker who holds pseudonyms but not the key learns depends on
// the method and is said on each. Deterministic methods (all but ipcrypt-nd
// and ipcrypt-ndx) map an address to the same pseudonym for as long as the
// key is kept, so records of one client can be linked to each other; rotate
// keys with [PeriodKey] to bound that linkage in time. Prefix-preserving
// methods show, by design, which clients share a network and how long that
// shared prefix is.
package pseudo

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
)

// A Method maps an IP address to its pseudonym.
//
// Map appends the pseudonym of addr to dst and returns the extended slice,
// as the append-style functions of the standard library do: it allocates
// nothing when dst has room, so the hot path reuses one buffer,
// buf, err = m.Map(buf[:0], addr). addr is 4 (IPv4) or 16 (IPv6) raw bytes
// and is not modified; dst and addr must not overlap. The pseudonym has the
// length of addr, except for ipcrypt-deterministic (always 16 bytes: an
// IPv4 address becomes an IPv6 one), ipcrypt-nd (24 bytes) and ipcrypt-ndx
// (32 bytes). Map fails only for an address of another length, with an
// [AddressLengthError].
//
// Name returns the method's name as [New] takes it.
//
// Every Method of this package is safe for concurrent use.
type Method interface {
	Map(dst, addr []byte) ([]byte, error)
	Name() string
}

// A Decrypter is a Method whose pseudonyms the holder of the key can turn
// back into addresses. Decrypt appends to dst the address whose pseudonym is
// p. Anybody with the key can therefore undo the pseudonymisation: keep the
// key where the raw addresses are kept, never with the pseudonyms.
type Decrypter interface {
	Method
	Decrypt(dst, p []byte) ([]byte, error)
}

// Method names, as [Method.Name] returns them and [New] takes them.
const (
	NameCryptoPAn     = "cryptopan"
	NameDeterministic = "ipcrypt-deterministic"
	NamePFX           = "ipcrypt-pfx"
	NameND            = "ipcrypt-nd"
	NameNDX           = "ipcrypt-ndx"
	NameTruncate      = "truncate"
)

// Names returns the names of all methods, in the order of the package
// documentation.
func Names() []string {
	return []string{NameCryptoPAn, NamePFX, NameDeterministic, NameND, NameNDX, NameTruncate}
}

// KeySize returns the key length in bytes that the named method requires,
// 0 for truncate, which takes no key.
func KeySize(name string) (int, error) {
	switch name {
	case NameCryptoPAn, NamePFX, NameNDX:
		return 32, nil
	case NameDeterministic, NameND:
		return 16, nil
	case NameTruncate:
		return 0, nil
	}
	return 0, unknownMethod(name)
}

// Options holds the settings of [New] that only some methods use.
type Options struct {
	// CacheSize is the number of addresses whose pseudonyms cryptopan and
	// ipcrypt-pfx remember (see [NewCryptoPAn]); 0 disables the cache.
	CacheSize int
	// V4Bits and V6Bits are the prefix lengths that truncate keeps; 0
	// means the default, 24 and 48. ([NewTruncate] can keep 0 bits.)
	V4Bits, V6Bits int
	// Rand is the source of ipcrypt-nd and ipcrypt-ndx tweaks; nil means
	// crypto/rand, the only right choice outside tests. A Method that
	// several goroutines use needs a Rand safe for concurrent use.
	Rand io.Reader
}

// New returns the named method with the given key (nil for truncate).
// opts may be nil.
func New(name string, key []byte, opts *Options) (Method, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if name == NameTruncate {
		if len(key) != 0 {
			return nil, errors.New("pseudo: truncate takes no key")
		}
		v4, v6 := o.V4Bits, o.V6Bits
		if v4 == 0 {
			v4 = DefaultV4Bits
		}
		if v6 == 0 {
			v6 = DefaultV6Bits
		}
		return NewTruncate(v4, v6)
	}
	switch name {
	case NameCryptoPAn:
		return NewCryptoPAn(key, o.CacheSize)
	case NamePFX:
		return NewIPCryptPFX(key, o.CacheSize)
	case NameDeterministic:
		return NewIPCryptDeterministic(key)
	case NameND:
		m, err := NewIPCryptND(key)
		if err == nil && o.Rand != nil {
			m.rand = o.Rand
		}
		return m, err
	case NameNDX:
		m, err := NewIPCryptNDX(key)
		if err == nil && o.Rand != nil {
			m.rand = o.Rand
		}
		return m, err
	}
	return nil, unknownMethod(name)
}

func unknownMethod(name string) error {
	return fmt.Errorf("pseudo: unknown method %q (known: %v)", name, Names())
}

// MapAddr returns the pseudonym of a as an address. It is a convenience for
// tests and tools that handle few addresses: it allocates, where the hot
// path's [Method.Map] does not. It fails for ipcrypt-nd and ipcrypt-ndx,
// whose output is not an address. An IPv4-mapped a gives an IPv4-mapped
// result (ipcrypt-deterministic: an IPv6 one) like Map.
func MapAddr(m Method, a netip.Addr) (netip.Addr, error) {
	if !a.IsValid() {
		return netip.Addr{}, errors.New("pseudo: invalid address")
	}
	out, err := m.Map(nil, a.AsSlice())
	if err != nil {
		return netip.Addr{}, err
	}
	r, ok := netip.AddrFromSlice(out)
	if !ok {
		return netip.Addr{}, fmt.Errorf("pseudo: %s output is %d bytes, not an address", m.Name(), len(out))
	}
	return r, nil
}

// An AddressLengthError reports an address that is neither 4 nor 16 bytes
// (or, for Decrypt of ipcrypt-nd and -ndx, a ciphertext of a wrong length).
type AddressLengthError int

func (e AddressLengthError) Error() string {
	return fmt.Sprintf("pseudo: address of %d bytes, want 4 (IPv4) or 16 (IPv6)", int(e))
}

// A KeySizeError reports a key of the wrong length for a method.
type KeySizeError struct {
	Method    string
	Got, Want int
}

func (e *KeySizeError) Error() string {
	return fmt.Sprintf("pseudo: %s key is %d bytes, want exactly %d", e.Method, e.Got, e.Want)
}

func checkKey(method string, key []byte, want int) error {
	if len(key) != want {
		return &KeySizeError{Method: method, Got: len(key), Want: want}
	}
	return nil
}

// v4Mapped is the first 12 bytes of an IPv4-mapped IPv6 address.
var v4Mapped = [12]byte{10: 0xff, 11: 0xff}

// isMapped reports whether the 16-byte address b is IPv4-mapped.
func isMapped(b []byte) bool {
	return [12]byte(b[:12]) == v4Mapped
}

// grow appends n bytes to dst and returns the whole slice and the n new
// bytes, whose contents are undefined.
func grow(dst []byte, n int) (whole, tail []byte) {
	whole = slices.Grow(dst, n)[:len(dst)+n]
	return whole, whole[len(dst):]
}
