package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tapir-edge/tapir/cmd/tool/docs"
	"github.com/tapir-edge/tapir/lib/testkit/observetest"
	"github.com/tapir-edge/tapir/lib/testkit/tooltest"
)

// TestDocs checks man/tapir-observe.1 and the completions; with
// TAPIR_UPDATE_DOCS=1 it writes them.
func TestDocs(t *testing.T) { docs.Test(t, app(), manual) }

// The test binary doubles as tapir-observe.
func TestMain(m *testing.M) { tooltest.Main(m, main) }

// waitFor waits until f holds, or fails the test with what the tool
// logged.
func waitFor(t *testing.T, what string, log *tooltest.Log, f func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !f(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: timed out\n%s", what, log)
		}
	}
}

// With a node enrolled at a test node manager, tapir-observe takes the
// core's signed observations from a real mosquitto: the good ones become
// observation records, the forged one does not and is counted; SIGHUP
// starts a new file; SIGTERM ends the stream and exits 0.
func TestObservations(t *testing.T) {
	core := observetest.Start(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "observations.fstrm")
	t.Setenv("SSL_CERT_FILE", core.CAFile) // tapir-observe trusts the broker's certificate through it
	cmd := tooltest.Command("--broker", core.URL, "--node", core.Node, "-w", out, "--metrics", "127.0.0.1:0")
	log := tooltest.Start(t, "tapir-observe", cmd)
	waitFor(t, "subscribe", log, func() bool { return strings.Contains(log.String(), "msg=subscribed") })

	core.Publish(t, core.Sign(observetest.Observation("bad.example.")))
	core.Publish(t, core.Forge(observetest.Observation("forged.example.")))
	core.Publish(t, core.Sign(observetest.Observation("worse.example.")))
	waitFor(t, "two observations", log, func() bool { return len(observetest.Observed(out)) == 2 })
	if got := observetest.Observed(out); strings.Join(got, " ") != "bad.example. worse.example." {
		t.Errorf("observations %v, want the two signed by the core", got)
	}
	addr := regexp.MustCompile(`serving metrics.* addr=(\S+)`).FindStringSubmatch(log.String())
	if addr == nil {
		t.Fatalf("no metrics address logged:\n%s", log)
	}
	m, err := tooltest.Scrape(addr[1])
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"tapir_observe_observations_received_total":                    "3",
		"tapir_observe_observations_total":                             "2",
		`tapir_observe_observations_refused_total{reason="signature"}`: "1",
		`tapir_observe_observations_refused_total{reason="message"}`:   "0",
	} {
		if m[k] != want {
			t.Errorf("%s = %q, want %s", k, m[k], want)
		}
	}
	if m["tapir_observe_certificate_expiry_timestamp_seconds"] == "" {
		t.Error("no certificate expiry served")
	}

	// logrotate: the file moved away, SIGHUP, and the next observation
	// is in a new file.
	if err := os.Rename(out, out+".1"); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "reopen", log, func() bool { _, err := os.Stat(out); return err == nil })
	core.Publish(t, core.Sign(observetest.Observation("later.example.")))
	waitFor(t, "the observation after SIGHUP", log, func() bool { return len(observetest.Observed(out)) == 1 })

	tooltest.Stop(cmd)
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit %d, want 0\n%s", code, log)
	}
	if got := observetest.Observed(out); strings.Join(got, " ") != "later.example." {
		t.Errorf("after SIGHUP: %v", got)
	}
	if !strings.Contains(log.String(), "observations_refused_signature=1") {
		t.Errorf("the counters at exit do not count the forged message:\n%s", log)
	}
}

// Usage and configuration errors exit 2 with a message that says what to
// give.
func TestUsage(t *testing.T) {
	node := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--node", node}, "give the broker and topic with --broker"},
		{[]string{"--broker", "mqtts://broker.example/t"}, "give the node directory with --node"},
		{[]string{"--broker", "mqtts://broker.example", "--node", node}, "give the topic as the URL's path"},
		{[]string{"--broker", "mqtt://127.0.0.1/t", "--node", node}, "the broker needs mqtts"},
		{[]string{"--broker", "https://broker.example/t", "--node", node}, "unsupported broker URL scheme"},
		{[]string{"--mqtt", "mqtts://broker.example/t", "--node", node}, "--node: " + node + ": not an enrolled node directory"},
	} {
		cmd := tooltest.Command(append(c.args, "-w", "/dev/null")...)
		out, _ := cmd.CombinedOutput()
		if code := cmd.ProcessState.ExitCode(); code != 2 || !strings.Contains(string(out), c.want) {
			t.Errorf("%q: exit %d, want 2 and %q:\n%s", c.args, code, c.want, out)
		}
	}
}
