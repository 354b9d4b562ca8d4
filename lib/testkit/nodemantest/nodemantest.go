// Package nodemantest is a DNS TAPIR node manager for tests: the node
// endpoints of enrollment and renewal over TLS, checking requests as the
// real one (dnstapir/nodeman) does, with an internal CA (root and
// intermediate) that issues the certificates.
//
// It verifies the JWS by hand (crypto/hmac, crypto/ed25519, crypto/ecdsa
// over base64url(protected) "." base64url(payload), RFC 7515), not with
// the JOSE library that tapir-enroll signs with.
package nodemantest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// MaxRequestAge is the node manager's MAX_REQUEST_AGE.
const MaxRequestAge = 300 * time.Second

// Node is a node the server knows.
type Node struct {
	Name      string
	enrollKey map[string]any // the private JWK; nil once used
	Activated bool
	PublicKey map[string]any // the data key, without kid
	CertPEM   string         // latest certificate (leaf only, as stored)
}

// Server is the test node manager.
type Server struct {
	*httptest.Server

	// Lifetime of certificates when the request gives none.
	Lifetime time.Duration
	// AggrecURL is the aggregate receiver the configuration names.
	AggrecURL string
	// DateOffset is added to the Date header (clock skew).
	DateOffset time.Duration
	// LoseEnrollAnswer makes the server enroll, then drop the connection
	// without an answer, once.
	LoseEnrollAnswer bool
	// FailStatus, if not 0, is the status of every answer (a broken
	// server).
	FailStatus int
	// If Hold is not nil, enroll, having enrolled, sends on Enrolling and
	// waits for Hold to close before it answers (to kill the client
	// while it waits).
	Hold, Enrolling chan struct{}

	mu       sync.Mutex
	nodes    map[string]*Node
	Requests []string // "METHOD PATH", in order
	Enrolled int      // enrollments done

	rootKey, interKey *ecdsa.PrivateKey
	Root, Inter       *x509.Certificate
	TrustedJWKS       map[string]any
}

// New starts a test node manager; it stops at the end of the test.
func New(t interface {
	Helper()
	Fatal(...any)
	Cleanup(func())
}) *Server {
	t.Helper()
	s := &Server{Lifetime: 24 * time.Hour, AggrecURL: "https://aggrec.test.example", nodes: map[string]*Node{}}
	var err error
	if s.rootKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if s.interKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	ca := func(cn string, pub crypto.PublicKey, parent *x509.Certificate, key crypto.Signer) *x509.Certificate {
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(now.UnixNano()), Subject: pkix.Name{CommonName: cn},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(10 * 365 * 24 * time.Hour),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign,
		}
		if parent == nil {
			parent = tmpl
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		return c
	}
	s.Root = ca("Test DNS TAPIR Root CA", s.rootKey.Public(), nil, s.rootKey)
	s.Inter = ca("Test DNS TAPIR Intermediate CA", s.interKey.Public(), s.Root, s.rootKey)
	core, _, _ := ed25519.GenerateKey(rand.Reader)
	s.TrustedJWKS = map[string]any{"keys": []any{map[string]any{"kty": "OKP", "crv": "Ed25519", "kid": "dnstapir-core", "x": b64(core)}}}

	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/node/{name}/enroll", s.enroll)
	mux.HandleFunc("POST /api/v1/node/{name}/renew", s.renew)
	mux.HandleFunc("GET /api/v1/node/{name}/configuration", s.configuration)
	mux.HandleFunc("GET /api/v1/node/{name}/certificate", s.certificate)
	mux.HandleFunc("GET /api/v1/node/{name}/public_key", s.publicKey)
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.Requests = append(s.Requests, r.Method+" "+r.URL.Path)
		s.mu.Unlock()
		w.Header().Set("Date", time.Now().Add(s.DateOffset).UTC().Format(http.TimeFormat))
		if s.FailStatus != 0 {
			fail(w, s.FailStatus, "Internal Server Error")
			return
		}
		mux.ServeHTTP(w, r)
	}))
	s.Config.ErrorLog = log.New(io.Discard, "", 0) // clients that distrust the certificate
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

// CAPEM is the PEM of the server's TLS certificate, for --nodeman-ca.
func (s *Server) CAPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})
}

// AddNode creates a node and returns its credentials file, as the node
// manager's create endpoint does: kty "oct" (HS256) or "OKP" (Ed25519).
func (s *Server) AddNode(name, kty string) []byte {
	kid := make([]byte, 12)
	rand.Read(kid)
	var key map[string]any
	switch kty {
	case "OKP":
		pub, priv, _ := ed25519.GenerateKey(rand.Reader)
		key = map[string]any{"kty": "OKP", "crv": "Ed25519", "kid": hex.EncodeToString(kid), "x": b64(pub), "d": b64(priv.Seed())}
	default:
		k := make([]byte, 32)
		rand.Read(k)
		key = map[string]any{"kty": "oct", "kid": hex.EncodeToString(kid), "alg": "HS256", "k": b64(k)}
	}
	s.mu.Lock()
	s.nodes[name] = &Node{Name: name, enrollKey: key}
	s.mu.Unlock()
	b, _ := json.MarshalIndent(map[string]any{"name": name, "key": key, "nodeman_url": s.URL}, "", "  ")
	return b
}

// Node returns a copy of what the server holds on a node.
func (s *Server) Node(name string) (Node, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.nodes[name]
	if !ok {
		return Node{}, false
	}
	return *n, true
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func fail(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"detail": detail})
}

func reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// jws is a JWS in general or flattened JSON serialisation.
type jws struct {
	Payload    string `json:"payload"`
	Protected  string `json:"protected"`
	Signature  string `json:"signature"`
	Signatures []struct {
		Protected string `json:"protected"`
		Signature string `json:"signature"`
	} `json:"signatures"`
}

// verify reports whether a signature of j verifies with the JWK key (as
// jwcrypto's JWS.verify does: any one of the signatures).
func (j *jws) verify(key map[string]any) bool {
	sigs := j.Signatures
	if j.Signature != "" {
		sigs = append(sigs, struct {
			Protected string `json:"protected"`
			Signature string `json:"signature"`
		}{j.Protected, j.Signature})
	}
	for _, sg := range sigs {
		hb, err := base64.RawURLEncoding.DecodeString(sg.Protected)
		if err != nil {
			continue
		}
		var h struct {
			Alg string `json:"alg"`
		}
		if json.Unmarshal(hb, &h) != nil {
			continue
		}
		sig, err := base64.RawURLEncoding.DecodeString(sg.Signature)
		if err != nil {
			continue
		}
		input := []byte(sg.Protected + "." + j.Payload)
		if verifyOne(key, h.Alg, input, sig) {
			return true
		}
	}
	return false
}

func param(key map[string]any, name string) []byte {
	s, _ := key[name].(string)
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil
	}
	return b
}

func verifyOne(key map[string]any, alg string, input, sig []byte) bool {
	switch key["kty"] {
	case "oct":
		if alg != "HS256" {
			return false
		}
		m := hmac.New(sha256.New, param(key, "k"))
		m.Write(input)
		return hmac.Equal(m.Sum(nil), sig)
	case "OKP":
		x := param(key, "x")
		return alg == "EdDSA" && key["crv"] == "Ed25519" && len(x) == ed25519.PublicKeySize && ed25519.Verify(ed25519.PublicKey(x), input, sig)
	case "EC":
		if alg != "ES256" || key["crv"] != "P-256" || len(sig) != 64 {
			return false
		}
		x, y := param(key, "x"), param(key, "y")
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			return false
		}
		d := sha256.Sum256(input)
		return ecdsa.Verify(pub, d[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
	}
	return false
}

// payload is the node manager's NodeRequest and EnrollmentRequest.
type payload struct {
	Timestamp    *string        `json:"timestamp"`
	X509CSR      *string        `json:"x509_csr"`
	X509Lifetime *int64         `json:"x509_lifetime"`
	PublicKey    map[string]any `json:"public_key"`
}

// parse checks the payload as pydantic would: an aware timestamp at most
// MaxRequestAge old (one in the future passes, as in the real one), a CSR.
func (j *jws) parse() (*payload, string) {
	b, err := base64.RawURLEncoding.DecodeString(j.Payload)
	if err != nil {
		return nil, "payload is not base64url"
	}
	var p payload
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, "payload is not JSON"
	}
	if p.Timestamp == nil || p.X509CSR == nil {
		return nil, "timestamp and x509_csr required"
	}
	ts, err := time.Parse(time.RFC3339Nano, *p.Timestamp)
	if err != nil {
		return nil, "timestamp: not a timezone-aware ISO 8601 time"
	}
	if time.Since(ts) > MaxRequestAge {
		return nil, "Request too old or in the future"
	}
	if p.X509Lifetime != nil && *p.X509Lifetime <= 0 {
		return nil, "Invalid certificate lifetime (must be > 0)"
	}
	return &p, ""
}

func (s *Server) body(w http.ResponseWriter, r *http.Request) (*jws, bool) {
	var j jws
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&j); err != nil || j.Payload == "" {
		fail(w, http.StatusBadRequest, "Invalid JWS")
		return nil, false
	}
	return &j, true
}

var oidSAN = asn1.ObjectIdentifier{2, 5, 29, 17}

// issue checks a CSR as the node manager's verify_x509_csr does, and
// issues a certificate from the intermediate CA.
func (s *Server) issue(csrPEM, name string, life *int64) (leaf string, c *x509.Certificate, detail string) {
	p, _ := pem.Decode([]byte(csrPEM))
	if p == nil || p.Type != "CERTIFICATE REQUEST" {
		return "", nil, "Invalid CSR"
	}
	csr, err := x509.ParseCertificateRequest(p.Bytes)
	if err != nil {
		return "", nil, "Invalid CSR"
	}
	refused := "Certificate request refused"
	if csr.CheckSignature() != nil {
		return "", nil, refused
	}
	// Subject: exactly one attribute, CN=name.
	if len(csr.Subject.Names) != 1 || csr.Subject.CommonName != name {
		return "", nil, refused
	}
	// Exactly one extension: the SAN, with exactly DNS:name.
	if len(csr.Extensions) != 1 || !csr.Extensions[0].Id.Equal(oidSAN) ||
		len(csr.DNSNames) != 1 || csr.DNSNames[0] != name ||
		len(csr.IPAddresses)+len(csr.EmailAddresses)+len(csr.URIs) != 0 {
		return "", nil, refused
	}
	validity := s.Lifetime
	if life != nil {
		validity = time.Duration(*life) * time.Second
	}
	now := time.Now()
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: now, NotAfter: now.Add(validity),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, s.Inter, csr.PublicKey, s.interKey)
	if err != nil {
		return "", nil, "Error issuing certificate"
	}
	c, _ = x509.ParseCertificate(der)
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), c, ""
}

func (s *Server) certFields(leaf string, c *x509.Certificate, withCA bool) map[string]any {
	m := map[string]any{
		"x509_certificate":                 leaf + string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Inter.Raw})),
		"x509_certificate_serial_number":   c.SerialNumber.String(),
		"x509_certificate_not_valid_after": c.NotAfter.UTC().Format("2006-01-02T15:04:05Z07:00"),
	}
	if withCA {
		m["x509_ca_certificate"] = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Root.Raw}))
	}
	return m
}

func (s *Server) config(name string) map[string]any {
	return map[string]any{
		"name":         name,
		"mqtt_broker":  "mqtts://mqtt.test.example:8883",
		"mqtt_topics":  map[string]string{"edm": "configuration/" + name + "/edm", "pop": "configuration/" + name + "/pop"},
		"trusted_jwks": s.TrustedJWKS,
		"nodeman_url":  s.URL,
		"aggrec_url":   s.AggrecURL,
	}
}

func (s *Server) enroll(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.nodes[name]
	if !ok {
		fail(w, http.StatusNotFound, "Not Found")
		return
	}
	if n.Activated {
		fail(w, http.StatusBadRequest, "Node already enrolled")
		return
	}
	if n.enrollKey == nil {
		fail(w, http.StatusBadRequest, "Node enrollment failed")
		return
	}
	j, ok := s.body(w, r)
	if !ok {
		return
	}
	// One key at a time: the enrollment key, then the data key from the
	// payload.
	if !j.verify(n.enrollKey) {
		fail(w, http.StatusUnauthorized, "Invalid enrollment signature")
		return
	}
	p, msg := j.parse()
	if p == nil {
		fail(w, http.StatusBadRequest, msg)
		return
	}
	if p.PublicKey == nil {
		fail(w, http.StatusBadRequest, "public_key required")
		return
	}
	if _, priv := p.PublicKey["d"]; priv {
		fail(w, http.StatusBadRequest, "public_key is private")
		return
	}
	if !j.verify(p.PublicKey) {
		fail(w, http.StatusUnauthorized, "Invalid data signature")
		return
	}
	if kid, ok := p.PublicKey["kid"]; ok && kid != name {
		fail(w, http.StatusForbidden, "Invalid data name")
		return
	}
	leaf, c, msg := s.issue(*p.X509CSR, name, p.X509Lifetime)
	if c == nil {
		fail(w, http.StatusBadRequest, msg)
		return
	}
	pub := map[string]any{}
	for k, v := range p.PublicKey {
		if k != "kid" {
			pub[k] = v
		}
	}
	n.PublicKey, n.CertPEM, n.Activated, n.enrollKey = pub, leaf, true, nil
	s.Enrolled++
	if s.Hold != nil {
		hold := s.Hold
		s.mu.Unlock()
		s.Enrolling <- struct{}{}
		<-hold
		s.mu.Lock()
	}
	if s.LoseEnrollAnswer {
		s.LoseEnrollAnswer = false
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
	}
	res := s.config(name)
	for k, v := range s.certFields(leaf, c, true) {
		res[k] = v
	}
	reply(w, res)
}

func (s *Server) renew(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.nodes[name]
	if !ok {
		fail(w, http.StatusNotFound, "Not Found")
		return
	}
	if !n.Activated {
		fail(w, http.StatusBadRequest, "Node not activated")
		return
	}
	j, ok := s.body(w, r)
	if !ok {
		return
	}
	if !j.verify(n.PublicKey) {
		fail(w, http.StatusUnauthorized, "Invalid data signature")
		return
	}
	p, msg := j.parse()
	if p == nil {
		fail(w, http.StatusBadRequest, msg)
		return
	}
	leaf, c, msg := s.issue(*p.X509CSR, name, p.X509Lifetime)
	if c == nil {
		fail(w, http.StatusBadRequest, msg)
		return
	}
	n.CertPEM = leaf
	reply(w, s.certFields(leaf, c, true))
}

func (s *Server) configuration(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.nodes[name]
	if !ok {
		fail(w, http.StatusNotFound, "Not Found")
		return
	}
	if !n.Activated {
		fail(w, http.StatusBadRequest, "Node not activated")
		return
	}
	reply(w, s.config(name))
}

// certificate answers as the node manager does from its database: the
// leaf alone, and no CA certificate.
func (s *Server) certificate(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.nodes[name]
	if !ok || n.CertPEM == "" {
		fail(w, http.StatusNotFound, "Not Found")
		return
	}
	p, _ := pem.Decode([]byte(n.CertPEM))
	c, _ := x509.ParseCertificate(p.Bytes)
	reply(w, map[string]any{
		"x509_certificate":                 n.CertPEM,
		"x509_certificate_serial_number":   c.SerialNumber.String(),
		"x509_certificate_not_valid_after": c.NotAfter.UTC().Format(time.RFC3339),
	})
}

func (s *Server) publicKey(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.nodes[name]
	if !ok || n.PublicKey == nil {
		fail(w, http.StatusNotFound, "Not Found")
		return
	}
	if a := r.Header.Get("Accept"); a != "" && !strings.Contains(a, "application/jwk+json") && !strings.Contains(a, "application/json") && !strings.Contains(a, "*/*") {
		fail(w, http.StatusNotAcceptable, "Not Acceptable")
		return
	}
	k := map[string]any{"kid": name, "tags": []string{}}
	for key, v := range n.PublicKey {
		k[key] = v
	}
	w.Header().Set("Content-Type", "application/jwk+json")
	json.NewEncoder(w).Encode(k)
}
