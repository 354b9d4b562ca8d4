package rpz

import (
	"context"
	"time"

	"github.com/tapir-edge/tapir/lib/record"
	"github.com/tapir-edge/tapir/lib/stage"
)

// Read applies the observation records of in's inputs until they end or
// ctx ends; then the input stops at a frame boundary, after what it gave
// is applied (journaled), so that the next run of a FIFO goes on exactly
// there. Records of other types pass by; a refused observation is logged
// and counted, not an error. in says what to read and what else to do
// (serve ticks and answers signals); Read sets its ContentType and
// Handle. The errors are stage.Run's.
func (p *Processor) Read(ctx context.Context, in stage.Config) error {
	in.ContentType = record.ContentType
	in.Handle = p.observeBatch
	if in.Log == nil {
		in.Log = p.Log
	}
	return stage.Run(ctx, in)
}

func (p *Processor) observeBatch(b *stage.Batch) error {
	defer b.Release()
	for n, f := range b.All() {
		if typ, err := record.Type(f); err != nil || typ != record.TypeObservation {
			continue
		}
		if err := p.Observe(f, time.Now()); err != nil {
			p.Log.Warn("observation refused", "input", b.Input, "frame", n, "err", err)
		}
	}
	return nil
}
