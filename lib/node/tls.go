package node

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"

	"github.com/tapir-edge/tapir/lib/clientcert"
)

// ClientTLS returns the TLS configuration of a client of the core: it
// presents the certificate and key in certFile and keyFile, read again
// for each handshake once tapir-enroll renew has replaced them, and
// trusts the system's roots and the CA certificates in caFiles. With no
// certFile and no keyFile it presents no certificate, and the Source is
// nil; otherwise callers export the Source's validity, for an alert
// before it expires. log (slog.Default if nil) hears of each renewed
// pair taken, or refused.
func ClientTLS(certFile, keyFile string, caFiles []string, log *slog.Logger) (*tls.Config, *clientcert.Source, error) {
	if log == nil {
		log = slog.Default()
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	var src *clientcert.Source
	if certFile != "" || keyFile != "" {
		var err error
		if src, err = clientcert.Load(certFile, keyFile, log); err != nil {
			return nil, nil, err
		}
		tc.GetClientCertificate = src.GetClientCertificate
	}
	// Without caFiles, RootCAs stays nil: the system's roots.
	if len(caFiles) > 0 {
		// A copy of the system's pool: adding to it leaves the roots
		// of other configurations alone.
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		for _, f := range caFiles {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, nil, err
			}
			if !pool.AppendCertsFromPEM(b) {
				return nil, nil, fmt.Errorf("%s: no PEM certificate", f)
			}
		}
		tc.RootCAs = pool
	}
	return tc, src, nil
}

// ClientTLS is the package's ClientTLS with the node's certificate, key
// and CA certificate, and caFiles besides: the CA that issued the node's
// certificate may issue those of the core's servers too.
func (n *Node) ClientTLS(log *slog.Logger, caFiles ...string) (*tls.Config, *clientcert.Source, error) {
	return ClientTLS(n.Path(n.TLSCert), n.Path(n.TLSKey), append([]string{n.Path(n.CACert)}, caFiles...), log)
}
