package listen

import (
	"crypto/tls"
	"crypto/x509"
	"os"

	"github.com/tapir-edge/tapir/lib/fault"
	"github.com/tapir-edge/tapir/lib/keyfile"
)

// ServerTLS is the TLS configuration of a "tls" listener: the certificate
// chain and key in certFile and keyFile (PEM; the key not readable by
// others) and, when caFile is not "", the CAs that resolvers' client
// certificates must chain to, then required. Its errors are of kind
// fault.Config.
func ServerTLS(certFile, keyFile, caFile string) (*tls.Config, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fault.Errorf(fault.Config, "--tls-cert: %w", err)
	}
	keyPEM, err := keyfile.Read(keyFile)
	if err != nil {
		return nil, fault.Errorf(fault.Config, "--tls-key: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fault.Errorf(fault.Config, "--tls-cert/--tls-key: %w", err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if caFile == "" {
		return tc, nil
	}
	ca, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fault.Errorf(fault.Config, "--tls-client-ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fault.Errorf(fault.Config, "--tls-client-ca: no PEM certificate in %s", caFile)
	}
	tc.ClientCAs = pool
	tc.ClientAuth = tls.RequireAndVerifyClientCert
	return tc, nil
}
