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
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tapir-edge/tapir/lib/record"
)

// HistogramPath is the receiver's endpoint for histograms, relative to
// its base URL (aggrec/aggregates.py: POST /api/v1/aggregate/{aggregate_type}).
const HistogramPath = "api/v1/aggregate/histogram"

// DefaultLabel is the signature label, the one the DNS TAPIR edge uses
// (dnstapir/edm pkg/runner/aggregate_sender.go: SetSignatureName("sig1")).
// The receiver verifies whatever label it is given.
const DefaultLabel = "sig1"

// CoveredComponents are the header fields the signature covers, in this
// order. The receiver requires content-type, content-length and
// content-digest and refuses derived components; aggregate-interval is
// covered as aggrec's own client does (aggrec/client.py).
var CoveredComponents = []string{"content-type", "content-length", "content-digest", "aggregate-interval"}

// Client sends histograms to a DNS TAPIR aggregate receiver.
type Client struct {
	// BaseURL is the receiver's base, e.g. https://aggrec.example/.
	BaseURL *url.URL
	// Name is the node name, the signature's keyid; the receiver records
	// it as the aggregate's creator.
	Name string
	// Key signs the request: an ed25519.PrivateKey (alg "ed25519") or an
	// *ecdsa.PrivateKey on P-256 (alg "ecdsa-p256-sha256"), or any
	// crypto.Signer whose public key is one of those.
	Key crypto.Signer
	// HTTP is the client to send with; the caller configures mutual TLS
	// (the node certificate) on its transport. nil: http.DefaultClient.
	HTTP *http.Client
	// Now is the clock for the signature's created parameter; nil: time.Now.
	Now func() time.Time
	// Label is the signature label; "" means DefaultLabel.
	Label string
	// UserAgent is sent when set.
	UserAgent string
}

// Error is a failed Send. Permanent errors will fail again when the same
// request is retried (the receiver refused it: 4xx other than 408 and
// 429, or the histogram or the client's settings are unusable); the
// others (5xx, 408, 429, network failures) are worth retrying later.
type Error struct {
	Status     int           // HTTP status, 0 when no response was received
	Permanent  bool          // retrying the same request will not help
	RetryAfter time.Duration // from a Retry-After header, 0 if none
	Body       string        // the start of the response body, for the log
	Err        error         // the underlying error, if any
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("aggrec: ")
	switch {
	case e.Status != 0:
		fmt.Fprintf(&b, "receiver answered %d %s", e.Status, http.StatusText(e.Status))
		if e.Body != "" {
			fmt.Fprintf(&b, ": %q", e.Body)
		}
		if e.Err != nil {
			fmt.Fprintf(&b, ": %v", e.Err)
		}
	case e.Err != nil:
		b.WriteString(e.Err.Error())
	default:
		b.WriteString("unknown error")
	}
	if e.Permanent {
		b.WriteString(" (permanent)")
	} else {
		b.WriteString(" (temporary)")
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// permanentStatus classifies an HTTP status that is not success.
func permanentStatus(code int) bool {
	switch {
	case code == http.StatusRequestTimeout, code == http.StatusTooManyRequests:
		return false
	case code >= 500:
		return false
	default: // other 4xx, and 1xx/2xx/3xx the receiver never sends
		return true
	}
}

// Send turns h into Parquet and sends it (see [Client.SendParquet]).
func (c *Client) Send(ctx context.Context, h *record.Histogram) (*url.URL, error) {
	if h == nil {
		return nil, &Error{Permanent: true, Err: errors.New("nil histogram")}
	}
	body, err := Parquet(h)
	if err != nil {
		return nil, &Error{Permanent: true, Err: err}
	}
	return c.SendParquet(ctx, body, h.Start, time.Duration(h.Duration)*time.Second)
}

// SendParquet POSTs a histogram Parquet file for the interval
// [start, start+dur) to the receiver, signed now. On success (201) it
// returns the aggregate's URL from the Location header, resolved against
// the request URL (nil if the receiver sent none). Every error is an
// *Error. The receiver deduplicates on the content digest, so sending the
// same bytes again is safe.
func (c *Client) SendParquet(ctx context.Context, body []byte, start time.Time, dur time.Duration) (*url.URL, error) {
	if c.BaseURL == nil {
		return nil, &Error{Permanent: true, Err: errors.New("no receiver URL")}
	}
	if start.IsZero() {
		return nil, &Error{Permanent: true, Err: errors.New("histogram has no start time")}
	}
	if dur <= 0 {
		return nil, &Error{Permanent: true, Err: fmt.Errorf("histogram duration %v is not positive", dur)}
	}
	label := c.Label
	if label == "" {
		label = DefaultLabel
	}
	target := c.BaseURL.JoinPath(HistogramPath)
	target.RawQuery, target.Fragment, target.RawFragment = "", "", ""

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target.String(), bytes.NewReader(body))
	if err != nil {
		return nil, &Error{Permanent: true, Err: err}
	}
	// An explicit length, never chunked: the receiver needs Content-Length.
	req.ContentLength = int64(len(body))
	sum := sha256.Sum256(body)
	req.Header.Set("Content-Type", ContentType)
	req.Header.Set("Content-Length", strconv.Itoa(len(body)))
	req.Header.Set("Content-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(sum[:])+":")
	req.Header.Set("Aggregate-Interval", Interval(start, dur))
	if c.UserAgent != "" {
		req.Header.Set("User-Agent", c.UserAgent)
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	if err := sign(req, label, c.Name, c.Key, now()); err != nil {
		return nil, &Error{Permanent: true, Err: err}
	}

	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, &Error{Err: err}
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused

	if resp.StatusCode != http.StatusCreated {
		return nil, &Error{
			Status:     resp.StatusCode,
			Permanent:  permanentStatus(resp.StatusCode),
			RetryAfter: retryAfter(resp.Header.Get("Retry-After"), now()),
			Body:       strings.TrimSpace(string(snippet)),
		}
	}
	loc := resp.Header.Get("Location")
	if loc == "" {
		return nil, nil
	}
	u, err := url.Parse(loc)
	if err != nil {
		// Stored anyway: the upload succeeded, only the link is unusable.
		return nil, nil
	}
	return resp.Request.URL.ResolveReference(u), nil
}

// retryAfter parses a Retry-After value: seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32); err == nil {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// Interval formats the Aggregate-Interval header: the start in RFC 3339
// (UTC, whole seconds) and an ISO 8601 duration, e.g.
// 2026-05-28T12:34:00Z/PT1M.
func Interval(start time.Time, dur time.Duration) string {
	return start.UTC().Format(time.RFC3339) + "/" + ISO8601Duration(dur)
}

// ISO8601Duration formats d as an ISO 8601 duration of hours, minutes and
// seconds (fractional seconds kept), e.g. PT1M, PT1H30M, PT0.5S; PT0S for
// zero or less.
func ISO8601Duration(d time.Duration) string {
	if d <= 0 {
		return "PT0S"
	}
	var b strings.Builder
	b.WriteString("PT")
	h := d / time.Hour
	d -= h * time.Hour
	m := d / time.Minute
	d -= m * time.Minute
	if h > 0 {
		b.WriteString(strconv.FormatInt(int64(h), 10) + "H")
	}
	if m > 0 {
		b.WriteString(strconv.FormatInt(int64(m), 10) + "M")
	}
	if d > 0 {
		b.WriteString(strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "S")
	}
	return b.String()
}

// sign adds Signature-Input and Signature (RFC 9421) to req, covering
// CoveredComponents, with created, keyid and alg parameters.
func sign(req *http.Request, label, keyid string, key crypto.Signer, created time.Time) error {
	if key == nil {
		return errors.New("no signing key")
	}
	if !isToken(label) {
		return fmt.Errorf("signature label %q is not a structured-field key", label)
	}
	if keyid == "" {
		return errors.New("no node name (keyid)")
	}
	for _, r := range keyid {
		if r < 0x20 || r > 0x7e {
			return fmt.Errorf("node name %q: keyid must be printable ASCII", keyid)
		}
	}
	var alg string
	switch pub := key.Public().(type) {
	case ed25519.PublicKey:
		alg = "ed25519"
	case *ecdsa.PublicKey:
		if pub.Curve != elliptic.P256() {
			return errors.New("ECDSA signing key is not on P-256")
		}
		alg = "ecdsa-p256-sha256"
	default:
		return fmt.Errorf("unsupported signing key %T", pub)
	}

	var params strings.Builder
	params.WriteByte('(')
	var base strings.Builder
	for i, name := range CoveredComponents {
		if i > 0 {
			params.WriteByte(' ')
		}
		params.WriteString(`"` + name + `"`)
		vals := slices.Clone(req.Header.Values(name))
		if len(vals) == 0 {
			return fmt.Errorf("covered header %s missing", name)
		}
		for j := range vals {
			vals[j] = strings.TrimSpace(vals[j])
		}
		base.WriteString(`"` + name + `": ` + strings.Join(vals, ", ") + "\n")
	}
	params.WriteString(")")
	params.WriteString(";created=" + strconv.FormatInt(created.Unix(), 10))
	params.WriteString(`;keyid="` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(keyid) + `"`)
	params.WriteString(`;alg="` + alg + `"`)
	base.WriteString(`"@signature-params": ` + params.String())

	var sig []byte
	var err error
	msg := []byte(base.String())
	if alg == "ed25519" {
		sig, err = key.Sign(rand.Reader, msg, crypto.Hash(0))
	} else {
		digest := sha256.Sum256(msg)
		var der []byte
		if der, err = key.Sign(rand.Reader, digest[:], crypto.SHA256); err == nil {
			sig, err = ecdsaRaw(der)
		}
	}
	if err != nil {
		return fmt.Errorf("signing: %w", err)
	}
	req.Header.Set("Signature-Input", label+"="+params.String())
	req.Header.Set("Signature", label+"=:"+base64.StdEncoding.EncodeToString(sig)+":")
	return nil
}

// ecdsaRaw turns an ASN.1 ECDSA signature into r‖s, 32 bytes each, as
// RFC 9421 section 3.3.4 wants.
func ecdsaRaw(der []byte) ([]byte, error) {
	var s struct{ R, S *big.Int }
	rest, err := asn1.Unmarshal(der, &s)
	if err != nil || len(rest) != 0 || s.R == nil || s.S == nil {
		return nil, errors.New("malformed ECDSA signature")
	}
	out := make([]byte, 64)
	if s.R.BitLen() > 256 || s.S.BitLen() > 256 {
		return nil, errors.New("malformed ECDSA signature")
	}
	s.R.FillBytes(out[:32])
	s.S.FillBytes(out[32:])
	return out, nil
}

// isToken reports whether s is a structured-field dictionary key
// (RFC 8941 section 3.2): lowercase letter or *, then lcalpha, digits, _-.*
func isToken(s string) bool {
	if s == "" || !(s[0] >= 'a' && s[0] <= 'z' || s[0] == '*') {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '*') {
			return false
		}
	}
	return true
}
