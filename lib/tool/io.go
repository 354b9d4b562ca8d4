package tool

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"filippo.io/age"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/tapir-edge/tapir/lib/fstrm"
	"github.com/tapir-edge/tapir/lib/record"
	"github.com/tapir-edge/tapir/lib/stream"
)

// InputFlags are the flags of a tool that reads streams: -r and --identity.
func InputFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "read", Aliases: []string{"r"}, Usage: "read `FILE` (repeatable; - is stdin) instead of stdin", Category: "Input", TakesFile: true},
		&cli.StringSliceFlag{Name: "identity", Aliases: []string{"i"}, Usage: "age identity `FILE` to decrypt encrypted input (repeatable; mode 0600)", Category: "Input", TakesFile: true},
	}
}

// OutputFlags are the flags of a tool that writes a stream: -w, --zstd,
// --recipient and --recipients-file.
func OutputFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "write", Aliases: []string{"w"}, Usage: "write to `FILE` instead of stdout (reopened on SIGHUP)", Category: "Output", TakesFile: true},
		&cli.BoolFlag{Name: "zstd", Aliases: []string{"z"}, Usage: "compress the output with zstd", Category: "Output"},
		&cli.StringSliceFlag{Name: "recipient", Usage: "encrypt the output to age `RECIPIENT` (age1…; repeatable)", Category: "Output"},
		&cli.StringSliceFlag{Name: "recipients-file", Usage: "encrypt the output to the age recipients in `FILE` (repeatable)", Category: "Output", TakesFile: true},
	}
}

// Inputs names the inputs: the -r files, or "-" for stdin.
func Inputs(c *cli.Context) []string {
	if in := c.StringSlice("read"); len(in) > 0 {
		return in
	}
	return []string{"-"}
}

// Input is one opened input stream.
type Input struct {
	Name string // file name, or "stdin"
	*fstrm.Reader
	s *stream.Reader
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

// Identities reads the --identity files.
func Identities(c *cli.Context) ([]age.Identity, error) {
	ids, err := stream.ReadIdentities(c.StringSlice("identity"))
	if err != nil {
		return nil, Usagef("--identity: %w", err)
	}
	return ids, nil
}

// Open opens one input: the file (or stdin for "-"), its compression and
// encryption, and its Frame Streams opening, checked against the content
// types the tool reads. Errors are input errors (exit 3) that name the
// input.
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
			return nil, InputError(err)
		}
		in.f = f
	}
	if opts.Continue && !isPipe(in.f) {
		opts.Continue = false
	}
	if opts.Continue && in.f == os.Stdin {
		f, err := pollable(os.Stdin)
		if err != nil {
			return nil, InputError(fmt.Errorf("%s: %w", in.Name, err))
		}
		in.f = f
	}
	if opts.Log != nil {
		opts.Log = opts.Log.With("input", in.Name)
	}
	if opened != nil {
		opened(in.f)
	}
	s, err := stream.NewReader(in.f, ids)
	if err != nil {
		in.f.Close()
		if errors.Is(err, stream.ErrNoIdentity) {
			return nil, Usagef("%s: %w", in.Name, err)
		}
		return nil, InputError(fmt.Errorf("%s: %w", in.Name, err))
	}
	in.s = s
	r, err := fstrm.NewFileReader(s, opts)
	if err != nil {
		in.Close()
		return nil, InputError(fmt.Errorf("%s: %w", in.Name, err))
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

// Output is the stream a tool writes: stdout or the -w file, encoded as
// the flags say. It is safe for use by one goroutine at a time, except
// Reopen, which the caller serialises with writes.
//
// When the output is a FIFO named with -w, not compressed or encrypted, Flush
// and FlushFrames first write a sync point (fstrm.Writer.Sync: STOP, then
// START) if frames were written since the last one and it is
// SyncInterval ago: the next stage, if it died mid-frame, or if this
// process dies mid-frame, finds its place again there. An idle pipe
// carries nothing.
type Output struct {
	*fstrm.Writer
	path string
	opts stream.WriterOptions
	f    *os.File
	enc  io.WriteCloser

	sync     bool      // write sync points
	synced   int64     // Writer.Frames at the last sync point
	syncedAt time.Time // when it was written
}

// SyncInterval is the least time between an Output's sync points.
const SyncInterval = time.Second

// CreateOutput opens the output that the flags name, for a stream of
// content type ct. It refuses to write a binary stream to a terminal.
func CreateOutput(c *cli.Context, ct string) (*Output, error) {
	rs, err := stream.ParseRecipients(c.StringSlice("recipient"), c.StringSlice("recipients-file"))
	if err != nil {
		return nil, Usagef("%w", err)
	}
	o := &Output{path: c.String("write"), opts: stream.WriterOptions{Zstd: c.Bool("zstd"), Recipients: rs}}
	if err := o.open(os.O_TRUNC); err != nil {
		return nil, err
	}
	o.Writer = fstrm.NewWriter(o.enc, ct)
	o.synced, o.syncedAt = 0, time.Now()
	return o, nil
}

// open opens the output; flag is os.O_TRUNC at start, and os.O_APPEND on
// SIGHUP, so that a file that was not moved away first keeps what it has.
func (o *Output) open(flag int) error {
	if o.path == "" || o.path == "-" {
		if term.IsTerminal(int(os.Stdout.Fd())) {
			return Usagef("refusing to write a binary stream to a terminal: redirect stdout or use -w FILE")
		}
		o.f = os.Stdout
	} else {
		f, err := os.OpenFile(o.path, os.O_WRONLY|os.O_CREATE|flag, 0o644)
		if err != nil {
			return &Error{ExitFailure, err}
		}
		o.f = f
	}
	enc, err := stream.NewWriter(o.f, o.opts)
	if err != nil {
		return err
	}
	o.enc = enc
	fi, err := o.f.Stat()
	// Only a FIFO named with -w, as the units' stages write: a shell pipe
	// on stdout may feed a reader that ends at the first STOP (dnstap -r).
	o.sync = err == nil && o.f != os.Stdout && fi.Mode()&os.ModeNamedPipe != 0 && !o.opts.Zstd && len(o.opts.Recipients) == 0
	return nil
}

// syncPoint writes a sync point when one is due (see Output).
func (o *Output) syncPoint() {
	if !o.sync || o.Writer.Frames() == o.synced {
		return
	}
	if now := time.Now(); now.Sub(o.syncedAt) >= SyncInterval {
		o.Writer.Sync()
		o.synced, o.syncedAt = o.Writer.Frames(), now
	}
}

// Flush writes out what is buffered, through the compressor.
func (o *Output) Flush() error {
	o.syncPoint()
	if err := o.Writer.Flush(); err != nil {
		return err
	}
	return stream.Flush(o.enc)
}

// Reopen ends the stream in the current file (STOP) and starts a new one
// in a file opened anew at the same path, as logrotate expects on SIGHUP.
// If the file was not moved away, the new stream follows the old one in it
// (tapir tools read such a file whole). On stdout it only flushes.
func (o *Output) Reopen() error {
	if o.f == os.Stdout {
		return o.Flush()
	}
	if err := o.finish(); err != nil {
		return err
	}
	if err := o.open(os.O_APPEND); err != nil {
		return err
	}
	o.Writer.Reset(o.enc)
	o.synced, o.syncedAt = o.Writer.Frames(), time.Now()
	return nil
}

func (o *Output) finish() error {
	err := o.Writer.Close()
	if e := o.enc.Close(); err == nil {
		err = e
	}
	if o.f != os.Stdout {
		if e := o.f.Close(); err == nil {
			err = e
		}
	}
	return err
}

// Close ends the stream (STOP), finishes the encodings and closes the file.
func (o *Output) Close() error {
	if err := o.finish(); err != nil {
		return fmt.Errorf("close output: %w", err)
	}
	return nil
}

// FlushFrames writes buffered frames on to the encoder or file without
// ending a compressed block.
// It writes a sync point when one is due (see Output).
func (o *Output) FlushFrames() error {
	o.syncPoint()
	return o.Writer.Flush()
}
