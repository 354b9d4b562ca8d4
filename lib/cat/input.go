package cat

import (
	"errors"
	"log/slog"

	"filippo.io/age"

	"github.com/tapir-edge/tapir/lib/fault"
	"github.com/tapir-edge/tapir/lib/fstrm"
	"github.com/tapir-edge/tapir/lib/stream"
)

// PrintInput prints the input name, a file or "-" for stdin, opened with
// stream.Open and decrypted with ids.
//
// A fault of the input (it cannot be opened, or read to its end, or it
// holds frames that cannot be decoded) is logged where it is found, after
// what came before it is printed, since printing goes on with the next
// input; PrintInput then returns an error of kind fault.Input, for the
// caller to count. A stream that ends without STOP is read whole, with a
// warning. Any other error ends printing: a *WriteError, or one of kind
// fault.Config for encrypted input without an identity that opens it.
func (p *Printer) PrintInput(name string, ids []age.Identity) error {
	in, err := stream.Open(name, ids, fstrm.ReaderOptions{ContentTypes: ContentTypes})
	if fault.Of(err) == fault.Config {
		return err
	}
	if err != nil {
		return p.inputFault(err)
	}
	defer in.Close()
	bad := p.Bad()
	err = p.Print(in.Reader, in.Name)
	var we *WriteError
	switch {
	case errors.As(err, &we):
		return err
	case errors.Is(err, fstrm.ErrMissingStop):
		// Nothing is lost, but the writer did not finish: a capture
		// still running, or one that was killed.
		slog.Warn(err.Error())
	case err != nil:
		return p.inputFault(err)
	}
	if n := p.Bad() - bad; n > 0 {
		// Print logged them.
		return fault.Errorf(fault.Input, "%s: %d frames could not be decoded", in.Name, n)
	}
	return nil
}

// inputFault logs err, below what is held, and marks it as the input's.
func (p *Printer) inputFault(err error) error {
	if err := p.Flush(); err != nil {
		return err
	}
	slog.Error(err.Error())
	return fault.New(fault.Input, err)
}
