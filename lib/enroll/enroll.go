// Package enroll enrolls an edge node with the DNS TAPIR node manager
// ("nodeman") and keeps its certificate valid: it makes the node's keys,
// signs the enrollment and renewal requests, and writes the node
// directory that the other tools read with --node DIR.
package enroll

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/tapir-edge/tapir/cmd/tool"
	"github.com/tapir-edge/tapir/lib/keyfile"
	"github.com/tapir-edge/tapir/lib/node"
)

// Options of enroll and renew.
type Options struct {
	Dir             string
	Credentials     string        // enroll: the credentials file
	DataKeyType     string        // enroll: KeyEd25519 or KeyP256
	Lifetime        time.Duration // requested certificate lifetime; 0: the CA's default
	KeepCredentials bool          // enroll: leave the credentials file
	IfNeeded        bool          // renew: only when due
	ReuseKey        bool          // renew: keep the TLS key
	ReloadCommand   string        // renew: run with sh -c after a renewal
	NodemanCA       string        // CA certificates for the node manager's TLS
	DryRun          bool          // print the request instead of sending it
	Out             io.Writer     // where --dry-run prints

	// For tests.
	HTTP *http.Client
	Now  func() time.Time
}

func (o *Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func (o *Options) client(base string) (*Client, error) {
	c, err := NewClient(base, o.NodemanCA)
	if err != nil {
		return nil, err
	}
	if o.HTTP != nil {
		c.HTTP = o.HTTP
	}
	c.Now = o.now
	return c, nil
}

func (o *Options) path(f string) string { return filepath.Join(o.Dir, f) }

// Enroll turns a credentials file into an enrolled node directory.
func Enroll(ctx context.Context, o Options) error {
	if o.Dir == "" {
		return tool.Usagef("enroll needs --node DIR")
	}
	if o.Credentials == "" {
		return tool.Usagef("enroll needs --credentials FILE")
	}
	if n, err := node.Load(o.Dir); err == nil {
		// Done before; the credentials file may be gone.
		if fileExists(o.Credentials) {
			cred, err := ReadCredentials(o.Credentials)
			if err != nil {
				return err
			}
			if n.Name != cred.Name {
				return tool.Usagef("%s is already enrolled as %s, not %s: use another --node directory", o.Dir, n.Name, cred.Name)
			}
		}
		slog.Info("already enrolled; nothing to do", "node", n.Name, "dir", o.Dir)
		return o.doneWithCredentials()
	}
	cred, err := ReadCredentials(o.Credentials)
	if err != nil {
		return err
	}
	if cred.NodemanURL == "" {
		return tool.Usagef("credentials: no nodeman_url")
	}
	c, err := o.client(cred.NodemanURL)
	if err != nil {
		return err
	}
	if !o.DryRun {
		if err := os.MkdirAll(o.Dir, 0o750); err != nil {
			return err
		}
		if err := finishSwap(o.Dir); err != nil {
			return err
		}
	}

	// Keys first: a crash after the node manager took the public key
	// must not lose the private one. Keys left by an interrupted run are
	// used again.
	data, err := o.loadOrMake(o.path(node.DataKeyFile), func() ([]byte, any, error) {
		k, err := NewDataKey(o.DataKeyType, cred.Name)
		if err != nil {
			return nil, nil, err
		}
		b, err := marshalKey(k)
		return b, k, err
	}, func(string) (any, error) { return node.ReadJWK(o.path(node.DataKeyFile)) })
	if err != nil {
		return err
	}
	tlsKey, err := o.loadOrMake(o.path(node.TLSKeyFile), func() ([]byte, any, error) {
		k, err := NewTLSKey()
		if err != nil {
			return nil, nil, err
		}
		b, err := marshalTLSKey(k)
		return b, k, err
	}, func(p string) (any, error) { return node.ReadPEMKey(p) })
	if err != nil {
		return err
	}
	dk, tk := data.(*jose.JSONWebKey), tlsKey.(crypto.Signer)

	csr, err := CSR(tk, cred.Name)
	if err != nil {
		return err
	}
	req, err := c.EnrollRequest(cred, dk, csr, o.Lifetime)
	if err != nil {
		return err
	}
	if o.DryRun {
		return printRequest(o.Out, req)
	}
	slog.Info("enrolling", "node", cred.Name, "url", req.URL)
	res, err := c.Enroll(ctx, req)
	switch {
	case err == nil:
	case refusal(err, http.StatusBadRequest, "already enrolled"):
		slog.Info("the node manager says the node is already enrolled; recovering with the local keys", "node", cred.Name)
		if res, err = recoverEnrollment(ctx, c, cred.Name, dk, tk, o.Lifetime); err != nil {
			return err
		}
	default:
		return err
	}
	if res.Name != "" && res.Name != cred.Name {
		return &tool.Error{Code: tool.ExitUnavailable, Err: fmt.Errorf("node manager answered for node %q, not %q", res.Name, cred.Name)}
	}
	leaf, err := checkCert(res.X509Certificate, res.X509CACertificate, tk, cred.Name, o.now())
	if err != nil {
		return &tool.Error{Code: tool.ExitUnavailable, Err: fmt.Errorf("node manager: %w", err)}
	}
	nodeman := res.NodemanURL
	if nodeman == "" {
		nodeman = cred.NodemanURL
	}
	jwks := res.TrustedJWKS
	if len(jwks) == 0 {
		jwks = json.RawMessage(`{"keys":[]}`)
	}
	var pretty any
	if err := json.Unmarshal(jwks, &pretty); err != nil {
		return err
	}
	for _, w := range []struct {
		file string
		data []byte
	}{
		{node.TLSCertFile, []byte(res.X509Certificate)},
		{node.CACertFile, []byte(res.X509CACertificate)},
	} {
		if err := keyfile.Write(o.path(w.file), w.data, 0o644); err != nil {
			return err
		}
	}
	if err := writeJSON(o.path(node.TrustedJWKSFile), pretty, 0o644); err != nil {
		return err
	}
	dalg, _ := dataAlg(dk)
	// node.json last: its presence says the directory is complete.
	n := &node.Node{
		Name: cred.Name, NodemanURL: nodeman, AggrecURL: res.AggrecURL,
		MQTTBroker: res.MQTTBroker, MQTTTopics: res.MQTTTopics,
		DataKey: node.DataKeyFile, DataKeyAlg: string(dalg), TLSKey: node.TLSKeyFile, TLSCert: node.TLSCertFile,
		CACert: node.CACertFile, TrustedJWKS: node.TrustedJWKSFile, Enrolled: o.now().UTC().Truncate(time.Second),
	}
	if err := writeJSON(o.path(node.File), n, 0o644); err != nil {
		return err
	}
	slog.Info("enrolled", "node", cred.Name, "dir", o.Dir, "certificate_not_after", leaf.NotAfter.UTC().Format(time.RFC3339))
	return o.doneWithCredentials()
}

// loadOrMake reads the key at path, or makes one and writes it (0600)
// unless this is a dry run.
func (o *Options) loadOrMake(path string, mk func() ([]byte, any, error), load func(string) (any, error)) (any, error) {
	if fileExists(path) {
		k, err := load(path)
		if err != nil {
			return nil, tool.Usagef("%v", err)
		}
		slog.Info("using the key an earlier run wrote", "file", path)
		return k, nil
	}
	b, k, err := mk()
	if err != nil {
		return nil, err
	}
	if !o.DryRun {
		if err := keyfile.Write(path, b, 0o600); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// recoverEnrollment fetches what an enrollment whose answer was lost
// returned, after checking that the node manager holds this node's data
// key.
func recoverEnrollment(ctx context.Context, c *Client, name string, data *jose.JSONWebKey, tlsKey crypto.Signer, life time.Duration) (*EnrollmentResult, error) {
	remote, err := c.PublicKey(ctx, name)
	if err != nil {
		return nil, err
	}
	rt, err1 := remote.Thumbprint(crypto.SHA256)
	pub := data.Public()
	lt, err2 := pub.Thumbprint(crypto.SHA256)
	if err1 != nil || err2 != nil || string(rt) != string(lt) {
		return nil, &tool.Error{Code: tool.ExitRefused, Err: fmt.Errorf("node %s is enrolled with another data key than the local one: ask the node manager's operator to reset the node", name)}
	}
	conf, err := c.Configuration(ctx, name)
	if err != nil {
		return nil, err
	}
	res := &EnrollmentResult{Configuration: *conf}
	cert, err := c.Certificate(ctx, name)
	if err != nil && !refusal(err, http.StatusNotFound, "") {
		return nil, err
	}
	if err == nil && cert.X509CACertificate != "" {
		if _, cerr := checkCert(cert.X509Certificate, cert.X509CACertificate, tlsKey, name, c.Now()); cerr == nil {
			res.Certificate = *cert
			return res, nil
		}
	}
	// The node manager's certificate endpoint returns no CA certificate
	// (and may return one for another key): a renewal, signed by the
	// data key it holds, returns both.
	slog.Info("renewing to recover the certificate and its CA", "node", name)
	csr, err := CSR(tlsKey, name)
	if err != nil {
		return nil, err
	}
	req, err := c.RenewRequest(name, data, csr, life)
	if err != nil {
		return nil, err
	}
	cert, err = c.Renew(ctx, req)
	if err != nil {
		return nil, err
	}
	res.Certificate = *cert
	return res, nil
}

func (o *Options) doneWithCredentials() error {
	if o.KeepCredentials || o.DryRun {
		return nil
	}
	if err := os.Remove(o.Credentials); err != nil && !errors.Is(err, os.ErrNotExist) {
		slog.Warn("could not remove the used credentials file; remove it by hand", "file", o.Credentials, "err", err)
		return nil
	}
	slog.Info("removed the used credentials file (the node manager accepts its key only once)", "file", o.Credentials)
	return nil
}

func printRequest(w io.Writer, r *Request) error {
	if w == nil {
		w = os.Stdout
	}
	var body any
	if err := json.Unmarshal(r.Body, &body); err != nil {
		return err
	}
	b, err := json.MarshalIndent(body, "", "  ")
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(w, "POST %s\nContent-Type: application/json\n\n%s\n\n", r.URL, b); err != nil {
		return err
	}
	// The payload, decoded, for reading.
	if m, ok := body.(map[string]any); ok {
		if p, ok := m["payload"].(string); ok {
			if raw, err := base64.RawURLEncoding.DecodeString(p); err == nil {
				var v any
				if json.Unmarshal(raw, &v) == nil {
					pb, _ := json.MarshalIndent(v, "", "  ")
					fmt.Fprintf(w, "# payload, decoded:\n%s\n\n", pb)
				}
			}
		}
	}
	_, err = fmt.Fprintf(w, "# x509_csr:\n%s", r.CSR)
	return err
}

// Renew renews the node's TLS certificate.
func Renew(ctx context.Context, o Options) error {
	if o.Dir == "" {
		return tool.Usagef("renew needs --node DIR")
	}
	if !o.DryRun {
		if err := finishSwap(o.Dir); err != nil {
			return err
		}
	}
	n, err := node.Load(o.Dir)
	if err != nil {
		return tool.Usagef("%v", err)
	}
	data, err := node.ReadJWK(n.Path(n.DataKey))
	if err != nil {
		return tool.Usagef("%v", err)
	}
	cur, err := readCert(n.Path(n.TLSCert))
	if err == nil && o.IfNeeded {
		if at := RenewAt(cur); o.now().Before(at) {
			slog.Info("renewal not due", "node", n.Name, "due", at.UTC().Format(time.RFC3339), "not_after", cur.NotAfter.UTC().Format(time.RFC3339))
			return nil
		}
	}
	var tk crypto.Signer
	if o.ReuseKey {
		if tk, err = node.ReadPEMKey(n.Path(n.TLSKey)); err != nil {
			return tool.Usagef("%v", err)
		}
	} else if tk, err = NewTLSKey(); err != nil {
		return err
	}
	c, err := o.client(n.NodemanURL)
	if err != nil {
		return err
	}
	csr, err := CSR(tk, n.Name)
	if err != nil {
		return err
	}
	req, err := c.RenewRequest(n.Name, data, csr, o.Lifetime)
	if err != nil {
		return err
	}
	if o.DryRun {
		return printRequest(o.Out, req)
	}
	slog.Info("renewing", "node", n.Name, "url", req.URL)
	res, err := c.Renew(ctx, req)
	if err != nil {
		return err
	}
	ca := res.X509CACertificate
	if ca == "" {
		b, err := os.ReadFile(n.Path(n.CACert))
		if err != nil {
			return err
		}
		ca = string(b)
	}
	leaf, err := checkCert(res.X509Certificate, ca, tk, n.Name, o.now())
	if err != nil {
		return &tool.Error{Code: tool.ExitUnavailable, Err: fmt.Errorf("node manager: renewed %w; keeping the current one", err)}
	}
	if err := swap(n, []byte(res.X509Certificate), tk, o.ReuseKey); err != nil {
		return err
	}
	if res.X509CACertificate != "" && !sameFile(n.Path(n.CACert), []byte(ca)) {
		if err := keyfile.Write(n.Path(n.CACert), []byte(ca), 0o644); err != nil {
			return err
		}
	}
	slog.Info("renewed", "node", n.Name, "serial", res.X509SerialNumber, "not_after", leaf.NotAfter.UTC().Format(time.RFC3339))
	if o.ReloadCommand != "" {
		cmd := exec.CommandContext(ctx, "/bin/sh", "-c", o.ReloadCommand)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("--reload-command: %v (the certificate was renewed)", err)
		}
	}
	return nil
}

// swap puts a new certificate, and key, in place: both are written as
// .new files, then the key renamed, then the certificate; finishSwap
// completes what a crash interrupts.
func swap(n *node.Node, cert []byte, key crypto.Signer, sameKey bool) error {
	crtNew, keyNew := n.Path(n.TLSCert)+".new", n.Path(n.TLSKey)+".new"
	if err := keyfile.Write(crtNew, cert, 0o644); err != nil {
		return err
	}
	if !sameKey {
		b, err := marshalTLSKey(key)
		if err != nil {
			return err
		}
		if err := keyfile.Write(keyNew, b, 0o600); err != nil {
			return err
		}
		if err := os.Rename(keyNew, n.Path(n.TLSKey)); err != nil {
			return err
		}
	}
	if err := os.Rename(crtNew, n.Path(n.TLSCert)); err != nil {
		return err
	}
	if d, err := os.Open(n.Dir()); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Status exit codes.
const (
	ExitRenewalDue = 6
	ExitExpired    = 7
)

// NodeStatus is what status reports.
type NodeStatus struct {
	Name       string    `json:"name"`
	Dir        string    `json:"dir"`
	NodemanURL string    `json:"nodeman_url"`
	AggrecURL  string    `json:"aggrec_url,omitempty"`
	MQTTBroker string    `json:"mqtt_broker,omitempty"`
	Serial     string    `json:"certificate_serial_number"`
	NotBefore  time.Time `json:"certificate_not_before"`
	NotAfter   time.Time `json:"certificate_not_after"`
	RenewAt    time.Time `json:"renewal_due"`
	Remaining  int64     `json:"seconds_to_expiry"`
	State      string    `json:"state"` // valid, renewal-due, expired
}

// Status reports on the node directory dir, and returns an error with
// exit code ExitRenewalDue or ExitExpired when the certificate needs
// attention.
func Status(dir string, now time.Time, asJSON bool, w io.Writer) error {
	if dir == "" {
		return tool.Usagef("status needs --node DIR")
	}
	n, err := node.Load(dir)
	if err != nil {
		return tool.Usagef("%v", err)
	}
	cert, err := readCert(n.Path(n.TLSCert))
	if err != nil {
		return err
	}
	s := statusOf(n, cert, now)
	if asJSON {
		b, _ := json.MarshalIndent(s, "", "  ")
		fmt.Fprintf(w, "%s\n", b)
	} else {
		fmt.Fprintf(w, "node:         %s (%s)\n", s.Name, dir)
		fmt.Fprintf(w, "node manager: %s\n", s.NodemanURL)
		if s.AggrecURL != "" {
			fmt.Fprintf(w, "aggrec:       %s\n", s.AggrecURL)
		}
		if s.MQTTBroker != "" {
			fmt.Fprintf(w, "mqtt broker:  %s\n", s.MQTTBroker)
		}
		fmt.Fprintf(w, "certificate:  serial %s, valid %s to %s\n", s.Serial, s.NotBefore.Format(time.RFC3339), s.NotAfter.Format(time.RFC3339))
		fmt.Fprintf(w, "renewal due:  %s\n", s.RenewAt.Format(time.RFC3339))
		fmt.Fprintf(w, "state:        %s (%s to expiry)\n", s.State, (time.Duration(s.Remaining) * time.Second).String())
	}
	switch s.State {
	case "expired":
		return &tool.Error{Code: ExitExpired, Err: fmt.Errorf("the certificate of %s expired at %s", s.Name, s.NotAfter.Format(time.RFC3339))}
	case "renewal-due":
		return &tool.Error{Code: ExitRenewalDue, Err: errors.New("renewal is due: run tapir-enroll renew")}
	}
	return nil
}

func statusOf(n *node.Node, c *x509.Certificate, now time.Time) NodeStatus {
	s := NodeStatus{
		Name: n.Name, Dir: n.Dir(), NodemanURL: n.NodemanURL, AggrecURL: n.AggrecURL, MQTTBroker: n.MQTTBroker,
		Serial: c.SerialNumber.String(), NotBefore: c.NotBefore.UTC(), NotAfter: c.NotAfter.UTC(),
		RenewAt: RenewAt(c).UTC(), Remaining: int64(c.NotAfter.Sub(now) / time.Second), State: "valid",
	}
	switch {
	case !now.Before(c.NotAfter):
		s.State = "expired"
	case !now.Before(s.RenewAt):
		s.State = "renewal-due"
	}
	return s
}
