//go:build race

package main

// raceEnabled: the race detector slows tapir-cat too much to time it, and
// its start.
const raceEnabled = true
