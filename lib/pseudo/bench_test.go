package pseudo

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"
)

// zipfQueries returns a stream of client addresses as a resolver of an ISP
// sees them: clients tens of thousands strong, 80% IPv4 in a few thousand
// /24s of five /16s, 20% IPv6 each in its own /64 of a /56 customer prefix
// of one /32; query counts per client Zipf-distributed (s = 1.1), so a few
// clients send much and most send little. The seed is fixed.
func zipfQueries(clients, n int) [][]byte {
	r := rand.New(rand.NewPCG(2026, 11))
	var nets16 [5][2]byte
	for i := range nets16 {
		nets16[i] = [2]byte{byte(r.IntN(223) + 1), byte(r.Uint32())}
	}
	nets24 := make([][3]byte, clients/16)
	for i := range nets24 {
		n := nets16[r.IntN(len(nets16))]
		nets24[i] = [3]byte{n[0], n[1], byte(r.Uint32())}
	}
	isp := r.Uint32()
	pop := make([][]byte, clients)
	for i := range pop {
		if r.IntN(5) > 0 {
			n := nets24[r.IntN(len(nets24))]
			pop[i] = []byte{n[0], n[1], n[2], byte(r.Uint32())}
			continue
		}
		a := make([]byte, 16)
		binary.BigEndian.PutUint32(a, isp)
		binary.BigEndian.PutUint16(a[4:], uint16(r.Uint32())) // /56 customer
		a[6] = byte(r.Uint32())
		if r.IntN(4) == 0 {
			a[7] = byte(r.IntN(4)) // a few customers use several /64s
		}
		binary.BigEndian.PutUint64(a[8:], r.Uint64()) // SLAAC or privacy IID
		pop[i] = a
	}
	z := rand.NewZipf(r, 1.1, 1, uint64(clients-1))
	qs := make([][]byte, n)
	for i := range qs {
		qs[i] = pop[z.Uint64()]
	}
	return qs
}

func benchMethod(b *testing.B, m Method, qs [][]byte, warm bool) {
	buf := make([]byte, 0, 64)
	if warm {
		for _, q := range qs {
			buf, _ = m.Map(buf[:0], q)
		}
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		buf, _ = m.Map(buf[:0], qs[n%len(qs)])
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "lookups/s")
}

func benchPrefix(b *testing.B, newM func(key []byte, cacheSize int) (Method, error)) {
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i)
	}
	r := rand.New(rand.NewPCG(1, 1))
	rand4 := make([][]byte, 4096)
	rand6 := make([][]byte, 4096)
	for i := range rand4 {
		rand4[i], rand6[i] = randAddr(r, 4), randAddr(r, 16)
	}
	b.Run("uncached-v4", func(b *testing.B) {
		m, _ := newM(key, 0)
		benchMethod(b, m, rand4, false)
	})
	b.Run("uncached-v6", func(b *testing.B) {
		m, _ := newM(key, 0)
		benchMethod(b, m, rand6, false)
	})
	qs := zipfQueries(50000, 1<<20)
	for _, size := range []int{1 << 16, 1 << 12} {
		b.Run(fmt.Sprintf("cached-zipf50k-cache%d", size), func(b *testing.B) {
			m, _ := newM(key, size)
			benchMethod(b, m, qs, true)
		})
	}
	// Every address new: what the prefix cache saves on misses.
	b.Run("cached-allnew-clustered", func(b *testing.B) {
		m, _ := newM(key, 1<<16)
		uniq := make([][]byte, 0, 1<<18)
		for i := range 1 << 18 {
			q := append([]byte(nil), qs[i]...)
			if len(q) == 4 {
				q[3] = byte(i) // a host of the same /24
			} else {
				binary.BigEndian.PutUint32(q[12:], uint32(i)*2654435761) // a new IID
			}
			uniq = append(uniq, q)
		}
		benchMethod(b, m, uniq, false)
	})
}

func BenchmarkCryptoPAn(b *testing.B) {
	benchPrefix(b, func(key []byte, size int) (Method, error) { return NewCryptoPAn(key, size) })
}

func BenchmarkIPCryptPFX(b *testing.B) {
	benchPrefix(b, func(key []byte, size int) (Method, error) { return NewIPCryptPFX(key, size) })
}

// BenchmarkOthers measures the methods without a cache on the realistic
// mix.
func BenchmarkOthers(b *testing.B) {
	qs := zipfQueries(50000, 1<<16)
	for _, name := range []string{NameDeterministic, NameND, NameNDX, NameTruncate} {
		n, _ := KeySize(name)
		var key []byte
		if n > 0 {
			key = make([]byte, n)
			key[0] = 1
		}
		m, err := New(name, key, nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) { benchMethod(b, m, qs, false) })
	}
}

// BenchmarkCreate measures making a cached Crypto-PAn: its top tables.
func BenchmarkCreate(b *testing.B) {
	key := make([]byte, 32)
	for b.Loop() {
		NewCryptoPAn(key, 1<<16)
	}
}
