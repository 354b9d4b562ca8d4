package anon

import (
	"errors"
	"fmt"
	"time"

	"github.com/tapir-edge/tapir/lib/dnstap"
	"github.com/tapir-edge/tapir/lib/dnswire"
	"github.com/tapir-edge/tapir/lib/pseudo"
)

// Messages says which DNS wire messages a frame keeps.
type Messages int

// What --keep-messages takes.
const (
	KeepBoth Messages = iota
	KeepQuery
	KeepResponse
	KeepNone
)

// ParseMessages reads "both", "query", "response" or "none".
func ParseMessages(s string) (Messages, error) {
	switch s {
	case "both":
		return KeepBoth, nil
	case "query":
		return KeepQuery, nil
	case "response":
		return KeepResponse, nil
	case "none":
		return KeepNone, nil
	}
	return 0, fmt.Errorf("%q: want both, query, response or none", s)
}

// Field says what to do with identity, version or extra: drop it (the
// default), keep it, or set it to Value.
type Field struct {
	Keep  bool
	Value []byte // when not nil, the field is set to this
}

// Config says how frames are rewritten. The zero value, with a Keyring,
// is the private default: addresses pseudonymised, ECS and cookies
// removed, identity, version, extra and unknown fields dropped, ports
// zeroed.
type Config struct {
	Keys                     *Keyring
	KeepECS, KeepCookies     bool
	KeepPorts                bool
	KeepUnknown              bool
	Identity, Version, Extra Field
	Messages                 Messages
}

// Errors a Rewriter counts by, each wrapped with detail.
var (
	// ErrNotDnstap: the frame is not a dnstap protobuf; it is dropped,
	// since what cannot be read cannot be pseudonymised.
	ErrNotDnstap = errors.New("not a dnstap frame")
)

// Stats counts what a Rewriter did and met.
type Stats struct {
	Frames, NotDnstap, BadAddresses, BadMessages, OptionsRemoved uint64
}

// Rewriter pseudonymises and minimises dnstap frames. It is not safe for
// concurrent use: each goroutine has its own.
type Rewriter struct {
	cfg   *Config
	Stats Stats
	// Problem, after a Rewrite, describes the last thing dropped from
	// the frame (a bad address, an unparsable message), for a log line.
	Problem string

	f      dnstap.Frame
	addrs  [2][]byte
	extra  []byte
	ks     *keyset
	era    int64
	method pseudo.Method
}

// NewRewriter returns a Rewriter for cfg.
func NewRewriter(cfg *Config) *Rewriter {
	return &Rewriter{cfg: cfg, era: -1 << 62, addrs: [2][]byte{make([]byte, 0, 32), make([]byte, 0, 32)}}
}

// Rewrite appends the rewritten frame to dst. The frame's bytes may be
// changed (options are removed from its DNS messages in place). On error
// dst is returned as it was and the frame must be dropped.
func (r *Rewriter) Rewrite(dst, frame []byte) ([]byte, error) {
	r.Problem = ""
	f := &r.f
	if err := f.Unmarshal(frame); err != nil {
		r.Stats.NotDnstap++
		return dst, fmt.Errorf("%w: %v", ErrNotDnstap, err)
	}
	r.Stats.Frames++
	m, err := r.methodAt(f)
	if err != nil {
		return dst, err
	}
	// Addresses: a pseudonym, or nothing; never the raw address.
	for i, a := range [2]*[]byte{&f.QueryAddress, &f.ResponseAddress} {
		if *a == nil {
			continue
		}
		p, err := m.Map(r.addrs[i][:0], *a)
		if err != nil {
			r.Stats.BadAddresses++
			r.Problem = fmt.Sprintf("address of %d bytes dropped", len(*a))
			*a = nil
			continue
		}
		r.addrs[i] = p
		*a = p
	}
	// A method whose pseudonyms are 16 bytes for IPv4 makes the frame an
	// IPv6 one, so that readers print the addresses right.
	if len(f.QueryAddress) == 16 || len(f.ResponseAddress) == 16 {
		if f.SocketFamily == dnstap.FamilyINET {
			f.SocketFamily = dnstap.FamilyINET6
		}
	}
	if !r.cfg.KeepPorts {
		f.QueryPort, f.ResponsePort = 0, 0
		f.Present &^= dnstap.FieldQueryPort | dnstap.FieldResponsePort
	}
	switch r.cfg.Messages {
	case KeepQuery:
		f.ResponseMessage = nil
	case KeepResponse:
		f.QueryMessage = nil
	case KeepNone:
		f.QueryMessage, f.ResponseMessage = nil, nil
	}
	f.QueryMessage = r.minimise(f.QueryMessage)
	f.ResponseMessage = r.minimise(f.ResponseMessage)

	f.Identity = r.field(r.cfg.Identity, f.Identity)
	f.Version = r.field(r.cfg.Version, f.Version)
	f.Extra = r.field(r.cfg.Extra, f.Extra)
	if r.cfg.Keys.rotate != RotateNever && !r.cfg.Extra.Keep && r.cfg.Extra.Value == nil {
		// Say which key applied, so analysts know which pseudonyms
		// can be compared.
		f.Extra = r.extra
	}
	if !r.cfg.KeepUnknown {
		// Unknown fields include dnstap's policy, whose value can be
		// the client address an RPZ client-IP trigger matched.
		f.Unknown, f.Message.Unknown = nil, nil
	}
	return f.AppendMarshal(dst), nil
}

func (r *Rewriter) field(c Field, v []byte) []byte {
	switch {
	case c.Keep:
		return v
	case c.Value != nil:
		return c.Value
	}
	return nil
}

// methodAt returns the method for the frame's time, noticing a new key.
func (r *Rewriter) methodAt(f *dnstap.Frame) (pseudo.Method, error) {
	k := r.cfg.Keys
	ks := k.current()
	era := int64(0)
	if k.rotate != RotateNever {
		sec, _, ok := f.Time()
		t := int64(sec)
		if !ok {
			t = time.Now().Unix()
		}
		era = k.Era(t)
	}
	if ks == r.ks && era == r.era {
		return r.method, nil
	}
	m, err := k.methodFor(ks, era)
	if err != nil {
		return nil, err
	}
	r.ks, r.era, r.method = ks, era, m
	if k.rotate != RotateNever {
		r.extra = fmt.Appendf(r.extra[:0], "tapir-anon %s period %s", k.method, k.Period(era))
	}
	return m, nil
}

// minimise removes the EDNS options that identify a client. A message
// that does not parse is dropped: it cannot be shown to be free of them.
func (r *Rewriter) minimise(msg []byte) []byte {
	if msg == nil || r.cfg.KeepECS && r.cfg.KeepCookies {
		return msg
	}
	dropECS, dropCookie := !r.cfg.KeepECS, !r.cfg.KeepCookies
	out, n, err := dnswire.TrimOptions(msg, func(code uint16) bool {
		return code == dnswire.OptionECS && dropECS || code == dnswire.OptionCookie && dropCookie
	})
	if err != nil {
		r.Stats.BadMessages++
		r.Problem = "DNS message dropped: " + err.Error()
		return nil
	}
	r.Stats.OptionsRemoved += uint64(n)
	return out
}
