// Package keyfile reads and writes files that hold secrets: private keys,
// age identities, credentials. It refuses a secret that others can read,
// and writes atomically with mode 0600.
package keyfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/tapir-edge/tapir/lib/fault"
)

// ErrExposed reports a secret file that group or others can read or
// write: a configuration error (fault.Config), for the operator to fix.
var ErrExposed = fault.New(fault.Config, errors.New("readable or writable by group or others"))

// Read returns the contents of the secret file at path. It refuses the file
// if its mode lets group or others read or write it, naming the file and
// the mode, so that a leaked key is noticed rather than used.
func Read(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if m := fi.Mode().Perm(); m&0o066 != 0 {
		return nil, fmt.Errorf("%s: mode %04o: %w (chmod 600 %s)", path, m, ErrExposed, path)
	}
	b := make([]byte, fi.Size())
	if _, err := f.ReadAt(b, 0); err != nil && fi.Size() > 0 {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, nil
}

// TempPrefix starts the name of Write's temporary files: a crash between
// create and rename leaves one behind, which a directory's owner removes.
const TempPrefix = ".tmp-"

// Write replaces path with data atomically: it writes a temporary file in
// the same directory with the given mode, syncs it, renames it over path,
// and syncs the directory, so a reader sees the old contents or the new,
// never a part, even after a crash.
func Write(path string, data []byte, mode os.FileMode) error {
	return WriteFunc(path, mode, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteFunc is Write for contents that write streams, such as a large
// zone file, instead of holding in memory.
func WriteFunc(path string, mode os.FileMode, write func(io.Writer) error) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, TempPrefix+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // fails harmlessly after the rename
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync() // make the rename itself durable
		d.Close()
	}
	return nil
}
