// Package observe takes the DNS TAPIR core's signed observations from its
// MQTT broker: it verifies each message's JWS against the node's trusted
// keys, decodes and checks the message, and turns it into an observation
// record (json:tapir.Record) for tapir-rpz. Open and Tool.Run are
// tapir-observe: the node's credentials, the counters, the output.
//
// The message is the core's TapirMsg in JSON (src_name, creator,
// msg_type, list_type, added, removed, msg, timestamp, time_str; each
// added name with name, time_added, ttl in seconds, tag_mask and
// extended_tags), the payload of a JWS. The POP signs and verifies it
// with ES256; EdDSA is accepted too, as the node keys of the edge use it.
package observe

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tapir-edge/tapir/lib/dnsname"
	"github.com/tapir-edge/tapir/lib/record"
)

// Message types and list types the core sends.
const (
	MsgObservation = "observation"
	MsgIntelUpdate = "intel-update"

	ListAllow = "allowlist"
	ListDeny  = "denylist"
	ListDoubt = "doubtlist"
)

// Tag bits of tag_mask. Bits beyond these are reserved: they pass
// through untouched.
const (
	TagNewName        uint32 = 1
	TagHighVolume     uint32 = 2
	TagBadIP          uint32 = 4
	TagCDNTracker     uint32 = 8
	TagLikelyMalware  uint32 = 16
	TagLikelyBotnetCC uint32 = 32
)

// legacyLists maps the list type names of older POP and core versions
// (white/black/greylist) to the current ones.
var legacyLists = map[string]string{
	"whitelist": ListAllow,
	"blacklist": ListDeny,
	"greylist":  ListDoubt,
}

// Domain is one name of a message: in added, with its time, TTL and tags;
// in removed, the core sends the same object, of which only name counts.
type Domain struct {
	Name         string    `json:"name"`
	TimeAdded    time.Time `json:"time_added"`
	TTL          int64     `json:"ttl"` // seconds
	TagMask      uint32    `json:"tag_mask"`
	ExtendedTags []string  `json:"extended_tags,omitempty"`
}

// Message is the core's message (TapirMsg), as JSON in the JWS payload.
type Message struct {
	SrcName   string    `json:"src_name"`
	Creator   string    `json:"creator"`
	MsgType   string    `json:"msg_type"`
	ListType  string    `json:"list_type"`
	Added     []Domain  `json:"added"`
	Removed   []Domain  `json:"removed"`
	Msg       string    `json:"msg,omitempty"`
	Timestamp time.Time `json:"timestamp"`
	TimeStr   string    `json:"time_str,omitempty"`
}

// ErrDecode is wrapped by every error of Decode: the (verified) payload
// is not a valid message.
var ErrDecode = errors.New("bad observation message")

func decodeErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrDecode, fmt.Sprintf(format, args...))
}

// Decode parses a verified payload and checks it: a src_name, msg_type
// observation or intel-update, list_type allowlist, denylist or doubtlist
// (the older whitelist, blacklist and greylist are taken and renamed),
// every name a host name ([dnsname.Check]), every ttl ≥ 0. Unknown
// members are ignored. Names are kept as the core sent them.
func Decode(payload []byte) (*Message, error) {
	var m Message
	if err := json.Unmarshal(payload, &m); err != nil {
		return nil, decodeErr("%v", err)
	}
	if m.SrcName == "" {
		return nil, decodeErr("no src_name")
	}
	switch m.MsgType {
	case MsgObservation, MsgIntelUpdate:
	default:
		return nil, decodeErr("msg_type %q: want %s or %s", m.MsgType, MsgObservation, MsgIntelUpdate)
	}
	if l, ok := legacyLists[m.ListType]; ok {
		m.ListType = l
	}
	switch m.ListType {
	case ListAllow, ListDeny, ListDoubt:
	default:
		return nil, decodeErr("list_type %q: want %s, %s or %s", m.ListType, ListAllow, ListDeny, ListDoubt)
	}
	for i, d := range m.Added {
		if err := dnsname.Check(d.Name); err != nil {
			return nil, decodeErr("added[%d]: %v", i, err)
		}
		if d.TTL < 0 {
			return nil, decodeErr("added[%d] %s: ttl %d < 0", i, d.Name, d.TTL)
		}
	}
	for i, d := range m.Removed {
		if err := dnsname.Check(d.Name); err != nil {
			return nil, decodeErr("removed[%d]: %v", i, err)
		}
	}
	return &m, nil
}

// Removed is one name of an observation record's removed list.
type Removed struct {
	Name string `json:"name"`
}

// Observation is the observation record (json:tapir.Record, type
// "observation") made of a verified message.
type Observation struct {
	Type      string    `json:"type"` // "observation"
	SrcName   string    `json:"src_name"`
	MsgType   string    `json:"msg_type"`
	ListType  string    `json:"list_type"`
	Added     []Domain  `json:"added"`
	Removed   []Removed `json:"removed"`
	Timestamp time.Time `json:"timestamp"`
}

// Observation returns the message as an observation record.
func (m *Message) Observation() *Observation {
	o := &Observation{
		Type:      record.TypeObservation,
		SrcName:   m.SrcName,
		MsgType:   m.MsgType,
		ListType:  m.ListType,
		Added:     make([]Domain, len(m.Added)),
		Removed:   make([]Removed, len(m.Removed)),
		Timestamp: m.Timestamp,
	}
	copy(o.Added, m.Added)
	for i, d := range m.Removed {
		o.Removed[i] = Removed{Name: d.Name}
	}
	return o
}

// Record returns the message as an observation record, compact JSON
// (one frame of a json:tapir.Record stream).
func (m *Message) Record() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m.Observation()); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
