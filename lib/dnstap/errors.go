package dnstap

import (
	"errors"
	"strconv"
)

// Errors wrapped by a [DecodeError], for telling failures apart with
// errors.Is.
var (
	// ErrTruncated means that a field runs past the end of its frame or
	// message.
	ErrTruncated = errors.New("truncated")

	// ErrMalformed means that the input is not a valid protobuf
	// encoding: a varint longer than 64 bits, an invalid field number or
	// wire type, or unbalanced groups.
	ErrMalformed = errors.New("malformed")
)

// malformed is the detail of an ErrMalformed. It is a string type so that
// the constant details below cost no allocation.
type malformed string

func (e malformed) Error() string { return "malformed: " + string(e) }

// Is makes errors.Is(err, ErrMalformed) hold.
func (e malformed) Is(target error) bool { return target == ErrMalformed }

const (
	errVarint      = malformed("varint longer than 64 bits")
	errFieldNumber = malformed("invalid field number")
	errEndGroup    = malformed("end of group without start")
	errWireType    = malformed("reserved wire type")
	errGroup       = malformed("bad group")
)

// DecodeError describes where [Frame.Unmarshal] found its input invalid.
type DecodeError struct {
	// Offset is the byte offset in the frame of the bad field's tag.
	Offset int
	// Field is the number of the bad field, or 0 if its tag could not be
	// read.
	Field int
	// InMessage reports whether the field is one of Message rather than
	// of the enclosing Dnstap.
	InMessage bool
	// Err is ErrTruncated or an error that wraps ErrMalformed.
	Err error
}

var frameFieldNames = [...]string{1: "identity", 2: "version", 3: "extra", 14: "message", 15: "type"}

var messageFieldNames = [...]string{
	1: "type", 2: "socket_family", 3: "socket_protocol", 4: "query_address",
	5: "response_address", 6: "query_port", 7: "response_port", 8: "query_time_sec",
	9: "query_time_nsec", 10: "query_message", 11: "query_zone", 12: "response_time_sec",
	13: "response_time_nsec", 14: "response_message", 15: "policy", 16: "http_protocol",
}

func fieldName(names []string, n int) string {
	if n > 0 && n < len(names) {
		return names[n]
	}
	return ""
}

// Error returns a message such as
// "dnstap: field 14.10 (message.query_message) at offset 52: truncated".
func (e *DecodeError) Error() string {
	s := "dnstap: "
	switch {
	case e.Field == 0 && e.InMessage:
		s += "tag in message"
	case e.Field == 0:
		s += "tag"
	case e.InMessage:
		s += "field 14." + strconv.Itoa(e.Field)
		if n := fieldName(messageFieldNames[:], e.Field); n != "" {
			s += " (message." + n + ")"
		}
	default:
		s += "field " + strconv.Itoa(e.Field)
		if n := fieldName(frameFieldNames[:], e.Field); n != "" {
			s += " (" + n + ")"
		}
	}
	return s + " at offset " + strconv.Itoa(e.Offset) + ": " + e.Err.Error()
}

// Unwrap returns e.Err.
func (e *DecodeError) Unwrap() error { return e.Err }

// FieldNames lists every field of the dnstap schema this package knows, as
// "identity" for a Dnstap field and "message.query_address" for a Message
// field, and "unknown fields" for the rest, which pass through unchanged.
// Documents that account for each field (PRIVACY.md) are checked against
// it.
func FieldNames() []string {
	var names []string
	for _, n := range frameFieldNames {
		if n != "" && n != "message" {
			names = append(names, n)
		}
	}
	for _, n := range messageFieldNames {
		if n != "" {
			names = append(names, "message."+n)
		}
	}
	return append(names, "unknown fields")
}
