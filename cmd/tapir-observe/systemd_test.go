package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/tapir-edge/tapir/lib/testkit/tooltest"
)

// tapir-observe.service passes systemd-analyze verify beside the FIFO it
// writes to and its reader, and runs tapir-observe with options it has.
func TestUnit(t *testing.T) {
	units := tooltest.VerifyUnits(t, "../..", "tapir-observe.service", "tapir-rpz.socket", "tapir-rpz.service")
	m := regexp.MustCompile(`(?m)^ExecStart=\S+ (.*)$`).FindStringSubmatch(units["tapir-observe.service"])
	if m == nil {
		t.Fatal("tapir-observe.service has no ExecStart")
	}
	known := map[string]bool{}
	for _, f := range app().Flags {
		for _, n := range f.Names() {
			known[n] = true
		}
	}
	for _, w := range strings.Fields(m[1]) {
		if strings.HasPrefix(w, "-") && !known[strings.TrimLeft(w, "-")] {
			t.Errorf("ExecStart gives %s, which tapir-observe does not have", w)
		}
	}
	for _, want := range []string{"--broker ${TAPIR_OBSERVE_URL}", "-w /run/tapir/rpz.fifo"} {
		if !strings.Contains(m[1], want) {
			t.Errorf("ExecStart lacks %q: %s", want, m[1])
		}
	}
}
