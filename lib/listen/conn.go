package listen

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/tapir-edge/tapir/lib/dnstap"
	"github.com/tapir-edge/tapir/lib/fstrm"
)

// conn is one resolver's connection.
type conn struct {
	net.Conn
	s    *Server
	name string

	mu       sync.Mutex
	deadline time.Time // at shutdown: no read past this
}

// SetReadDeadline lets the frame reader arm and disarm its timeout, but
// never past the shutdown deadline once one is set.
func (c *conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.deadline.IsZero() && (t.IsZero() || t.After(c.deadline)) {
		t = c.deadline
	}
	return c.Conn.SetReadDeadline(t)
}

func (c *conn) drain(deadline time.Time) {
	c.mu.Lock()
	c.deadline = deadline
	c.mu.Unlock()
	c.Conn.SetReadDeadline(deadline)
}

func (c *conn) draining() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.deadline.IsZero()
}

func (c *conn) serve(spec Listener) {
	defer c.Close()
	s := c.s
	log := s.log.With("peer", c.name)
	r, err := fstrm.NewReader(c, fstrm.ReaderOptions{
		Bidirectional: true,
		ContentTypes:  []string{dnstap.ContentType},
		MaxFrameSize:  s.cfg.MaxFrameSize,
		Timeout:       s.cfg.Timeout,
	})
	if err != nil {
		switch {
		case c.draining():
		case errors.Is(err, io.EOF):
			// Connected and closed without a byte: a probe, not a resolver.
			log.Debug("closed before the handshake")
		default:
			c.fail(log, "handshake", err)
		}
		return
	}
	log.Info("resolver connected")
	b := s.get()
	var (
		f       dnstap.Frame
		scratch []byte
		named   bool
	)
	filter := len(s.cfg.Types) > 0 || s.cfg.Identity != nil
	for {
		p, err := r.Next()
		if err != nil {
			s.submit(b)
			switch {
			case err == io.EOF:
				log.Info("resolver finished", "frames", r.Frames())
			case c.draining():
				log.Info("connection closed at shutdown", "frames", r.Frames())
			case isEOF(err):
				log.Warn("resolver disconnected mid-stream", "frames", r.Frames(), "err", err)
			default:
				c.fail(log, "read", err)
			}
			return
		}
		if filter || !named {
			perr := f.Unmarshal(p)
			if !named && perr == nil {
				named = true
				log.Info("resolver identified", "identity", string(f.Identity), "version", string(f.Version))
			}
			if filter {
				if perr != nil {
					// A frame that is not dnstap cannot be filtered;
					// it is counted and left out rather than passed on
					// unchecked.
					s.C.Errors.Add(1)
					log.Warn("bad dnstap frame left out", "frame", r.Frames(), "err", perr)
					continue
				}
				if !s.keep(&f) {
					s.C.Filtered.Add(1)
					continue
				}
				if s.cfg.Identity != nil {
					f.Identity = s.cfg.Identity
					scratch = f.AppendMarshal(scratch[:0])
					p = scratch
				}
			}
		}
		b.buf = fstrm.AppendFrame(b.buf, p)
		b.frames++
		// Hand the batch on when it is full, or when the resolver has
		// nothing more for now, so that a quiet resolver's frames are not
		// held back.
		if len(b.buf) >= batchSize || r.Buffered() == 0 {
			s.submit(b)
			b = s.get()
		}
	}
}

func (s *Server) keep(f *dnstap.Frame) bool {
	if len(s.cfg.Types) == 0 {
		return true
	}
	for _, t := range s.cfg.Types {
		if f.Type == t {
			return true
		}
	}
	return false
}

func isEOF(err error) bool {
	return errors.Is(err, fstrm.ErrTruncated) || errors.Is(err, fstrm.ErrMissingStop) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed)
}

func (c *conn) fail(log *slog.Logger, what string, err error) {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.s.C.Timeouts.Add(1)
		log.Warn("resolver cut off: timed out", "in", what, "err", err)
		return
	}
	c.s.C.Errors.Add(1)
	log.Warn("resolver cut off", "in", what, "err", err)
}
