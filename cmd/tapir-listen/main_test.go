package main

import (
	"testing"

	"github.com/tapir-edge/tapir/cmd/tool/docs"
)

// TestDocs checks man/tapir-listen.1 and the completions; with
// TAPIR_UPDATE_DOCS=1 it writes them.
func TestDocs(t *testing.T) { docs.Test(t, app(), manual) }
