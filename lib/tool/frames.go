package tool

import (
	"errors"
	"fmt"
	"io"
	"log/slog"

	"filippo.io/age"

	"github.com/tapir-edge/tapir/lib/fstrm"
)

// Frames reads the frames of several inputs one after another, as a
// filter reads its -r files or stdin. An input that cannot be opened, or
// that turns out corrupt, is logged with where it went wrong, and reading
// goes on with the next; Err reports them at the end.
type Frames struct {
	names []string
	ids   []age.Identity
	opts  fstrm.ReaderOptions
	log   *slog.Logger
	in    *Input
	bad   []error
}

// NewFrames returns a reader of the named inputs ("-" is stdin).
func NewFrames(names []string, ids []age.Identity, opts fstrm.ReaderOptions, log *slog.Logger) *Frames {
	return &Frames{names: names, ids: ids, opts: opts, log: log}
}

// Next returns the next frame (valid until the next call), its number in
// its input, and the input's name; io.EOF after the last input.
func (fs *Frames) Next() ([]byte, int64, string, error) {
	for {
		if fs.in == nil {
			if len(fs.names) == 0 {
				return nil, 0, "", io.EOF
			}
			in, err := Open(fs.names[0], fs.ids, fs.opts)
			fs.names = fs.names[1:]
			if err != nil {
				if Code(err) == ExitUsage {
					// A missing identity: no input will do better.
					return nil, 0, "", err
				}
				fs.fail(err)
				continue
			}
			fs.in = in
		}
		b, err := fs.in.Next()
		if err == nil {
			return b, fs.in.Frames(), fs.in.Name, nil
		}
		if errors.Is(err, fstrm.ErrMissingStop) {
			// Nothing lost: the writer did not finish (a capture cut
			// short between frames).
			fs.log.Warn("stream ended without STOP", "input", fs.in.Name, "frames", fs.in.Frames())
		} else if err != io.EOF {
			fs.fail(fmt.Errorf("%s: %w", fs.in.Name, err))
		}
		fs.in.Close()
		fs.in = nil
	}
}

func (fs *Frames) fail(err error) {
	fs.log.Error("input", "err", err)
	fs.bad = append(fs.bad, err)
}

// Buffered reports whether Next can return without waiting for input.
func (fs *Frames) Buffered() bool { return fs.in != nil && fs.in.Buffered() >= 4 }

// Err returns an input error (exit 3) if any input could not be read.
func (fs *Frames) Err() error {
	switch len(fs.bad) {
	case 0:
		return nil
	case 1:
		return InputError(fs.bad[0])
	}
	return InputError(fmt.Errorf("%d inputs could not be read whole: %w", len(fs.bad), errors.Join(fs.bad...)))
}

// Close closes the input being read.
func (fs *Frames) Close() error {
	if fs.in != nil {
		return fs.in.Close()
	}
	return nil
}

// ContentType is the content type of the input the last frame came from.
func (fs *Frames) ContentType() string {
	if fs.in == nil {
		return ""
	}
	return fs.in.ContentType()
}
