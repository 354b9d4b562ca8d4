package enroll

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tapir-edge/tapir/lib/fault"
	"github.com/tapir-edge/tapir/lib/node"
	"github.com/tapir-edge/tapir/lib/testkit/nodemantest"
)

const name = "edge-17.nodes.test.example"

type fixture struct {
	srv  *nodemantest.Server
	cred string
	o    Options
}

func setup(t *testing.T, kty string) *fixture {
	t.Helper()
	srv := nodemantest.New(t)
	dir := t.TempDir()
	cred := filepath.Join(dir, "credentials.json")
	if err := os.WriteFile(cred, srv.AddNode(name, kty), 0o600); err != nil {
		t.Fatal(err)
	}
	return &fixture{srv: srv, cred: cred, o: Options{
		Dir: filepath.Join(dir, "node"), Credentials: cred, HTTP: srv.Client(),
	}}
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func (f *fixture) requests() []string {
	return slices.Clone(f.srv.Requests)
}

// checkNode checks a complete node directory against the server.
func checkNode(t *testing.T, f *fixture) *node.Node {
	t.Helper()
	n, err := node.Load(f.o.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if n.Name != name || n.NodemanURL != f.srv.URL || n.AggrecURL != "https://aggrec.test.example" ||
		n.MQTTBroker != "mqtts://mqtt.test.example:8883" || n.MQTTTopics["pop"] != "configuration/"+name+"/pop" {
		t.Errorf("node.json: %+v", n)
	}
	for _, k := range []string{n.DataKey, n.TLSKey} {
		if m := mode(t, n.Path(k)); m != 0o600 {
			t.Errorf("%s: mode %04o, want 0600", k, m)
		}
	}
	tk, err := node.ReadPEMKey(n.Path(n.TLSKey))
	if err != nil {
		t.Fatal(err)
	}
	crt, _ := os.ReadFile(n.Path(n.TLSCert))
	ca, _ := os.ReadFile(n.Path(n.CACert))
	if _, err := checkCert(string(crt), string(ca), tk, name, time.Now()); err != nil {
		t.Errorf("certificate: %v", err)
	}
	// The server holds the local data key.
	dk, err := node.ReadJWK(n.Path(n.DataKey))
	if err != nil {
		t.Fatal(err)
	}
	sn, _ := f.srv.Node(name)
	pub := dk.Public()
	want, _ := pub.MarshalJSON()
	var wm map[string]any
	json.Unmarshal(want, &wm)
	for _, p := range []string{"kty", "crv", "x", "y"} {
		if wm[p] != sn.PublicKey[p] {
			t.Errorf("server holds %v, local data key %v", sn.PublicKey, wm)
		}
	}
	var jwks struct{ Keys []map[string]any }
	b, _ := os.ReadFile(n.Path(n.TrustedJWKS))
	if json.Unmarshal(b, &jwks) != nil || len(jwks.Keys) != 1 || jwks.Keys[0]["kid"] != "dnstapir-core" {
		t.Errorf("trusted JWKS: %s", b)
	}
	return n
}

func TestEnroll(t *testing.T) {
	for _, tc := range []struct{ kty, data string }{{"oct", KeyEd25519}, {"OKP", KeyEd25519}, {"oct", KeyP256}} {
		t.Run(tc.kty+"-"+tc.data, func(t *testing.T) {
			f := setup(t, tc.kty)
			f.o.DataKeyType = tc.data
			if err := Enroll(context.Background(), f.o); err != nil {
				t.Fatal(err)
			}
			n := checkNode(t, f)
			if want := map[string]string{KeyEd25519: "EdDSA", KeyP256: "ES256"}[tc.data]; n.DataKeyAlg != want {
				t.Errorf("data_key_alg %s, want %s", n.DataKeyAlg, want)
			}
			if fileExists(f.cred) {
				t.Error("the credentials file is still there")
			}
			if r := f.requests(); !slices.Equal(r, []string{"POST /api/v1/node/" + name + "/enroll"}) {
				t.Errorf("requests %q", r)
			}
			// Nothing left half-written.
			ents, _ := os.ReadDir(f.o.Dir)
			for _, e := range ents {
				if strings.Contains(e.Name(), ".tmp") || strings.HasSuffix(e.Name(), ".new") {
					t.Errorf("left behind: %s", e.Name())
				}
			}
		})
	}
}

// The request: general JSON serialisation, two signatures, alg in each
// protected header, the payload members.
func TestEnrollRequest(t *testing.T) {
	f := setup(t, "oct")
	cred, err := ReadCredentials(f.cred)
	if err != nil {
		t.Fatal(err)
	}
	dk, _ := NewDataKey(KeyEd25519, name)
	tk, _ := NewTLSKey()
	csr, _ := CSR(tk, name)
	c, _ := NewClient(f.srv.URL, "")
	r, err := c.EnrollRequest(cred, dk, csr, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var j struct {
		Payload    string
		Signatures []struct{ Protected, Signature string }
	}
	if err := json.Unmarshal(r.Body, &j); err != nil || len(j.Signatures) != 2 {
		t.Fatalf("%v: %s", err, r.Body)
	}
	var algs []string
	for _, s := range j.Signatures {
		b, _ := base64.RawURLEncoding.DecodeString(s.Protected)
		var h map[string]any
		json.Unmarshal(b, &h)
		algs = append(algs, h["alg"].(string))
	}
	if !slices.Equal(algs, []string{"HS256", "EdDSA"}) {
		t.Errorf("algs %q", algs)
	}
	b, _ := base64.RawURLEncoding.DecodeString(j.Payload)
	var p map[string]any
	json.Unmarshal(b, &p)
	ts, err := time.Parse(time.RFC3339Nano, p["timestamp"].(string))
	if err != nil || time.Since(ts) > time.Minute || !strings.HasSuffix(p["timestamp"].(string), "+00:00") {
		t.Errorf("timestamp %v: %v", p["timestamp"], err)
	}
	if p["x509_csr"] != csr || p["x509_lifetime"] != 3600.0 {
		t.Errorf("payload %v", p)
	}
	pk := p["public_key"].(map[string]any)
	if pk["kid"] != name || pk["kty"] != "OKP" || pk["d"] != nil {
		t.Errorf("public_key %v", pk)
	}
	if r.URL != f.srv.URL+"/api/v1/node/"+name+"/enroll" {
		t.Errorf("URL %s", r.URL)
	}
}

func TestEnrollAgainDoesNothing(t *testing.T) {
	f := setup(t, "oct")
	if err := Enroll(context.Background(), f.o); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(f.o.Dir, node.TLSCertFile))
	if err := Enroll(context.Background(), f.o); err != nil {
		t.Fatalf("second run: %v", err)
	}
	after, _ := os.ReadFile(filepath.Join(f.o.Dir, node.TLSCertFile))
	if len(f.requests()) != 1 || !bytes.Equal(before, after) {
		t.Errorf("second run sent %q or changed the certificate", f.requests())
	}
}

// The answer to enroll is lost (a crash, a cut connection): the next run
// finds the node enrolled, checks the key and recovers.
func TestCrashRecovery(t *testing.T) {
	f := setup(t, "oct")
	f.srv.LoseEnrollAnswer = true
	err := Enroll(context.Background(), f.o)
	if fault.Of(err) != fault.Unavailable {
		t.Fatalf("lost answer: %v (%v), want %v", err, fault.Of(err), fault.Unavailable)
	}
	if fileExists(filepath.Join(f.o.Dir, node.File)) || !fileExists(filepath.Join(f.o.Dir, node.DataKeyFile)) || !fileExists(f.cred) {
		t.Fatal("after the lost answer: want keys and credentials, no node.json")
	}
	if err := Enroll(context.Background(), f.o); err != nil {
		t.Fatalf("recovery: %v", err)
	}
	checkNode(t, f)
	want := []string{"POST enroll", "POST enroll", "GET public_key", "GET configuration", "GET certificate", "POST renew"}
	var have []string
	for _, r := range f.requests() {
		m, p, _ := strings.Cut(r, " ")
		have = append(have, m+" "+p[strings.LastIndex(p, "/")+1:])
	}
	if !slices.Equal(have, want) || f.srv.Enrolled != 1 {
		t.Errorf("requests %q, want %q", have, want)
	}
}

// The keys are written before the request: a server that cannot be
// reached leaves them, and the next run uses them.
func TestServerDown(t *testing.T) {
	f := setup(t, "oct")
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	down := "https://" + l.Addr().String()
	l.Close()
	b, _ := os.ReadFile(f.cred)
	os.WriteFile(f.cred, bytes.ReplaceAll(b, []byte(f.srv.URL), []byte(down)), 0o600)
	err := Enroll(context.Background(), f.o)
	if fault.Of(err) != fault.Unavailable {
		t.Fatalf("server down: %v (%v), want %v", err, fault.Of(err), fault.Unavailable)
	}
	key1, _ := os.ReadFile(filepath.Join(f.o.Dir, node.DataKeyFile))
	if m := mode(t, filepath.Join(f.o.Dir, node.DataKeyFile)); m != 0o600 || len(key1) == 0 {
		t.Fatalf("data key mode %04o", m)
	}
	os.WriteFile(f.cred, b, 0o600)
	if err := Enroll(context.Background(), f.o); err != nil {
		t.Fatal(err)
	}
	key2, _ := os.ReadFile(filepath.Join(f.o.Dir, node.DataKeyFile))
	if !bytes.Equal(key1, key2) {
		t.Error("the second run made a new data key")
	}
	checkNode(t, f)
}

func TestRefusals(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(f *fixture)
		want   string
	}{
		{"bad enrollment key", func(f *fixture) {
			var c map[string]any
			b, _ := os.ReadFile(f.cred)
			json.Unmarshal(b, &c)
			c["key"].(map[string]any)["k"] = base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32))
			b, _ = json.Marshal(c)
			os.WriteFile(f.cred, b, 0o600)
		}, "401"},
		{"unknown node", func(f *fixture) {
			b, _ := os.ReadFile(f.cred)
			os.WriteFile(f.cred, bytes.ReplaceAll(b, []byte(name), []byte("edge-99.nodes.test.example")), 0o600)
		}, "404"},
		{"timestamp too old", func(f *fixture) {
			f.o.Now = func() time.Time { return time.Now().Add(-301 * time.Second) }
		}, "too old"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := setup(t, "oct")
			tc.change(f)
			err := Enroll(context.Background(), f.o)
			if fault.Of(err) != fault.Refused || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%v (%v), want %v with %q", err, fault.Of(err), fault.Refused, tc.want)
			}
			if !fileExists(f.cred) || fileExists(filepath.Join(f.o.Dir, node.File)) {
				t.Error("credentials removed or node.json written after a refusal")
			}
		})
	}
}

// The enrollment key works once: a second node directory with the same
// credentials, and so another data key, is refused.
func TestEnrollmentKeySingleUse(t *testing.T) {
	f := setup(t, "oct")
	f.o.KeepCredentials = true
	if err := Enroll(context.Background(), f.o); err != nil {
		t.Fatal(err)
	}
	if !fileExists(f.cred) {
		t.Fatal("--keep-credentials removed the file")
	}
	f.o.Dir += "-2"
	err := Enroll(context.Background(), f.o)
	if fault.Of(err) != fault.Refused || !strings.Contains(err.Error(), "another data key") {
		t.Fatalf("%v (%v), want %v, another data key", err, fault.Of(err), fault.Refused)
	}
}

func TestServerError(t *testing.T) {
	f := setup(t, "oct")
	f.srv.FailStatus = 503
	if err := Enroll(context.Background(), f.o); fault.Of(err) != fault.Unavailable {
		t.Fatalf("%v (%v), want %v", err, fault.Of(err), fault.Unavailable)
	}
}

func TestCredentialsChecks(t *testing.T) {
	f := setup(t, "oct")
	os.Chmod(f.cred, 0o644)
	if err := Enroll(context.Background(), f.o); fault.Of(err) != fault.Config || !strings.Contains(err.Error(), "0644") {
		t.Errorf("exposed credentials: %v", err)
	}
	for _, bad := range []string{`{}`, `{"name":"a b","key":{"kty":"oct","k":"AAAA"}}`,
		`{"name":"x.example","key":{"kty":"oct","k":"AAAA"}}`,                                                        // 3 bytes
		`{"name":"x.example","key":{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}}`, // public
		`not json`} {
		if _, err := ParseCredentials([]byte(bad)); fault.Of(err) != fault.Config {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

func TestDryRun(t *testing.T) {
	f := setup(t, "oct")
	var out bytes.Buffer
	f.o.DryRun, f.o.Out = true, &out
	if err := Enroll(context.Background(), f.o); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if !strings.Contains(s, "POST "+f.srv.URL+"/api/v1/node/"+name+"/enroll") || !strings.Contains(s, `"signatures"`) ||
		!strings.Contains(s, "BEGIN CERTIFICATE REQUEST") {
		t.Errorf("dry run printed:\n%s", s)
	}
	if len(f.requests()) != 0 || fileExists(f.o.Dir) || !fileExists(f.cred) {
		t.Error("the dry run sent or wrote something")
	}
}

func TestClockSkew(t *testing.T) {
	var logs bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	defer slog.SetDefault(old)
	f := setup(t, "oct")
	f.srv.DateOffset = 5 * time.Minute
	if err := Enroll(context.Background(), f.o); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "clock skew") {
		t.Errorf("no warning:\n%s", logs.String())
	}
}

func enrolled(t *testing.T, life time.Duration) *fixture {
	f := setup(t, "oct")
	f.o.Lifetime = life
	if err := Enroll(context.Background(), f.o); err != nil {
		t.Fatal(err)
	}
	return f
}

// The test server refuses what the real one refuses: checks that the
// checks bite, so that the tests above mean something.
func TestServerChecks(t *testing.T) {
	f := setup(t, "oct")
	cred, _ := ReadCredentials(f.cred)
	c, _ := NewClient(f.srv.URL, "")
	c.HTTP = f.o.HTTP
	dk, _ := NewDataKey(KeyEd25519, name)
	tk, _ := NewTLSKey()
	csr, _ := CSR(tk, name)
	post := func(r *Request) error { _, err := c.Enroll(context.Background(), r); return err }

	// The data key's signature alone.
	r, _ := c.RenewRequest(name, dk, csr, 0)
	r.URL = c.URL(name, "enroll")
	if err := post(r); !refusal(err, 401, "enrollment signature") {
		t.Errorf("data signature only: %v", err)
	}
	// A payload changed after signing.
	r, _ = c.EnrollRequest(cred, dk, csr, 0)
	var j map[string]any
	json.Unmarshal(r.Body, &j)
	p, _ := base64.RawURLEncoding.DecodeString(j["payload"].(string))
	j["payload"] = base64.RawURLEncoding.EncodeToString(bytes.Replace(p, []byte(`"timestamp":"`), []byte(`"timestamp":"2`), 1)[:len(p)])
	r.Body, _ = json.Marshal(j)
	if err := post(r); !refusal(err, 401, "") {
		t.Errorf("changed payload: %v", err)
	}
	// The enrollment key's signature, but not the data key's: a public
	// key that did not sign.
	other, _ := NewDataKey(KeyEd25519, name)
	r, _ = c.EnrollRequest(cred, dk, csr, 0)
	json.Unmarshal(r.Body, &j)
	p, _ = base64.RawURLEncoding.DecodeString(j["payload"].(string))
	var pl map[string]any
	json.Unmarshal(p, &pl)
	op := other.Public()
	ob, _ := op.MarshalJSON()
	var om map[string]any
	json.Unmarshal(ob, &om)
	pl["public_key"] = om
	if err := post(signedHS256(t, cred, pl, c)); !refusal(err, 401, "data signature") {
		t.Errorf("data key that did not sign: %v", err)
	}
	// A CSR for another name.
	bad, _ := CSR(tk, "other.example")
	r, _ = c.EnrollRequest(cred, dk, bad, 0)
	if err := post(r); !refusal(err, 400, "refused") {
		t.Errorf("CSR for another name: %v", err)
	}
	// All refused: the enrollment key is still unused.
	if n, _ := f.srv.Node(name); n.Activated {
		t.Error("node activated by a bad request")
	}
}

// signedHS256 puts payload in a fresh enroll request and signs it again
// with the enrollment key (by hand), leaving the data key's signature
// over the old payload.
func signedHS256(t *testing.T, cred *Credentials, payload map[string]any, c *Client) *Request {
	t.Helper()
	dk, _ := NewDataKey(KeyEd25519, name)
	r, err := c.EnrollRequest(cred, dk, payload["x509_csr"].(string), 0)
	if err != nil {
		t.Fatal(err)
	}
	var j map[string]any
	json.Unmarshal(r.Body, &j)
	b, _ := json.Marshal(payload)
	j["payload"] = base64.RawURLEncoding.EncodeToString(b)
	s0 := j["signatures"].([]any)[0].(map[string]any)
	m := hmac.New(sha256.New, cred.key.Key.([]byte))
	m.Write([]byte(s0["protected"].(string) + "." + j["payload"].(string)))
	s0["signature"] = base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	r.Body, _ = json.Marshal(j)
	return r
}
