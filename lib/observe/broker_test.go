package observe

// Test helpers adapted from lib/mqttpub/broker_test.go: a CA, client and
// server certificates, and a real mosquitto with TLS and client
// certificates, started by the test.

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tapir-edge/tapir/lib/testkit/mqtttest"

	"github.com/tapir-edge/tapir/lib/testkit/tooltest"
)

// The test CA and the real mosquitto come from lib/mqtttest.
type (
	pki    = mqtttest.PKI
	broker = mqtttest.Broker
)

func newPKI(t testing.TB) *pki { return mqtttest.NewPKI(t) }

func startBroker(t testing.TB, p *pki) *broker {
	return mqtttest.StartACL(t, p, "user core\ntopic write observations/#\n\nuser node\ntopic read observations/#\n")
}

// waitLog waits until the broker's log has n occurrences of s.
func waitLog(t testing.TB, b *broker, s string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(b.Log(), s) < n {
		if time.Now().After(deadline) {
			t.Fatalf("mosquitto log has not %d × %q:\n%s", n, s, b.Log())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// publish publishes payload on topic with mosquitto_pub (a second MQTT
// implementation), QoS 1, as the user "core".
func publish(t testing.TB, b *broker, p *pki, topic string, payload []byte) {
	t.Helper()
	bin := tooltest.Need(t, "mosquitto_pub")
	if _, err := os.Stat(filepath.Join(p.Dir, "core.pem")); err != nil {
		p.Issue(t, "core", "core", false)
	}
	cmd := exec.Command(bin, "-h", "127.0.0.1", "-p", fmt.Sprint(b.Port), "-V", "mqttv5", "-q", "1",
		"--cafile", filepath.Join(p.Dir, "ca.pem"),
		"--cert", filepath.Join(p.Dir, "core.pem"), "--key", filepath.Join(p.Dir, "core.key"),
		"-i", "core-pub", "-t", topic, "-s")
	cmd.Stdin = bytes.NewReader(payload)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mosquitto_pub: %v\n%s", err, out)
	}
}

func mustP384(t testing.TB) *ecdsa.PrivateKey { return mustEC(t, elliptic.P384()) }
func mustP256(t testing.TB) *ecdsa.PrivateKey { return mustEC(t, elliptic.P256()) }

func mustEC(t testing.TB, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustECKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
