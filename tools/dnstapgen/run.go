package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/tapir-edge/tapir/cmd/tool"
	"github.com/tapir-edge/tapir/lib/dnstap"
	"github.com/tapir-edge/tapir/lib/fstrm"
)

// ContentType is the content type of the streams dnstapgen writes.
const ContentType = "protobuf:dnstap.Dnstap"

const (
	defaultTimeout = 10 * time.Second
	// batchBytes is how many bytes of frames are made before they are
	// handed to the writer in one piece.
	batchBytes = 64 << 10
	// sendBuffer is the write buffer of a connection.
	sendBuffer = 256 << 10
)

// options are the settings of one run.
type options struct {
	seed              uint64
	mix               Mix
	types             []dnstap.MessageType
	identity, version string
	start             time.Time
	qps               float64
	count             int64
	rate              float64
}

func parseOptions(c *cli.Context) (options, error) {
	o := options{
		seed:     c.Uint64("seed"),
		identity: c.String("identity"),
		version:  c.String("server-version"),
		qps:      c.Float64("qps"),
		count:    c.Int64("count"),
		rate:     c.Float64("rate"),
		mix: Mix{
			Clients:     c.Int("clients"),
			IPv6Clients: c.Float64("ipv6-clients"),
			Names:       c.Int("names"),
			NewNames:    c.Float64("new-names"),
			TCP:         c.Float64("tcp-queries"),
			NXDomain:    c.Float64("nxdomain"),
			ServFail:    c.Float64("servfail"),
			Refused:     c.Float64("refused"),
			EDNS:        c.Float64("edns"),
			ECS:         c.Float64("ecs"),
			Pool:        c.Int("pool"),
		},
	}
	if err := o.mix.check(); err != nil {
		return o, tool.Usagef("%v", err)
	}
	for _, arg := range c.StringSlice("types") {
		for _, name := range strings.Split(arg, ",") {
			t, err := dnstap.ParseMessageType(strings.TrimSpace(name))
			if err != nil {
				return o, tool.Usagef("--types: %v", err)
			}
			if t != dnstap.ClientQuery && t != dnstap.ClientResponse {
				return o, tool.Usagef("--types: %v: only CLIENT_QUERY and CLIENT_RESPONSE are made", t)
			}
			o.types = append(o.types, t)
		}
	}
	if len(o.types) == 0 {
		o.types = []dnstap.MessageType{dnstap.ClientQuery, dnstap.ClientResponse}
	}
	var err error
	if o.start, err = time.Parse(time.RFC3339Nano, c.String("start")); err != nil {
		return o, tool.Usagef("--start: %v", err)
	}
	if !(o.qps > 0) {
		return o, tool.Usagef("--qps %v: want a positive rate", o.qps)
	}
	if o.count < 0 {
		return o, tool.Usagef("--count %d: want 0 or more", o.count)
	}
	if !(o.rate >= 0) {
		return o, tool.Usagef("--rate %v: want 0 (no limit) or more", o.rate)
	}
	return o, nil
}

// run is dnstapgen.
func run(c *cli.Context) error {
	o, err := parseOptions(c)
	if err != nil {
		return err
	}
	network, addr := "unix", c.String("unix")
	if a := c.String("tcp"); a != "" {
		if addr != "" {
			return tool.Usagef("give -U or -T, not both")
		}
		network, addr = "tcp", a
	}
	k := c.Int("connections")
	if k < 1 || k > 1024 {
		return tool.Usagef("--connections %d: want 1 to 1024", k)
	}
	if addr == "" && k != 1 {
		return tool.Usagef("--connections needs -U or -T")
	}
	if addr != "" && c.String("write") != "" {
		return tool.Usagef("give -w or a receiver (-U, -T), not both")
	}

	t, err := NewTraffic(o.seed, o.mix)
	if err != nil {
		return tool.Usagef("%v", err)
	}
	ctx, _, stop := tool.Notify(c.Context)
	defer stop()
	if addr != "" {
		return send(ctx, t, o, network, addr, k, c.Duration("timeout"))
	}

	g, err := NewGenerator(t, o.seed, 0, o.identity, o.version, o.types, o.start, o.qps)
	if err != nil {
		return tool.Usagef("%v", err)
	}
	out, err := tool.CreateOutput(c, ContentType)
	if err != nil {
		return err
	}
	t0 := time.Now()
	n, err := pump(ctx, g, out.Writer, o.count, o.rate)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	report("wrote", n, time.Since(t0), 1)
	return err
}

// send connects k times to the receiver and sends o.count frames in all,
// each connection its own stream.
func send(ctx context.Context, t *Traffic, o options, network, addr string, k int, timeout time.Duration) error {
	gens := make([]*Generator, k)
	for i := range gens {
		id := o.identity
		if k > 1 {
			id += "-" + strconv.Itoa(i+1)
		}
		var err error
		gens[i], err = NewGenerator(t, o.seed, i, id, o.version, o.types, o.start, o.qps/float64(k))
		if err != nil {
			return tool.Usagef("%v", err)
		}
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total int64
		errs  []error
	)
	t0 := time.Now()
	for i, g := range gens {
		n := o.count / int64(k)
		if int64(i) < o.count%int64(k) {
			n++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sent, err := sendOne(ctx, g, network, addr, n, o.rate/float64(k), timeout)
			mu.Lock()
			defer mu.Unlock()
			total += sent
			if err != nil {
				errs = append(errs, fmt.Errorf("connection %d: %w", i+1, err))
			}
		}()
	}
	wg.Wait()
	report("sent", total, time.Since(t0), k)
	if len(errs) > 0 {
		return &tool.Error{Code: tool.ExitUnavailable, Err: errors.Join(errs...)}
	}
	return nil
}

// sendOne makes one connection and sends n frames over it, at rate frames
// a second if rate is not 0. It returns the number of frames sent.
func sendOne(ctx context.Context, g *Generator, network, addr string, n int64, rate float64, timeout time.Duration) (int64, error) {
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	w, err := fstrm.Dial(conn, ContentType, fstrm.WriterOptions{Timeout: timeout, BufferSize: sendBuffer})
	if err != nil {
		return 0, fmt.Errorf("%s: handshake: %w", addr, err)
	}
	sent, err := pump(ctx, g, w, n, rate)
	if err != nil {
		return sent, fmt.Errorf("%s: %w", addr, err)
	}
	if err := w.Close(); err != nil {
		return sent, fmt.Errorf("%s: close: %w", addr, err)
	}
	return sent, nil
}

// pump writes n frames from g to w, at rate frames a second if rate is not
// 0, until ctx ends. It returns the number of frames handed to w.
func pump(ctx context.Context, g *Generator, w *fstrm.Writer, n int64, rate float64) (int64, error) {
	buf := make([]byte, 0, batchBytes+64<<10)
	var sent, held int64 // written to w, and made but held in buf
	write := func() error {
		err := w.WriteFrames(buf, int(held))
		buf = buf[:0]
		if err != nil {
			return err
		}
		sent += held
		held = 0
		return nil
	}
	t0 := time.Now()
	for sent+held < n {
		if ctx.Err() != nil {
			break
		}
		k := min(n-sent-held, 64)
		if rate > 0 {
			// Frames due by now, at least one: sleep until that one
			// is due, with what was made so far on its way.
			due := int64(time.Since(t0).Seconds()*rate) + 1 - (sent + held)
			if due <= 0 {
				if err := write(); err != nil {
					return sent, err
				}
				if err := w.Flush(); err != nil {
					return sent, err
				}
				wait := time.Until(t0.Add(time.Duration(float64(sent) / rate * float64(time.Second))))
				select {
				case <-ctx.Done():
				case <-time.After(wait):
				}
				continue
			}
			k = min(k, due)
		}
		buf = g.AppendFrames(buf, int(k))
		held += k
		if len(buf) >= batchBytes {
			if err := write(); err != nil {
				return sent, err
			}
		}
	}
	if held > 0 {
		if err := write(); err != nil {
			return sent, err
		}
	}
	return sent, nil
}

// report logs the count and rate of frames on stderr.
func report(what string, n int64, d time.Duration, conns int) {
	s := d.Seconds()
	rate := 0.0
	if s > 0 {
		rate = float64(n) / s
	}
	slog.Info(what, "frames", n, "seconds", strconv.FormatFloat(s, 'f', 3, 64),
		"frames_per_second", int64(rate), "connections", conns)
}
