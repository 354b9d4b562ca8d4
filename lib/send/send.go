// Package send delivers tapir records to their destinations, at least
// once: each record is spooled on disk per destination before anything is
// tried, and leaves the spool only when the destination accepted it, or
// refused it for good (then it goes to the spool's rejected/ folder, with
// the reason). It is the work behind tapir-send.
package send

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/tapir-edge/tapir/lib/delivery"
	"github.com/tapir-edge/tapir/lib/fstrm"
	"github.com/tapir-edge/tapir/lib/metrics"
	"github.com/tapir-edge/tapir/lib/spool"
)

// Destination, Refusal and Later are the contract with destinations.
type (
	Destination = delivery.Destination
	Refusal     = delivery.Refusal
	Later       = delivery.Later
)

// Queue is one destination with its spool.
type Queue struct {
	Dest  Destination
	Spool *spool.Spool
	// MinBackoff and MaxBackoff bound the wait between retries, which
	// doubles from MinBackoff, with jitter.
	MinBackoff, MaxBackoff time.Duration

	delivered, refused, retried, dropped *metrics.Counter

	batch []byte // records put, not yet committed
	cur   uint64 // the item being delivered
	next  int    // its first record not yet delivered
	done  []bool // with a Concurrent destination, its records done with
}

// NewQueue opens the spool of d in dir, bounded to limit bytes.
func NewQueue(d Destination, dir string, limit int64, m *metrics.Set, log *slog.Logger) (*Queue, error) {
	sp, warnings, err := spool.Open(dir, limit)
	if err != nil {
		return nil, fmt.Errorf("spool for %s: %w", d.Name(), err)
	}
	for _, w := range warnings {
		log.Warn("spool", "destination", d.Name(), "err", w)
	}
	q := &Queue{Dest: d, Spool: sp, MinBackoff: time.Second, MaxBackoff: 5 * time.Minute}
	q.delivered = m.Counter("delivered", "Records a destination accepted.", "destination", d.Name())
	q.refused = m.Counter("rejected", "Records a destination refused for good (in rejected/).", "destination", d.Name())
	q.retried = m.Counter("retries", "Deliveries that failed and will be retried.", "destination", d.Name())
	q.dropped = m.Counter("spool_dropped", "Records dropped from a full spool.", "destination", d.Name())
	m.Gauge("spool_items", "Records waiting in the spool.", func() float64 { n, _ := sp.Waiting(); return float64(n) }, "destination", d.Name())
	m.Gauge("spool_bytes", "Bytes waiting in the spool.", func() float64 { _, b := sp.Waiting(); return float64(b) }, "destination", d.Name())
	return q, nil
}

// Put adds a record to the batch for the spool, if the destination wants
// it. Nothing is on disk until Commit.
func (q *Queue) Put(typ string, rec []byte) {
	if !q.Dest.Wants(typ) {
		return
	}
	q.batch = fstrm.AppendFrame(q.batch, rec)
}

// Commit writes the batch to the spool as one item: one file and one
// fsync for however many records came together, which is what makes a
// burst affordable. Tool.Run commits at the end of each batch of input:
// when the input would wait, or the batch is full.
func (q *Queue) Commit() error {
	if len(q.batch) == 0 {
		return nil
	}
	_, dropped, err := q.Spool.Put(q.batch)
	q.dropped.Add(uint64(dropped))
	q.batch = q.batch[:0]
	return err
}

// Pending is the size of the batch not yet committed.
func (q *Queue) Pending() int { return len(q.batch) }

// records splits a spool item into its records.
func records(item []byte) ([][]byte, error) {
	var recs [][]byte
	for len(item) > 0 {
		if len(item) < 4 {
			return recs, errors.New("spool item: torn record length")
		}
		rec, rest, ok := fstrm.Cut(item)
		if !ok {
			return recs, errors.New("spool item: torn record")
		}
		recs, item = append(recs, rec), rest
	}
	return recs, nil
}

// Run delivers what the spool holds, oldest first, until ctx ends; what
// was spooled before a restart goes first.
func (q *Queue) Run(ctx context.Context, log *slog.Logger) {
	backoff := q.MinBackoff
	for ctx.Err() == nil {
		seq, rec, err := q.Spool.Oldest()
		if errors.Is(err, spool.ErrEmpty) {
			q.Spool.Wait(time.Second)
			continue
		}
		if err != nil {
			log.Error("read spool", "destination", q.Dest.Name(), "err", err)
			sleep(ctx, backoff)
			continue
		}
		recs, err := records(rec)
		if err != nil {
			// Spool files are written whole (synced, then renamed), so
			// this is damage from outside; keep what is left for a human.
			log.Error("damaged spool item; moved to rejected/", "destination", q.Dest.Name(), "item", seq, "err", err)
			q.Spool.Reject(seq, err.Error())
			continue
		}
		if seq != q.cur {
			q.cur, q.next, q.done = seq, 0, nil
		}
		// Deliver the item's records from the first not yet taken
		// (after a retry, those before went already).
		start := q.next
		if c, ok := q.Dest.(delivery.Concurrent); ok && c.InFlight() > 1 {
			err = q.deliverConcurrently(ctx, seq, recs, c.InFlight(), log)
		} else {
			for err = nil; err == nil && q.next < len(recs); {
				err = q.settle(seq, q.next, recs[q.next], q.Dest.Deliver(ctx, recs[q.next]), log)
				if err == nil {
					q.next++
				}
			}
		}
		switch {
		case err == nil:
			q.Spool.Ack(seq)
			backoff = q.MinBackoff
		default:
			if q.next > start {
				backoff = q.MinBackoff // progress: the destination is back
			}
			q.retried.Add(1)
			wait := backoff/2 + rand.N(backoff/2+1) // jitter, so edges do not retry in step
			var later *Later
			if errors.As(err, &later) && later.After > wait {
				wait = later.After
			}
			log.Warn("delivery failed; will retry", "destination", q.Dest.Name(), "item", seq, "in", wait.Round(time.Millisecond), "err", err)
			sleep(ctx, wait)
			backoff = min(2*backoff, q.MaxBackoff)
		}
	}
}

// settle counts the outcome of delivering record i of item seq and keeps
// a refused record in rejected/. It returns err unless the record is done
// with (delivered or refused).
func (q *Queue) settle(seq uint64, i int, rec []byte, err error, log *slog.Logger) error {
	var refusal *Refusal
	switch {
	case err == nil:
		q.delivered.Add(1)
	case errors.As(err, &refusal):
		log.Warn("refused for good; kept in rejected/", "destination", q.Dest.Name(), "item", seq, "record", i, "reason", refusal.Reason)
		if err := q.Spool.RejectPart(seq, i, rec, refusal.Reason); err != nil {
			log.Error("write to rejected/", "err", err)
		}
		q.refused.Add(1)
	default:
		return err
	}
	return nil
}

// deliverConcurrently delivers recs from q.next with up to n in flight, a
// sliding window: a new record goes as soon as one is done. q.next
// follows the first record not done, and q.done remembers the others
// done with, so that a retry sends only what did not go. After an error
// no new record goes; those in flight finish, and the error of the
// earliest failed record is returned.
func (q *Queue) deliverConcurrently(ctx context.Context, seq uint64, recs [][]byte, n int, log *slog.Logger) error {
	type result struct {
		i   int
		err error
	}
	if len(q.done) != len(recs) {
		q.done = make([]bool, len(recs))
	}
	results := make(chan result, n)
	var firstErr error
	failed := len(recs)
	launch, inFlight := q.next, 0
	for {
		for firstErr == nil && inFlight < n && launch < len(recs) {
			if !q.done[launch] {
				go func(i int) { results <- result{i, q.Dest.Deliver(ctx, recs[i])} }(launch)
				inFlight++
			}
			launch++
		}
		if inFlight == 0 {
			return firstErr
		}
		r := <-results
		inFlight--
		if err := q.settle(seq, r.i, recs[r.i], r.err, log); err != nil {
			if r.i < failed {
				failed, firstErr = r.i, err
			}
			continue
		}
		q.done[r.i] = true
		for q.next < len(recs) && q.done[q.next] {
			q.next++
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
