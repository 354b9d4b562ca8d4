package main

import (
	"testing"

	"github.com/tapir-edge/tapir/lib/tool/tooltest"
)

// The unit files in lib/systemd pass systemd-analyze verify.
func TestUnitFiles(t *testing.T) {
	tooltest.VerifyUnits(t, "../..", "tapir-listen", "tapir-listen.socket", "tapir-listen.service")
}
