package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tapir-edge/tapir/lib/dnsname"
)

// Observation is an observation record (DESIGN.md, "observation"): a
// policy message from the core as tapir-observe emits it after its
// signature verified.
type Observation struct {
	Type      string    `json:"type,omitempty"` // "observation" in a record; may be absent
	SrcName   string    `json:"src_name"`
	Creator   string    `json:"creator,omitempty"`
	MsgType   string    `json:"msg_type"`  // observation or intel-update; both are applied alike
	ListType  Kind      `json:"list_type"` // allowlist, denylist or doubtlist
	Added     []Added   `json:"added"`
	Removed   []Removed `json:"removed"`
	Timestamp time.Time `json:"timestamp,omitzero"`
}

// Added is a name an observation adds to its source's list.
type Added struct {
	Name      string    `json:"name"`
	TimeAdded time.Time `json:"time_added"`
	TTL       int64     `json:"ttl"` // seconds; the entry expires at TimeAdded + TTL
	TagMask   uint32    `json:"tag_mask"`
}

// Removed is a name an observation removes from its source's list.
type Removed struct {
	Name string `json:"name"`
}

// maxTTL bounds an observation's ttl: 100 years, beyond which the
// arithmetic of time would overflow to no purpose.
const maxTTL = 100 * 365 * 24 * 3600

// DecodeObservation reads one observation record from JSON and validates
// it. Unknown members are ignored. Names are canonicalised in place
// ([dnsname.Canonical]: lowercase, A-labels, trailing dot; "*.name" for a
// suffix).
func DecodeObservation(data []byte) (Observation, error) {
	var o Observation
	if err := json.Unmarshal(data, &o); err != nil {
		return Observation{}, fmt.Errorf("observation: %w", err)
	}
	if err := o.Validate(); err != nil {
		return Observation{}, err
	}
	return o, nil
}

// Validate checks o: a known list_type, a src_name, valid names, 0 <= ttl
// <= 100 years, and a type of "observation" if it has one. It
// canonicalises the names in place, a suffix entry as "*.name.".
func (o *Observation) Validate() error {
	if o.Type != "" && o.Type != "observation" {
		return fmt.Errorf("observation: type %q", o.Type)
	}
	if o.SrcName == "" {
		return errors.New("observation: no src_name")
	}
	if !o.ListType.Valid() {
		return fmt.Errorf("observation from %s: list_type %q: want allowlist, denylist or doubtlist", o.SrcName, o.ListType)
	}
	for i := range o.Added {
		a := &o.Added[i]
		k, err := entryKey(a.Name)
		if err != nil {
			return fmt.Errorf("observation from %s: added[%d] %q: %v", o.SrcName, i, a.Name, err)
		}
		a.Name = k
		if a.TTL < 0 || a.TTL > maxTTL {
			return fmt.Errorf("observation from %s: added[%d] %q: ttl %d out of 0..%d", o.SrcName, i, a.Name, a.TTL, maxTTL)
		}
	}
	for i := range o.Removed {
		r := &o.Removed[i]
		k, err := entryKey(r.Name)
		if err != nil {
			return fmt.Errorf("observation from %s: removed[%d] %q: %v", o.SrcName, i, r.Name, err)
		}
		r.Name = k
	}
	return nil
}

// entryKey canonicalises a name into the engine's key: "name." or
// "*.name.".
func entryKey(s string) (string, error) {
	name, suffix, err := dnsname.Canonical(s)
	if err != nil {
		return "", err
	}
	if suffix {
		return "*." + name, nil
	}
	return name, nil
}
