package listen

import (
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/tapir-edge/tapir/cmd/tool"
	"github.com/tapir-edge/tapir/lib/dnstap"
	"github.com/tapir-edge/tapir/lib/keyfile"
	"github.com/tapir-edge/tapir/lib/metrics"
)

// DefaultTimeout is how long a resolver may stall in the handshake or in a
// frame before it is cut off.
const DefaultTimeout = 10 * time.Second

// Action is tapir-listen: it reads the flags, listens, and writes until
// SIGTERM.
func Action(c *cli.Context) error {
	if c.IsSet("mqtt") {
		return mqttAction(c)
	}
	cfg, err := configure(c)
	if err != nil {
		return err
	}
	out, err := tool.CreateOutput(c, dnstap.ContentType)
	if err != nil {
		return err
	}
	m := metrics.New("tapir_listen")
	ctx, sig, stop := tool.Notify(c.Context)
	defer stop()
	if err := tool.ServeMetrics(ctx, c, m); err != nil {
		return err
	}
	s := New(cfg, out, m)
	go func() {
		for {
			select {
			case <-sig.Reload:
				if err := s.Reopen(); err != nil {
					slog.Error("reopen output", "err", err)
				} else {
					slog.Info("output reopened")
				}
			case <-sig.Report:
				m.Log(slog.Default(), "counters")
			case <-ctx.Done():
				return
			}
		}
	}()
	err = s.Run(ctx)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	m.Log(slog.Default(), "counters at exit")
	return err
}

func configure(c *cli.Context) (Config, error) {
	cfg := Config{Timeout: c.Duration("timeout"), Block: false}
	switch c.String("on-full") {
	case "drop":
	case "block":
		cfg.Block = true
	default:
		return cfg, tool.Usagef("--on-full %q: want drop or block", c.String("on-full"))
	}
	var err error
	if cfg.Buffer, err = tool.ParseBytes(c.String("buffer")); err != nil {
		return cfg, tool.Usagef("--buffer: %v", err)
	}
	mfs, err := tool.ParseBytes(c.String("max-frame-size"))
	if err != nil || mfs < 1024 || mfs > 64<<20 {
		return cfg, tool.Usagef("--max-frame-size %q: want a size from 1KiB to 64MiB", c.String("max-frame-size"))
	}
	cfg.MaxFrameSize = int(mfs)
	for _, arg := range c.StringSlice("types") {
		for _, name := range strings.Split(arg, ",") {
			t, err := dnstap.ParseMessageType(strings.TrimSpace(name))
			if err != nil {
				return cfg, tool.Usagef("--types: %v", err)
			}
			cfg.Types = append(cfg.Types, t)
		}
	}
	if c.IsSet("set-identity") {
		cfg.Identity = []byte(c.String("set-identity"))
	}

	mode, err := strconv.ParseUint(c.String("socket-mode"), 8, 32)
	if err != nil || mode > 0o777 {
		return cfg, tool.Usagef("--socket-mode %q: want octal permissions such as 0660", c.String("socket-mode"))
	}
	for _, p := range c.StringSlice("unix") {
		cfg.Listeners = append(cfg.Listeners, Listener{Network: "unix", Addr: p, Mode: os.FileMode(mode), Group: c.String("socket-group")})
	}
	for _, a := range c.StringSlice("listen") {
		cfg.Listeners = append(cfg.Listeners, Listener{Network: "tcp", Addr: tool.LoopbackAddr(a)})
	}
	if addrs := c.StringSlice("tls"); len(addrs) > 0 {
		tc, err := tlsConfig(c.String("tls-cert"), c.String("tls-key"), c.String("tls-client-ca"))
		if err != nil {
			return cfg, err
		}
		for _, a := range addrs {
			cfg.Listeners = append(cfg.Listeners, Listener{Network: "tls", Addr: tool.LoopbackAddr(a), TLS: tc})
		}
	}
	sd, err := Systemd()
	if err != nil {
		return cfg, tool.Usagef("socket activation: %v", err)
	}
	cfg.Listeners = append(cfg.Listeners, sd...)
	if len(cfg.Listeners) == 0 {
		return cfg, tool.Usagef("nothing to listen on: give -u PATH, -l ADDR or --tls ADDR, or start from a systemd socket")
	}
	return cfg, nil
}

func tlsConfig(certFile, keyFile, caFile string) (*tls.Config, error) {
	if certFile == "" || keyFile == "" {
		return nil, tool.Usagef("--tls needs --tls-cert and --tls-key")
	}
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, tool.Usagef("--tls-cert: %v", err)
	}
	keyPEM, err := keyfile.Read(keyFile)
	if err != nil {
		return nil, tool.Usagef("--tls-key: %v", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, tool.Usagef("--tls-cert/--tls-key: %v", err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if caFile != "" {
		ca, err := os.ReadFile(caFile)
		if err != nil {
			return nil, tool.Usagef("--tls-client-ca: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ca) {
			return nil, tool.Usagef("--tls-client-ca: no PEM certificate in %s", caFile)
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return tc, nil
}
