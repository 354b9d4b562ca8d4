// Package observetest is a DNS TAPIR core that sends signed observations
// to an enrolled node, for the tests of the tools that receive them: a
// test node manager enrolls the node and hands it the core's key to
// trust, and a real mosquitto (TLS, client certificates required) carries
// the messages, which mosquitto_pub publishes.
package observetest

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/tapir-edge/tapir/lib/enroll"
	"github.com/tapir-edge/tapir/lib/fstrm"
	"github.com/tapir-edge/tapir/lib/record"
	"github.com/tapir-edge/tapir/lib/testkit/mqtttest"
	"github.com/tapir-edge/tapir/lib/testkit/nodemantest"
	"github.com/tapir-edge/tapir/lib/testkit/tooltest"
)

// Topic is the topic of the observations for the node, edge-1.
const Topic = "observations/down/edge-1"

// Core is the core, its broker, and the node it sends to.
type Core struct {
	Node   string // the node directory, enrolled as edge-1
	URL    string // the broker and Topic: mqtts://127.0.0.1:PORT/TOPIC
	CAFile string // the CA of the broker's certificate, for SSL_CERT_FILE
	port   int
	key    ed25519.PrivateKey // the core's, trusted by the node as kid core-1
}

// Start enrolls a node and starts the broker; both go when the test
// ends. The test is skipped, or fails under TAPIR_REQUIRE_REAL=1, without
// mosquitto.
func Start(t testing.TB) *Core {
	t.Helper()
	dir := t.TempDir()
	pub, key, _ := ed25519.GenerateKey(nil)
	nm := nodemantest.New(t)
	nm.TrustedJWKS = map[string]any{"keys": []any{map[string]any{"kty": "OKP", "crv": "Ed25519", "kid": "core-1", "x": base64.RawURLEncoding.EncodeToString(pub)}}}
	cred, nmCA := filepath.Join(dir, "cred.json"), filepath.Join(dir, "nodeman-ca.pem")
	write(t, cred, nm.AddNode("edge-1", "oct"))
	write(t, nmCA, nm.CAPEM())
	c := &Core{Node: filepath.Join(dir, "node"), key: key}
	if err := enroll.Enroll(context.Background(), enroll.Options{Dir: c.Node, Credentials: cred, NodemanCA: nmCA, DataKeyType: enroll.KeyEd25519}); err != nil {
		t.Fatal(err)
	}
	// The broker takes the client certificates the node manager issues;
	// its own comes from a CA of the test.
	root := filepath.Join(dir, "root.pem")
	write(t, root, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: nm.Root.Raw}))
	p := mqtttest.NewPKI(t)
	p.Issue(t, "server", "localhost", true)
	c.CAFile = p.CAFile()
	c.port = mqtttest.Start(t, root, filepath.Join(p.Dir, "server.pem"), filepath.Join(p.Dir, "server.key")).Port
	c.URL = fmt.Sprintf("mqtts://127.0.0.1:%d/%s", c.port, Topic)
	return c
}

func write(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// Observation is a message of the core that adds name to its doubtlist.
func Observation(name string) []byte {
	return fmt.Appendf(nil, `{"src_name":"dns-tapir","creator":"test","msg_type":"observation","list_type":"doubtlist","added":[{"name":%q,"time_added":"2026-11-27T12:00:00Z","ttl":3600,"tag_mask":16}],"removed":[],"timestamp":"2026-11-27T12:00:00Z"}`, name)
}

// Sign signs payload as the core does, in the JWS compact serialisation
// (signed by hand, RFC 7515).
func (c *Core) Sign(payload []byte) string { return sign(c.key, payload) }

// Forge signs payload with a key the node does not trust, under the
// core's kid.
func (c *Core) Forge(payload []byte) string {
	_, other, _ := ed25519.GenerateKey(nil)
	return sign(other, payload)
}

func sign(key ed25519.PrivateKey, payload []byte) string {
	enc := base64.RawURLEncoding.EncodeToString
	h := enc([]byte(`{"alg":"EdDSA","kid":"core-1"}`))
	p := enc(payload)
	return h + "." + p + "." + enc(ed25519.Sign(key, []byte(h+"."+p)))
}

// Publish publishes jws on Topic with mosquitto_pub, QoS 1.
func (c *Core) Publish(t testing.TB, jws string) {
	t.Helper()
	bin := tooltest.Need(t, "mosquitto_pub")
	cmd := exec.Command(bin, "-h", "127.0.0.1", "-p", fmt.Sprint(c.port), "-V", "mqttv5", "-q", "1", "--cafile", c.CAFile,
		"--cert", filepath.Join(c.Node, "tls.crt"), "--key", filepath.Join(c.Node, "tls.key"), "-i", "publisher",
		"-t", Topic, "-m", jws)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_pub: %v\n%s", err, out)
	}
}

// Observed returns the names that the observation records in the stream
// file at path add, in order; as many as can be read so far.
func Observed(path string) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	r, err := fstrm.NewFileReader(f, fstrm.ReaderOptions{ContentTypes: []string{record.ContentType}})
	if err != nil {
		return nil
	}
	var names []string
	for {
		b, err := r.Next()
		if err != nil {
			return names
		}
		var rec struct {
			Type  string
			Added []struct{ Name string }
		}
		json.Unmarshal(b, &rec)
		if rec.Type == "observation" && len(rec.Added) == 1 {
			names = append(names, rec.Added[0].Name)
		}
	}
}
