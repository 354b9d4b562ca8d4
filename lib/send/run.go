package send

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/tapir-edge/tapir/lib/archive"
	"github.com/tapir-edge/tapir/lib/dnstap"
	"github.com/tapir-edge/tapir/lib/fault"
	"github.com/tapir-edge/tapir/lib/metrics"
	"github.com/tapir-edge/tapir/lib/record"
	"github.com/tapir-edge/tapir/lib/stage"
)

// Options are what tapir-send is told: where to deliver, where to spool
// on the way, and who the node is.
type Options struct {
	// To are the destinations: aggrec and broker (the core's receivers
	// that Node's node.json names), https://… and mqtts://… (http:// and
	// mqtt:// with Insecure), file:///DIR (an archive), unix:PATH and
	// tcp:HOST:PORT (relays).
	To []string
	// Dnstap says the input is dnstap, not records: then only archives
	// and relays may be among To.
	Dnstap bool
	// Spool is the directory of the spools, a folder per destination;
	// SpoolMax bounds each (bytes; the oldest records go first).
	Spool    string
	SpoolMax int64
	// Drain is how long Run goes on delivering once the inputs end, and
	// how long a relay has to send what it holds.
	Drain       time.Duration
	RelayBuffer int // frames a relay holds while its receiver is away
	// Archive is how archives are written: rotation, compression,
	// recipients, retention. Open sets Dir, ContentType and Logger for
	// each.
	Archive   archive.Config
	MQTTTopic string // empty: events/up/NAME/new_qname
	Credentials
	// Insecure allows http:// and mqtt:// destinations, for tests.
	Insecure bool
	Log      *slog.Logger
}

// Tool is tapir-send: its destinations, each record destination with its
// spool, and its counters.
type Tool struct {
	o       Options
	log     *slog.Logger
	m       *metrics.Set
	ct      string
	queues  []*Queue
	streams []streamDest
	bad     *metrics.Counter
	tc      *tls.Config // shared by the core's destinations, made when one needs it
}

// Open opens the destinations o names, and the spools of those that take
// records. A destination given wrong is a configuration error
// (fault.Config). ctx bounds the connections of MQTT destinations. Run
// closes the destinations; a Tool not run keeps its relays and
// connections until the process ends.
func Open(ctx context.Context, o Options) (*Tool, error) {
	t := &Tool{o: o, log: o.Log, m: metrics.New("tapir_send"), ct: record.ContentType}
	if t.log == nil {
		t.log = slog.Default()
	}
	if o.Dnstap {
		t.ct = dnstap.ContentType
	}
	for _, to := range o.To {
		if err := t.open(ctx, to); err != nil {
			return nil, err
		}
	}
	t.bad = t.m.Counter("bad_records", "Input frames that are not records.")
	return t, nil
}

// Metrics are the counters of tapir-send, to serve.
func (t *Tool) Metrics() *metrics.Set { return t.m }

// Run spools every record of the inputs that in names for each
// destination that takes it, writes the whole stream to the archives and
// relays, and delivers from the spools meanwhile. When the inputs end it
// goes on delivering for up to Options.Drain; when ctx ends it stops at
// once. What is not delivered stays in the spools for the next run. in
// says where to read and which signals to answer; Run sets the rest.
func (t *Tool) Run(ctx context.Context, in stage.Config) error {
	sendCtx, stopSending := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, q := range t.queues {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q.Run(sendCtx, t.log)
		}()
	}
	in.ContentType, in.Log, in.Metrics = t.ct, t.log, t.m
	in.Handle = t.handle
	in.Tick, in.OnTick = time.Second, t.flush
	err := stage.Run(ctx, in)
	if cerr := t.commit(); err == nil {
		err = cerr
	}
	// The inputs ended, even if some could not be read whole: deliver
	// what waits, for a while. After a stop or a failure, leave it.
	if ctx.Err() == nil && (err == nil || errors.Is(err, fault.Input)) {
		t.drain(ctx)
	}
	for _, sd := range t.streams {
		if cerr := sd.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	stopSending()
	wg.Wait()
	t.m.Log(t.log, "counters at exit")
	if n := t.waiting(); n > 0 {
		t.log.Info("records left in the spool for the next run", "records", n)
	}
	return err
}

// commitAt is how much a queue's batch may hold before it goes to the
// spool even though the input has more: an item stays a small file.
const commitAt = 1 << 20

// handle writes each frame of b to the stream destinations and puts each
// record into the queues that want it, then commits the queues: a batch
// ends when the input would wait or is full, so that a burst costs one
// spool item, and a quiet stream is spooled at once.
func (t *Tool) handle(b *stage.Batch) error {
	defer b.Release()
	for n, f := range b.All() {
		for _, sd := range t.streams {
			if err := sd.WriteFrame(f); err != nil {
				return err
			}
		}
		if t.ct == dnstap.ContentType {
			continue
		}
		typ, err := record.Type(f)
		if err != nil {
			t.bad.Add(1)
			t.log.Warn("not a record; skipped", "input", b.Input, "frame", n, "err", err)
			continue
		}
		pending := 0
		for _, q := range t.queues {
			q.Put(typ, f)
			pending = max(pending, q.Pending())
		}
		if pending >= commitAt {
			if err := t.commit(); err != nil {
				return err
			}
		}
	}
	return t.commit()
}

// commit writes what the queues were given to their spools.
func (t *Tool) commit() error {
	for _, q := range t.queues {
		if err := q.Commit(); err != nil {
			return fmt.Errorf("spool: %w", err)
		}
	}
	return nil
}

// flush completes archive files on time when traffic is idle. A failure
// is logged: the archive reports it again at the next write.
func (t *Tool) flush() error {
	for _, sd := range t.streams {
		if err := sd.Flush(); err != nil {
			t.log.Error("flush", "err", err)
		}
	}
	return nil
}

// drain waits, for up to Options.Drain, until the spools are empty or ctx
// ends.
func (t *Tool) drain(ctx context.Context) {
	deadline := time.Now().Add(t.o.Drain)
	for time.Now().Before(deadline) && ctx.Err() == nil && t.waiting() > 0 {
		time.Sleep(20 * time.Millisecond)
	}
}

// waiting is the number of records in the spools.
func (t *Tool) waiting() int {
	n := 0
	for _, q := range t.queues {
		items, _ := q.Spool.Waiting()
		n += items
	}
	return n
}
