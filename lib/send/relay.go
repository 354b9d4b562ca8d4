package send

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/tapir-edge/tapir/lib/fstrm"
	"github.com/tapir-edge/tapir/lib/metrics"
)

// Relay forwards a stream (dnstap, or records) to another Frame Streams
// receiver — a second toolkit, DNS-collector, fstrm_capture — with the
// bidirectional handshake, as a resolver would, reconnecting when the
// receiver goes away. Frames wait in a bounded buffer meanwhile; when it is
// full, the oldest are dropped and counted. A relay is not spooled: it
// feeds live collectors, not the core.
type Relay struct {
	Network, Addr string // "unix" or "tcp"
	ContentType   string
	Log           *slog.Logger

	frames  chan []byte
	done    chan struct{}
	cancel  context.CancelFunc
	sent    *metrics.Counter
	dropped *metrics.Counter
	once    sync.Once
}

// NewRelay starts relaying to network addr, buffering up to size frames.
func NewRelay(network, addr, contentType string, size int, m *metrics.Set, log *slog.Logger) *Relay {
	name := network + ":" + addr
	r := &Relay{Network: network, Addr: addr, ContentType: contentType, Log: log,
		frames:  make(chan []byte, size),
		done:    make(chan struct{}),
		sent:    m.Counter("relayed", "Frames relayed.", "destination", name),
		dropped: m.Counter("relay_dropped", "Frames dropped while the relay's receiver was away.", "destination", name),
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go r.run(ctx)
	return r
}

// WriteFrame queues a copy of p for the receiver.
func (r *Relay) WriteFrame(p []byte) {
	f := append([]byte(nil), p...)
	for {
		select {
		case r.frames <- f:
			return
		default:
		}
		select {
		case <-r.frames: // drop the oldest
			r.dropped.Add(1)
		default:
		}
	}
}

// Close sends what is buffered, for up to drain, and stops.
func (r *Relay) Close(drain time.Duration) {
	r.once.Do(func() {
		close(r.frames)
		select {
		case <-r.done:
		case <-time.After(drain):
			r.cancel()
			<-r.done
		}
	})
}

func (r *Relay) run(ctx context.Context) {
	defer close(r.done)
	backoff := 100 * time.Millisecond
	var pending []byte // a frame taken but not yet written
	for {
		c, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, r.Network, r.Addr)
		var w *fstrm.Writer
		if err == nil {
			w, err = fstrm.Dial(c, r.ContentType, fstrm.WriterOptions{Timeout: 5 * time.Second})
		}
		if err != nil {
			if c != nil {
				c.Close()
			}
			r.Log.Warn("relay: receiver unreachable; retrying", "to", r.Network+":"+r.Addr, "in", backoff, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 30*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		r.Log.Info("relay: connected", "to", r.Network+":"+r.Addr)
		closed := false
		for err == nil {
			if pending == nil {
				f, ok := <-r.frames
				if !ok {
					closed = true
					break
				}
				pending = f
			}
			if err = w.WriteFrame(pending); err == nil && len(r.frames) == 0 {
				err = w.Flush()
			}
			if err == nil {
				pending = nil
				r.sent.Add(1)
			}
		}
		if closed {
			w.Close()
			c.Close()
			return
		}
		// What the connection's buffer held when it failed is lost with
		// it: a relay is at most once.
		r.Log.Warn("relay: receiver went away; reconnecting", "to", r.Network+":"+r.Addr, "err", err)
		c.Close()
		if ctx.Err() != nil {
			return
		}
	}
}
