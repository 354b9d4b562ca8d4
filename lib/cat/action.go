package cat

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"filippo.io/age"
	"github.com/urfave/cli/v2"

	"github.com/tapir-edge/tapir/cmd/tool"
	"github.com/tapir-edge/tapir/lib/fstrm"
	"github.com/tapir-edge/tapir/lib/stream"
)

// Action is tapir-cat: it reads the flags, then prints each input in turn.
func Action(c *cli.Context) error {
	o, err := options(c)
	if err != nil {
		return err
	}
	ids, err := tool.Identities(c)
	if err != nil {
		return err
	}
	names := append(c.StringSlice("read"), c.Args().Slice()...)
	if len(names) == 0 {
		names = []string{"-"}
	}
	p := NewPrinter(c.App.Writer, o)

	// With SIGPIPE caught, a write to a closed pipe fails with EPIPE
	// instead of killing the process, so that tapir-cat … | head ends
	// with a status of its own choosing.
	pipe := make(chan os.Signal, 1)
	signal.Notify(pipe, syscall.SIGPIPE)
	defer signal.Stop(pipe)

	ctx, sig, stop := tool.Notify(c.Context)
	defer stop()
	var failed inputErrors
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				// The main goroutine may be waiting on a live stream:
				// print what is held from here, then exit.
				if ok, err := p.Interrupt(); ok {
					code := failed.code()
					if err != nil && !errors.Is(err, syscall.EPIPE) {
						slog.Error(err.Error())
						code = tool.ExitFailure
					}
					os.Exit(code)
				}
				return
			case <-sig.Report:
				slog.Info("counters", "frames", p.Frames(), "matched", p.Matched(), "bad_frames", p.Bad())
			case <-done:
				return
			}
		}
	})
	defer wg.Wait()
	defer close(done)

	for _, name := range names {
		if err = printInput(p, name, ids, &failed); err != nil {
			break
		}
	}
	if _, ok := err.(*WriteError); err != nil && !ok {
		// A usage error, such as encrypted input without an identity:
		// show what came before it, but no count, which would be short.
		if err := p.flush(); err != nil {
			return &tool.Error{Code: tool.ExitFailure, Err: err}
		}
		return err
	}
	if err == nil {
		err = p.Close()
	}
	switch {
	case err == nil, errors.Is(err, syscall.EPIPE):
		// EPIPE: the reader has all it wants.
		return failed.err(len(names))
	}
	return &tool.Error{Code: tool.ExitFailure, Err: err}
}

// printInput prints one input. It logs and counts the input's errors
// itself, and returns only those that end tapir-cat: write errors and
// usage errors.
func printInput(p *Printer, name string, ids []age.Identity, failed *inputErrors) error {
	in, err := stream.Open(name, ids, fstrm.ReaderOptions{ContentTypes: ContentTypes})
	if err != nil {
		if tool.Code(err) == tool.ExitUsage {
			return err
		}
		if err := p.flush(); err != nil {
			return err
		}
		slog.Error(err.Error())
		failed.add()
		return nil
	}
	defer in.Close()
	bad := p.Bad()
	err = p.Print(in.Reader, in.Name)
	var we *WriteError
	switch {
	case errors.As(err, &we):
		return err
	case errors.Is(err, fstrm.ErrMissingStop):
		// Nothing is lost, but the writer did not finish: a capture
		// still running, or one that was killed.
		slog.Warn(err.Error())
	case err != nil:
		slog.Error(err.Error())
		failed.add()
		return nil
	}
	if p.Bad() != bad {
		failed.add()
	}
	return nil
}

// inputErrors counts the inputs that could not be read completely; the
// signal goroutine reads it too.
type inputErrors struct {
	mu sync.Mutex
	n  int
}

func (e *inputErrors) add() {
	e.mu.Lock()
	e.n++
	e.mu.Unlock()
}

func (e *inputErrors) code() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.n > 0 {
		return tool.ExitInput
	}
	return tool.ExitOK
}

// err is the error tapir-cat ends with: exit 3 if an input had errors.
// Each was logged as it happened, so a single input needs no summary.
func (e *inputErrors) err(inputs int) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case e.n == 0:
		return nil
	case inputs == 1:
		return &tool.Error{Code: tool.ExitInput, Err: errors.New("")}
	}
	return &tool.Error{Code: tool.ExitInput, Err: fmt.Errorf("%d of %d inputs could not be read completely", e.n, inputs)}
}

// options reads the output and filter flags.
func options(c *cli.Context) (Options, error) {
	var o Options
	switch {
	case c.Bool("json") && c.Bool("yaml"):
		return o, tool.Usagef("--json and --yaml: choose one")
	case c.Bool("json"):
		o.Format = JSON
	case c.Bool("yaml"):
		o.Format = YAML
	}
	o.Count = c.Bool("count")
	if path := c.String("match-rpz"); path != "" {
		z, bad, err := LoadRPZ(path)
		if err != nil {
			return o, tool.Usagef("--match-rpz: %v", err)
		}
		for i, e := range bad {
			if i < 10 {
				slog.Warn("--match-rpz: record skipped", "err", e)
			}
		}
		o.RPZ = z
	}
	if o.Count && o.Format != Text {
		return o, tool.Usagef("--count prints a number: leave out --json and --yaml")
	}
	var err error
	if o.Time, err = ParseTimeFormat(c.String("time")); err != nil {
		return o, tool.Usagef("--time: %v", err)
	}
	if c.IsSet("time") && (o.Format != Text || o.Count) {
		return o, tool.Usagef("--time applies to the text output only (JSON and YAML times are RFC 3339)")
	}

	f := &o.Filter
	for _, s := range c.StringSlice("qname") {
		n, err := ParseName(s)
		if err != nil {
			return o, tool.Usagef("--qname: %v", err)
		}
		f.Names = append(f.Names, n)
	}
	for _, s := range splitList(c.StringSlice("client")) {
		p, err := ParseClient(s)
		if err != nil {
			return o, tool.Usagef("--client: %v", err)
		}
		f.Clients = append(f.Clients, p)
	}
	for _, s := range splitList(c.StringSlice("type")) {
		if err := f.ParseType(s); err != nil {
			return o, tool.Usagef("--type: %v", err)
		}
	}
	for _, s := range splitList(c.StringSlice("rcode")) {
		r, err := ParseRcode(s)
		if err != nil {
			return o, tool.Usagef("--rcode: %v", err)
		}
		f.Rcodes = append(f.Rcodes, r)
	}
	for _, b := range []struct {
		flag string
		t    *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if s := c.String(b.flag); s != "" {
			if *b.t, err = ParseTime(s); err != nil {
				return o, tool.Usagef("--%s: %v", b.flag, err)
			}
		}
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return o, tool.Usagef("--since %s is not before --until %s", c.String("since"), c.String("until"))
	}
	return o, nil
}

// splitList splits comma-separated flag values.
func splitList(vals []string) []string {
	var out []string
	for _, v := range vals {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}
