// Package metrics keeps a tool's counters: cheap atomic counters on the hot
// path, printed to stderr on SIGUSR1 and at exit, and served to Prometheus
// with --metrics.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Counter is a monotonic count, safe for concurrent use.
type Counter struct {
	atomic.Uint64
	name  string // short name for logs: "frames", "dropped{reason=full}"
	value func() float64
}

// Set holds one tool's counters and gauges.
type Set struct {
	prefix string
	reg    *prometheus.Registry
	mu     sync.Mutex
	all    []*Counter
}

// New returns an empty Set whose metric names begin with prefix, such as
// "tapir_listen".
func New(prefix string) *Set {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &Set{prefix: prefix, reg: reg}
}

// Counter registers a counter named prefix_name_total, with optional
// constant label pairs ("reason", "full").
func (s *Set) Counter(name, help string, labels ...string) *Counter {
	c := &Counter{name: short(name, labels)}
	c.value = func() float64 { return float64(c.Load()) }
	s.register(c, prometheus.NewCounterFunc(prometheus.CounterOpts(opts(s.prefix, name+"_total", help, labels)), c.value))
	return c
}

// CounterFunc registers a counter named prefix_name_total whose value f
// reads when asked for, for counts kept elsewhere.
func (s *Set) CounterFunc(name, help string, f func() float64, labels ...string) {
	c := &Counter{name: short(name, labels), value: f}
	s.register(c, prometheus.NewCounterFunc(prometheus.CounterOpts(opts(s.prefix, name+"_total", help, labels)), f))
}

// Gauge registers a value read when asked for, such as a queue's length.
func (s *Set) Gauge(name, help string, f func() float64, labels ...string) {
	c := &Counter{name: short(name, labels), value: f}
	s.register(c, prometheus.NewGaugeFunc(prometheus.GaugeOpts(opts(s.prefix, name, help, labels)), f))
}

func (s *Set) register(c *Counter, m prometheus.Collector) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reg.MustRegister(m)
	s.all = append(s.all, c)
}

func opts(prefix, name, help string, labels []string) prometheus.Opts {
	o := prometheus.Opts{Name: prefix + "_" + name, Help: help}
	if len(labels) > 0 {
		o.ConstLabels = prometheus.Labels{}
		for i := 0; i+1 < len(labels); i += 2 {
			o.ConstLabels[labels[i]] = labels[i+1]
		}
	}
	return o
}

func short(name string, labels []string) string {
	if len(labels) < 2 {
		return name
	}
	var b strings.Builder
	b.WriteString(name)
	for i := 0; i+1 < len(labels); i += 2 {
		b.WriteString("_")
		b.WriteString(labels[i+1])
	}
	return b.String()
}

// Values returns the current value of every counter and gauge by short
// name ("frames", "dropped_full").
func (s *Set) Values() map[string]float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[string]float64, len(s.all))
	for _, c := range s.all {
		m[c.name] += c.value()
	}
	return m
}

// Log writes every counter as one log record.
func (s *Set) Log(log *slog.Logger, msg string) {
	v := s.Values()
	names := make([]string, 0, len(v))
	for n := range v {
		names = append(names, n)
	}
	sort.Strings(names)
	args := make([]any, 0, 2*len(names))
	for _, n := range names {
		if f := v[n]; f == float64(int64(f)) {
			args = append(args, n, int64(f)) // 2881597, not 2.881597e+06
		} else {
			args = append(args, n, f)
		}
	}
	log.Info(msg, args...)
}

// Serve serves /metrics on addr until ctx ends. It listens before it
// returns, so that a bad address is an error at start-up, and reports the
// address it bound (useful with port 0).
func (s *Set) Serve(ctx context.Context, addr string) (net.Addr, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			slog.Error("metrics server", "err", err)
		}
	}()
	return l.Addr(), nil
}
