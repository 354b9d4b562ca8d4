// Package fault names the kinds of failure that the tools tell apart, so
// that library code can say what went wrong and the command line alone
// decides what exit status that is (see tapir(7), EXIT STATUS).
//
// An error of a kind is made with New or Errorf, and found again, through
// any wrapping, with Of or errors.Is(err, fault.Input).
package fault

import (
	"errors"
	"fmt"
)

// Kind is a kind of failure. The zero Kind, Other, is every failure that
// is none of the others: a runtime failure.
type Kind int

// The kinds of failure.
const (
	Other       Kind = iota
	Config           // the configuration (flags, files it names) is wrong
	Input            // an input could not be read: corrupt, or of the wrong type
	Refused          // a remote peer refused: an HTTP 4xx, bad credentials
	Unavailable      // a remote peer is unreachable or failed; a retry may succeed
)

var names = [...]string{"failure", "configuration error", "unreadable input", "refused by peer", "peer unavailable"}

// Error makes a Kind an error, so that errors.Is(err, kind) finds it.
func (k Kind) Error() string {
	if k < 0 || int(k) >= len(names) {
		return fmt.Sprintf("fault.Kind(%d)", int(k))
	}
	return names[k]
}

type kindError struct {
	kind Kind
	err  error
}

func (e *kindError) Error() string        { return e.err.Error() }
func (e *kindError) Unwrap() error        { return e.err }
func (e *kindError) Is(target error) bool { return target == e.kind }

// New marks err as a failure of kind k. It returns nil for a nil err, and
// err itself for Other.
func New(k Kind, err error) error {
	if err == nil || k == Other {
		return err
	}
	return &kindError{k, err}
}

// Errorf is New(k, fmt.Errorf(format, args...)).
func Errorf(k Kind, format string, args ...any) error {
	return New(k, fmt.Errorf(format, args...))
}

// Of returns the kind of err: that of the outermost error of a kind in
// its chain, or Other.
func Of(err error) Kind {
	var e *kindError
	if errors.As(err, &e) {
		return e.kind
	}
	return Other
}
