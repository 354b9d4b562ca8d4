package enroll

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/tapir-edge/tapir/lib/fault"
)

// MaxSkew is the clock difference with the node manager beyond which a
// warning is logged: the node manager refuses requests whose timestamp is
// more than 300 s old.
const MaxSkew = 60 * time.Second

// Client talks to one node manager.
type Client struct {
	Base *url.URL
	HTTP *http.Client
	Now  func() time.Time
	// Skew is the last clock difference seen (server minus local).
	Skew time.Duration
}

// NewClient returns a client for the node manager at base. caFile, if not
// empty, holds the CA certificates that its TLS certificate must chain to
// instead of the system's.
func NewClient(base, caFile string) (*Client, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fault.Errorf(fault.Config, "node manager URL %q: want https://HOST[:PORT]", base)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if caFile != "" {
		b, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fault.Errorf(fault.Config, "--nodeman-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return nil, fault.Errorf(fault.Config, "--nodeman-ca %s: no PEM certificate", caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &Client{Base: u, HTTP: &http.Client{Transport: tr, Timeout: 60 * time.Second}, Now: time.Now}, nil
}

// URL is the node manager URL of the node endpoint what ("enroll",
// "renew", ...). Like the node manager's own client it resolves the
// absolute path /api/v1/node/NAME/WHAT against the base URL, so a path in
// the base URL is not kept.
func (c *Client) URL(name, what string) string {
	return c.Base.ResolveReference(&url.URL{Path: "/api/v1/node/" + url.PathEscape(name) + "/" + what}).String()
}

// HTTPError is an answer other than 200. The errors of Client carry it
// marked with its kind of failure (see kind).
type HTTPError struct {
	Status int
	URL    string
	Detail string
}

// Error gives the status and, since FastAPI explains its refusals there,
// the detail of the answer.
func (e *HTTPError) Error() string {
	s := fmt.Sprintf("node manager: %s: %d %s", e.URL, e.Status, http.StatusText(e.Status))
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// kind tells a refusal, which a retry would meet again, from a failure
// or a "try later", which a retry may get past.
func (e *HTTPError) kind() fault.Kind {
	switch {
	case e.Status == http.StatusRequestTimeout, e.Status == http.StatusTooManyRequests, e.Status >= 500:
		return fault.Unavailable
	default:
		return fault.Refused
	}
}

// do sends a request and decodes a 200 answer's JSON into out. Network
// errors, failures and unreadable answers are fault.Unavailable, so that
// a script retries later; refusals fault.Refused, so that it does not.
func (c *Client) do(ctx context.Context, method, u string, body []byte, accept string, out any) error {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, r)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("User-Agent", "tapir-enroll")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return fault.Errorf(fault.Unavailable, "node manager unreachable: %w", err)
	}
	defer resp.Body.Close()
	c.checkSkew(resp)
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return fault.Errorf(fault.Unavailable, "node manager: %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		e := &HTTPError{Status: resp.StatusCode, URL: u, Detail: detail(b)}
		return fault.New(e.kind(), e)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fault.Errorf(fault.Unavailable, "node manager: %s: answer is not the expected JSON: %w", u, err)
	}
	return nil
}

// detail extracts FastAPI's {"detail": ...} or a short text.
func detail(b []byte) string {
	var d struct {
		Detail any `json:"detail"`
	}
	if json.Unmarshal(b, &d) == nil && d.Detail != nil {
		if s, ok := d.Detail.(string); ok {
			return s
		}
		j, _ := json.Marshal(d.Detail)
		return string(j)
	}
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

func (c *Client) checkSkew(resp *http.Response) {
	d, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil {
		return
	}
	c.Skew = d.Sub(c.Now())
	if c.Skew > MaxSkew || c.Skew < -MaxSkew {
		slog.Warn("clock skew with the node manager: fix the local clock (NTP); it refuses requests older than 300 s",
			"server_date", d.UTC().Format(time.RFC3339), "local", c.Now().UTC().Format(time.RFC3339), "skew", c.Skew.Round(time.Second).String())
	}
}

// refusal reports whether err is a refusal with status code status whose
// detail contains text (any detail if text is empty).
func refusal(err error, status int, text string) bool {
	var h *HTTPError
	return errors.As(err, &h) && h.Status == status && strings.Contains(strings.ToLower(h.Detail), text)
}

// Request payloads.
type renewPayload struct {
	Timestamp    string `json:"timestamp"`
	X509CSR      string `json:"x509_csr"`
	X509Lifetime *int64 `json:"x509_lifetime,omitempty"`
}

type enrollPayload struct {
	renewPayload
	PublicKey json.RawMessage `json:"public_key"`
}

// Certificate is the node manager's NodeCertificate.
type Certificate struct {
	X509Certificate   string `json:"x509_certificate"`
	X509CACertificate string `json:"x509_ca_certificate,omitempty"`
	X509SerialNumber  string `json:"x509_certificate_serial_number"`
	X509NotValidAfter string `json:"x509_certificate_not_valid_after"`
}

// Configuration is the node manager's NodeConfiguration.
type Configuration struct {
	Name        string            `json:"name"`
	MQTTBroker  string            `json:"mqtt_broker"`
	MQTTTopics  map[string]string `json:"mqtt_topics"`
	TrustedJWKS json.RawMessage   `json:"trusted_jwks"`
	NodemanURL  string            `json:"nodeman_url,omitempty"`
	AggrecURL   string            `json:"aggrec_url,omitempty"`
}

// EnrollmentResult is the answer to enroll.
type EnrollmentResult struct {
	Configuration
	Certificate
}

func timestamp(now time.Time) string {
	// Timezone-aware ISO 8601, as Python's datetime.isoformat() writes it.
	return now.UTC().Format("2006-01-02T15:04:05.000000+00:00")
}

// Request is a signed request, ready to send or print with --dry-run.
type Request struct {
	URL  string
	CSR  string
	Body []byte
}

func lifetime(d time.Duration) *int64 {
	if d <= 0 {
		return nil
	}
	s := int64(d / time.Second)
	return &s
}

// EnrollRequest builds the enroll JWS: general JSON serialisation, one
// signature by the enrollment key, one by the new data key, over
// {timestamp, x509_csr, x509_lifetime?, public_key}.
func (c *Client) EnrollRequest(cred *Credentials, data *jose.JSONWebKey, csr string, life time.Duration) (*Request, error) {
	pub, err := data.Public().MarshalJSON()
	if err != nil {
		return nil, err
	}
	payload, err := json.Marshal(enrollPayload{
		renewPayload: renewPayload{Timestamp: timestamp(c.Now()), X509CSR: csr, X509Lifetime: lifetime(life)},
		PublicKey:    pub,
	})
	if err != nil {
		return nil, err
	}
	dalg, err := dataAlg(data)
	if err != nil {
		return nil, err
	}
	signer, err := jose.NewMultiSigner([]jose.SigningKey{
		{Algorithm: cred.alg, Key: cred.key.Key},
		{Algorithm: dalg, Key: data.Key},
	}, nil)
	if err != nil {
		return nil, err
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		return nil, err
	}
	return &Request{URL: c.URL(cred.Name, "enroll"), CSR: csr, Body: []byte(obj.FullSerialize())}, nil
}

// RenewRequest builds the renew JWS, signed by the data key alone.
func (c *Client) RenewRequest(name string, data *jose.JSONWebKey, csr string, life time.Duration) (*Request, error) {
	payload, err := json.Marshal(renewPayload{Timestamp: timestamp(c.Now()), X509CSR: csr, X509Lifetime: lifetime(life)})
	if err != nil {
		return nil, err
	}
	dalg, err := dataAlg(data)
	if err != nil {
		return nil, err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: dalg, Key: data.Key}, nil)
	if err != nil {
		return nil, err
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		return nil, err
	}
	return &Request{URL: c.URL(name, "renew"), CSR: csr, Body: []byte(obj.FullSerialize())}, nil
}

// Enroll sends an enroll request.
func (c *Client) Enroll(ctx context.Context, r *Request) (*EnrollmentResult, error) {
	var res EnrollmentResult
	return &res, c.do(ctx, http.MethodPost, r.URL, r.Body, "application/json", &res)
}

// Renew sends a renew request.
func (c *Client) Renew(ctx context.Context, r *Request) (*Certificate, error) {
	var res Certificate
	return &res, c.do(ctx, http.MethodPost, r.URL, r.Body, "application/json", &res)
}

// Configuration gets the node's configuration.
func (c *Client) Configuration(ctx context.Context, name string) (*Configuration, error) {
	var res Configuration
	return &res, c.do(ctx, http.MethodGet, c.URL(name, "configuration"), nil, "application/json", &res)
}

// Certificate gets the node's latest certificate. The node manager sends
// it without x509_ca_certificate.
func (c *Client) Certificate(ctx context.Context, name string) (*Certificate, error) {
	var res Certificate
	return &res, c.do(ctx, http.MethodGet, c.URL(name, "certificate"), nil, "application/json", &res)
}

// PublicKey gets the data key the node manager holds for the node.
func (c *Client) PublicKey(ctx context.Context, name string) (*jose.JSONWebKey, error) {
	var raw json.RawMessage
	if err := c.do(ctx, http.MethodGet, c.URL(name, "public_key"), nil, "application/jwk+json", &raw); err != nil {
		return nil, err
	}
	// The node manager adds "kid" and "tags" members; go-jose ignores tags.
	var k jose.JSONWebKey
	if err := k.UnmarshalJSON(raw); err != nil {
		return nil, fault.Errorf(fault.Unavailable, "node manager: public key: %w", err)
	}
	return &k, nil
}
