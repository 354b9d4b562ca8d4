// Package spool keeps what a destination has not yet accepted, on disk,
// so that it survives a crash, a restart and a core that is away for days.
//
// Each item is a file named by its sequence number, written to a temporary
// name, synced and renamed, so an item is either whole or absent; a
// temporary file found at start is the torn tail of a crash, and is
// removed with a log line. The spool is bounded in bytes: when a new item
// would pass the bound, the oldest items are dropped, and counted.
// Delivery is at least once: an item goes only when Ack says the
// destination took it.
package spool

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tapir-edge/tapir/lib/keyfile"
)

const (
	suffix = ".item"
	tmpPre = keyfile.TempPrefix
	// Rejected is the folder, inside the spool, of items a destination
	// refused for good, each with a .reason file beside it.
	Rejected = "rejected"
)

type item struct {
	seq  uint64
	size int64
}

// Spool is one destination's queue on disk. It is safe for concurrent
// use: typically one goroutine puts and another sends.
type Spool struct {
	dir string
	max int64

	mu      sync.Mutex
	items   []item // oldest first
	next    uint64
	bytes   int64
	dropped uint64
	ready   chan struct{} // signalled on Put
}

// Open opens or creates the spool in dir, bounded to limit bytes (0: no
// bound). warnings tell of torn files removed.
func Open(dir string, limit int64) (s *Spool, warnings []error, err error) {
	if err := os.MkdirAll(filepath.Join(dir, Rejected), 0o700); err != nil {
		return nil, nil, err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	s = &Spool{dir: dir, max: limit, next: 1, ready: make(chan struct{}, 1)}
	for _, e := range ents {
		name := e.Name()
		switch {
		case strings.HasPrefix(name, tmpPre):
			os.Remove(filepath.Join(dir, name))
			warnings = append(warnings, fmt.Errorf("%s: removed a torn item, written when the tool stopped", filepath.Join(dir, name)))
		case strings.HasSuffix(name, suffix):
			seq, err := strconv.ParseUint(strings.TrimSuffix(name, suffix), 10, 64)
			if err != nil {
				warnings = append(warnings, fmt.Errorf("%s: not a spool item; left alone", filepath.Join(dir, name)))
				continue
			}
			fi, err := e.Info()
			if err != nil {
				continue
			}
			s.items = append(s.items, item{seq, fi.Size()})
			s.bytes += fi.Size()
			s.next = max(s.next, seq+1)
		}
	}
	sort.Slice(s.items, func(i, j int) bool { return s.items[i].seq < s.items[j].seq })
	return s, warnings, nil
}

func (s *Spool) path(seq uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%020d%s", seq, suffix))
}

// Put stores data as the newest item and returns its sequence number and
// how many old items it dropped to stay within the bound.
func (s *Spool) Put(data []byte) (seq uint64, dropped int, err error) {
	s.mu.Lock()
	seq = s.next
	s.next++
	s.mu.Unlock()
	if err := writeFile(s.path(seq), data); err != nil {
		return 0, 0, err
	}
	s.mu.Lock()
	s.items = append(s.items, item{seq, int64(len(data))})
	s.bytes += int64(len(data))
	for s.max > 0 && s.bytes > s.max && len(s.items) > 1 {
		old := s.items[0]
		s.items = s.items[1:]
		s.bytes -= old.size
		s.dropped++
		dropped++
		os.Remove(s.path(old.seq))
	}
	s.mu.Unlock()
	select {
	case s.ready <- struct{}{}:
	default:
	}
	return seq, dropped, nil
}

// writeFile writes data to path atomically (see keyfile.Write): an item
// is whole or absent.
func writeFile(path string, data []byte) error {
	if err := keyfile.Write(path, data, 0o600); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return nil
}

// ErrEmpty is returned by Oldest when nothing waits.
var ErrEmpty = errors.New("spool: empty")

// Oldest returns the oldest item that waits, without removing it.
func (s *Spool) Oldest() (seq uint64, data []byte, err error) {
	for {
		s.mu.Lock()
		if len(s.items) == 0 {
			s.mu.Unlock()
			return 0, nil, ErrEmpty
		}
		it := s.items[0]
		s.mu.Unlock()
		data, err := os.ReadFile(s.path(it.seq))
		if errors.Is(err, os.ErrNotExist) {
			// Dropped for room meanwhile: take the next.
			s.forget(it.seq)
			continue
		}
		return it.seq, data, err
	}
}

// Wait returns when an item may have been put since the last call, or
// after d.
func (s *Spool) Wait(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-s.ready:
	case <-t.C:
	}
}

func (s *Spool) forget(seq uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, it := range s.items {
		if it.seq == seq {
			s.items = append(s.items[:i], s.items[i+1:]...)
			s.bytes -= it.size
			return true
		}
	}
	return false
}

// Ack removes an item the destination accepted.
func (s *Spool) Ack(seq uint64) error {
	s.forget(seq)
	if err := os.Remove(s.path(seq)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Reject moves an item the destination refused for good to rejected/,
// with the reason beside it, for the operator to look at.
func (s *Spool) Reject(seq uint64, reason string) error {
	s.forget(seq)
	dst := filepath.Join(s.dir, Rejected, filepath.Base(s.path(seq)))
	if err := os.Rename(s.path(seq), dst); err != nil {
		return err
	}
	return writeFile(strings.TrimSuffix(dst, suffix)+".reason", []byte(reason+"\n"))
}

// RejectPart keeps part of an item that a destination refused for good in
// rejected/, with the reason, while the rest of the item goes on: an item
// may batch several records.
func (s *Spool) RejectPart(seq uint64, part int, data []byte, reason string) error {
	base := filepath.Join(s.dir, Rejected, fmt.Sprintf("%020d-%d", seq, part))
	if err := writeFile(base+suffix, data); err != nil {
		return err
	}
	return writeFile(base+".reason", []byte(reason+"\n"))
}

// Stats says what waits.
type Stats struct {
	Items    int
	Bytes    int64
	Dropped  uint64 // items dropped for room since Open
	Oldest   uint64 // sequence number of the oldest item, 0 if none
	Rejected int    // items in rejected/
}

// Waiting returns how many items and bytes wait, without reading the
// disk, for callers that ask often (metrics, a drain loop).
func (s *Spool) Waiting() (items int, bytes int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.items), s.bytes
}

// Stats returns what waits now; counting rejected/ reads the directory.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	st := Stats{Items: len(s.items), Bytes: s.bytes, Dropped: s.dropped}
	if len(s.items) > 0 {
		st.Oldest = s.items[0].seq
	}
	s.mu.Unlock()
	if ents, err := os.ReadDir(filepath.Join(s.dir, Rejected)); err == nil {
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), suffix) {
				st.Rejected++
			}
		}
	}
	return st
}
