// Package enroll enrolls an edge node with the DNS TAPIR node manager
// ("nodeman") and keeps its certificate valid: it makes the node's keys,
// signs the enrollment and renewal requests, and writes the node
// directory that the other tools read with --node DIR.
package enroll

import (
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/tapir-edge/tapir/lib/fault"
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
		return fault.Errorf(fault.Config, "enroll needs --node DIR")
	}
	if o.Credentials == "" {
		return fault.Errorf(fault.Config, "enroll needs --credentials FILE")
	}
	if done, err := o.alreadyEnrolled(); err != nil {
		return err
	} else if done {
		return o.doneWithCredentials()
	}
	cred, err := ReadCredentials(o.Credentials)
	if err != nil {
		return err
	}
	if cred.NodemanURL == "" {
		return fault.Errorf(fault.Config, "credentials: no nodeman_url")
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
	dk, tk, err := o.keys(cred.Name)
	if err != nil {
		return err
	}
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
	if err := o.writeNode(cred, res, dk, tk); err != nil {
		return err
	}
	return o.doneWithCredentials()
}

// alreadyEnrolled reports whether the node directory is complete
// already, as after a successful run: then enroll has nothing to do,
// unless the credentials, if still there, are for another node.
func (o *Options) alreadyEnrolled() (bool, error) {
	n, err := node.Load(o.Dir)
	if err != nil {
		return false, nil
	}
	// The credentials file may be gone.
	if fileExists(o.Credentials) {
		cred, err := ReadCredentials(o.Credentials)
		if err != nil {
			return false, err
		}
		if n.Name != cred.Name {
			return false, fault.Errorf(fault.Config, "%s is already enrolled as %s, not %s: use another --node directory", o.Dir, n.Name, cred.Name)
		}
	}
	slog.Info("already enrolled; nothing to do", "node", n.Name, "dir", o.Dir)
	return true, nil
}

// keys returns the node's data key and TLS key. They are written before
// the request: a crash after the node manager took the public key must
// not lose the private one. Keys left by an interrupted run are used
// again.
func (o *Options) keys(name string) (*jose.JSONWebKey, crypto.Signer, error) {
	data, err := loadOrMake(o.DryRun, o.path(node.DataKeyFile), func() (*jose.JSONWebKey, []byte, error) {
		k, err := NewDataKey(o.DataKeyType, name)
		if err != nil {
			return nil, nil, err
		}
		b, err := marshalKey(k)
		return k, b, err
	}, node.ReadJWK)
	if err != nil {
		return nil, nil, err
	}
	tk, err := loadOrMake(o.DryRun, o.path(node.TLSKeyFile), func() (crypto.Signer, []byte, error) {
		k, err := NewTLSKey()
		if err != nil {
			return nil, nil, err
		}
		b, err := marshalTLSKey(k)
		return k, b, err
	}, node.ReadPEMKey)
	return data, tk, err
}

// loadOrMake reads the key at path, or makes one and writes it (0600)
// unless this is a dry run.
func loadOrMake[K any](dryRun bool, path string, mk func() (K, []byte, error), load func(string) (K, error)) (K, error) {
	var zero K
	if fileExists(path) {
		k, err := load(path)
		if err != nil {
			return zero, fault.New(fault.Config, err)
		}
		slog.Info("using the key an earlier run wrote", "file", path)
		return k, nil
	}
	k, b, err := mk()
	if err != nil {
		return zero, err
	}
	if !dryRun {
		if err := keyfile.Write(path, b, 0o600); err != nil {
			return zero, err
		}
	}
	return k, nil
}

// writeNode checks the node manager's answer and writes what the node
// directory holds besides the keys; node.json last, since its presence
// says the directory is complete.
func (o *Options) writeNode(cred *Credentials, res *EnrollmentResult, dk *jose.JSONWebKey, tk crypto.Signer) error {
	if res.Name != "" && res.Name != cred.Name {
		return fault.Errorf(fault.Unavailable, "node manager answered for node %q, not %q", res.Name, cred.Name)
	}
	leaf, err := checkCert(res.X509Certificate, res.X509CACertificate, tk, cred.Name, o.now())
	if err != nil {
		return fault.Errorf(fault.Unavailable, "node manager: %w", err)
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
	return nil
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
		return nil, fault.Errorf(fault.Refused, "node %s is enrolled with another data key than the local one: ask the node manager's operator to reset the node", name)
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
