package send

import (
	"context"
	"crypto"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/tapir-edge/tapir/cmd/tool"
	"github.com/tapir-edge/tapir/lib/aggrec"
	"github.com/tapir-edge/tapir/lib/archive"
	"github.com/tapir-edge/tapir/lib/clientcert"
	"github.com/tapir-edge/tapir/lib/dnstap"
	"github.com/tapir-edge/tapir/lib/fstrm"
	"github.com/tapir-edge/tapir/lib/metrics"
	"github.com/tapir-edge/tapir/lib/mqttpub"
	"github.com/tapir-edge/tapir/lib/node"
	"github.com/tapir-edge/tapir/lib/record"
	"github.com/tapir-edge/tapir/lib/spool"
	"github.com/tapir-edge/tapir/lib/stream"
)

// Action is tapir-send: it spools every record of the input for each
// destination that takes it, and delivers from the spools until the input
// ends (then for up to --drain) or SIGTERM.
func Action(c *cli.Context) error {
	log := slog.Default()
	dir := c.String("spool")
	if dir == "" {
		return tool.Usagef("give the spool directory with --spool DIR")
	}
	if c.Bool("status") {
		return status(c.App.Writer, dir, c.Bool("json"))
	}
	tos := c.StringSlice("to")
	if len(tos) == 0 {
		return tool.Usagef("give at least one destination with --to URL")
	}
	limit, err := tool.ParseBytes(c.String("spool-max"))
	if err != nil {
		return tool.Usagef("--spool-max: %v", err)
	}
	m := metrics.New("tapir_send")
	var queues []*Queue
	var streams []streamDest
	ct, plausible := record.ContentType, record.Plausible
	if c.Bool("dnstap") {
		ct, plausible = dnstap.ContentType, dnstap.Plausible
	}
	// One client certificate for every destination, loaded when one
	// needs it; it follows renewals by itself (lib/clientcert).
	var tc *tls.Config
	tlsFor := func() (*tls.Config, error) {
		if tc != nil {
			return tc, nil
		}
		t, cert, err := tlsConfig(c, log)
		if err != nil {
			return nil, err
		}
		if cert != nil {
			m.Gauge("certificate_start_timestamp_seconds", "When the client certificate in use became valid (Unix time).", cert.Start)
			m.Gauge("certificate_expiry_timestamp_seconds", "When the client certificate in use expires (Unix time).", cert.Expiry)
		}
		tc = t
		return tc, nil
	}
	for _, to := range tos {
		if network, addr, ok := relayAddr(to); ok {
			streams = append(streams, relayDest{NewRelay(network, addr, ct, c.Int("relay-buffer"), m, log), c.Duration("drain")})
			continue
		}
		if strings.HasPrefix(to, "file:") {
			w, err := openArchive(c, to, ct, log)
			if err != nil {
				return err
			}
			streams = append(streams, w)
			continue
		}
		if c.Bool("dnstap") {
			return tool.Usagef("--to %s takes records, not dnstap; only archives and relays take --dnstap", to)
		}
		d, err := destination(c, to, tlsFor, log)
		if err != nil {
			return err
		}
		q, err := NewQueue(d, filepath.Join(dir, safeName(d.Name())), limit, m, log)
		if err != nil {
			return err
		}
		queues = append(queues, q)
	}
	ids, err := tool.Identities(c)
	if err != nil {
		return err
	}
	ctx, sig, stop := tool.Notify(c.Context)
	defer stop()
	if err := tool.ServeMetrics(ctx, c, m); err != nil {
		return err
	}
	sendCtx, stopSending := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, q := range queues {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q.Run(sendCtx, log)
		}()
	}
	bad := m.Counter("bad_records", "Input frames that are not records.")
	// Continue: a FIFO that systemd holds may have been read in part by
	// an earlier run, or written by a writer that crashed.
	// Plausible: what follows a crash is checked (resynchronised).
	src := stream.NewFrames(tool.Inputs(c), ids, fstrm.ReaderOptions{ContentTypes: []string{ct}, Continue: true, Plausible: plausible}, log)
	defer src.Close()
	m.CounterFunc("input_skipped_bytes", "Input bytes skipped to find a frame boundary again, after a stage or writer died mid-frame.", func() float64 { return float64(src.Skipped()) })
	read := make(chan error, 1)
	go func() {
		for {
			b, n, name, err := src.Next()
			if err != nil {
				for _, q := range queues {
					if cerr := q.Commit(); cerr != nil && err == io.EOF {
						err = fmt.Errorf("spool: %w", cerr)
					}
				}
				if errors.Is(err, io.EOF) {
					err = nil
				}
				read <- err
				return
			}
			for _, sd := range streams {
				if err := sd.WriteFrame(b); err != nil {
					read <- err
					return
				}
			}
			if ct == dnstap.ContentType {
				continue
			}
			typ, err := record.Type(b)
			if err != nil {
				bad.Add(1)
				log.Warn("not a record; skipped", "input", name, "frame", n, "err", err)
				continue
			}
			pending := 0
			for _, q := range queues {
				q.Put(typ, b)
				pending = max(pending, q.Pending())
			}
			if !src.Buffered() || pending >= 1<<20 {
				for _, q := range queues {
					if err := q.Commit(); err != nil {
						read <- fmt.Errorf("spool: %w", err)
						return
					}
				}
			}
		}
	}()
	var runErr error
	drained := false
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
loop:
	for {
		select {
		case <-tick.C:
			// Complete archive files on time when traffic is idle.
			for _, sd := range streams {
				if err := sd.Flush(); err != nil {
					log.Error("flush", "err", err)
				}
			}
		case runErr = <-read:
			drained = true
			break loop
		case <-sig.Report:
			m.Log(log, "counters")
		case <-ctx.Done():
			// Stop the input at a frame boundary and spool what it
			// still returns, so that a FIFO is left where the next
			// run begins; a source that does not stop is left.
			src.Stop()
			select {
			case runErr = <-read:
			case <-time.After(fstrm.DefaultStopWait + 5*time.Second):
				log.Warn("input did not stop in time: leaving it")
			}
			break loop
		}
	}
	if drained && runErr == nil {
		// The input has ended: deliver what waits, for a while.
		deadline := time.Now().Add(c.Duration("drain"))
		for time.Now().Before(deadline) && ctx.Err() == nil && waiting(queues) > 0 {
			time.Sleep(20 * time.Millisecond)
		}
	}
	for _, sd := range streams {
		if err := sd.Close(); err != nil && runErr == nil {
			runErr = err
		}
	}
	stopSending()
	wg.Wait()
	m.Log(log, "counters at exit")
	if n := waiting(queues); n > 0 {
		log.Info("records left in the spool for the next run", "records", n)
	}
	if runErr != nil {
		return runErr
	}
	return src.Err()
}

func waiting(qs []*Queue) int {
	n := 0
	for _, q := range qs {
		items, _ := q.Spool.Waiting()
		n += items
	}
	return n
}

// streamDest takes the whole stream, frame by frame: archives and relays.
// The input goroutine writes; Flush and Close come from the main loop, so
// implementations serialise them.
type streamDest interface {
	WriteFrame(p []byte) error
	Flush() error
	Close() error
}

type relayDest struct {
	*Relay
	drain time.Duration
}

func (r relayDest) WriteFrame(p []byte) error { r.Relay.WriteFrame(p); return nil }
func (r relayDest) Flush() error              { return nil }
func (r relayDest) Close() error              { r.Relay.Close(r.drain); return nil }

// openArchive opens a file:///DIR destination: the stream, compressed and
// encrypted as the flags say, in files rotated by time and size.
func openArchive(c *cli.Context, to, ct string, log *slog.Logger) (*archive.Writer, error) {
	u, err := url.Parse(to)
	if err != nil || u.Path == "" || u.Host != "" {
		return nil, tool.Usagef("--to %q: want file:///DIRECTORY", to)
	}
	rs, err := stream.ParseRecipients(c.StringSlice("recipient"), c.StringSlice("recipients-file"))
	if err != nil {
		return nil, tool.Usagef("%v", err)
	}
	maxSize, err := tool.ParseBytes(c.String("max-size"))
	if err != nil {
		return nil, tool.Usagef("--max-size: %v", err)
	}
	keepBytes, err := tool.ParseBytes(c.String("keep-bytes"))
	if err != nil {
		return nil, tool.Usagef("--keep-bytes: %v", err)
	}
	if len(rs) == 0 {
		log.Warn("archive not encrypted: give --recipient so that only the analysts can read it", "to", to)
	}
	if err := os.MkdirAll(u.Path, 0o750); err != nil {
		return nil, err
	}
	w, err := archive.Open(archive.Config{Dir: u.Path, ContentType: ct, Rotate: c.Duration("rotate"), MaxSize: maxSize,
		Zstd: !c.Bool("no-zstd"), Recipients: rs, KeepAge: c.Duration("keep-age"), KeepBytes: keepBytes, Logger: log})
	if err != nil {
		return nil, tool.Usagef("--to %s: %v", to, err)
	}
	for _, warning := range w.Warnings() {
		log.Warn("archive", "to", to, "warning", warning)
	}
	return w, nil
}

// relayAddr reads unix:PATH and tcp:HOST:PORT.
func relayAddr(to string) (network, addr string, ok bool) {
	for _, n := range []string{"unix", "tcp"} {
		if rest, found := strings.CutPrefix(to, n+":"); found && !strings.HasPrefix(rest, "//") {
			return n, rest, true
		}
	}
	return "", "", false
}

var unsafe = regexp.MustCompile(`[^A-Za-z0-9._-]`)

func safeName(s string) string { return unsafe.ReplaceAllString(s, "_") }

// destination makes the Destination a --to URL names.
func destination(c *cli.Context, to string, tlsFor func() (*tls.Config, error), log *slog.Logger) (Destination, error) {
	if to == "aggrec" || to == "broker" {
		// The aggregate receiver or MQTT broker the node manager named
		// at enrollment.
		n, err := node.Load(c.String("node"))
		if err != nil {
			return nil, tool.Usagef("--to %s needs --node DIR: %v", to, err)
		}
		u := map[string]string{"aggrec": n.AggrecURL, "broker": n.MQTTBroker}[to]
		if u == "" {
			return nil, tool.Usagef("--to %s: the node manager named none in %s", to, c.String("node"))
		}
		return destination(c, u, tlsFor, log)
	}
	u, err := url.Parse(to)
	if err != nil {
		return nil, tool.Usagef("--to %q: %v", to, err)
	}
	// The core's two receivers, each wanting its secure scheme, the
	// node's credentials and its client certificate.
	secure, ok := map[string]string{"https": "", "http": "https", "mqtts": "", "mqtt": "mqtts"}[u.Scheme]
	if ok {
		if secure != "" && !c.Bool("insecure") {
			who := map[string]string{"https": "the aggregate receiver", "mqtts": "the broker"}[secure]
			return nil, tool.Usagef("--to %s: %s needs %s (--insecure for tests)", to, who, secure)
		}
		name, key, err := credentials(c)
		if err != nil {
			return nil, err
		}
		tc, err := tlsFor()
		if err != nil {
			return nil, err
		}
		if strings.HasPrefix(u.Scheme, "http") {
			hc := &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: tc, Proxy: http.ProxyFromEnvironment}}
			return &Aggrec{Client: &aggrec.Client{BaseURL: u, Name: name, Key: key, HTTP: hc, UserAgent: "tapir-send"}, Log: log}, nil
		}
		p, err := mqttpub.New(c.Context, mqttpub.Config{Broker: u, TLS: tc, Name: name, Key: key, Topic: c.String("mqtt-topic"), Log: log})
		if err != nil {
			return nil, tool.Usagef("--to %s: %v", to, err)
		}
		return p, nil
	}
	return nil, tool.Usagef("--to %q: unknown destination (https://…, aggrec, mqtts://…, file:///…, unix:…, tcp:…)", to)
}

// credentials are the node's name and data key: from the node directory
// tapir-enroll wrote (--node), or from --name and --data-key.
func credentials(c *cli.Context) (string, crypto.Signer, error) {
	if dir := c.String("node"); dir != "" {
		n, err := node.Load(dir)
		if err != nil {
			return "", nil, tool.Usagef("--node: %v", err)
		}
		key, err := n.DataSigner()
		if err != nil {
			return "", nil, tool.Usagef("--node: %v", err)
		}
		return n.Name, key, nil
	}
	key, err := dataKey(c.String("data-key"))
	if err != nil {
		return "", nil, err
	}
	if c.String("name") == "" {
		return "", nil, tool.Usagef("give the node's --name, or its directory with --node")
	}
	return c.String("name"), key, nil
}

// dataKey reads the node's data key from --data-key.
func dataKey(path string) (crypto.Signer, error) {
	if path == "" {
		return nil, tool.Usagef("give the node's data key with --data-key FILE")
	}
	k, err := node.ReadPEMKey(path)
	if err != nil {
		return nil, tool.Usagef("--data-key: %v", err)
	}
	return k, nil
}

// tlsConfig has the node's client certificate (for mutual TLS), if there
// is one, and trusts --ca-file and, with --node, the node's CA besides
// the system roots.
func tlsConfig(c *cli.Context, log *slog.Logger) (*tls.Config, *clientcert.Source, error) {
	// Errors name the file at fault; the prefix names the flags that
	// gave it.
	var cas []string
	caFlag := ""
	if ca := c.String("ca-file"); ca != "" {
		cas, caFlag = []string{ca}, "/--ca-file"
	}
	cert, key := c.String("tls-cert"), c.String("tls-key")
	if dir := c.String("node"); dir != "" && cert == "" && key == "" {
		n, err := node.Load(dir)
		if err != nil {
			return nil, nil, tool.Usagef("--node: %v", err)
		}
		tc, src, err := n.ClientTLS(log, cas...)
		if err != nil {
			return nil, nil, tool.Usagef("--node%s: %v", caFlag, err)
		}
		return tc, src, nil
	}
	tc, src, err := node.ClientTLS(cert, key, cas, log)
	if err != nil {
		return nil, nil, tool.Usagef("--tls-cert/--tls-key%s: %v", caFlag, err)
	}
	return tc, src, nil
}

// status prints what waits in each destination's spool.
func status(w io.Writer, dir string, asJSON bool) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return tool.Usagef("--spool: %v", err)
	}
	out := map[string]spool.Stats{}
	var names []string
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		s, _, err := spool.Open(filepath.Join(dir, e.Name()), 0)
		if err != nil {
			return err
		}
		out[e.Name()] = s.Stats()
		names = append(names, e.Name())
	}
	sort.Strings(names)
	if asJSON {
		return json.NewEncoder(w).Encode(out)
	}
	for _, n := range names {
		st := out[n]
		fmt.Fprintf(w, "%s\t%d records\t%d bytes\t%d rejected\n", n, st.Items, st.Bytes, st.Rejected)
	}
	return nil
}
