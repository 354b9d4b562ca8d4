package send

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/tapir-edge/tapir/lib/aggrec"
	"github.com/tapir-edge/tapir/lib/record"
)

// Aggrec delivers histogram records to a DNS TAPIR aggregate receiver as
// signed Parquet files. The file is built and signed at each attempt, not
// when spooled: the receiver refuses signatures older than a day.
type Aggrec struct {
	Client *aggrec.Client
	Log    *slog.Logger
}

// Name implements Destination.
func (a *Aggrec) Name() string { return "aggrec-" + a.Client.BaseURL.Host }

// Wants implements Destination: histograms only.
func (a *Aggrec) Wants(typ string) bool { return typ == record.TypeHistogram }

// Deliver implements Destination.
func (a *Aggrec) Deliver(ctx context.Context, rec []byte) error {
	var h record.Histogram
	if err := json.Unmarshal(rec, &h); err != nil {
		return &Refusal{Reason: fmt.Sprintf("not a histogram record: %v", err)}
	}
	loc, err := a.Client.Send(ctx, &h)
	if err == nil {
		a.Log.Info("histogram accepted", "start", h.Start, "rows", len(h.Rows), "location", loc)
		return nil
	}
	var e *aggrec.Error
	if errors.As(err, &e) {
		if e.Permanent {
			return &Refusal{Reason: err.Error()}
		}
		if e.RetryAfter > 0 {
			return &Later{After: e.RetryAfter, Err: err}
		}
	}
	return err
}
