package anon

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tapir-edge/tapir/lib/pseudo"
)

// Rotation says how often the key changes.
type Rotation int

// Rotations.
const (
	RotateNever Rotation = iota
	RotateDaily
	RotateWeekly
)

// ParseRotation reads "", "never", "daily" or "weekly".
func ParseRotation(s string) (Rotation, error) {
	switch s {
	case "", "never", "none":
		return RotateNever, nil
	case "daily":
		return RotateDaily, nil
	case "weekly":
		return RotateWeekly, nil
	}
	return 0, fmt.Errorf("rotation %q: want never, daily or weekly", s)
}

// Keyring gives the pseudonymisation method for a moment in time: one
// method for all time, or, with rotation, one per period, each keyed with
// a key derived from the master key, so that pseudonyms of two periods
// cannot be linked. The master key can be replaced while in use (SIGHUP).
type Keyring struct {
	method string
	opts   pseudo.Options
	rotate Rotation
	set    atomic.Pointer[keyset]
}

// keyset is one master key and the methods derived from it so far.
type keyset struct {
	master []byte
	mu     sync.Mutex
	byEra  map[int64]pseudo.Method
}

// NewKeyring checks that the method takes the key, and returns a Keyring.
func NewKeyring(method string, master []byte, opts pseudo.Options, rotate Rotation) (*Keyring, error) {
	k := &Keyring{method: method, opts: opts, rotate: rotate}
	if err := k.Replace(master); err != nil {
		return nil, err
	}
	return k, nil
}

// Replace makes master the key from now on. It fails, keeping the old
// key, if the method does not take the new one.
func (k *Keyring) Replace(master []byte) error {
	ks := &keyset{master: master, byEra: map[int64]pseudo.Method{}}
	// Build the method of era 0 now, so that a bad key is an error here
	// and not at the first frame.
	if _, err := k.build(ks, 0); err != nil {
		return err
	}
	k.set.Store(ks)
	return nil
}

// Era numbers the period that sec (seconds since the epoch) falls in:
// days since the epoch, or ISO weeks (from Monday) since the epoch. It is
// 0 when nothing rotates.
func (k *Keyring) Era(sec int64) int64 {
	switch k.rotate {
	case RotateDaily:
		return floorDiv(sec, 86400)
	case RotateWeekly:
		// 1970-01-01 was a Thursday: shift by three days to start
		// weeks on Monday, as ISO 8601 does.
		return floorDiv(floorDiv(sec, 86400)+3, 7)
	}
	return 0
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// Period names an era as analysts read it: "2026-11-27", "2026-W48", or
// "" when nothing rotates.
func (k *Keyring) Period(era int64) string {
	switch k.rotate {
	case RotateDaily:
		return pseudo.DayPeriod(time.Unix(era*86400, 0))
	case RotateWeekly:
		return pseudo.WeekPeriod(time.Unix((era*7-3)*86400, 0))
	}
	return ""
}

// current returns the key set in use, which callers compare by pointer to
// notice a reload.
func (k *Keyring) current() *keyset { return k.set.Load() }

// methodFor returns the method for an era under key set ks.
func (k *Keyring) methodFor(ks *keyset, era int64) (pseudo.Method, error) {
	ks.mu.Lock()
	m, ok := ks.byEra[era]
	ks.mu.Unlock()
	if ok {
		return m, nil
	}
	return k.build(ks, era)
}

func (k *Keyring) build(ks *keyset, era int64) (pseudo.Method, error) {
	key := ks.master
	if k.rotate != RotateNever && len(key) > 0 {
		key = pseudo.PeriodKey(ks.master, k.Period(era))
	}
	m, err := pseudo.New(k.method, key, &k.opts)
	if err != nil {
		return nil, err
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	// Keep a few eras only: a replay that walks through months must not
	// keep a method (and its cache) for each day.
	if len(ks.byEra) >= 4 {
		clear(ks.byEra)
	}
	ks.byEra[era] = m
	return m, nil
}
