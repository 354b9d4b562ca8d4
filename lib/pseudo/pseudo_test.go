package pseudo

import (
	"bytes"
	"crypto/aes"
	"errors"
	"math/bits"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/yawning/cryptopan"
)

// randAddr returns a random 4- or 16-byte address.
func randAddr(r *rand.Rand, size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// commonPrefix returns the number of leading bits a and b share.
func commonPrefix(a, b []byte) int {
	for i := range a {
		if x := a[i] ^ b[i]; x != 0 {
			return 8*i + bits.LeadingZeros8(x)
		}
	}
	return 8 * len(a)
}

// pairWithPrefix returns a random address that shares exactly n leading
// bits with a (n < 8*len(a)).
func pairWithPrefix(r *rand.Rand, a []byte, n int) []byte {
	b := randAddr(r, len(a))
	for i := range n {
		mask := byte(0x80 >> (i % 8))
		b[i/8] = b[i/8]&^mask | a[i/8]&mask
	}
	b[n/8] ^= (b[n/8] ^ ^a[n/8]) & (0x80 >> (n % 8)) // differ at bit n
	return b
}

func prefixMethods(t *testing.T, cacheSize int) []Method {
	r := rand.New(rand.NewPCG(1, 2))
	cp, err := NewCryptoPAn(randAddr(r, 32), cacheSize)
	if err != nil {
		t.Fatal(err)
	}
	pfx, err := NewIPCryptPFX(randAddr(r, 32), cacheSize)
	if err != nil {
		t.Fatal(err)
	}
	return []Method{cp, pfx}
}

// TestPrefixPreserved checks for random pairs of addresses with every
// common prefix length that their pseudonyms share exactly as many bits.
func TestPrefixPreserved(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, cache := range []int{0, 4096} {
		for _, m := range prefixMethods(t, cache) {
			for _, size := range []int{4, 16} {
				for n := range 8 * size {
					for range 3 {
						a := randAddr(r, size)
						if size == 16 && isMapped(a) {
							continue
						}
						b := pairWithPrefix(r, a, n)
						if commonPrefix(a, b) != n {
							t.Fatalf("test bug: %x %x share %d bits, want %d", a, b, commonPrefix(a, b), n)
						}
						pa, _ := m.Map(nil, a)
						pb, _ := m.Map(nil, b)
						if got := commonPrefix(pa, pb); got != n {
							t.Errorf("%s cache %d: %x and %x share %d bits, pseudonyms %x and %x share %d",
								m.Name(), cache, a, b, n, pa, pb, got)
						}
					}
				}
			}
		}
	}
}

// clusteredAddrs returns n addresses of both families crowded into few
// prefixes, as clients are, so that the cache's prefix paths are used.
func clusteredAddrs(r *rand.Rand, n int) [][]byte {
	var out [][]byte
	nets4 := make([][]byte, 20)
	for i := range nets4 {
		nets4[i] = randAddr(r, 4)
	}
	nets6 := make([][]byte, 10)
	for i := range nets6 {
		nets6[i] = randAddr(r, 16)
	}
	for range n {
		switch r.IntN(4) {
		case 0:
			out = append(out, randAddr(r, 4))
		case 1:
			a := bytes.Clone(nets4[r.IntN(len(nets4))])
			a[2] ^= byte(r.IntN(2))
			a[3] = byte(r.Uint32())
			out = append(out, a)
		case 2:
			a := bytes.Clone(nets6[r.IntN(len(nets6))])
			a[5] ^= byte(r.IntN(4)) // /48s of a /32
			a[7] = byte(r.IntN(3))  // /64s of a /48
			copy(a[8:], randAddr(r, 8))
			out = append(out, a)
		case 3:
			out = append(out, randAddr(r, 16))
		}
	}
	return out
}

// TestCachedEqualsUncached checks that the cache changes no pseudonym,
// with a cache large enough and one far too small (evicting all along),
// and against the Crypto-PAn implementation of github.com/yawning/cryptopan
// as an independent oracle.
func TestCachedEqualsUncached(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	addrs := clusteredAddrs(r, 20000)
	plain := prefixMethods(t, 0)
	oracle, err := cryptopan.New(randAddr(rand.New(rand.NewPCG(1, 2)), 32))
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{100000, 64} {
		cached := prefixMethods(t, size)
		for i := range plain {
			for pass := range 2 {
				for _, a := range addrs {
					want, _ := plain[i].Map(nil, a)
					got, _ := cached[i].Map(nil, a)
					if !bytes.Equal(got, want) {
						t.Fatalf("%s cache %d pass %d: %x -> %x, uncached %x", plain[i].Name(), size, pass, a, got, want)
					}
					if i == 0 && size == 64 {
						o := []byte(oracle.Anonymize(net.IP(a)))
						if len(a) == 4 {
							o = o[12:]
						}
						if !bytes.Equal(want, o) {
							t.Fatalf("cryptopan %x -> %x, yawning/cryptopan %x", a, want, o)
						}
					}
				}
			}
		}
	}
}

// TestConcurrent runs cached lookups from several goroutines (for the race
// detector) and checks them.
func TestConcurrent(t *testing.T) {
	addrs := clusteredAddrs(rand.New(rand.NewPCG(7, 8)), 3000)
	plain := prefixMethods(t, 0)
	cached := prefixMethods(t, 512)
	want := make([][][]byte, len(plain))
	for i, m := range plain {
		for _, a := range addrs {
			p, _ := m.Map(nil, a)
			want[i] = append(want[i], p)
		}
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			var buf []byte
			for k := range 2 * len(addrs) {
				j := (k*(g+1) + g) % len(addrs)
				for i, m := range cached {
					buf, _ = m.Map(buf[:0], addrs[j])
					if !bytes.Equal(buf, want[i][j]) {
						t.Errorf("%s: %x -> %x, want %x", m.Name(), addrs[j], buf, want[i][j])
						return
					}
				}
			}
		})
	}
	wg.Wait()
}

func allMethods(t *testing.T) []Method {
	r := rand.New(rand.NewPCG(9, 10))
	var ms []Method
	for _, name := range Names() {
		n, _ := KeySize(name)
		var key []byte
		if n > 0 {
			key = randAddr(r, n)
		}
		m, err := New(name, key, &Options{CacheSize: 1024})
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	return ms
}

// TestDecryptInverts checks Decrypt(Map(a)) == a for every method that
// decrypts, for IPv4, IPv6 and IPv4-mapped addresses.
func TestDecryptInverts(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, m := range allMethods(t) {
		d, ok := m.(Decrypter)
		if !ok {
			if m.Name() != NameTruncate {
				t.Errorf("%s does not decrypt", m.Name())
			}
			continue
		}
		for i := range 300 {
			a := randAddr(r, []int{4, 16}[i%2])
			want := a
			if i%3 == 0 { // IPv4-mapped
				a = netip.AddrFrom16(netip.AddrFrom4([4]byte(randAddr(r, 4))).As16()).AsSlice()
				want = a
				if m.Name() != NameCryptoPAn && m.Name() != NamePFX {
					want = a[12:] // the 16-byte forms give IPv4 back
				}
			}
			p, err := m.Map(nil, a)
			if err != nil {
				t.Fatal(err)
			}
			back, err := d.Decrypt([]byte("prefix"), p)
			if err != nil || string(back[:6]) != "prefix" || !bytes.Equal(back[6:], want) {
				t.Fatalf("%s: %x -> %x -> %q, %v", m.Name(), a, p, back, err)
			}
		}
	}
}

// TestOutputLengths checks each method's output lengths and that Map
// appends to dst.
func TestOutputLengths(t *testing.T) {
	want := map[string][2]int{
		NameCryptoPAn: {4, 16}, NamePFX: {4, 16}, NameTruncate: {4, 16},
		NameDeterministic: {16, 16}, NameND: {24, 24}, NameNDX: {32, 32},
	}
	for _, m := range allMethods(t) {
		for i, size := range []int{4, 16} {
			out, err := m.Map([]byte{1, 2, 3}, make([]byte, size))
			if err != nil || len(out)-3 != want[m.Name()][i] || !bytes.Equal(out[:3], []byte{1, 2, 3}) {
				t.Errorf("%s: %d-byte address gave %x, %v", m.Name(), size, out, err)
			}
		}
		for _, size := range []int{0, 3, 5, 15, 17} {
			out, err := m.Map([]byte{9}, make([]byte, size))
			var ale AddressLengthError
			if !errors.As(err, &ale) || int(ale) != size || len(out) != 1 {
				t.Errorf("%s: %d-byte address: %x, %v", m.Name(), size, out, err)
			}
		}
	}
}

// TestNonDeterministic checks that ipcrypt-nd and -ndx give a new output
// each time.
func TestNonDeterministic(t *testing.T) {
	for _, m := range allMethods(t) {
		if m.Name() != NameND && m.Name() != NameNDX {
			continue
		}
		a := []byte{192, 0, 2, 1}
		x, _ := m.Map(nil, a)
		y, _ := m.Map(nil, a)
		if bytes.Equal(x, y) {
			t.Errorf("%s: same output twice: %x", m.Name(), x)
		}
	}
}

// TestKiasuZeroTweak checks the package's own AES against crypto/aes:
// KIASU-BC with a zero tweak is AES-128.
func TestKiasuZeroTweak(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	var zero [16]byte
	for range 200 {
		key, pt := randAddr(r, 16), [16]byte(randAddr(r, 16))
		b, _ := aes.NewCipher(key)
		var want, got, back [16]byte
		b.Encrypt(want[:], pt[:])
		k := newKiasuBC(key)
		k.encrypt(&got, &pt, &zero)
		if got != want {
			t.Fatalf("key %x: KIASU-BC(0) %x, AES %x", key, got, want)
		}
		tw := padTweak(randAddr(r, 8))
		k.encrypt(&got, &pt, &tw)
		k.decrypt(&back, &got, &tw)
		if back != pt {
			t.Fatalf("decrypt(encrypt(%x)) = %x", pt, back)
		}
	}
}

// TestKeySizes checks that keys of the wrong length are refused, with an
// error naming the method and both lengths.
func TestKeySizes(t *testing.T) {
	for _, name := range Names() {
		want, err := KeySize(name)
		if err != nil {
			t.Fatal(err)
		}
		if name == NameTruncate {
			if _, err := New(name, make([]byte, 16), nil); err == nil {
				t.Errorf("truncate took a key")
			}
			continue
		}
		for _, n := range []int{0, 15, 16, 24, 31, 32, 33, 64} {
			key := make([]byte, n)
			for i := range key {
				key[i] = byte(i) // halves differ, for ipcrypt-pfx
			}
			_, err := New(name, key, nil)
			if n == want {
				if err != nil {
					t.Errorf("%s: %d-byte key: %v", name, n, err)
				}
				continue
			}
			var kse *KeySizeError
			if !errors.As(err, &kse) || kse.Got != n || kse.Want != want ||
				!strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "want exactly") {
				t.Errorf("%s: %d-byte key: error %v", name, n, err)
			}
		}
	}
	if _, err := NewIPCryptPFX(bytes.Repeat([]byte{7}, 32), 0); err == nil || !strings.Contains(err.Error(), "halves") {
		t.Errorf("ipcrypt-pfx with equal halves: %v", err)
	}
	if _, err := New("rot13", nil, nil); err == nil || !strings.Contains(err.Error(), "rot13") {
		t.Errorf("unknown method: %v", err)
	}
	if _, err := KeySize("rot13"); err == nil {
		t.Errorf("KeySize of an unknown method")
	}
}

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		v4, v6   int
		in, want string
	}{
		{24, 48, "192.0.2.129", "192.0.2.0"},
		{24, 48, "2001:db8:1:2:3:4:5:6", "2001:db8:1::"},
		{24, 48, "::ffff:192.0.2.129", "::ffff:192.0.2.0"},
		{0, 0, "192.0.2.129", "0.0.0.0"},
		{32, 128, "2001:db8:1:2:3:4:5:6", "2001:db8:1:2:3:4:5:6"},
		{20, 57, "198.51.127.255", "198.51.112.0"},
		{20, 57, "2001:db8:1:2ff:ffff::", "2001:db8:1:280::"},
	} {
		m, err := NewTruncate(tc.v4, tc.v6)
		if err != nil {
			t.Fatal(err)
		}
		if got := mustMap(t, m, netip.MustParseAddr(tc.in)); got != netip.MustParseAddr(tc.want) {
			t.Errorf("/%d /%d: %s -> %s, want %s", tc.v4, tc.v6, tc.in, got, tc.want)
		}
	}
	for _, b := range [][2]int{{-1, 48}, {33, 48}, {24, -1}, {24, 129}} {
		if _, err := NewTruncate(b[0], b[1]); err == nil {
			t.Errorf("NewTruncate(%d, %d) accepted", b[0], b[1])
		}
	}
	m, _ := New(NameTruncate, nil, nil)
	if v4, v6 := m.(*Truncate).Bits(); v4 != 24 || v6 != 48 {
		t.Errorf("default bits %d, %d", v4, v6)
	}
}

// TestNoAllocs checks that Map allocates nothing once dst has room, cached
// or not, hit or miss.
func TestNoAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	v4, v6 := randAddr(r, 4), randAddr(r, 16)
	buf := make([]byte, 0, 64)
	for _, m := range append(allMethods(t), prefixMethods(t, 0)...) {
		for _, a := range [][]byte{v4, v6} {
			m.Map(buf[:0], a) // warm the pool and the cache
			n := testing.AllocsPerRun(100, func() {
				a[len(a)-1]++ // a miss, for the cached methods
				m.Map(buf[:0], a)
				m.Map(buf[:0], a) // a hit
			})
			if n != 0 {
				t.Errorf("%s: %d-byte address: %v allocations", m.Name(), len(a), n)
			}
		}
	}
}

func TestMapAddr(t *testing.T) {
	m, _ := NewIPCryptND(make([]byte, 16))
	if _, err := MapAddr(m, netip.MustParseAddr("192.0.2.1")); err == nil {
		t.Error("MapAddr with ipcrypt-nd gave an address")
	}
	if _, err := MapAddr(m, netip.Addr{}); err == nil {
		t.Error("MapAddr of the zero Addr")
	}
}

// TestCryptoPAnSharedTree checks the property its documentation warns of:
// an IPv4 address and an IPv6 address with the same first 32 bits get the
// same first 32 pseudonym bits.
func TestCryptoPAnSharedTree(t *testing.T) {
	m, _ := NewCryptoPAn(cryptoPAnSampleKey, 0)
	a4 := []byte{198, 51, 100, 20}
	a6 := append(bytes.Clone(a4), randAddr(rand.New(rand.NewPCG(1, 1)), 12)...)
	p4, _ := m.Map(nil, a4)
	p6, _ := m.Map(nil, a6)
	if !bytes.Equal(p4, p6[:4]) {
		t.Errorf("%x -> %x, %x -> %x", a4, p4, a6, p6)
	}
}

// tableSbox computes the AES S-box and its inverse as a table, the usual
// way, through powers of the generator 3; TestSbox checks the constant-time
// S-box of kiasu.go against it.
func tableSbox() (s, inv [256]byte) {
	var pow [255]byte
	x := byte(1)
	for i := range pow {
		pow[i] = x
		x = mul(x, 3)
	}
	var recip [256]byte
	for i := range pow {
		recip[pow[i]] = pow[(255-i)%255] // 3^i · 3^(255-i) = 1
	}
	rotl := func(b byte, n int) byte { return b<<n | b>>(8-n) }
	for i := range 256 {
		b := recip[i]
		v := b ^ rotl(b, 1) ^ rotl(b, 2) ^ rotl(b, 3) ^ rotl(b, 4) ^ 0x63
		s[i], inv[v] = v, byte(i)
	}
	return s, inv
}

func TestSbox(t *testing.T) {
	s, inv := tableSbox()
	// FIPS 197 Figure 7 and 14 spot checks.
	if s[0x00] != 0x63 || s[0x53] != 0xed || s[0xff] != 0x16 || inv[0x63] != 0x00 {
		t.Fatalf("table S-box wrong: %x %x %x", s[0], s[0x53], s[0xff])
	}
	for base := 0; base < 256; base += 16 {
		var b, c [16]byte
		for j := range b {
			b[j] = byte(base + j)
		}
		c = b
		subBytes(&b)
		invSubBytes(&c)
		for j := range b {
			if b[j] != s[base+j] || c[j] != inv[base+j] {
				t.Fatalf("S(%#x) = %#x, want %#x; S⁻¹ %#x, want %#x", base+j, b[j], s[base+j], c[j], inv[base+j])
			}
		}
	}
}

// TestTweakSource checks that Options.Rand feeds the tweaks, and that its
// failure is reported and leaves dst as it was.
func TestTweakSource(t *testing.T) {
	for _, name := range []string{NameND, NameNDX} {
		n, _ := KeySize(name)
		m, err := New(name, make([]byte, n), &Options{Rand: bytes.NewReader(bytes.Repeat([]byte{0xab}, n/2))}) // one tweak
		if err != nil {
			t.Fatal(err)
		}
		out, err := m.Map(nil, []byte{192, 0, 2, 1})
		if err != nil || out[0] != 0xab || out[n/2-1] != 0xab {
			t.Errorf("%s: %x, %v", name, out, err)
		}
		out, err = m.Map([]byte{1}, []byte{192, 0, 2, 1}) // the reader is short now
		if err == nil || !bytes.Equal(out, []byte{1}) {
			t.Errorf("%s with an exhausted reader: %x, %v", name, out, err)
		}
	}
}
