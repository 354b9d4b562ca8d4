package stream

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"filippo.io/age"

	"github.com/tapir-edge/tapir/lib/fault"
	"github.com/tapir-edge/tapir/lib/fstrm"
	"github.com/tapir-edge/tapir/lib/record"
)

// Input is one opened input stream.
type Input struct {
	Name string // file name, or "stdin"
	*fstrm.Reader
	s *Reader
	f *os.File
}

// Close closes the input's decoders and file.
func (in *Input) Close() error {
	in.s.Close()
	if in.f != os.Stdin {
		return in.f.Close()
	}
	return nil
}

// Open opens one input: the file (or stdin for "-"), its compression and
// encryption, and its Frame Streams opening, checked against the content
// types the tool reads. Errors name the input and are of kind fault.Input, but for
// encrypted input without an identity to open it: fault.Config.
//
// opts.Continue is honoured only for a FIFO or socket, the pipeline's
// inputs: a regular file, or a terminal, is read strictly. Such stdin is
// read through a non-blocking duplicate, which has read deadlines, so that
// the Frame Streams reader can Stop at a frame boundary; opts.Log, when
// set, names the input.
func Open(name string, ids []age.Identity, opts fstrm.ReaderOptions) (*Input, error) {
	return open(name, ids, opts, nil)
}

// open is Open, calling opened, when not nil, with the file as soon as it
// is open and before anything is read from it.
func open(name string, ids []age.Identity, opts fstrm.ReaderOptions, opened func(*os.File)) (*Input, error) {
	in := &Input{Name: name, f: os.Stdin}
	if name == "-" {
		in.Name = "stdin"
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, fault.New(fault.Input, err)
		}
		in.f = f
	}
	if opts.Continue && !isPipe(in.f) {
		opts.Continue = false
	}
	if opts.Continue && in.f == os.Stdin {
		f, err := pollable(os.Stdin)
		if err != nil {
			return nil, fault.Errorf(fault.Input, "%s: %w", in.Name, err)
		}
		in.f = f
	}
	if opts.Log != nil {
		opts.Log = opts.Log.With("input", in.Name)
	}
	if opened != nil {
		opened(in.f)
	}
	s, err := NewReader(in.f, ids)
	if err != nil {
		in.f.Close()
		if errors.Is(err, ErrNoIdentity) {
			return nil, fault.Errorf(fault.Config, "%s: %w", in.Name, err)
		}
		return nil, fault.Errorf(fault.Input, "%s: %w", in.Name, err)
	}
	in.s = s
	r, err := fstrm.NewFileReader(s, opts)
	if err != nil {
		in.Close()
		return nil, fault.Errorf(fault.Input, "%s: %w", in.Name, err)
	}
	if r.ContentType() == record.ContentType {
		r.SetMaxFrameSize(record.MaxFrameSize)
	}
	in.Reader = r
	return in, nil
}

// isPipe reports whether f is a FIFO, a pipe or a socket: an input that
// can outlive the processes that read and write it.
func isPipe(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&(os.ModeNamedPipe|os.ModeSocket) != 0
}

// pollable returns a duplicate of f in non-blocking mode, which Go's
// poller serves, so that it has read deadlines. f itself may be blocking,
// as the pipe a shell or exec gives; a FIFO that systemd passes is
// non-blocking already. The mode belongs to the open file, which f shares,
// so f is not to be read any more.
func pollable(f *os.File) (*os.File, error) {
	fd, err := syscall.Dup(int(f.Fd()))
	if err != nil {
		return nil, fmt.Errorf("dup: %w", err)
	}
	syscall.CloseOnExec(fd)
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("set non-blocking: %w", err)
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}
