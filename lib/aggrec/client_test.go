package aggrec

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tapir-edge/tapir/lib/record"
)

// ---- A test aggregate receiver ----
//
// It checks a request the way dnstapir/aggrec does (aggrec/aggregates.py,
// aggrec/helpers.py), independently of the code under test: the signature
// base is rebuilt here from RFC 9421's rules, the digest from RFC 9530.

type receiver struct {
	keys map[string]crypto.PublicKey // keyid -> public key
	now  func() time.Time

	mu       sync.Mutex
	got      []*received
	next     int
	checkCN  bool // the client certificate's CN must be the keyid
	wantPath string
}

type received struct {
	interval string
	label    string
	keyid    string
	alg      string
	body     []byte
}

var (
	reSigInput  = regexp.MustCompile(`^([a-z*][a-z0-9_\-.*]*)=(\(([^()]*)\)((?:;[a-z*][a-z0-9_\-.*]*=(?:[0-9]+|"[^"\\]*"))*))$`)
	reParam     = regexp.MustCompile(`;([a-z*][a-z0-9_\-.*]*)=([0-9]+|"[^"\\]*")`)
	reSignature = regexp.MustCompile(`^([a-z*][a-z0-9_\-.*]*)=:([A-Za-z0-9+/]+={0,2}):$`)
	reDigest    = regexp.MustCompile(`^sha-256=:([A-Za-z0-9+/]+={0,2}):$`)
	reInterval  = regexp.MustCompile(`^([^/]+)/PT(?:([0-9]+)H)?(?:([0-9]+)M)?(?:([0-9]+(?:\.[0-9]+)?)S)?$`)
)

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	status, msg := rc.check(r)
	if status != http.StatusCreated {
		http.Error(w, msg, status)
		return
	}
	rc.mu.Lock()
	rc.next++
	id := rc.next
	rc.mu.Unlock()
	w.Header().Set("Location", fmt.Sprintf("/api/v1/aggregates/%024x", id))
	w.WriteHeader(http.StatusCreated)
}

func (rc *receiver) check(r *http.Request) (int, string) {
	want := rc.wantPath
	if want == "" {
		want = "/api/v1/aggregate/histogram"
	}
	if r.Method != http.MethodPost || r.URL.Path != want {
		return http.StatusNotFound, "no such endpoint " + r.Method + " " + r.URL.Path
	}
	if len(r.TransferEncoding) > 0 {
		return http.StatusLengthRequired, "chunked body refused"
	}
	cl := r.Header.Get("Content-Length")
	n, err := strconv.ParseInt(cl, 10, 64)
	if err != nil || n != r.ContentLength {
		return http.StatusUnprocessableEntity, "Content-Length missing or bad: " + cl
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/vnd.apache.parquet" {
		return http.StatusUnprocessableEntity, "Content-Type " + ct
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return http.StatusBadRequest, err.Error()
	}
	if int64(len(body)) != n {
		return http.StatusBadRequest, "Content-Length does not match the body"
	}

	// RFC 9421: one signature, its label the same in both headers.
	si, sg := r.Header.Values("Signature-Input"), r.Header.Values("Signature")
	if len(si) != 1 || len(sg) != 1 {
		return http.StatusBadRequest, "want exactly one Signature-Input and one Signature"
	}
	mi, ms := reSigInput.FindStringSubmatch(si[0]), reSignature.FindStringSubmatch(sg[0])
	if mi == nil || ms == nil || mi[1] != ms[1] {
		return http.StatusBadRequest, "malformed signature headers: " + si[0] + " / " + sg[0]
	}
	label, sigParams, inner, paramText := mi[1], mi[2], mi[3], mi[4]
	comps := strings.Fields(inner)
	wantComps := []string{`"content-type"`, `"content-length"`, `"content-digest"`, `"aggregate-interval"`}
	if strings.Join(comps, " ") != strings.Join(wantComps, " ") {
		return http.StatusBadRequest, "covered components " + inner
	}
	params := map[string]string{}
	for _, p := range reParam.FindAllStringSubmatch(paramText, -1) {
		if _, dup := params[p[1]]; dup {
			return http.StatusBadRequest, "duplicate parameter " + p[1]
		}
		params[p[1]] = p[2]
	}
	if len(params) != 3 || params["created"] == "" || params["keyid"] == "" || params["alg"] == "" {
		return http.StatusBadRequest, "want exactly created, keyid, alg: " + paramText
	}
	keyid, alg := strings.Trim(params["keyid"], `"`), strings.Trim(params["alg"], `"`)
	created, err := strconv.ParseInt(params["created"], 10, 64)
	if err != nil {
		return http.StatusBadRequest, "created " + params["created"]
	}
	now := rc.now()
	if age := now.Sub(time.Unix(created, 0)); age > 24*time.Hour || age < -5*time.Minute {
		return http.StatusUnauthorized, "signature created " + time.Unix(created, 0).UTC().String() + " out of range"
	}
	var base strings.Builder
	for _, c := range comps {
		name := strings.Trim(c, `"`)
		vals := r.Header.Values(name)
		if len(vals) == 0 {
			return http.StatusBadRequest, "covered header missing: " + name
		}
		for i := range vals {
			vals[i] = strings.TrimSpace(vals[i])
		}
		fmt.Fprintf(&base, "%q: %s\n", name, strings.Join(vals, ", "))
	}
	fmt.Fprintf(&base, "%q: %s", "@signature-params", sigParams)
	sig, _ := base64.StdEncoding.DecodeString(ms[2])
	pub, ok := rc.keys[keyid]
	if !ok {
		return http.StatusUnauthorized, "unknown key " + keyid
	}
	switch alg {
	case "ed25519":
		k, ok := pub.(ed25519.PublicKey)
		if !ok || !ed25519.Verify(k, []byte(base.String()), sig) {
			return http.StatusUnauthorized, "invalid ed25519 signature"
		}
	case "ecdsa-p256-sha256":
		k, ok := pub.(*ecdsa.PublicKey)
		h := sha256.Sum256([]byte(base.String()))
		if !ok || len(sig) != 64 ||
			!ecdsa.Verify(k, h[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
			return http.StatusUnauthorized, "invalid ecdsa signature"
		}
	default:
		return http.StatusBadRequest, "unsupported alg " + alg
	}

	// RFC 9530 digest of the body.
	md := reDigest.FindStringSubmatch(r.Header.Get("Content-Digest"))
	if md == nil {
		return http.StatusBadRequest, "Content-Digest " + r.Header.Get("Content-Digest")
	}
	sum := sha256.Sum256(body)
	if d, _ := base64.StdEncoding.DecodeString(md[1]); !bytes.Equal(d, sum[:]) {
		return http.StatusUnauthorized, "Content-Digest verification failed"
	}

	iv := r.Header.Get("Aggregate-Interval")
	mv := reInterval.FindStringSubmatch(iv)
	if mv == nil || iv == mv[1]+"/PT" {
		return http.StatusUnprocessableEntity, "Aggregate-Interval " + iv
	}
	if _, err := time.Parse(time.RFC3339, mv[1]); err != nil {
		return http.StatusUnprocessableEntity, "Aggregate-Interval start " + mv[1]
	}

	if rc.checkCN {
		if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 || r.TLS.PeerCertificates[0].Subject.CommonName != keyid {
			return http.StatusForbidden, "client certificate does not name " + keyid
		}
	}
	rc.mu.Lock()
	rc.got = append(rc.got, &received{interval: iv, label: label, keyid: keyid, alg: alg, body: body})
	rc.mu.Unlock()
	return http.StatusCreated, ""
}

// ---- PKI for mutual TLS ----

type pki struct {
	pool   *x509.CertPool
	client tls.Certificate
}

func newPKI(t testing.TB, cn string) *pki {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &pki{pool: pool, client: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}}
}

// startReceiver starts rc behind TLS that requires a client certificate
// from p's CA, and returns the server and an HTTP client holding the
// certificate.
func startReceiver(t testing.TB, rc *receiver, p *pki) (*httptest.Server, *http.Client) {
	t.Helper()
	srv := httptest.NewUnstartedServer(rc)
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: p.pool, MinVersion: tls.VersionTLS13}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	hc := &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{p.client}, MinVersion: tls.VersionTLS13},
	}, Timeout: 10 * time.Second}
	t.Cleanup(hc.CloseIdleConnections)
	return srv, hc
}

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// ---- Tests ----

func TestSendEd25519(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	rc := &receiver{keys: map[string]crypto.PublicKey{"edge-1.example": pub}, now: time.Now, checkCN: true}
	srv, hc := startReceiver(t, rc, newPKI(t, "edge-1.example"))
	c := &Client{BaseURL: mustURL(t, srv.URL+"/"), Name: "edge-1.example", Key: priv, HTTP: hc}
	h := testHistogram(50)
	loc, err := c.Send(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	if want := srv.URL + "/api/v1/aggregates/000000000000000000000001"; loc == nil || loc.String() != want {
		t.Errorf("location %v, want %s", loc, want)
	}
	if len(rc.got) != 1 {
		t.Fatalf("receiver stored %d aggregates", len(rc.got))
	}
	g := rc.got[0]
	if g.interval != "2026-05-28T12:34:00Z/PT1M" || g.label != "sig1" || g.keyid != "edge-1.example" || g.alg != "ed25519" {
		t.Errorf("received %+v", g)
	}
	checkParquet(t, g.body, h)

	// The same bytes sent again verify again (a retry after a lost answer).
	if _, err := c.Send(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rc.got[1].body, g.body) {
		t.Error("Parquet output is not deterministic: a retry would not deduplicate")
	}
}

func TestSendECDSAP256(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rc := &receiver{keys: map[string]crypto.PublicKey{"edge-2": &key.PublicKey}, now: time.Now}
	srv, hc := startReceiver(t, rc, newPKI(t, "edge-2"))
	c := &Client{BaseURL: mustURL(t, srv.URL), Name: "edge-2", Key: key, HTTP: hc, Label: "client"}
	if _, err := c.Send(context.Background(), testHistogram(3)); err != nil {
		t.Fatal(err)
	}
	if g := rc.got[0]; g.alg != "ecdsa-p256-sha256" || g.label != "client" {
		t.Errorf("received %+v", g)
	}
}

// A base URL with a path keeps it; a Location relative to the host
// resolves against the request URL.
func TestSendBasePathAndLocation(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	rc := &receiver{keys: map[string]crypto.PublicKey{"n": pub}, now: time.Now, wantPath: "/aggrec/api/v1/aggregate/histogram"}
	srv, hc := startReceiver(t, rc, newPKI(t, "n"))
	c := &Client{BaseURL: mustURL(t, srv.URL+"/aggrec/?x=1"), Name: "n", Key: priv, HTTP: hc}
	loc, err := c.Send(context.Background(), testHistogram(1))
	if err != nil {
		t.Fatal(err)
	}
	if want := srv.URL + "/api/v1/aggregates/000000000000000000000001"; loc.String() != want {
		t.Errorf("location %v, want %s", loc, want)
	}
}

// The receiver refuses what it should, so the checks above are not vacuous.
func TestReceiverRefuses(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	rc := &receiver{keys: map[string]crypto.PublicKey{"n": pub}, now: time.Now}
	srv, hc := startReceiver(t, rc, newPKI(t, "n"))
	base := mustURL(t, srv.URL)
	h := testHistogram(2)

	t.Run("stale signature", func(t *testing.T) {
		c := &Client{BaseURL: base, Name: "n", Key: priv, HTTP: hc, Now: func() time.Time { return time.Now().Add(-25 * time.Hour) }}
		_, err := c.Send(context.Background(), h)
		var e *Error
		if !errors.As(err, &e) || e.Status != http.StatusUnauthorized || !e.Permanent {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("wrong key", func(t *testing.T) {
		c := &Client{BaseURL: base, Name: "n", Key: other, HTTP: hc}
		_, err := c.Send(context.Background(), h)
		var e *Error
		if !errors.As(err, &e) || e.Status != http.StatusUnauthorized || !strings.Contains(e.Body, "invalid ed25519") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("chunked body", func(t *testing.T) {
		body, _ := Parquet(h)
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/aggregate/histogram", io.MultiReader(bytes.NewReader(body)))
		req.Header.Set("Content-Type", ContentType)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusLengthRequired {
			t.Fatalf("chunked request answered %d", resp.StatusCode)
		}
	})
	t.Run("no client certificate", func(t *testing.T) {
		roots := x509.NewCertPool()
		roots.AddCert(srv.Certificate())
		bare := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
		defer bare.CloseIdleConnections()
		c := &Client{BaseURL: base, Name: "n", Key: priv, HTTP: bare}
		_, err := c.Send(context.Background(), h)
		var e *Error
		if !errors.As(err, &e) || e.Status != 0 {
			t.Fatalf("got %v", err)
		}
	})
	if len(rc.got) != 0 {
		t.Errorf("receiver stored %d aggregates", len(rc.got))
	}
}

func TestSendStatusClassification(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	h := testHistogram(1)
	for _, tc := range []struct {
		status     int
		permanent  bool
		retryAfter string
		wantRA     time.Duration
	}{
		{201, false, "", 0},
		{400, true, "", 0},
		{401, true, "", 0},
		{403, true, "", 0},
		{408, false, "", 0},
		{413, true, "", 0},
		{422, true, "", 0},
		{429, false, "7", 7 * time.Second},
		{500, false, "", 0},
		{502, false, "", 0},
		{503, false, "120", 2 * time.Minute},
	} {
		t.Run(strconv.Itoa(tc.status), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				if tc.retryAfter != "" {
					w.Header().Set("Retry-After", tc.retryAfter)
				}
				if tc.status == 201 {
					w.Header().Set("Location", "/api/v1/aggregates/abc")
				}
				w.WriteHeader(tc.status)
				fmt.Fprint(w, "detail of the refusal")
			}))
			defer srv.Close()
			c := &Client{BaseURL: mustURL(t, srv.URL), Name: "n", Key: priv, HTTP: srv.Client()}
			loc, err := c.Send(context.Background(), h)
			if tc.status == 201 {
				if err != nil || loc == nil || loc.String() != srv.URL+"/api/v1/aggregates/abc" {
					t.Fatalf("201: location %v, err %v", loc, err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T %v, want *Error", err, err)
			}
			if e.Status != tc.status || e.Permanent != tc.permanent || permanent(err) != tc.permanent ||
				e.RetryAfter != tc.wantRA || e.Body != "detail of the refusal" {
				t.Errorf("got %+v", e)
			}
			if !strings.Contains(err.Error(), strconv.Itoa(tc.status)) {
				t.Errorf("message %q lacks the status", err)
			}
		})
	}
	t.Run("network error", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close() // nothing listens there now
		c := &Client{BaseURL: mustURL(t, "http://"+addr), Name: "n", Key: priv}
		_, err = c.Send(context.Background(), h)
		var e *Error
		if !errors.As(err, &e) || e.Permanent || e.Status != 0 || e.Err == nil {
			t.Fatalf("got %#v", err)
		}
	})
	t.Run("bad input is permanent", func(t *testing.T) {
		c := &Client{BaseURL: mustURL(t, "http://127.0.0.1:1"), Name: "n", Key: priv}
		for _, bad := range []*record.Histogram{nil, {Type: "histogram", Duration: 60}, {Type: "histogram", Start: time.Now()}} {
			if _, err := c.Send(context.Background(), bad); !permanent(err) {
				t.Errorf("%+v: got %v", bad, err)
			}
		}
		c.Name = "bad\"name\n"
		if _, err := c.Send(context.Background(), h); !permanent(err) {
			t.Errorf("bad keyid: got %v", err)
		}
	})
}

// permanent reports whether err is an *Error marked permanent.
func permanent(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Permanent
}

func TestISO8601Duration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Minute: "PT1M", 45 * time.Second: "PT45S", 90 * time.Minute: "PT1H30M",
		time.Hour + 2*time.Minute + 3*time.Second: "PT1H2M3S", 1500 * time.Millisecond: "PT1.5S",
		0: "PT0S", 24 * time.Hour: "PT24H",
	} {
		if got := ISO8601Duration(d); got != want {
			t.Errorf("%v: %s, want %s", d, got, want)
		}
	}
	start := time.Date(2026, 5, 28, 14, 34, 0, 0, time.FixedZone("CEST", 2*3600))
	if got := Interval(start, time.Minute); got != "2026-05-28T12:34:00Z/PT1M" {
		t.Errorf("Interval: %s", got)
	}
}

// BenchmarkSend1000 measures histograms of 1,000 rows a second through
// Parquet and a signed POST over mutual TLS to the local receiver (which
// checks the headers, digest and signature; the Parquet is read back by
// the tests, not here).
func BenchmarkSend1000(b *testing.B) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	rc := &receiver{keys: map[string]crypto.PublicKey{"n": pub}, now: time.Now}
	srv, hc := startReceiver(b, rc, newPKI(b, "n"))
	c := &Client{BaseURL: mustURL(b, srv.URL), Name: "n", Key: priv, HTTP: hc}
	h := testHistogram(1000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Send(context.Background(), h); err != nil {
			b.Fatal(err)
		}
		rc.mu.Lock()
		rc.got = rc.got[:0]
		rc.mu.Unlock()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "histograms/s")
}
