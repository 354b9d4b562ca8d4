package siphash

import "testing"

// The test vector of the paper's appendix A: key 00 01 … 0f, message
// 00 01 … 0e.
func TestVector(t *testing.T) {
	k0, k1 := uint64(0x0706050403020100), uint64(0x0f0e0d0c0b0a0908)
	msg := []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14}
	if got := Sum64(k0, k1, msg); got != 0xa129ca6149be45e5 {
		t.Errorf("Sum64 = %#x, want 0xa129ca6149be45e5", got)
	}
	if got := Sum64(k0, k1, nil); got != 0x726fdb47dd0e0e31 {
		t.Errorf("Sum64 of nothing = %#x, want 0x726fdb47dd0e0e31", got)
	}
}

func BenchmarkSum64(b *testing.B) {
	addr := make([]byte, 16)
	for b.Loop() {
		Sum64(1, 2, addr)
	}
}
