package main

import (
	"log/slog"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/tapir-edge/tapir/cmd/tool"
	"github.com/tapir-edge/tapir/lib/cat"
)

// options reads the output and filter flags.
func options(c *cli.Context) (cat.Options, error) {
	var o cat.Options
	switch {
	case c.Bool("json") && c.Bool("yaml"):
		return o, tool.Usagef("--json and --yaml: choose one")
	case c.Bool("json"):
		o.Format = cat.JSON
	case c.Bool("yaml"):
		o.Format = cat.YAML
	}
	o.Count = c.Bool("count")
	if path := c.String("match-rpz"); path != "" {
		z, bad, err := cat.LoadRPZ(path)
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
	if o.Count && o.Format != cat.Text {
		return o, tool.Usagef("--count prints a number: leave out --json and --yaml")
	}
	var err error
	if o.Time, err = cat.ParseTimeFormat(c.String("time")); err != nil {
		return o, tool.Usagef("--time: %v", err)
	}
	if c.IsSet("time") && (o.Format != cat.Text || o.Count) {
		return o, tool.Usagef("--time applies to the text output only (JSON and YAML times are RFC 3339)")
	}
	o.Filter, err = filter(c)
	return o, err
}

// filter reads the filter flags.
func filter(c *cli.Context) (cat.Filter, error) {
	var f cat.Filter
	for _, s := range c.StringSlice("qname") {
		n, err := cat.ParseName(s)
		if err != nil {
			return f, tool.Usagef("--qname: %v", err)
		}
		f.Names = append(f.Names, n)
	}
	for _, s := range splitList(c.StringSlice("client")) {
		p, err := cat.ParseClient(s)
		if err != nil {
			return f, tool.Usagef("--client: %v", err)
		}
		f.Clients = append(f.Clients, p)
	}
	for _, s := range splitList(c.StringSlice("type")) {
		if err := f.ParseType(s); err != nil {
			return f, tool.Usagef("--type: %v", err)
		}
	}
	for _, s := range splitList(c.StringSlice("rcode")) {
		r, err := cat.ParseRcode(s)
		if err != nil {
			return f, tool.Usagef("--rcode: %v", err)
		}
		f.Rcodes = append(f.Rcodes, r)
	}
	for _, b := range []struct {
		flag string
		t    *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if s := c.String(b.flag); s != "" {
			var err error
			if *b.t, err = cat.ParseTime(s); err != nil {
				return f, tool.Usagef("--%s: %v", b.flag, err)
			}
		}
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return f, tool.Usagef("--since %s is not before --until %s", c.String("since"), c.String("until"))
	}
	return f, nil
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
