package tool

import (
	"context"
	"log/slog"

	"github.com/urfave/cli/v2"

	"github.com/tapir-edge/tapir/lib/metrics"
)

// MetricsFlag is --metrics ADDR.
var MetricsFlag = &cli.StringFlag{Name: "metrics", Usage: "serve Prometheus metrics on `ADDR` (host:port; a bare port binds loopback)", Category: "Diagnostics"}

// ServeMetrics starts the metrics server if --metrics is set.
func ServeMetrics(ctx context.Context, c *cli.Context, m *metrics.Set) error {
	addr := c.String("metrics")
	if addr == "" {
		return nil
	}
	a, err := m.Serve(ctx, LoopbackAddr(addr))
	if err != nil {
		return Usagef("--metrics: %w", err)
	}
	slog.Info("serving metrics", "addr", a.String())
	return nil
}

// LoopbackAddr makes an address with no host bind to loopback only, as
// listeners do unless told otherwise: "6000" and ":6000" become
// "127.0.0.1:6000"; an explicit host, even 0.0.0.0, is kept.
func LoopbackAddr(addr string) string {
	if addr == "" {
		return addr
	}
	if addr[0] == ':' {
		return "127.0.0.1" + addr
	}
	for _, r := range addr {
		if r < '0' || r > '9' {
			return addr
		}
	}
	return "127.0.0.1:" + addr
}
