package mqttpub

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
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

func startBroker(t testing.TB, p *pki, node string) *broker {
	return mqtttest.StartACL(t, p, fmt.Sprintf("user %s\ntopic write events/up/%s/#\n\nuser subscriber\ntopic read #\n", node, node))
}

// subscriber is mosquitto_sub, a second MQTT implementation, subscribed
// to topic with its own client certificate.
type subscriber struct {
	msgs chan [2]string // topic, payload
}

func subscribe(t testing.TB, p *pki, b *broker, topic string) *subscriber {
	t.Helper()
	bin := tooltest.Need(t, "mosquitto_sub")
	p.Issue(t, "subscriber", "subscriber", false)
	args := []string{bin, "-h", "127.0.0.1", "-p", fmt.Sprint(b.Port), "-V", "mqttv5", "-q", "1",
		"--cafile", filepath.Join(p.Dir, "ca.pem"),
		"--cert", filepath.Join(p.Dir, "subscriber.pem"), "--key", filepath.Join(p.Dir, "subscriber.key"),
		"-i", "test-subscriber", "-t", topic, "-F", "MSG %t %p"}
	// mosquitto_sub's stdout is a pipe here: make it line-buffered, so
	// each message arrives when it is printed.
	if sb, err := exec.LookPath("stdbuf"); err == nil {
		args = append([]string{sb, "-oL"}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	s := &subscriber{msgs: make(chan [2]string, 100000)}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if rest, ok := strings.CutPrefix(line, "MSG "); ok {
				topic, payload, _ := strings.Cut(rest, " ")
				s.msgs <- [2]string{topic, payload}
			}
		}
	}()
	// Subscribed once the broker says so (log_type all).
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(b.Log(), "Sending SUBACK to test-subscriber") {
		if time.Now().After(deadline) {
			t.Fatalf("mosquitto_sub did not subscribe: %s\n%s", stderr.String(), b.Log())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return s
}

func (s *subscriber) next(t testing.TB) (topic, payload string) {
	t.Helper()
	select {
	case m := <-s.msgs:
		return m[0], m[1]
	case <-time.After(10 * time.Second):
		t.Fatal("the subscriber received nothing in 10s")
		return "", ""
	}
}

func mustKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
