// Package delivery is the contract between tapir-send and its
// destinations: what a destination is, and how it says "never" (Refusal)
// or "not before" (Later) rather than "try again".
package delivery

import (
	"context"
	"time"
)

// Destination is where records go.
type Destination interface {
	// Name identifies the destination in logs, metrics and the spool.
	Name() string
	// Wants reports whether a record of this type goes here.
	Wants(recordType string) bool
	// Deliver sends one record. A *Refusal error means the destination
	// will never take it; any other error is worth a retry.
	Deliver(ctx context.Context, rec []byte) error
}

// Concurrent is a Destination whose Deliver may run in several goroutines
// at once: a Queue then keeps up to InFlight records of an item in
// delivery, and a destination that waits for an acknowledgement per
// record (an MQTT PUBACK) is not held to one round trip per record.
// Records may then arrive out of order; after a failure, those that
// followed it and went are delivered again (at least once, as after a
// crash).
type Concurrent interface {
	Destination
	InFlight() int
}

// Refusal is a destination's final no: retrying the same record is
// pointless (a 4xx from the receiver, a record it cannot take).
type Refusal struct{ Reason string }

func (r *Refusal) Error() string { return "refused: " + r.Reason }

// Later asks for a retry no sooner than After (a receiver's Retry-After).
type Later struct {
	After time.Duration
	Err   error
}

func (l *Later) Error() string { return l.Err.Error() }
func (l *Later) Unwrap() error { return l.Err }
