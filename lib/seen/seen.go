// Package seen remembers, in bounded memory and across restarts, which
// query names an edge has seen lately, so that tapir-agg announces a name
// (a new_qname event) the first time it appears and again only after it
// has been away for a while.
//
// # Design
//
// Time is cut into slices (a day by default). Each slice has a blocked
// Bloom filter: an array of 64-byte blocks, one cache line each; a name
// picks one block and sets k bits in it. A name is seen if the filter of
// any slice within the forget-after window holds it; Seen also adds it to
// the current slice. When time moves into a new slice, the slices that
// fell out of the window are dropped whole, which is how names expire: a
// name is remembered for at least ForgetAfter after its last sighting and
// forgotten at most one slice duration later.
//
// Why this design: memory is fixed in advance (slices × capacity × about
// 20 bits) however many names arrive, a DGA included; a lookup reads one
// cache line per slice; expiry costs nothing per name; and a past slice
// never changes, so persisting means writing the current slice only.
// A hash table of fingerprints with a last-seen stamp would answer with
// one probe and store a daily name once rather than once per day, but at
// 4 to 8 bytes a name it needs two to three times the memory for a month
// of distinct names, and all of it must be rewritten on every save.
//
// The price is false positives: a name never seen may be taken for seen,
// and then it is not announced. The rate is set by Options.FPRate for the
// whole window (all slices full to Capacity); each slice gets its share.
// A slice that takes more names than Capacity keeps working but its rate
// rises; [Set.Stats] reports the estimated rate from the actual fill.
//
// Names are hashed with SipHash-2-4 under a random 128-bit key kept in the
// state directory (file "key"), so that names cannot be chosen to collide.
// The state files hold no names, only bits; but with the key, which lies
// beside them, anyone can test whether a given name is set (a dictionary
// attack). Names at the edge are not secret; the files should still be
// readable by the tool's user only, and are written mode 0600.
//
// Seen takes the message time (the dnstap timestamp), not the wall
// clock, so that a replay gives the same answers. The clock of the set is
// the latest time it was given: a message older than that counts in the
// current slice.
package seen

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/tapir-edge/tapir/lib/siphash"
)

// Defaults for zero Options fields.
const (
	DefaultForgetAfter   = 30 * 24 * time.Hour
	DefaultSliceDuration = 24 * time.Hour
	DefaultCapacity      = 1_000_000
	DefaultFPRate        = 0.01
)

// maxK bounds the bits set per name; more never pays at a sane rate.
const maxK = 32

// maxSlices bounds ForgetAfter/SliceDuration, so that a typo (a slice of
// a second over 30 days) is refused rather than allocating millions of
// filters.
const maxSlices = 1000

// keyFile holds the hash key in the state directory.
const keyFile = "key"

// keyCheckInput is hashed under the key to label the files made with it.
var keyCheckInput = []byte("tapir seen key check")

// Options configure a Set. Zero fields take the defaults above.
type Options struct {
	// Dir is the state directory. Empty means no persistence: the set
	// lives in memory only and Flush does nothing.
	Dir string
	// ForgetAfter is how long a name is remembered after it was last
	// seen.
	ForgetAfter time.Duration
	// SliceDuration is the time granularity of expiry and of the
	// filters: one filter per slice.
	SliceDuration time.Duration
	// Capacity is the number of distinct names a slice holds at FPRate.
	Capacity int
	// FPRate is the chance, with every slice full to Capacity, that a
	// name never seen is reported as seen (and so not announced).
	FPRate float64
}

// Set is a time-sliced set of names. It is safe for concurrent use.
type Set struct {
	o        Options
	k0, k1   uint64 // the hash key
	keyCheck uint64
	nslices  int64 // slices kept: the current one and those within ForgetAfter
	nblocks  uint64
	k        int
	sliceFP  float64 // the designed rate of one full slice

	mu      sync.Mutex
	cur     int64    // the current slice number: the latest time seen / duration
	slices  []*slice // newest first
	removed []int64  // numbers of dropped slices whose files are still to go
}

// slice is the filter of one slice of time.
type slice struct {
	num      int64    // start / SliceDuration
	words    []uint64 // nblocks blocks of 8 words
	inserted uint64   // names added (ones the filter did not hold yet)
	dirty    bool     // changed since last written
}

// Open makes a Set, loading the state in o.Dir (creating the directory
// if need be). A state file that is damaged, truncated, or made with
// other options or another key is not used: its slice starts empty, the
// file is renamed with the suffix ".ignored" for inspection, and the
// reason, naming the file, is returned in warnings. err is set only when
// the options are invalid or the directory or key cannot be used.
func Open(o Options) (s *Set, warnings []error, err error) {
	if o.ForgetAfter == 0 {
		o.ForgetAfter = DefaultForgetAfter
	}
	if o.SliceDuration == 0 {
		o.SliceDuration = DefaultSliceDuration
	}
	if o.Capacity == 0 {
		o.Capacity = DefaultCapacity
	}
	if o.FPRate == 0 {
		o.FPRate = DefaultFPRate
	}
	switch {
	case o.ForgetAfter < 0 || o.SliceDuration < 0:
		return nil, nil, fmt.Errorf("seen: negative duration (forget after %v, slice %v)", o.ForgetAfter, o.SliceDuration)
	case o.ForgetAfter < o.SliceDuration:
		return nil, nil, fmt.Errorf("seen: forget after %v is shorter than a slice of %v", o.ForgetAfter, o.SliceDuration)
	case o.ForgetAfter/o.SliceDuration >= maxSlices:
		return nil, nil, fmt.Errorf("seen: forget after %v in slices of %v makes more than %d slices", o.ForgetAfter, o.SliceDuration, maxSlices)
	case o.Capacity < 0 || o.Capacity > 1<<32:
		return nil, nil, fmt.Errorf("seen: capacity %d out of range", o.Capacity)
	case !(o.FPRate >= 1e-9 && o.FPRate < 0.5):
		return nil, nil, fmt.Errorf("seen: false-positive rate %v, want from 1e-9 to less than 0.5", o.FPRate)
	}
	s = &Set{o: o, cur: math.MinInt64}
	// Keep enough slices that a name last seen less than ForgetAfter ago
	// is still in one: ceil(ForgetAfter/SliceDuration) past ones and the
	// current one.
	s.nslices = int64((o.ForgetAfter+o.SliceDuration-1)/o.SliceDuration) + 1
	s.sliceFP = -math.Expm1(math.Log1p(-o.FPRate) / float64(s.nslices))
	// The model of size ignores the spread of the number of bits a block
	// with j names has set, which makes it about 3% optimistic (measured
	// in TestBoundedFP); the margin covers that.
	s.nblocks, s.k = size(float64(o.Capacity), s.sliceFP*0.95)

	if o.Dir == "" {
		var key [16]byte
		rand.Read(key[:])
		s.setKey(key[:])
		return s, nil, nil
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("seen: state directory: %w", err)
	}
	w, err := s.loadKey()
	if err != nil {
		return nil, nil, err
	}
	warnings = append(warnings, w...)
	warnings = append(warnings, s.loadSlices()...)
	return s, warnings, nil
}

func (s *Set) setKey(key []byte) {
	s.k0 = binary.LittleEndian.Uint64(key)
	s.k1 = binary.LittleEndian.Uint64(key[8:])
	s.keyCheck = siphash.Sum64(s.k0, s.k1, keyCheckInput)
}

// loadKey reads the key, or makes one if there is none or it is damaged
// (the slices made with the old one are then ignored).
func (s *Set) loadKey() (warnings []error, err error) {
	path := filepath.Join(s.o.Dir, keyFile)
	key, err := os.ReadFile(path)
	switch {
	case err == nil && len(key) == 16:
		s.setKey(key)
		return nil, nil
	case err == nil:
		warnings = append(warnings, fmt.Errorf("%s: %d bytes, want 16; making a new key, and the state made with the old one is lost", path, len(key)))
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("seen: %w", err)
	}
	key = make([]byte, 16)
	rand.Read(key)
	if err := writeAtomic(path, key); err != nil {
		return nil, fmt.Errorf("seen: key: %w", err)
	}
	s.setKey(key)
	return warnings, nil
}

// loadSlices reads the slice files in the directory.
func (s *Set) loadSlices() (warnings []error) {
	entries, err := os.ReadDir(s.o.Dir)
	if err != nil {
		return []error{fmt.Errorf("seen: %w", err)}
	}
	dur := int64(s.o.SliceDuration)
	for _, e := range entries {
		name := e.Name()
		path := filepath.Join(s.o.Dir, name)
		if strings.HasPrefix(name, tempPrefix) {
			os.Remove(path) // left by a crash during a write
			continue
		}
		if !strings.HasSuffix(name, fileSuffix) || !e.Type().IsRegular() {
			continue
		}
		ignore := func(reason error) {
			err := os.Rename(path, path+".ignored")
			if err != nil {
				reason = fmt.Errorf("%w (and renaming it failed: %v)", reason, err)
			}
			warnings = append(warnings, fmt.Errorf("seen: %s: %w; ignored, that slice starts empty", path, reason))
		}
		data, err := os.ReadFile(path)
		if err != nil {
			warnings = append(warnings, fmt.Errorf("seen: %w", err))
			continue
		}
		h, words, err := decodeSlice(data)
		switch {
		case err != nil:
			ignore(err)
			continue
		case h.keyCheck != s.keyCheck:
			ignore(errors.New("made with another key"))
			continue
		case h.dur != dur || h.nblocks != s.nblocks || h.k != uint32(s.k):
			ignore(fmt.Errorf("made with other options (slice %v, %d blocks, k %d; now %v, %d, %d)",
				time.Duration(h.dur), h.nblocks, h.k, s.o.SliceDuration, s.nblocks, s.k))
			continue
		case name != fileName(h.start/dur, dur):
			ignore(errors.New("its name does not match the slice it holds"))
			continue
		}
		s.slices = append(s.slices, &slice{num: h.start / dur, words: words, inserted: h.inserted})
		s.cur = max(s.cur, h.start/dur)
	}
	sortSlices(s.slices)
	if len(s.slices) > 0 {
		// Drop the slices too old beside the newest: the clock starts at
		// the newest, so they are gone for good.
		s.advance(s.cur)
	}
	return warnings
}

func sortSlices(sl []*slice) {
	// Few slices: insertion sort, newest first.
	for i := 1; i < len(sl); i++ {
		for j := i; j > 0 && sl[j].num > sl[j-1].num; j-- {
			sl[j], sl[j-1] = sl[j-1], sl[j]
		}
	}
}

// fileName names the file of slice num: its start time, readable.
func fileName(num, dur int64) string {
	return time.Unix(0, num*dur).UTC().Format("20060102T150405Z") + fileSuffix
}

// Seen reports whether name was seen less than ForgetAfter before now (to
// the granularity of a slice), and records it as seen at now. name is
// taken as it is: the caller lowercases it if case should not matter.
// Seen allocates nothing, except once a slice for the new slice's filter.
func (s *Set) Seen(name []byte, now time.Time) bool {
	// A keyed hash with a secret per-node key, so that someone who can
	// make the resolver ask for names cannot pick names that fall in the
	// same filter blocks, raising the false-positive rate for names they
	// want hidden. It does not make the state files secret: the key lies
	// beside them.
	h := siphash.Sum64(s.k0, s.k1, name)
	block, mask := s.locate(h)
	num := floorDiv(now.UnixNano(), int64(s.o.SliceDuration))

	s.mu.Lock()
	defer s.mu.Unlock()
	if num > s.cur {
		s.advance(num)
	}
	if len(s.slices) == 0 || s.slices[0].num != s.cur {
		s.addCurrent()
	}
	for i, sl := range s.slices {
		if has(sl.words[block:block+8], &mask) {
			if i > 0 {
				set(s.slices[0], block, &mask)
			}
			return true
		}
	}
	set(s.slices[0], block, &mask)
	return false
}

// contains reports whether name is in any slice, without recording it.
func (s *Set) contains(name []byte) bool {
	block, mask := s.locate(siphash.Sum64(s.k0, s.k1, name))
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sl := range s.slices {
		if has(sl.words[block:block+8], &mask) {
			return true
		}
	}
	return false
}

// locate returns the offset of a name's block in a slice's words and the
// bits of the block it sets, from its hash. The block comes from the top
// 32 bits (a multiply-shift range reduction, no division); the bits from
// a mix of the whole hash, 9 bits a position, 7 positions per word.
func (s *Set) locate(h uint64) (block uint64, mask [8]uint64) {
	block = ((h >> 32) * s.nblocks >> 32) * 8
	z := h
	var r uint64
	left := 0
	for range s.k {
		if left == 0 {
			z = mix(z + 0x9e3779b97f4a7c15)
			r, left = z, 7
		}
		pos := r & 511
		r >>= 9
		left--
		mask[pos>>6] |= 1 << (pos & 63)
	}
	return block, mask
}

// mix is the finaliser of SplitMix64 (Steele, Lea and Flood), a bijection
// that spreads every input bit over the output.
func mix(z uint64) uint64 {
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

func has(b []uint64, mask *[8]uint64) bool {
	_ = b[7]
	return b[0]&mask[0] == mask[0] && b[1]&mask[1] == mask[1] &&
		b[2]&mask[2] == mask[2] && b[3]&mask[3] == mask[3] &&
		b[4]&mask[4] == mask[4] && b[5]&mask[5] == mask[5] &&
		b[6]&mask[6] == mask[6] && b[7]&mask[7] == mask[7]
}

func set(sl *slice, block uint64, mask *[8]uint64) {
	b := sl.words[block : block+8]
	for i, m := range mask {
		b[i] |= m
	}
	sl.inserted++
	sl.dirty = true
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// advance moves the clock to slice num and drops the slices that fell
// out of the window. Called with s.mu held.
func (s *Set) advance(num int64) {
	s.cur = num
	keep := s.slices[:0]
	for _, sl := range s.slices {
		if num-sl.num < s.nslices {
			keep = append(keep, sl)
		} else {
			s.removed = append(s.removed, sl.num)
		}
	}
	clear(s.slices[len(keep):])
	s.slices = keep
}

// addCurrent puts an empty filter for the current slice in front. Called
// with s.mu held.
func (s *Set) addCurrent() {
	sl := &slice{num: s.cur, words: make([]uint64, s.nblocks*8)}
	s.slices = append(s.slices, nil)
	copy(s.slices[1:], s.slices)
	s.slices[0] = sl
	for i, r := range s.removed { // a slice back in the window is new again
		if r == s.cur {
			s.removed = append(s.removed[:i], s.removed[i+1:]...)
			break
		}
	}
}

// Flush writes the slices changed since the last Flush to the state
// directory, each atomically, and removes the files of expired slices.
// The filters are copied under the lock and written without it, so Seen
// waits only for the copy.
func (s *Set) Flush() error {
	if s.o.Dir == "" {
		return nil
	}
	type job struct {
		num  int64
		data []byte
	}
	var jobs []job
	s.mu.Lock()
	dur := int64(s.o.SliceDuration)
	for _, sl := range s.slices {
		if !sl.dirty {
			continue
		}
		h := header{start: sl.num * dur, dur: dur, nblocks: s.nblocks, k: uint32(s.k), inserted: sl.inserted, keyCheck: s.keyCheck}
		jobs = append(jobs, job{sl.num, encodeSlice(h, sl.words)})
		sl.dirty = false
	}
	removed := s.removed
	s.removed = nil
	s.mu.Unlock()

	var errs []error
	var failed []int64
	for _, j := range jobs {
		if err := writeAtomic(filepath.Join(s.o.Dir, fileName(j.num, dur)), j.data); err != nil {
			errs = append(errs, fmt.Errorf("seen: %w", err))
			failed = append(failed, j.num)
		}
	}
	for _, num := range removed {
		path := filepath.Join(s.o.Dir, fileName(num, dur))
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("seen: %w", err))
		}
	}
	if len(failed) > 0 { // try again at the next Flush
		s.mu.Lock()
		for _, sl := range s.slices {
			for _, num := range failed {
				if sl.num == num {
					sl.dirty = true
				}
			}
		}
		s.mu.Unlock()
	}
	return errors.Join(errs...)
}

// Close flushes the set. The set stays usable in memory.
func (s *Set) Close() error { return s.Flush() }

// Stats describe a Set.
type Stats struct {
	Slices      []SliceStats // newest first
	MemoryBytes int64        // held by the filters
	// FPRate is the estimated chance that a name never seen would now be
	// reported as seen, from the actual fill of the slices.
	FPRate float64
	// DesignFPRate is the rate with every slice full to Capacity
	// (Options.FPRate), and SliceFPRate one full slice's share of it.
	DesignFPRate, SliceFPRate float64
	Capacity                  int     // names per slice at SliceFPRate
	BitsPerName               float64 // filter bits per name at Capacity
	K                         int     // bits set per name
	MaxSlices                 int     // slices kept at most
}

// SliceStats describe one slice.
type SliceStats struct {
	Start    time.Time
	Inserted uint64  // names added to the slice
	Overfull bool    // Inserted > Capacity: the rate is above design
	Fill     float64 // the fraction of filter bits set
	FPRate   float64 // estimated from the fill of each block
}

// Stats returns the state of the set. It reads every filter, so it takes
// milliseconds for large sets: call it for reports, not per message.
func (s *Set) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{
		DesignFPRate: s.o.FPRate, SliceFPRate: s.sliceFP, Capacity: s.o.Capacity,
		BitsPerName: float64(s.nblocks*512) / float64(s.o.Capacity), K: s.k, MaxSlices: int(s.nslices),
	}
	pass := 1.0 // the chance that a new name passes every slice
	for _, sl := range s.slices {
		ones, fp := 0, 0.0
		for b := 0; b < len(sl.words); b += 8 {
			c := 0
			for _, w := range sl.words[b : b+8] {
				c += bits.OnesCount64(w)
			}
			ones += c
			fp += math.Pow(float64(c)/512, float64(s.k))
		}
		fp /= float64(s.nblocks)
		pass *= 1 - fp
		st.Slices = append(st.Slices, SliceStats{
			Start:    time.Unix(0, sl.num*int64(s.o.SliceDuration)).UTC(),
			Inserted: sl.inserted, Overfull: sl.inserted > uint64(s.o.Capacity),
			Fill: float64(ones) / float64(len(sl.words)*64), FPRate: fp,
		})
		st.MemoryBytes += int64(len(sl.words)) * 8
	}
	st.FPRate = 1 - pass
	return st
}

// size returns the number of blocks and bits per name that hold n names
// at false-positive rate p or below, using the least memory.
func size(n, p float64) (nblocks uint64, k int) {
	fits := func(nb uint64) (int, bool) {
		for k := 1; k <= maxK; k++ {
			if blockedFP(n, float64(nb), k) <= p {
				return k, true
			}
		}
		return 0, false
	}
	lo, hi := uint64(1), uint64(1)
	for _, ok := fits(hi); !ok; _, ok = fits(hi) {
		lo, hi = hi, hi*2
	}
	for lo < hi { // the least nb that fits
		mid := lo + (hi-lo)/2
		if _, ok := fits(mid); ok {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	// With the size fixed, the k of the lowest rate.
	best, bestFP := 1, 2.0
	for k := 1; k <= maxK; k++ {
		if fp := blockedFP(n, float64(hi), k); fp < bestFP {
			best, bestFP = k, fp
		}
	}
	return hi, best
}

// blockedFP is the false-positive rate of a blocked Bloom filter of nb
// blocks of 512 bits holding n names with k bits each: the number of names
// in the probed block follows a Poisson law of mean n/nb, and a block
// with j names has each bit set with chance 1-(1-1/512)^(jk).
func blockedFP(n, nb float64, k int) float64 {
	lambda := n / nb
	if lambda > 500 {
		return 1
	}
	fp, pj := 0.0, math.Exp(-lambda)
	top := lambda + 15*math.Sqrt(lambda) + 30
	for j := 0.0; j <= top; j++ {
		if j > 0 {
			pj *= lambda / j
		}
		fp += pj * math.Pow(-math.Expm1(j*float64(k)*math.Log1p(-1.0/512)), float64(k))
	}
	return fp
}
