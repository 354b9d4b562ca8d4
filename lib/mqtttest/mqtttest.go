// Package mqtttest runs a real mosquitto on a loopback port for tests:
// TLS, client certificates required, the certificate's CN as the user.
package mqtttest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"testing"
	"time"

	"github.com/tapir-edge/tapir/lib/tool/tooltest"
)

// Broker is a running mosquitto.
type Broker struct {
	Port int
	cmd  *exec.Cmd
}

// Addr is the broker's host:port.
func (b *Broker) Addr() string { return fmt.Sprintf("127.0.0.1:%d", b.Port) }

// Start starts mosquitto with the server certificate and key (PEM files)
// and the CA file that client certificates must chain to, and waits until
// it listens. It stops when the test ends. The test is skipped, or fails
// under TAPIR_REQUIRE_REAL=1, when mosquitto is not installed.
func Start(t testing.TB, caFile, certFile, keyFile string) *Broker {
	t.Helper()
	bin := tooltest.Need(t, "mosquitto")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &Broker{Port: l.Addr().(*net.TCPAddr).Port}
	l.Close()
	conf := fmt.Sprintf("persistence false\nallow_anonymous false\nlistener %d 127.0.0.1\ncafile %s\ncertfile %s\nkeyfile %s\nrequire_certificate true\nuse_identity_as_username true\n",
		b.Port, caFile, certFile, keyFile)
	if os.Geteuid() == 0 {
		// mosquitto refuses to keep root; name the user it already is.
		u, err := user.Current()
		if err != nil {
			t.Fatal(err)
		}
		conf = "user " + u.Username + "\n" + conf
	}
	cf := filepath.Join(t.TempDir(), "mosquitto.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	b.cmd = exec.Command(bin, "-c", cf)
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		b.cmd.Process.Kill()
		b.cmd.Wait()
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", b.Addr()); err == nil {
			c.Close()
			return b
		}
		if time.Now().After(deadline) {
			t.Fatal("mosquitto did not start")
		}
	}
}
