package pseudo

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
	"time"
)

func TestParseKey(t *testing.T) {
	k32 := []byte("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f" +
		"\xf0\xf1\xf2\xf3\xf4\xf5\xf6\xf7\xf8\xf9\xfa\xfb\xfc\xfd\xfe\xff")
	k16 := k32[16:]
	for _, tc := range []struct {
		name string
		in   []byte
		want []byte
	}{
		{"raw 32", k32, k32},
		{"raw 16", k16, k16},
		{"raw with white space bytes", append([]byte{' ', '\n'}, k32[2:]...), append([]byte{' ', '\n'}, k32[2:]...)},
		{"hex", []byte(hex.EncodeToString(k32)), k32},
		{"HEX with newline", []byte(strings.ToUpper(hex.EncodeToString(k16)) + "\n"), k16},
		{"base64", []byte(" " + base64.StdEncoding.EncodeToString(k32) + "\r\n"), k32},
		{"base64 raw url", []byte(base64.RawURLEncoding.EncodeToString(k32)), k32},
		{"base64 16", []byte(base64.StdEncoding.EncodeToString(k16) + "\n"), k16},
	} {
		got, err := ParseKey(tc.in)
		if err != nil || !bytes.Equal(got, tc.want) {
			t.Errorf("%s: %x, %v; want %x", tc.name, got, err, tc.want)
		}
	}
	for _, tc := range []struct {
		name, in, errText string
	}{
		{"empty", " \n", "empty"},
		{"short hex", "0011223344\n", "hex of 5 bytes"},
		{"long base64", base64.StdEncoding.EncodeToString(append(k32, k16...)), "base64 of 48 bytes"},
		{"passphrase", "correct horse battery staple", "neither hex nor base64"},
		{"binary", "\x00\x01\x02", "neither text"},
	} {
		_, err := ParseKey([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.errText) {
			t.Errorf("%s: error %v, want one saying %q", tc.name, err, tc.errText)
		}
	}
}

func TestPeriods(t *testing.T) {
	for _, tc := range []struct {
		t         string
		day, week string
	}{
		{"2026-11-27T12:00:00Z", "2026-11-27", "2026-W48"},
		{"2026-11-27T23:30:00-02:00", "2026-11-28", "2026-W48"}, // UTC
		{"2026-12-31T00:00:00Z", "2026-12-31", "2026-W53"},
		{"2027-01-01T00:00:00Z", "2027-01-01", "2026-W53"},
		{"2027-01-04T00:00:00Z", "2027-01-04", "2027-W01"},
		{"2024-12-30T00:00:00Z", "2024-12-30", "2025-W01"},
	} {
		tm, err := time.Parse(time.RFC3339, tc.t)
		if err != nil {
			t.Fatal(err)
		}
		if d, w := DayPeriod(tm), WeekPeriod(tm); d != tc.day || w != tc.week {
			t.Errorf("%s: %s %s, want %s %s", tc.t, d, w, tc.day, tc.week)
		}
	}
}

func TestPeriodKey(t *testing.T) {
	master := bytes.Repeat([]byte{0x42}, 32)
	a, b := PeriodKey(master, "2026-11-27"), PeriodKey(master, "2026-11-28")
	if len(a) != 32 || bytes.Equal(a, b) || bytes.Equal(a, master) {
		t.Errorf("period keys %x %x", a, b)
	}
	if !bytes.Equal(a, PeriodKey(master, "2026-11-27")) {
		t.Error("PeriodKey is not deterministic")
	}
	if k := PeriodKey(master[:16], "2026-W48"); len(k) != 16 {
		t.Errorf("%d-byte period key of a 16-byte master", len(k))
	}
	// Pseudonyms of two periods differ.
	m1, _ := NewCryptoPAn(a, 0)
	m2, _ := NewCryptoPAn(b, 0)
	p1, _ := m1.Map(nil, []byte{192, 0, 2, 1})
	p2, _ := m2.Map(nil, []byte{192, 0, 2, 1})
	if bytes.Equal(p1, p2) {
		t.Error("same pseudonym in two periods")
	}
}

func TestDeriveKey(t *testing.T) {
	if testing.Short() {
		t.Skip("argon2 with 64 MiB")
	}
	k := DeriveKey([]byte("key1"), []byte(DefaultSalt))
	if len(k) != 32 || bytes.Equal(k, DeriveKey([]byte("key2"), []byte(DefaultSalt))) {
		t.Errorf("DeriveKey: %x", k)
	}
}
