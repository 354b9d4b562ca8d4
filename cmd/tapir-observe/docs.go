//go:build docs

package main

import "github.com/tapir-edge/tapir/cmd/tool/docs"

// Built with -tags docs, as go generate builds it, the tool writes its man
// page and completions instead of running.
func init() { docs.Main(app(), manual) }
