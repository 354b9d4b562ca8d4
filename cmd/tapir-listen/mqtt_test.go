package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tapir-edge/tapir/lib/testkit/observetest"
)

// The command line of tapir-listen --mqtt, deprecated, still takes the
// core's signed observations from a real mosquitto, as tapir-observe
// does: the good ones become observation records, the forged one does
// not; and it says it is deprecated.
func TestMQTTDeprecated(t *testing.T) {
	core := observetest.Start(t)
	out := filepath.Join(t.TempDir(), "observations.fstrm")
	t.Setenv("SSL_CERT_FILE", core.CAFile) // tapir-listen trusts the broker's certificate through it
	p := run(t, "--mqtt", core.URL, "--node", core.Node, "-w", out)
	waitFile(t, out)
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(p.stderr.String(), "msg=subscribed"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("tapir-listen did not subscribe:\n%s", p.stderr)
		}
	}
	core.Publish(t, core.Sign(observetest.Observation("bad.example.")))
	core.Publish(t, core.Forge(observetest.Observation("forged.example.")))
	core.Publish(t, core.Sign(observetest.Observation("worse.example.")))
	for deadline := time.Now().Add(10 * time.Second); len(observetest.Observed(out)) < 2 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
	}
	p.stop(t)
	if got := observetest.Observed(out); strings.Join(got, " ") != "bad.example. worse.example." {
		t.Errorf("observations %v, want the two signed by the core", got)
	}
	stderr := p.stderr.String()
	if !strings.Contains(stderr, "observations_refused_signature=1") {
		t.Errorf("the forged message was not counted:\n%s", stderr)
	}
	if !strings.Contains(stderr, `level=WARN msg="--mqtt is deprecated: use tapir-observe"`) {
		t.Errorf("no warning that --mqtt is deprecated:\n%s", stderr)
	}
}
