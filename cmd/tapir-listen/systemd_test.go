package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/tapir-edge/tapir/lib/testkit/tooltest"
)

// Every unit file in deploy/systemd passes systemd-analyze verify, together,
// so that the units of the edge pipeline and the policy processor find
// each other (the FIFO sockets between the stages).
func TestUnitFiles(t *testing.T) {
	var names []string
	for _, pattern := range []string{"*.socket", "*.service", "*.timer"} {
		m, _ := filepath.Glob(filepath.Join("../../deploy/systemd", pattern))
		for _, p := range m {
			names = append(names, filepath.Base(p))
		}
	}
	if len(names) < 10 {
		t.Fatalf("only %d units: %v", len(names), names)
	}
	units := tooltest.VerifyUnits(t, "../..", names...)
	// Each stage writes to the next stage's FIFO.
	for unit, fifo := range map[string]string{
		"tapir-listen.service":  "/run/tapir/anon.fifo",
		"tapir-anon.service":    "/run/tapir/agg.fifo",
		"tapir-agg.service":     "/run/tapir/send.fifo",
		"tapir-observe.service": "/run/tapir/rpz.fifo",
	} {
		if !strings.Contains(units[unit], "-w "+fifo) {
			t.Errorf("%s does not write to %s", unit, fifo)
		}
	}
	for _, s := range []string{"anon", "agg", "send", "rpz"} {
		if !strings.Contains(units["tapir-"+s+".socket"], "ListenFIFO=/run/tapir/"+s+".fifo") {
			t.Errorf("tapir-%s.socket is not the FIFO /run/tapir/%s.fifo", s, s)
		}
	}
}
