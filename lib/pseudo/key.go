package pseudo

import (
	"bytes"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"time"

	"golang.org/x/crypto/argon2"
)

// DefaultSalt is the salt that DNS TAPIR's EDM uses with [DeriveKey] when
// its configuration names none.
const DefaultSalt = "edm-kdf-salt-val"

// DeriveKey returns the 32-byte key that DNS TAPIR's EDM derives from a
// passphrase for Crypto-PAn: argon2id with time 1, 64 MiB of memory and 4
// threads. The same passphrase and salt give, with [NewCryptoPAn], EDM's
// pseudonyms. A method with a 16-byte key can take the first 16 bytes.
//
// It costs 64 MiB and some tens of milliseconds, once per key. Argon2 makes
// guessing a passphrase from pseudonyms of known addresses expensive, not
// impossible: a passphrase needs to be as hard to guess as a password.
func DeriveKey(passphrase, salt []byte) []byte {
	return argon2.IDKey(passphrase, salt, 1, 64*1024, 4, 32)
}

// ParseKey returns the key held in a key file: 16 or 32 bytes either raw
// or as hex or base64 text (standard or URL alphabet, padded or not) with
// any surrounding white space. Content of 16 or 32 bytes that is not all
// printable text is taken as raw. Each method then requires its own exact
// length ([KeySize]); ParseKey only refuses lengths no method takes.
func ParseKey(b []byte) ([]byte, error) {
	if (len(b) == 16 || len(b) == 32) && !isText(b) {
		return bytes.Clone(b), nil
	}
	s := bytes.TrimSpace(b)
	if len(s) == 0 {
		return nil, fmt.Errorf("pseudo: key file is empty")
	}
	if !isText(s) {
		return nil, fmt.Errorf("pseudo: key file holds %d bytes that are neither text nor a raw key of 16 or 32 bytes", len(b))
	}
	var encodings []string
	if k, err := hex.DecodeString(string(s)); err == nil {
		if len(k) == 16 || len(k) == 32 {
			return k, nil
		}
		encodings = append(encodings, fmt.Sprintf("hex of %d bytes", len(k)))
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(string(s)); err == nil {
			if len(k) == 16 || len(k) == 32 {
				return k, nil
			}
			encodings = append(encodings, fmt.Sprintf("base64 of %d bytes", len(k)))
			break
		}
	}
	if len(encodings) == 0 {
		return nil, fmt.Errorf("pseudo: key file is neither hex nor base64")
	}
	return nil, fmt.Errorf("pseudo: key file holds %s, want a key of 16 or 32 bytes", encodings[0])
}

// isText reports whether b is printable ASCII and white space only.
func isText(b []byte) bool {
	for _, c := range b {
		if (c < 0x20 || c > 0x7e) && c != '\t' && c != '\n' && c != '\r' {
			return false
		}
	}
	return true
}

// PeriodKey derives from the master key the key of one period, named as
// [DayPeriod] or [WeekPeriod] name it: HKDF-SHA256 with info
// "tapir-anon period " followed by the name, as long as master.
//
// Pseudonyms made with the keys of two periods cannot be linked to each
// other without the master key, so rotating bounds how long a client can
// be followed. Who holds a period key learns nothing of the master or of
// other periods' keys; with a reversible method, they can still decrypt
// that period's pseudonyms. Crypto-PAn with period keys no longer gives
// EDM's pseudonyms, which come from the passphrase's key directly.
//
// PeriodKey panics if master is empty.
func PeriodKey(master []byte, period string) []byte {
	if len(master) == 0 {
		panic("pseudo: PeriodKey of an empty master key")
	}
	k, err := hkdf.Key(sha256.New, master, nil, "tapir-anon period "+period, len(master))
	if err != nil {
		// Only a length beyond 255 hash outputs (8160 bytes) fails.
		panic("pseudo: PeriodKey: " + err.Error())
	}
	return k
}

// DayPeriod names the day of t in UTC, as "2026-11-27", for daily key
// rotation.
func DayPeriod(t time.Time) string {
	return t.UTC().Format(time.DateOnly)
}

// WeekPeriod names the ISO 8601 week of t in UTC, as "2026-W48", for
// weekly key rotation. Weeks start on Monday; the first week of a year is
// the one with its first Thursday, so a week's year can differ from that of
// its days (2026-12-31 is in 2026-W53, 2027-01-01 too).
func WeekPeriod(t time.Time) string {
	y, w := t.UTC().ISOWeek()
	return fmt.Sprintf("%04d-W%02d", y, w)
}
