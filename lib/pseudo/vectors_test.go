package pseudo

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"net/netip"
	"os"
	"strings"
	"testing"
)

// cryptoPAnSampleKey is the key of the sample trace in the original
// Crypto-PAn 1.0 distribution.
var cryptoPAnSampleKey = []byte{21, 34, 23, 141, 51, 164, 207, 128, 19, 10, 91, 22, 73, 144, 125, 16,
	216, 152, 143, 131, 121, 121, 101, 39, 98, 87, 76, 45, 42, 132, 34, 2}

// mustMap maps a with m, failing the test on error.
func mustMap(t testing.TB, m Method, a netip.Addr) netip.Addr {
	t.Helper()
	r, err := MapAddr(m, a)
	if err != nil {
		t.Fatalf("%s(%s): %v", m.Name(), a, err)
	}
	return r
}

// TestCryptoPAnSample checks the pseudonyms of the original Crypto-PAn
// distribution's sample trace (sample_trace_raw.dat and
// sample_trace_sanitized.dat), with and without cache, in 4-byte and in
// IPv4-mapped 16-byte form.
func TestCryptoPAnSample(t *testing.T) {
	f, err := os.Open("testdata/cryptopan_sample.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var raw, want []netip.Addr
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := sc.Text(); l != "" && l[0] != '#' {
			r, s, _ := strings.Cut(l, " ")
			raw, want = append(raw, netip.MustParseAddr(r)), append(want, netip.MustParseAddr(s))
		}
	}
	if len(raw) < 70 {
		t.Fatalf("read %d vectors, want 70", len(raw))
	}
	for _, size := range []int{0, 1000} {
		m, err := NewCryptoPAn(cryptoPAnSampleKey, size)
		if err != nil {
			t.Fatal(err)
		}
		for pass := range 2 { // the second pass hits the cache
			for i, a := range raw {
				if got := mustMap(t, m, a); got != want[i] {
					t.Errorf("cache %d pass %d: %s -> %s, want %s", size, pass, a, got, want[i])
				}
				mapped := netip.AddrFrom16(a.As16())
				if got := mustMap(t, m, mapped); got != netip.AddrFrom16(want[i].As16()) {
					t.Errorf("cache %d: %s -> %s, want ::ffff:%s", size, mapped, got, want[i])
				}
			}
		}
	}
}

// TestCryptoPAnEDM checks compatibility with DNS TAPIR's EDM: its key
// derivation and the pseudonyms its tests expect (pkg/runner/cryptopan_test.go
// in dnstapir/edm: passphrases key1 and key2, salt aabbccddeeffgghh).
func TestCryptoPAnEDM(t *testing.T) {
	if testing.Short() {
		t.Skip("argon2 with 64 MiB")
	}
	salt := []byte("aabbccddeeffgghh")
	for _, tc := range []struct {
		pass string
		vec  [][2]string
	}{
		{"key1", [][2]string{
			{"198.51.100.20", "58.92.11.53"},
			{"198.51.100.30", "58.92.11.62"},
			{"2001:db8:1122:3344:5566:7788:99aa:bbcc", "b780:8dc8:6ed9:cbc5:4d61:a6bb:6255:5a03"},
			{"2001:db8:1122:3344:5566:7788:99aa:ddee", "b780:8dc8:6ed9:cbc5:4d61:a6bb:6255:262d"},
		}},
		{"key2", [][2]string{
			{"198.51.100.20", "185.204.164.235"},
			{"198.51.100.30", "185.204.164.225"},
			{"2001:db8:1122:3344:5566:7788:99aa:bbcc", "3f29:478:21d2:2c44:6915:7ca7:8654:aa28"},
			{"2001:db8:1122:3344:5566:7788:99aa:ddee", "3f29:478:21d2:2c44:6915:7ca7:8654:d21f"},
		}},
	} {
		key := DeriveKey([]byte(tc.pass), salt)
		for _, size := range []int{0, 64} {
			m, err := NewCryptoPAn(key, size)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range tc.vec {
				a, want := netip.MustParseAddr(v[0]), netip.MustParseAddr(v[1])
				if got := mustMap(t, m, a); got != want {
					t.Errorf("%s, cache %d: %s -> %s, want %s", tc.pass, size, a, got, want)
				}
				if got, _ := m.Map(nil, a.AsSlice()); len(got) != len(a.AsSlice()) {
					t.Errorf("%s: %d-byte pseudonym", a, len(got))
				}
			}
		}
	}
}

type ipcryptVector struct {
	Variant   string `json:"variant"`
	Key       string `json:"key"`
	IP        string `json:"ip"`
	Encrypted string `json:"encrypted_ip"`
	Tweak     string `json:"tweak"`
	Output    string `json:"output"`
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestIPCryptVectors checks the test vectors of draft-denis-ipcrypt: those
// of its appendix and the few more of its repository's
// implementations/python/test_vectors.json (ipcrypt-std/draft-denis-ipcrypt
// at a4c2959, March 2026), which is the file in testdata. Each is also
// decrypted back.
func TestIPCryptVectors(t *testing.T) {
	b, err := os.ReadFile("testdata/ipcrypt_vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var vecs []ipcryptVector
	if err := json.Unmarshal(b, &vecs); err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, v := range vecs {
		key := unhex(t, v.Key)
		ip := netip.MustParseAddr(v.IP)
		var got, want []byte
		var d Decrypter
		switch v.Variant {
		case NameDeterministic, NamePFX:
			var m Method
			if v.Variant == NamePFX {
				m, err = NewIPCryptPFX(key, 0)
			} else {
				m, err = NewIPCryptDeterministic(key)
			}
			if err != nil {
				t.Fatal(err)
			}
			d = m.(Decrypter)
			got, err = m.Map(nil, ip.AsSlice())
			want = netip.MustParseAddr(v.Encrypted).AsSlice()
			if v.Variant == NameDeterministic && len(want) == 4 {
				want = netip.AddrFrom16(netip.MustParseAddr(v.Encrypted).As16()).AsSlice()
			}
		case NameND:
			m, err2 := NewIPCryptND(key)
			if err2 != nil {
				t.Fatal(err2)
			}
			d = m
			got, err = m.Encrypt(nil, ip.AsSlice(), unhex(t, v.Tweak))
			want = unhex(t, v.Output)
		case NameNDX:
			m, err2 := NewIPCryptNDX(key)
			if err2 != nil {
				t.Fatal(err2)
			}
			d = m
			got, err = m.Encrypt(nil, ip.AsSlice(), unhex(t, v.Tweak))
			want = unhex(t, v.Output)
		default:
			t.Fatalf("unknown variant %q", v.Variant)
		}
		if err != nil {
			t.Fatalf("%s %s: %v", v.Variant, ip, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s key %s %s: got %x, want %x", v.Variant, v.Key, ip, got, want)
			continue
		}
		back, err := d.Decrypt(nil, got)
		if err != nil || !bytes.Equal(back, ip.AsSlice()) {
			t.Errorf("%s: decrypting %x gave %x, %v; want %x", v.Variant, got, back, err, ip.AsSlice())
		}
		count[v.Variant]++
	}
	t.Logf("vectors passed: %v", count)
	for _, n := range []string{NameDeterministic, NamePFX, NameND, NameNDX} {
		if count[n] < 3 {
			t.Errorf("only %d vectors of %s", count[n], n)
		}
	}
}

// TestIPCryptPFXCached checks ipcrypt-pfx's vectors through the cache, and
// in IPv4-mapped form, where the draft gives the same output.
func TestIPCryptPFXCached(t *testing.T) {
	b, err := os.ReadFile("testdata/ipcrypt_vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var vecs []ipcryptVector
	if err := json.Unmarshal(b, &vecs); err != nil {
		t.Fatal(err)
	}
	ms := map[string]Method{}
	for _, v := range vecs {
		if v.Variant != NamePFX {
			continue
		}
		m := ms[v.Key]
		if m == nil {
			if m, err = NewIPCryptPFX(unhex(t, v.Key), 256); err != nil {
				t.Fatal(err)
			}
			ms[v.Key] = m
		}
		ip, want := netip.MustParseAddr(v.IP), netip.MustParseAddr(v.Encrypted)
		for range 2 {
			if got := mustMap(t, m, ip); got != want {
				t.Errorf("%s -> %s, want %s", ip, got, want)
			}
		}
		if ip.Is4() {
			mapped := netip.AddrFrom16(ip.As16())
			if got := mustMap(t, m, mapped); got != netip.AddrFrom16(want.As16()) {
				t.Errorf("%s -> %s, want ::ffff:%s", mapped, got, want)
			}
		}
	}
}
