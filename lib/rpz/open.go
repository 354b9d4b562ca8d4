package rpz

import (
	"log/slog"
	"os"
	"time"

	"github.com/tapir-edge/tapir/lib/fault"
	"github.com/tapir-edge/tapir/lib/policy"
	"github.com/tapir-edge/tapir/lib/rpzzone"
)

// Options are what tapir-rpz is told: the policy, the lists, and the zone
// with where to keep it.
type Options struct {
	Policy string // policy file; none is "deny action nxdomain"
	Lists  []List
	Origin string // the zone's name
	// State is the directory of the zone's serial and journal and of the
	// observations, so that a restart serves the same zone; without one
	// they live only as long as the process.
	State   string
	Monitor bool // see Processor.Monitor
	// Compact is for the one process that appends to the journal:
	// serve (see Processor.Compact).
	Compact bool
	Log     *slog.Logger // default slog.Default()
}

// Open builds the Processor that o describes, with its lists loaded and
// its zone (persisted in o.State, or in memory) up to date. Its errors
// are configuration errors (fault.Config).
func Open(o Options) (*Processor, error) {
	log := o.Log
	if log == nil {
		log = slog.Default()
	}
	var pol *policy.Policy
	if o.Policy != "" {
		var err error
		if pol, err = policy.LoadPolicy(o.Policy); err != nil {
			return nil, fault.Errorf(fault.Config, "--policy: %w", err)
		}
	}
	if o.State != "" {
		if err := os.MkdirAll(o.State, 0o700); err != nil {
			return nil, fault.Errorf(fault.Config, "--state: %w", err)
		}
	}
	zone, err := rpzzone.Open(o.State, rpzzone.Options{Origin: o.Origin})
	if err != nil {
		return nil, fault.Errorf(fault.Config, "zone: %w", err)
	}
	p := &Processor{Engine: policy.New(pol), Zone: zone, Lists: o.Lists, Log: log, Monitor: o.Monitor, Compact: o.Compact}
	if o.State != "" {
		p.Journal = JournalPath(o.State)
	}
	if err := p.Start(time.Now()); err != nil {
		return nil, fault.New(fault.Config, err)
	}
	return p, nil
}
