// Package archive writes a Frame Streams stream, dnstap or tapir records,
// into a directory of files rotated by wall-clock interval and by size,
// optionally compressed (zstd) and encrypted to age recipients, so that an
// edge keeps an archive it cannot read itself.
//
// Each file is a complete stream (START, data frames, STOP), named by the
// start of its interval in UTC:
//
//	dnstap-20261127T120000Z.fstrm.zst.age
//	dnstap-20261127T120000Z-2.fstrm.zst.age   (a second file in the interval, after a size rotation)
//	records-20261127T130000Z.fstrm
//
// A file is written under a temporary name, ".tmp-" and its final name, that
// readers' globs do not match, and renamed when complete, after its encoders
// were closed and it was synced; the directory is synced after the rename.
// Encrypted files have mode 0600, others 0640.
//
// A temporary file left by a crash is renamed, at Open, to its final name
// with ".partial" appended: its frames up to the tear can still be read
// (tapir-cat reads them and reports the truncation). Retention (KeepAge,
// KeepBytes) runs at Open and after each completed file, and only ever
// removes complete files of this archive's naming pattern: never partial
// ones, never another prefix's, never foreign files.
//
// One Writer per directory and prefix: two writers of the same archive in
// one directory are not detected.
package archive

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tapir-edge/tapir/lib/keyfile"

	"filippo.io/age"

	"github.com/tapir-edge/tapir/lib/fstrm"
	"github.com/tapir-edge/tapir/lib/stream"
)

// Content types whose archives have a known file prefix.
const (
	dnstapContentType = "protobuf:dnstap.Dnstap"
	recordContentType = "json:tapir.Record"
)

// Naming.
const (
	tmpPrefix     = keyfile.TempPrefix // as every atomic writer of the toolkit names its temporary files
	partialSuffix = ".partial"
	timeLayout    = "20060102T150405Z"
)

// Config says what to archive, where, and how long to keep it.
type Config struct {
	// Dir is the archive directory; Open creates it (mode 0750) if missing.
	Dir string
	// ContentType is the content type of the stream being archived.
	ContentType string
	// Prefix starts each file name. Empty: "dnstap" for dnstap,
	// "records" for tapir records; other content types must set it.
	Prefix string
	// Rotate starts a new file at each boundary of this wall-clock
	// interval (UTC, aligned: 1h rotates at 12:00, 13:00…). Archives
	// follow arrival, not the frames' own times. 0: no time rotation, a
	// file is named by the time it was opened.
	Rotate time.Duration
	// MaxSize also rotates when a file reaches this many bytes on disk
	// (after compression and encryption). The encoders buffer, so a file
	// can exceed it by what they hold: about 64 KiB of frames, a zstd
	// block and an age chunk (64 KiB). 0: no limit.
	MaxSize int64
	// Zstd compresses each file.
	Zstd bool
	// Recipients, if any, encrypt each file (after compression).
	Recipients []age.Recipient
	// KeepAge removes complete files last modified longer ago than this.
	// 0: keep.
	KeepAge time.Duration
	// KeepBytes removes the oldest complete files while their total size
	// exceeds this (the file being written is not counted). 0: no limit.
	KeepBytes int64
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives rotations, removals and retention failures; nil
	// discards them.
	Logger *slog.Logger
}

// Stats counts what a Writer did.
type Stats struct {
	Frames       int64 // data frames written
	Files        int64 // files completed (renamed to their final name)
	Bytes        int64 // bytes of the files completed, as stored
	Removed      int64 // files removed by retention
	RemovedBytes int64
	RetentionErr int64 // files retention failed to remove or list
}

// Writer writes a stream into an archive directory. Its methods are safe
// for concurrent use: a timer may call Flush while another goroutine
// writes frames.
type Writer struct {
	mu       sync.Mutex
	c        Config
	prefix   string
	ext      string
	mode     os.FileMode
	pattern  *regexp.Regexp // complete files of this archive
	log      *slog.Logger
	warnings []string

	// The current file, when one is open.
	f        *os.File
	cw       countingWriter
	enc      io.WriteCloser
	fw       *fstrm.Writer
	tmp      string // path of the temporary file
	final    string // path it is renamed to
	interval time.Time
	stats    Stats
	closed   bool
	err      error // sticky: a write or finish failed
}

// ErrClosed reports use of a closed Writer.
var ErrClosed = errors.New("archive: writer closed")

// Open prepares the archive directory: it renames temporary files left by
// a crash to "….partial" (see Warnings) and applies retention. The first
// file is created with the first frame.
func Open(c Config) (*Writer, error) {
	if c.Dir == "" {
		return nil, errors.New("archive: no directory")
	}
	if c.ContentType == "" {
		return nil, errors.New("archive: no content type")
	}
	if c.Rotate < 0 || c.MaxSize < 0 || c.KeepAge < 0 || c.KeepBytes < 0 {
		return nil, errors.New("archive: negative rotation or retention limit")
	}
	if c.Rotate > 0 && c.Rotate < time.Second {
		return nil, fmt.Errorf("archive: rotation interval %v is shorter than a second, the resolution of file names", c.Rotate)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	w := &Writer{c: c, prefix: c.Prefix, log: c.Logger}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	if w.prefix == "" {
		switch c.ContentType {
		case dnstapContentType:
			w.prefix = "dnstap"
		case recordContentType:
			w.prefix = "records"
		default:
			return nil, fmt.Errorf("archive: content type %q has no default file prefix: set one", c.ContentType)
		}
	}
	if !regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.]*$`).MatchString(w.prefix) {
		return nil, fmt.Errorf("archive: file prefix %q: only letters, digits, \"_\" and \".\" are allowed", w.prefix)
	}
	w.ext = ".fstrm"
	w.mode = 0o640
	if c.Zstd {
		w.ext += ".zst"
	}
	if len(c.Recipients) > 0 {
		w.ext += ".age"
		w.mode = 0o600
	}
	// Retention covers every file of this prefix, whatever its
	// encodings, so that a change of flags does not strand old files.
	w.pattern = regexp.MustCompile(`^` + regexp.QuoteMeta(w.prefix) + `-(\d{8}T\d{6}Z)(?:-(\d+))?\.fstrm(?:\.zst)?(?:\.age)?$`)

	if err := os.MkdirAll(c.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("archive: %w", err)
	}
	if err := w.recover(); err != nil {
		return nil, err
	}
	w.retain()
	return w, nil
}

// Warnings returns what Open found and logged: temporary files left by a
// crash, renamed to "….partial" (or removed when empty).
func (w *Writer) Warnings() []string { return slices.Clone(w.warnings) }

// Stats returns the counters so far.
func (w *Writer) Stats() Stats {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stats
}

// Current returns the final name the file being written will have, or ""
// when none is open.
func (w *Writer) Current() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.final
}

func (w *Writer) warn(msg string, args ...any) {
	w.log.Warn(msg, args...)
	s := msg
	for i := 0; i+1 < len(args); i += 2 {
		s += fmt.Sprintf(" %v=%v", args[i], args[i+1])
	}
	w.warnings = append(w.warnings, s)
}

// recover renames this archive's leftover temporary files.
func (w *Writer) recover() error {
	ents, err := os.ReadDir(w.c.Dir)
	if err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	renamed := false
	for _, e := range ents {
		name := e.Name()
		base, ok := strings.CutPrefix(name, tmpPrefix)
		if !ok || !e.Type().IsRegular() || !w.pattern.MatchString(base) {
			continue
		}
		path := filepath.Join(w.c.Dir, name)
		fi, err := e.Info()
		if err != nil {
			return fmt.Errorf("archive: %w", err)
		}
		if fi.Size() == 0 {
			if err := os.Remove(path); err != nil {
				return fmt.Errorf("archive: %w", err)
			}
			w.warn("archive: removed an empty file left by a crash", "file", path)
			continue
		}
		dst := filepath.Join(w.c.Dir, base+partialSuffix)
		for n := 2; exists(dst); n++ {
			dst = filepath.Join(w.c.Dir, base+"."+strconv.Itoa(n)+partialSuffix)
		}
		if err := os.Rename(path, dst); err != nil {
			return fmt.Errorf("archive: %w", err)
		}
		renamed = true
		w.warn("archive: a file left by a crash is incomplete; its frames up to the tear are readable",
			"file", dst, "bytes", fi.Size())
	}
	if renamed {
		return syncDir(w.c.Dir)
	}
	return nil
}

// WriteFrame writes one data frame to the current file, first rotating if
// the interval ended or the file reached MaxSize.
func (w *Writer) WriteFrame(p []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	if w.err != nil {
		return w.err
	}
	if len(p) == 0 {
		return errors.New("archive: empty data frame")
	}
	if w.f != nil && w.due(w.c.Now()) {
		if err := w.finish(); err != nil {
			return err
		}
	}
	if w.f == nil {
		if err := w.create(w.c.Now()); err != nil {
			return err
		}
	}
	if err := w.fw.WriteFrame(p); err != nil {
		return w.fail(err)
	}
	w.stats.Frames++
	return nil
}

// due reports whether the current file must be completed.
func (w *Writer) due(now time.Time) bool {
	if w.c.Rotate > 0 && !w.start(now).Equal(w.interval) {
		return true
	}
	return w.c.MaxSize > 0 && w.cw.n >= w.c.MaxSize
}

// start returns the start of the interval now is in.
func (w *Writer) start(now time.Time) time.Time {
	now = now.UTC()
	if w.c.Rotate > 0 {
		return now.Truncate(w.c.Rotate)
	}
	return now.Truncate(time.Second)
}

// Flush completes the current file if its interval has ended (so a
// periodic Flush closes files on time even when no frames arrive), and
// otherwise pushes what is buffered through the compressor to the file and
// syncs it. An age layer still holds the last partial chunk (under
// 64 KiB) until the file is complete: encryption cannot end a chunk early.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	if w.err != nil {
		return w.err
	}
	if w.f == nil {
		return nil
	}
	if w.c.Rotate > 0 && !w.start(w.c.Now()).Equal(w.interval) {
		return w.finish()
	}
	if err := w.fw.Flush(); err != nil {
		return w.fail(err)
	}
	if err := stream.Flush(w.enc); err != nil {
		return w.fail(err)
	}
	if err := w.f.Sync(); err != nil {
		return w.fail(err)
	}
	return nil
}

// Close completes the current file: STOP, encoders closed, fsync, rename
// to its final name, directory synced; then applies retention.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	if w.err != nil {
		if w.f != nil {
			w.f.Close()
			w.f = nil
		}
		return w.err
	}
	if w.f == nil {
		return nil
	}
	return w.finish()
}

func (w *Writer) fail(err error) error {
	w.err = fmt.Errorf("archive: %s: %w", w.tmp, err)
	return w.err
}

// create opens a new temporary file for the interval of now.
func (w *Writer) create(now time.Time) error {
	iv := w.start(now)
	base := w.prefix + "-" + iv.Format(timeLayout)
	var name string
	for n := 1; ; n++ {
		name = base + w.ext
		if n > 1 {
			name = base + "-" + strconv.Itoa(n) + w.ext
		}
		if !exists(filepath.Join(w.c.Dir, name)) &&
			!exists(filepath.Join(w.c.Dir, tmpPrefix+name)) &&
			!exists(filepath.Join(w.c.Dir, name+partialSuffix)) {
			break
		}
	}
	tmp := filepath.Join(w.c.Dir, tmpPrefix+name)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, w.mode)
	if err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	if err := f.Chmod(w.mode); err != nil { // whatever the umask
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("archive: %w", err)
	}
	w.cw = countingWriter{w: f}
	enc, err := stream.NewWriter(&w.cw, stream.WriterOptions{Zstd: w.c.Zstd, Recipients: w.c.Recipients})
	if err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("archive: %w", err)
	}
	w.f, w.enc, w.tmp, w.final, w.interval = f, enc, tmp, filepath.Join(w.c.Dir, name), iv
	w.fw = fstrm.NewWriter(enc, w.c.ContentType)
	w.log.Debug("archive: new file", "file", w.tmp)
	return nil
}

// finish completes the current file and applies retention.
func (w *Writer) finish() error {
	if err := w.fw.Close(); err != nil {
		return w.fail(err)
	}
	if err := w.enc.Close(); err != nil {
		return w.fail(err)
	}
	if err := w.f.Sync(); err != nil {
		return w.fail(err)
	}
	if err := w.f.Close(); err != nil {
		w.f = nil
		return w.fail(err)
	}
	w.f = nil
	if err := os.Rename(w.tmp, w.final); err != nil {
		return w.fail(err)
	}
	if err := syncDir(w.c.Dir); err != nil {
		return w.fail(err)
	}
	w.stats.Files++
	w.stats.Bytes += w.cw.n
	w.log.Info("archive: file complete", "file", w.final, "bytes", w.cw.n)
	w.final, w.tmp = "", ""
	w.retain()
	return nil
}

type archived struct {
	path  string
	start time.Time
	seq   int
	size  int64
	mtime time.Time
}

// retain removes complete files beyond KeepAge and KeepBytes.
func (w *Writer) retain() {
	if w.c.KeepAge == 0 && w.c.KeepBytes == 0 {
		return
	}
	ents, err := os.ReadDir(w.c.Dir)
	if err != nil {
		w.stats.RetentionErr++
		w.log.Error("archive: retention", "err", err)
		return
	}
	var files []archived
	for _, e := range ents {
		m := w.pattern.FindStringSubmatch(e.Name())
		if m == nil || !e.Type().IsRegular() {
			continue
		}
		t, err := time.Parse(timeLayout, m[1])
		if err != nil {
			continue
		}
		seq := 1
		if m[2] != "" {
			if seq, err = strconv.Atoi(m[2]); err != nil {
				continue
			}
		}
		fi, err := e.Info()
		if err != nil {
			continue // removed meanwhile
		}
		files = append(files, archived{filepath.Join(w.c.Dir, e.Name()), t, seq, fi.Size(), fi.ModTime()})
	}
	// Oldest first: by interval, then by sequence within it.
	slices.SortFunc(files, func(a, b archived) int {
		if c := a.start.Compare(b.start); c != 0 {
			return c
		}
		return a.seq - b.seq
	})
	var total int64
	for _, f := range files {
		total += f.size
	}
	now := w.c.Now()
	removed := false
	for _, f := range files {
		old := w.c.KeepAge > 0 && now.Sub(f.mtime) > w.c.KeepAge
		big := w.c.KeepBytes > 0 && total > w.c.KeepBytes
		if !old && !big {
			continue
		}
		if err := os.Remove(f.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			w.stats.RetentionErr++
			w.log.Error("archive: retention", "err", err)
			continue
		}
		removed = true
		total -= f.size
		w.stats.Removed++
		w.stats.RemovedBytes += f.size
		reason := "age"
		if !old {
			reason = "size"
		}
		w.log.Info("archive: removed", "file", f.path, "bytes", f.size, "reason", reason)
	}
	if removed {
		syncDir(w.c.Dir)
	}
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
