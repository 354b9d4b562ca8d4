package enroll

import (
	"context"
	"crypto"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"time"

	"github.com/tapir-edge/tapir/lib/fault"
	"github.com/tapir-edge/tapir/lib/keyfile"
	"github.com/tapir-edge/tapir/lib/node"
)

// Renew renews the node's TLS certificate.
func Renew(ctx context.Context, o Options) error {
	if o.Dir == "" {
		return fault.Errorf(fault.Config, "renew needs --node DIR")
	}
	if !o.DryRun {
		if err := finishSwap(o.Dir); err != nil {
			return err
		}
	}
	n, err := node.Load(o.Dir)
	if err != nil {
		return fault.New(fault.Config, err)
	}
	data, err := node.ReadJWK(n.Path(n.DataKey))
	if err != nil {
		return fault.New(fault.Config, err)
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
			return fault.New(fault.Config, err)
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
	if err := installRenewed(n, res, tk, o.ReuseKey, o.now()); err != nil {
		return err
	}
	return o.reload(ctx)
}

// installRenewed checks a renewed certificate before it replaces the
// current one: a node manager's mistake must not cost the node a working
// certificate.
func installRenewed(n *node.Node, res *Certificate, tk crypto.Signer, sameKey bool, now time.Time) error {
	ca := res.X509CACertificate
	if ca == "" {
		b, err := os.ReadFile(n.Path(n.CACert))
		if err != nil {
			return err
		}
		ca = string(b)
	}
	leaf, err := checkCert(res.X509Certificate, ca, tk, n.Name, now)
	if err != nil {
		return fault.Errorf(fault.Unavailable, "node manager: renewed %w; keeping the current one", err)
	}
	if err := swap(n, []byte(res.X509Certificate), tk, sameKey); err != nil {
		return err
	}
	if res.X509CACertificate != "" && !sameFile(n.Path(n.CACert), []byte(ca)) {
		if err := keyfile.Write(n.Path(n.CACert), []byte(ca), 0o644); err != nil {
			return err
		}
	}
	slog.Info("renewed", "node", n.Name, "serial", res.X509SerialNumber, "not_after", leaf.NotAfter.UTC().Format(time.RFC3339))
	return nil
}

// reload runs the reload command, for the programs that, unlike the
// tapir tools, read the certificate only when they start.
func (o *Options) reload(ctx context.Context) error {
	if o.ReloadCommand == "" {
		return nil
	}
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", o.ReloadCommand)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("--reload-command: %w (the certificate was renewed)", err)
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
