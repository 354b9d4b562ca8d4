package main

import (
	"testing"

	"github.com/tapir-edge/tapir/lib/tool"
)

// TestDocs checks man/tapir-listen.1 and the completions; with
// TAPIR_UPDATE_DOCS=1 it writes them.
func TestDocs(t *testing.T) { tool.TestDocs(t, app(), manual) }
