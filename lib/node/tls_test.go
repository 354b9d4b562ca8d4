package node

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
)

// server is an HTTPS server with a certificate from ca that requires and
// verifies a client certificate from ca; it answers with the client
// certificate's serial number.
func server(t *testing.T, ca *authority) *httptest.Server {
	t.Helper()
	crt, key := ca.issue(t, "server.test.example", true)
	pair, err := tls.X509KeyPair(crt, key)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, r.TLS.PeerCertificates[0].SerialNumber)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshakes refused on purpose
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// get makes a request on a new connection, and returns the serial number
// of the client certificate the server saw.
func get(srv *httptest.Server, tc *tls.Config) (string, error) {
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: tc, DisableKeepAlives: true}}
	res, err := c.Get(srv.URL)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return string(b), err
}

func testLog(t *testing.T) *slog.Logger { return slog.New(slog.NewTextHandler(t.Output(), nil)) }

// The node's configuration completes a mutual TLS handshake with a server
// whose certificate its CA issued; without that CA, or without the
// client certificate, the handshake fails.
func TestNodeClientTLS(t *testing.T) {
	ca := newAuthority(t, "node manager CA")
	n := enrolled(t, ca)
	srv := server(t, ca)
	tc, src, err := n.ClientTLS(testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	if tc.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion %x, want TLS 1.2", tc.MinVersion)
	}
	got, err := get(srv, tc)
	if err != nil {
		t.Fatal(err)
	}
	if want := src.Leaf().SerialNumber.String(); got != want {
		t.Errorf("server saw the certificate %s, want %s", got, want)
	}

	// The system roots alone do not know the node's CA.
	tc, _, err = ClientTLS(n.Path(n.TLSCert), n.Path(n.TLSKey), nil, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	var unknown x509.UnknownAuthorityError
	if _, err := get(srv, tc); !errors.As(err, &unknown) {
		t.Errorf("without the node's CA: %v, want an unknown authority", err)
	}
	// Another CA in ca.crt: refused the same way.
	write(t, n.Path(n.CACert), newAuthority(t, "another CA").pem, 0o644)
	tc, _, err = n.ClientTLS(testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := get(srv, tc); !errors.As(err, &unknown) {
		t.Errorf("with another CA: %v, want an unknown authority", err)
	}
	// The CA as an extra file, and no client certificate: the server
	// refuses.
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	write(t, caFile, ca.pem, 0o644)
	tc, src, err = ClientTLS("", "", []string{caFile}, testLog(t))
	if err != nil || src != nil {
		t.Fatalf("no client certificate: %v, source %v", err, src)
	}
	if _, err := get(srv, tc); err == nil {
		t.Error("the server took a client without a certificate")
	}
	// The node's configuration with the right CA as an extra file.
	tc, _, err = n.ClientTLS(testLog(t), caFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := get(srv, tc); err != nil {
		t.Errorf("with the CA as an extra file: %v", err)
	}
}

// A renewal replaces the pair while the configuration is in use: the
// next handshake presents the new certificate.
func TestRenewalFollowed(t *testing.T) {
	ca := newAuthority(t, "node manager CA")
	n := enrolled(t, ca)
	srv := server(t, ca)
	tc, src, err := n.ClientTLS(testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	first := src.Leaf().SerialNumber.String()
	if got, err := get(srv, tc); err != nil || got != first {
		t.Fatalf("before the renewal: %q, %v; want %s", got, err, first)
	}
	// As tapir-enroll renew does: key first, then certificate, each
	// renamed into place.
	crt, key := ca.issue(t, name, false)
	write(t, n.Path(n.TLSKey), key, 0o600)
	write(t, n.Path(n.TLSCert), crt, 0o644)
	second, err := parseLeaf(crt)
	if err != nil {
		t.Fatal(err)
	}
	got, err := get(srv, tc)
	if err != nil || got != second.SerialNumber.String() || got == first {
		t.Errorf("after the renewal: %q, %v; want the new %s", got, err, second.SerialNumber)
	}
	if src.Expiry() != float64(second.NotAfter.Unix()) {
		t.Errorf("Expiry %v, want the new certificate's %v", src.Expiry(), second.NotAfter.Unix())
	}
}

// Each file that cannot be used is refused, by name.
func TestClientTLSRefusals(t *testing.T) {
	ca := newAuthority(t, "ca")
	n := enrolled(t, ca)
	lg := testLog(t)
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	write(t, notPEM, []byte("not a certificate\n"), 0o644)
	_, _, err := n.ClientTLS(lg, notPEM)
	refused(t, "a CA file with no certificate", err, notPEM, "no PEM certificate")
	missing := filepath.Join(dir, "missing.pem")
	_, _, err = n.ClientTLS(lg, missing)
	refused(t, "a missing CA file", err, missing, "no such file")

	os.Remove(n.Path(n.CACert))
	_, _, err = n.ClientTLS(lg)
	refused(t, "no ca.crt", err, n.Path(n.CACert), "no such file")

	os.Chmod(n.Path(n.TLSKey), 0o644)
	_, _, err = n.ClientTLS(lg)
	refused(t, "tls.key mode 0644", err, n.Path(n.TLSKey), "mode 0644")

	_, _, err = ClientTLS(n.Path(n.TLSCert), "", nil, lg)
	if err == nil {
		t.Error("a certificate without a key: accepted")
	}
}
