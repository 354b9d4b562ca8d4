package dnswire

import "errors"

// Errors returned by this package. Each is a distinct reason that a tool
// can count.
var (
	// ErrShort means the message ends before the part being read.
	ErrShort = errors.New("dnswire: message truncated")
	// ErrNoQuestion means the header counts no question.
	ErrNoQuestion = errors.New("dnswire: no question")
	// ErrBadName means a name is not valid in wire format: a label type
	// other than length or pointer, a name longer than 255 octets, or a
	// compression pointer that leads outside the message or loops.
	ErrBadName = errors.New("dnswire: bad name")
)
