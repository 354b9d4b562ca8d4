// Package clientcert gives a TLS client the certificate that its files
// hold now. tapir-enroll renew replaces the node's certificate and key
// while tapir-send and tapir-observe run; each new connection then
// uses the new pair, with no restart or reload, so a renewal can never
// leave a long-running tool presenting a certificate that expires.
package clientcert

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/tapir-edge/tapir/lib/keyfile"
)

// A Source is a certificate and private key in two PEM files.
type Source struct {
	certFile, keyFile string
	log               *slog.Logger

	mu    sync.Mutex
	stamp [2]os.FileInfo
	pair  *tls.Certificate
}

// Load reads the pair; it fails if the files are missing, unreadable,
// do not match, or the key is readable by others. log receives a line
// each time a new pair is taken, or a changed one refused.
func Load(certFile, keyFile string, log *slog.Logger) (*Source, error) {
	s := &Source{certFile: certFile, keyFile: keyFile, log: log}
	st, err := s.stamps()
	if err != nil {
		return nil, err
	}
	pair, err := s.read()
	if err != nil {
		return nil, err
	}
	s.stamp, s.pair = st, pair
	return s, nil
}

func (s *Source) stamps() ([2]os.FileInfo, error) {
	var st [2]os.FileInfo
	for i, f := range []string{s.certFile, s.keyFile} {
		fi, err := os.Stat(f)
		if err != nil {
			return st, err
		}
		st[i] = fi
	}
	return st, nil
}

// changed tells whether a file is another file (renamed in, as
// tapir-enroll writes) or was written since. Modification times alone
// would miss a change made within the same clock tick.
func changed(a, b [2]os.FileInfo) bool {
	for i := range a {
		if !os.SameFile(a[i], b[i]) || !a[i].ModTime().Equal(b[i].ModTime()) || a[i].Size() != b[i].Size() {
			return true
		}
	}
	return false
}

func (s *Source) read() (*tls.Certificate, error) {
	key, err := keyfile.Read(s.keyFile)
	if err != nil {
		return nil, err
	}
	cert, err := os.ReadFile(s.certFile)
	if err != nil {
		return nil, err
	}
	pair, err := tls.X509KeyPair(cert, key)
	if err != nil {
		return nil, fmt.Errorf("%s and %s: %w", s.certFile, s.keyFile, err)
	}
	return &pair, nil
}

// Certificate is the pair the files hold now. When they have changed
// since the last call but do not make a valid pair (a renewal halfway
// through replacing them, say), it keeps the pair it had.
func (s *Source) Certificate() *tls.Certificate {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, err := s.stamps()
	if err != nil || !changed(st, s.stamp) {
		return s.pair
	}
	pair, err := s.read()
	if err != nil {
		s.log.Warn("kept the client certificate in use: the new one does not load", "err", err)
		return s.pair
	}
	s.stamp, s.pair = st, pair
	s.log.Info("took the renewed client certificate", "file", s.certFile, "not_after", pair.Leaf.NotAfter)
	return pair
}

// GetClientCertificate is for tls.Config.GetClientCertificate.
func (s *Source) GetClientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	return s.Certificate(), nil
}

// Leaf is the certificate in use, parsed.
func (s *Source) Leaf() *x509.Certificate { return s.Certificate().Leaf }

// Start is the Unix time from which the certificate in use is valid:
// with Expiry, an alert can tell how much of its life is left.
func (s *Source) Start() float64 { return float64(s.Leaf().NotBefore.Unix()) }

// Expiry is the Unix time at which the certificate in use expires, for a
// gauge that an alert compares with time().
func (s *Source) Expiry() float64 { return float64(s.Leaf().NotAfter.Unix()) }
